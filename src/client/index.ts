/**
 * Burrow's client library: the one entry point the web app, the toys and the CLI import statically.
 * The password policy (src/client/password-policy.ts, with its dictionaries) is its own entry,
 * loaded with `import()` by the screens that ask for a new password, so no other page fetches it.
 */
export * from './api.js';
export * from './account.js';
export * from './recovery-code.js';
export * from './session-store.js';
export * from './client-error.js';
export * from './describe-failure.js';
export * from './key-store.js';
export * from './families.js';
export * from './key-ring.js';
export * from './invites.js';
export * from './children.js';
export * from './names.js';
export * from './messages.js';
export * from './receipts.js';
export * from './refusal-words.js';
export * from './live.js';
export * from './vault.js';
export * from './toys.js';
export * from './toy-runtime.js';
export * from './transport.js';
export * from './badges.js';
export * from './quiet-hours.js';
export * from './push.js';
export * from './push-notice.js';
export * from './family-log.js';
export * from './kept-history.js';
export * from './export.js';
export * from './audio/sendable-audio.js';
export * from './audio/ogg-pages.js';
export * from './audio/webm-to-ogg.js';
export { AUDIO_EXTENSIONS, AUDIO_FORMATS, AUDIO_FORMATS_IN_WORDS, OGG_OPUS, WAV_PCM16, checkAudio, isAudioFormat, sniffAudioFormat, type AudioFormat as MessageAudioFormat } from '../protocol/audio-formats.js';
export * from './audio/recorded-audio.js';
