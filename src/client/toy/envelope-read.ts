/**
 * One reading of a message's envelope by the toy, piece by piece: from its own storage, or from the
 * server with each piece written to storage as it passes (so a message kept for later, or played,
 * stays on the device without ever being held whole in RAM). Whoever reads it (`openToyStream`)
 * cannot end the download; the runtime does, with `keep` or `close`.
 */
import { MAX_ENVELOPE_PREFIX_BYTES, parseEnvelopePrefix, type EnvelopeHeader } from '../../crypto/envelope.js';
import { ApiError, NetworkError, type BurrowApi } from '../api.js';
import { envelopeReaderOf, envelopeWriterOf, type EnvelopeWriter, type ToyStorage } from './storage.js';
import { downloadEnvelopeStream } from './stream-play.js';
import type { ToyFamily } from './trust.js';

/** An envelope being read once; see the file comment. */
export class EnvelopeRead implements AsyncIterable<Uint8Array> {
  readonly #iterator: AsyncIterator<Uint8Array>;
  #writer: EnvelopeWriter | undefined;
  #done = false;
  #error: unknown;
  /** Whether the bytes come from the toy's storage (else from the server). */
  readonly stored: boolean;

  private constructor(source: AsyncIterable<Uint8Array>, stored: boolean, writer?: EnvelopeWriter) {
    this.#iterator = source[Symbol.asyncIterator]();
    this.stored = stored;
    this.#writer = writer;
  }

  /**
   * The stored envelope of `messageId`, else its download; with `store`, a download is written to
   * storage as it is read (kept by `keep`). Throws what the download throws (offline, a dead token, 404).
   */
  static async open(context: { api: BurrowApi; storage: ToyStorage; family: ToyFamily }, messageId: string, options: { store: boolean }): Promise<EnvelopeRead> {
    const stored = await envelopeReaderOf(context.storage, messageId);
    if (stored !== undefined) return new EnvelopeRead(stored, true);
    const download = await downloadEnvelopeStream(context.api, context.family, messageId);
    return new EnvelopeRead(download, false, options.store ? await envelopeWriterOf(context.storage, messageId) : undefined);
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => this.#next(),
      // A reader that stops (or fails) leaves the rest to the runtime: to be read into storage, or closed.
      return: () => Promise.resolve({ done: true, value: undefined }),
    };
  }

  async #next(): Promise<IteratorResult<Uint8Array>> {
    // A failed read stays failed: nobody mistakes a broken connection for a short envelope.
    if (this.#error !== undefined) throw this.#error;
    if (this.#done) return { done: true, value: undefined };
    let result: IteratorResult<Uint8Array>;
    try {
      result = await this.#iterator.next();
    } catch (error) {
      this.#error = error instanceof ApiError || error instanceof NetworkError ? error : new NetworkError('the download of a message broke off', { cause: error });
      throw this.#error;
    }
    if (result.done === true) {
      this.#done = true;
      return result;
    }
    await this.#writer?.write(result.value);
    return result;
  }

  /** Reads the rest, writing it to storage (a message kept for later that could not be opened yet). */
  async drain(): Promise<void> {
    while ((await this.#next()).done !== true);
  }

  /** Reads the envelope's key-free header from its first bytes (at most `MAX_ENVELOPE_PREFIX_BYTES`), or undefined. */
  async header(): Promise<EnvelopeHeader | undefined> {
    let prefix = new Uint8Array(0);
    for (;;) {
      const next = await this.#next();
      if (next.done === true) return undefined;
      const piece = next.value.subarray(0, MAX_ENVELOPE_PREFIX_BYTES - prefix.length);
      const joined = new Uint8Array(prefix.length + piece.length);
      joined.set(prefix);
      joined.set(piece, prefix.length);
      prefix = joined;
      const parsed = parseEnvelopePrefix(prefix);
      if (parsed.ok) return parsed.value.header;
      if (parsed.code !== 'envelope/incomplete' || prefix.length >= MAX_ENVELOPE_PREFIX_BYTES) return undefined;
    }
  }

  /** Stores what was downloaded as the message's envelope (nothing to do for a stored one). */
  async keep(): Promise<void> {
    const writer = this.#writer;
    this.#writer = undefined;
    await writer?.commit();
  }

  /** Ends the reading: the download is cancelled, anything written and not kept is dropped. */
  async close(): Promise<void> {
    this.#done = true;
    const writer = this.#writer;
    this.#writer = undefined;
    await this.#iterator.return?.().catch(() => undefined);
    await writer?.discard();
  }
}
