/**
 * The toy's brain, as the client library exports it: what a toy (the reference toy, `burrow toy`,
 * or the web virtual toy) does with what the server sends it, deciding everything from its own
 * verified roster. Isomorphic (global `fetch`, WebCrypto; no `node:` imports); storage, sound and
 * the log are the shell's. The parts live in src/client/toy/:
 *
 * - trust.ts: the anchor, the roster chain verified from it, the family keys the entries commit to;
 * - decide.ts: the pure play / wait / refuse decision on one message;
 * - outbox.ts: replies sealed, queued and sent in order, each once;
 * - storage.ts: what the toy keeps (`ToyStorage`), and `MemoryToyStorage`;
 * - stream-play.ts: a message opened and decided on as it arrives (`openToyStream`), played piece by piece;
 * - runtime.ts: `ToyRuntime`, which orchestrates them: `start`, `handle(event)`, `sync`,
 *   `playWaiting`, `expire`, `reply`, `flush`.
 */
export { decideMessage, type ToyDecision, type ToyRefusalCode } from './toy/decide.js';
export { AUDIO_CHECK_BYTES, downloadAndPlayStream, openToyStream, playStream, type StreamedMessage, type StreamOutcome, type ToyStreamDecision } from './toy/stream-play.js';
export { sealToyReply } from './toy/outbox.js';
export { AudioStreamBroken, isOffline, isTokenDead, isToyGone, ToyRuntime, type PlayingMessage, type ToyEvent, type ToyEventResult, type ToyLogEntry, type ToyRuntimeOptions } from './toy/runtime.js';
export { MemoryToyStorage, type EnvelopeWriter, type InboxRecord, type OutboxItem, type ToyStorage } from './toy/storage.js';
export { loadToyFamily, loadToyFamilyOffline, type ToyDevice, type ToyFamily, type ToyTrust } from './toy/trust.js';
