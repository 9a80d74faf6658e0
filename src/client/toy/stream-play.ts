/**
 * Playing a message while it downloads, for a toy that cannot hold a whole message in RAM: the
 * envelope streams from the server into `openMessageStream` (src/crypto/envelope-stream.ts), which
 * verifies the sender's signature over the chunk commitment before any audio, then hands out each
 * chunk's audio only once that chunk's committed hash and tag passed. The toy's decision is the one
 * `decideMessage` makes (same open options, same checks after opening), taken before the first
 * audio byte; what it holds at once is one sealed chunk and its plaintext (64 KiB each) beside the
 * header and commitment, whatever the message's length.
 */
import { fromBase64Url } from '../../crypto/bytes.js';
import { MESSAGE_ID_LENGTH } from '../../crypto/envelope.js';
import { openMessageStream, type MessageStream } from '../../crypto/envelope-stream.js';
import type { BurrowApi } from '../api.js';
import { MAX_ENVELOPE_BYTES } from '../kept-history.js';
import { afterOpening, failedOpening, toyOpenOptions, type ToyDecision, type ToyMessageView } from './decide.js';
import type { ToyFamily } from './trust.js';

/** What came of streaming one message: played whole, stopped part-way (with why), or not started. */
export type StreamOutcome =
  | { action: 'played'; message: Omit<MessageStream, 'next'>; volume: number; maxBufferedBytes: number }
  | { action: 'broken'; reason: string; playedBytes: number; maxBufferedBytes: number }
  | Exclude<ToyDecision, { action: 'play' }>;

/**
 * Streams `source` (the envelope's bytes as they arrive) through verification into `play`, one
 * verified piece of audio at a time. `start` is called once, before the first piece, with the
 * verified metadata. A failure after playing began (a chunk that is not the one committed to, a
 * truncated or extended stream) stops at once: `broken` says how much authentic audio was handed
 * out before it, and the caller treats the message as not played.
 */
export async function playStream(
  family: ToyFamily,
  input: {
    source: AsyncIterable<Uint8Array>;
    view: ToyMessageView;
    now: number;
    start?: (message: Omit<MessageStream, 'next'>, volume: number) => void | Promise<void>;
    play: (piece: Uint8Array) => void | Promise<void>;
  },
): Promise<StreamOutcome> {
  let messageId: Uint8Array;
  try {
    messageId = fromBase64Url(input.view.messageId);
  } catch {
    return { action: 'refuse', reason: 'envelope/id-mismatch' };
  }
  if (messageId.length !== MESSAGE_ID_LENGTH) return { action: 'refuse', reason: 'envelope/id-mismatch' };
  const opened = await openMessageStream(input.source, toyOpenOptions(family, input.view, messageId, input.now));
  if (!opened.ok) return failedOpening(opened.code);
  const stream = opened.value;
  const held = afterOpening(family, stream, input.now);
  if (held !== undefined) return held;
  const volume = family.settings.volumeLimit;
  await input.start?.(stream, volume);
  let playedBytes = 0;
  for (;;) {
    const piece = await stream.next();
    if (!piece.ok) return { action: 'broken', reason: piece.code, playedBytes, maxBufferedBytes: stream.maxBufferedBytes };
    if (piece.value === undefined) break;
    if (piece.value.length > 0) await input.play(piece.value);
    playedBytes += piece.value.length;
  }
  return { action: 'played', message: stream, volume, maxBufferedBytes: stream.maxBufferedBytes };
}

/** `playStream` over the message's download from the server, as the toy's device. */
export async function downloadAndPlayStream(
  api: BurrowApi,
  family: ToyFamily,
  input: Omit<Parameters<typeof playStream>[1], 'source'>,
): Promise<StreamOutcome> {
  const source = await api.downloadStream(`/v1/families/${family.familyId}/messages/${input.view.messageId}/envelope`, MAX_ENVELOPE_BYTES);
  return playStream(family, { ...input, source });
}
