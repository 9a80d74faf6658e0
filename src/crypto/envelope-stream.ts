/**
 * Opening a voice message while it arrives, for a reader that must not hold the whole message (a
 * toy with a few hundred KB of RAM): the fields before the chunks are read and verified exactly as
 * `openAndVerifyMessage` does (signature, roster, age, key), then each sealed chunk is read, checked
 * against its committed hash and its tag, and only then handed out, one at a time.
 *
 * What the reader holds at once, at most: the fields before the chunks (header, commitment with
 * one 32-byte hash per 64 KiB chunk, signature), one sealed chunk (64 KiB + 16) and its plaintext,
 * and the pieces the transport delivered but the reader has not consumed yet. `maxBufferedBytes`
 * counts the largest such total this reader held (the commitment and the transport's pieces
 * included), so a test can hold the bound to account.
 */
import { assertBytes, concatBytes } from './bytes.js';
import {
  CHUNK_HASH_BYTES,
  CHUNK_PLAINTEXT_BYTES,
  CHUNK_TAG_BYTES,
  chunkPlaintextLength,
  openChunk,
} from './envelope-chunks.js';
import {
  allZero,
  approvalOf,
  MAX_ENVELOPE_PREFIX_BYTES,
  parseEnvelopeParts,
  parseEnvelopePrefix,
  readInnerMetadata,
  verifyEnvelopeParts,
  type EnvelopeParts,
  type OpenedMessage,
  type OpenOptions,
  type VerifiedParts,
} from './envelope.js';
import { fail, ok, type CryptoResult } from './result.js';
import { isVerifiedRoster } from './roster.js';

/** A verified message whose audio is read piece by piece: `OpenedMessage` without the audio. */
export interface MessageStream extends Omit<OpenedMessage, 'audio'> {
  /** The audio's length in bytes, as the sender sealed it. */
  audioLength: number;
  /**
   * The next piece of audio (from one chunk), once that chunk's hash and tag passed; `undefined`
   * after the last chunk, once the end is verified (no chunk missing, nothing after it, padding
   * zero). A failure ends the stream: what was handed out before it was authentic, but the
   * message is not whole ('envelope/malformed' for a truncated or extended stream,
   * 'envelope/bad-signature' for a chunk the sender did not commit to, 'envelope/decrypt-failed').
   */
  next(): Promise<CryptoResult<Uint8Array | undefined>>;
  /** The most bytes this reader has held at once so far (see the file comment). */
  readonly maxBufferedBytes: number;
}

/** Reads exact byte counts from an async source, counting what it holds. */
class ByteSource {
  readonly #iterator: AsyncIterator<Uint8Array>;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  /** Bytes held for the whole read: the fields before the chunks, once read. */
  fixed = 0;
  /** Bytes held outside the pending pieces: `fixed` and the chunk being opened. */
  #held = 0;
  maxBuffered = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }

  #count(): void {
    this.maxBuffered = Math.max(this.maxBuffered, this.#pendingBytes + this.#held);
  }

  /** Counts `bytes` (beyond `fixed`) as held by the caller until the next `hold` or `read`. */
  hold(bytes: number): void {
    this.#held = this.fixed + bytes;
    this.#count();
  }

  /** Pulls one more piece; false at the end of the source. */
  async #pull(): Promise<boolean> {
    const next = await this.#iterator.next();
    if (next.done === true) return false;
    const piece = next.value;
    assertBytes(piece, 'piece');
    this.#pending.push(piece);
    this.#pendingBytes += piece.length;
    this.#count();
    return true;
  }

  /** What has arrived but is not consumed yet, without consuming it (at least `atLeast` bytes, if the source has them). */
  async peek(atLeast: number): Promise<Uint8Array> {
    while (this.#pendingBytes < atLeast && (await this.#pull()));
    if (this.#pending.length > 1) this.#pending = [concatBytes(...this.#pending)];
    return this.#pending[0] ?? new Uint8Array(0);
  }

  /** Exactly `length` bytes, or undefined when the source ends first. */
  async read(length: number): Promise<Uint8Array | undefined> {
    while (this.#pendingBytes < length) if (!(await this.#pull())) return undefined;
    const all = this.#pending.length === 1 ? this.#pending[0]! : concatBytes(...this.#pending);
    const taken = all.subarray(0, length);
    const rest = all.subarray(length);
    this.#pending = rest.length > 0 ? [rest] : [];
    this.#pendingBytes = rest.length;
    // The taken bytes are held by the caller until its next read.
    this.hold(length);
    return taken;
  }

  /** Whether the source has no byte left. */
  async ended(): Promise<boolean> {
    return this.#pendingBytes === 0 && !(await this.#pull());
  }

  close(): void {
    void this.#iterator.return?.()?.catch?.(() => undefined);
  }
}

/** Reads the fields before the chunks: the header and padded length first, to learn how long they are. */
async function readParts(source: ByteSource): Promise<CryptoResult<EnvelopeParts>> {
  for (let want = 1; ; ) {
    const head = await source.peek(want);
    const prefix = parseEnvelopePrefix(head);
    if (prefix.ok) break;
    if (prefix.code !== 'envelope/incomplete') return prefix;
    if (head.length < want) return fail('envelope/malformed');
    if (head.length >= MAX_ENVELOPE_PREFIX_BYTES) return fail('envelope/malformed');
    want = head.length + 1;
  }
  const prefix = parseEnvelopePrefix(await source.peek(0));
  if (!prefix.ok) return prefix;
  const partsLength = prefix.value.envelopeLength - (prefix.value.paddedLength + CHUNK_TAG_BYTES * prefix.value.chunkCount);
  const bytes = await source.read(partsLength);
  if (bytes === undefined) return fail('envelope/malformed');
  // Kept while the chunks stream: the hashes are checked against each one.
  const parts = parseEnvelopeParts(bytes.slice());
  if (!parts.ok) return parts.code === 'envelope/incomplete' ? fail('envelope/malformed') : parts;
  return parts;
}

/**
 * Verifies a message from the fields before its chunks and opens its first chunk (which holds the
 * metadata), refusing for exactly the reasons `openAndVerifyMessage` does; the audio then comes
 * from `next()`. `source` yields the envelope's bytes in any cut (a download's body). Never throws
 * on bad input.
 */
export async function openMessageStream(source: AsyncIterable<Uint8Array>, options: OpenOptions): Promise<CryptoResult<MessageStream>> {
  if (!isVerifiedRoster(options.roster)) throw new TypeError('roster must come from verifyRoster');
  const bytes = new ByteSource(source);
  const parts = await readParts(bytes);
  if (!parts.ok) {
    bytes.close();
    return parts;
  }
  bytes.fixed = parts.value.headerBytes.length + parts.value.commitment.length + parts.value.signature.length;
  const verified = await verifyEnvelopeParts(parts.value, options);
  if (!verified.ok) {
    bytes.close();
    return verified;
  }
  const chunks = new ChunkReader(bytes, parts.value, verified.value);
  const first = await chunks.open(0);
  if (!first.ok) {
    bytes.close();
    return first;
  }
  const inner = readInnerMetadata(first.value, parts.value.paddedLength);
  if (inner === undefined) {
    bytes.close();
    return fail('envelope/malformed');
  }
  const approval = await approvalOf(parts.value, verified.value, options);
  if (!approval.ok) {
    bytes.close();
    return approval;
  }
  const audioEnd = inner.audioOffset + inner.audioLength;
  let current: Uint8Array | undefined = first.value;
  let index = 0;
  let done = false;

  /** The audio in chunk `at` (its plaintext `plain`), once the padding in it is checked to be zero. */
  const audioIn = (at: number, plain: Uint8Array): Uint8Array | undefined => {
    const start = at * CHUNK_PLAINTEXT_BYTES;
    const from = Math.min(Math.max(inner.audioOffset - start, 0), plain.length);
    const to = Math.min(Math.max(audioEnd - start, 0), plain.length);
    return allZero(plain.subarray(to)) ? plain.subarray(from, to) : undefined;
  };

  const stream: MessageStream = {
    header: parts.value.header,
    audioLength: inner.audioLength,
    audioType: inner.audioType,
    durationMs: inner.durationMs,
    ciphertextHash: verified.value.ciphertextHash,
    sender: verified.value.sender,
    approval: approval.value,
    get maxBufferedBytes() {
      return bytes.maxBuffered;
    },
    async next() {
      if (done) return ok(undefined);
      if (current === undefined) {
        index += 1;
        if (index === parts.value.chunkCount) {
          done = true;
          // Anything after the last chunk is not part of what the sender signed.
          if (!(await bytes.ended())) return fail('envelope/malformed');
          bytes.close();
          return ok(undefined);
        }
        const opened = await chunks.open(index);
        if (!opened.ok) {
          done = true;
          bytes.close();
          return opened;
        }
        current = opened.value;
      }
      const audio = audioIn(index, current);
      current = undefined;
      if (audio === undefined) {
        done = true;
        bytes.close();
        return fail('envelope/malformed');
      }
      return ok(audio);
    },
  };
  if (inner.caption !== undefined) stream.caption = inner.caption;
  const { removal } = verified.value;
  if (removal !== undefined) stream.removed = { epoch: removal.epoch, at: removal.createdAt };
  return ok(stream);
}

/** Reads and opens one sealed chunk at a time, counting the chunk and its plaintext as held. */
class ChunkReader {
  constructor(
    readonly source: ByteSource,
    readonly parts: EnvelopeParts,
    readonly verified: VerifiedParts,
  ) {}

  async open(index: number): Promise<CryptoResult<Uint8Array>> {
    // The previous chunk's audio went to the player; its sealed bytes are done with.
    this.source.hold(0);
    const length = chunkPlaintextLength(this.parts.paddedLength, index) + CHUNK_TAG_BYTES;
    const sealed = await this.source.read(length);
    // A stream that ends before the committed number of chunks is truncated.
    if (sealed === undefined) return fail('envelope/malformed');
    // The sealed chunk and (below) its plaintext are both held now, beside the fields before them.
    this.source.hold(2 * length);
    const expected = this.parts.chunkHashes.subarray(index * CHUNK_HASH_BYTES, (index + 1) * CHUNK_HASH_BYTES);
    return openChunk(this.verified.chunks, index, sealed, expected);
  }
}
