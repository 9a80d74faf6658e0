/**
 * Playing a message while it arrives, for a toy that cannot hold a whole message in RAM: the
 * envelope streams (from the server, or from the toy's own storage) into `openMessageStream`
 * (src/crypto/envelope-stream.ts), which verifies the sender's signature over the chunk commitment
 * before any audio, then hands out each chunk's audio only once that chunk's committed hash and tag
 * passed. `openToyStream` takes the toy's decision — the one `decideMessage` takes on a whole
 * envelope, same open options, same checks after opening, the audio's first bytes included — before
 * the first audio byte; `ToyRuntime` and `playStream` are built on it.
 *
 * The bound: what the pipeline holds at once is the fields before the chunks (header, one 32-byte
 * hash per 64 KiB chunk, signature), one sealed chunk and its plaintext (64 KiB + 16 each), and the
 * transport's pieces not consumed yet, whatever the message's length; `maxBufferedBytes` counts it.
 */
import { concatBytes, fromBase64Url } from '../../crypto/bytes.js';
import { CHUNK_PLAINTEXT_BYTES, MAX_ENVELOPE_PREFIX_BYTES, MESSAGE_ID_LENGTH, parseEnvelopePrefix, type EnvelopeHeader } from '../../crypto/envelope.js';
import { openMessageStream, type MessageStream } from '../../crypto/envelope-stream.js';
import type { CryptoResult } from '../../crypto/result.js';
import { checkAudio } from '../../protocol/audio-formats.js';
import type { BurrowApi } from '../api.js';
import { MAX_ENVELOPE_BYTES } from '../kept-history.js';
import { addressedTo, afterOpening, failedOpening, toyOpenOptions, type ToyDecision, type ToyMessageView } from './decide.js';
import type { ToyFamily } from './trust.js';

/**
 * How much of the audio's beginning the format check reads at most (one chunk's plaintext): the
 * Ogg page with OpusHead, or the WAV header up to its `data` chunk, must lie within it.
 */
export const AUDIO_CHECK_BYTES = CHUNK_PLAINTEXT_BYTES;

/** A verified message about to play: its metadata, without the audio. */
export type StreamedMessage = Omit<MessageStream, 'next' | 'maxBufferedBytes'>;

/** A decision not to play (now), with the envelope's key-free header when it was read. */
export type ToyStreamHold = Exclude<ToyDecision, { action: 'play' } | { reason: 'toy/quiet-hours' }> & { header?: EnvelopeHeader };

/**
 * The toy's decision on a message it reads as it arrives. `play`: the audio comes from `next()`,
 * piece by piece, each verified (see `MessageStream.next`). `wait` for quiet hours also carries
 * `next()`, so the caller can read (and so verify) the rest before keeping it for later.
 */
export type ToyStreamDecision =
  | {
      action: 'play';
      message: StreamedMessage;
      volume: number;
      header: EnvelopeHeader;
      next(): Promise<CryptoResult<Uint8Array | undefined>>;
      readonly maxBufferedBytes: number;
    }
  | (Extract<ToyDecision, { reason: 'toy/quiet-hours' }> & {
      header: EnvelopeHeader;
      next(): Promise<CryptoResult<Uint8Array | undefined>>;
      readonly maxBufferedBytes: number;
    })
  | ToyStreamHold;

/** Watches an envelope's first bytes go by and reads its key-free header from them, copying only when the header spans pieces. */
class HeaderWatch implements AsyncIterable<Uint8Array> {
  header: EnvelopeHeader | undefined;
  /** The most bytes this watch held beyond the pieces themselves (a joined copy of the first ones). */
  maxCopiedBytes = 0;
  readonly #source: AsyncIterable<Uint8Array>;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#source = source;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    let first: Uint8Array[] = [];
    let firstBytes = 0;
    let watching = true;
    for await (const piece of this.#source) {
      if (watching) {
        first.push(piece);
        firstBytes += piece.length;
        const prefix = first.length === 1 ? piece : concatBytes(...first);
        if (first.length > 1) this.maxCopiedBytes = Math.max(this.maxCopiedBytes, prefix.length);
        const parsed = parseEnvelopePrefix(prefix);
        if (parsed.ok) this.header = parsed.value.header;
        if (parsed.ok || parsed.code !== 'envelope/incomplete' || firstBytes >= MAX_ENVELOPE_PREFIX_BYTES) {
          watching = false;
          first = [];
        }
      }
      yield piece;
    }
  }
}

/**
 * Opens `source` (an envelope's bytes as they arrive) as the toy listed under `view`, and decides
 * before any audio is handed out, exactly as `decideMessage` does on the whole envelope: the same
 * verification, the toy's checks after opening, and the audio's format read from its first bytes
 * (at most `AUDIO_CHECK_BYTES`). A chunk that fails before the first audio is a refusal with its
 * code. Never throws on bad input.
 */
export async function openToyStream(family: ToyFamily, input: { source: AsyncIterable<Uint8Array>; view: ToyMessageView; now: number }): Promise<ToyStreamDecision> {
  let messageId: Uint8Array;
  try {
    messageId = fromBase64Url(input.view.messageId);
  } catch {
    return { action: 'refuse', reason: 'envelope/id-mismatch' };
  }
  if (messageId.length !== MESSAGE_ID_LENGTH) return { action: 'refuse', reason: 'envelope/id-mismatch' };
  const watch = new HeaderWatch(input.source);
  const opened = await openMessageStream(watch, toyOpenOptions(family, input.view, messageId, input.now));
  const seen = watch.header === undefined ? {} : { header: watch.header };
  if (!opened.ok) {
    // As decideMessage: the header's signature verified before the key was needed, so its recipients are the sender's.
    if (opened.code === 'envelope/no-key' && (watch.header === undefined || !addressedTo(family, watch.header.recipients))) return { action: 'refuse', reason: 'toy/not-for-this-toy', ...seen };
    // Quiet hours are decided only on a message that opened.
    return { ...(failedOpening(opened.code) as Exclude<ToyDecision, { action: 'play' } | { reason: 'toy/quiet-hours' }>), ...seen };
  }
  const stream = opened.value;
  const header = stream.header;
  const held = afterOpening(family, stream, input.now);
  if (held !== undefined && held.action === 'refuse') return { ...held, header };

  // The audio's first bytes, checked before the first is handed out (and before keeping it for later).
  const buffered: Uint8Array[] = [];
  let bufferedBytes = 0;
  let extraBytes = 0;
  for (;;) {
    const piece = await stream.next();
    if (!piece.ok) return { action: 'refuse', reason: piece.code, header };
    const value = piece.value;
    if (value !== undefined && value.length === 0) continue;
    if (value !== undefined) {
      buffered.push(value);
      bufferedBytes += value.length;
    }
    const end = value === undefined;
    const start = buffered.length === 1 ? buffered[0]! : concatBytes(...buffered);
    // Pieces before the last belong to chunks the stream no longer counts, and a join copies them all.
    extraBytes = Math.max(extraBytes, bufferedBytes - (buffered.at(-1)?.length ?? 0) + (buffered.length > 1 ? start.length : 0));
    if (checkAudio(stream.audioType, start).ok) break;
    if (end || bufferedBytes >= AUDIO_CHECK_BYTES) return { action: 'refuse', reason: 'toy/audio-format', header };
  }
  let finished = false;
  const next = async (): Promise<CryptoResult<Uint8Array | undefined>> => {
    const piece = buffered.shift();
    if (piece !== undefined) return { ok: true, value: piece };
    if (finished) return { ok: true, value: undefined };
    const read = await stream.next();
    if (!read.ok || read.value === undefined) finished = true;
    return read;
  };
  const { next: _next, maxBufferedBytes: _count, ...message } = stream;
  const counted = {
    header,
    next,
    get maxBufferedBytes() {
      return stream.maxBufferedBytes + extraBytes + watch.maxCopiedBytes;
    },
  };
  if (held !== undefined) return Object.assign(counted, held);
  return Object.assign(counted, { action: 'play' as const, message, volume: family.settings.volumeLimit });
}

/** What came of streaming one message: played whole, stopped part-way (with why), or not started. */
export type StreamOutcome =
  | { action: 'played'; message: StreamedMessage; volume: number; maxBufferedBytes: number }
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
    start?: (message: StreamedMessage, volume: number) => void | Promise<void>;
    play: (piece: Uint8Array) => void | Promise<void>;
  },
): Promise<StreamOutcome> {
  const decision = await openToyStream(family, input);
  if (decision.action !== 'play') {
    const { header: _header, ...rest } = decision;
    if (rest.action === 'wait' && rest.reason === 'toy/quiet-hours') return { action: 'wait', reason: rest.reason, notBefore: rest.notBefore, createdAt: rest.createdAt };
    return rest as Exclude<ToyDecision, { action: 'play' }>;
  }
  await input.start?.(decision.message, decision.volume);
  let playedBytes = 0;
  for (;;) {
    const piece = await decision.next();
    if (!piece.ok) return { action: 'broken', reason: piece.code, playedBytes, maxBufferedBytes: decision.maxBufferedBytes };
    if (piece.value === undefined) break;
    await input.play(piece.value);
    playedBytes += piece.value.length;
  }
  return { action: 'played', message: decision.message, volume: decision.volume, maxBufferedBytes: decision.maxBufferedBytes };
}

/** `playStream` over the message's download from the server, as the toy's device. */
export async function downloadAndPlayStream(
  api: BurrowApi,
  family: ToyFamily,
  input: Omit<Parameters<typeof playStream>[1], 'source'>,
): Promise<StreamOutcome> {
  const source = await downloadEnvelopeStream(api, family, input.view.messageId);
  return playStream(family, { ...input, source });
}

/** The message's envelope as the server sends it, piece by piece (at most the largest envelope there can be). */
export function downloadEnvelopeStream(api: BurrowApi, family: ToyFamily, messageId: string): Promise<AsyncIterable<Uint8Array>> {
  return api.downloadStream(`/v1/families/${family.familyId}/messages/${messageId}/envelope`, MAX_ENVELOPE_BYTES);
}
