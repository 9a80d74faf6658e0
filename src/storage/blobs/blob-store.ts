/**
 * The blob port: where encrypted envelopes live. Blobs are opaque bytes under random names that
 * are unrelated to any id a client sees; the store never learns what they contain. Adapters:
 * a directory (`FsBlobStore`) and S3-compatible object storage (`S3BlobStore`).
 */
import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { randomBytes, toBase64Url } from '../../crypto/bytes.js';
import { BurrowError } from '../../protocol/errors.js';

/** A body to store: a Node stream, a WHATWG stream or any async iterable of byte chunks. */
export type BlobBody = AsyncIterable<Uint8Array> | ReadableStream<Uint8Array> | NodeJS.ReadableStream;

export interface PutBlobOptions {
  /** Largest accepted body; a longer one fails with `burrow/payload-too-large` and leaves nothing. */
  maxBytes: number;
  /**
   * The body's length when the caller knows it (an HTTP Content-Length). A body of another length
   * fails with `burrow/bad-request`; one declared over `maxBytes` is refused before anything is read.
   */
  size?: number;
  /** Aborting stops the upload and removes whatever was written; `put` rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Whether to hash the body for `StoredBlob.sha256` (default true). A caller that checks the bytes
   * itself and never reads the hash (the messages service: the envelope's checker hashes the body)
   * saves a second SHA-256 of it.
   */
  hash?: boolean;
}

export interface StoredBlob {
  /** The new blob's random name (see `isBlobName`). */
  name: string;
  size: number;
  /** SHA-256 of the stored bytes, computed while streaming; absent when the put asked for no hash. */
  sha256?: Uint8Array;
}

/** Part of a blob: `length` bytes from `offset` (to the end when `length` is absent). */
export interface BlobRange {
  offset: number;
  length?: number;
}

export interface BlobRead {
  /** Size of the whole blob, whatever range was asked for. */
  size: number;
  body: Readable;
  /**
   * The same bytes as `body`, already in memory, when the adapter read them in one call (a small
   * blob); a caller may send these instead and then need not touch `body`.
   */
  bytes?: Uint8Array;
}

export interface BlobListing {
  name: string;
  /** When the blob was stored, in ms since the epoch, as the backend records it. */
  createdAt: number;
}

export interface BlobStoreCheck {
  /** The store is reachable and writable. */
  ok: boolean;
  /** Whether strangers can read blobs without Burrow: true is a finding; 'unknown' when the backend cannot tell. */
  publicRead: boolean | 'unknown';
  /** A short explanation for the operator; never a credential. */
  detail?: string;
}

/** What the server needs from a blob store. Every method validates names with `assertBlobName`. */
export interface BlobStore {
  /**
   * Streams `body` into a new blob under a fresh random name and resolves only once it is durable
   * (file and directory fsynced / object PUT complete). Enforces `maxBytes` while streaming. On
   * any failure or abort nothing is left that `get` or `list` can see. A full disk is `burrow/storage-full`.
   */
  put(body: BlobBody, options: PutBlobOptions): Promise<StoredBlob>;
  /** Streams a blob, or part of it; undefined when no blob has that name. */
  get(name: string, range?: BlobRange): Promise<BlobRead | undefined>;
  /** Removes a blob; removing an absent blob is not an error. */
  delete(name: string): Promise<void>;
  /** Every stored blob, in no particular order, for the orphan sweeper. */
  list(): AsyncIterable<BlobListing>;
  /**
   * Removes leftovers of uploads interrupted before `before` (ms since the epoch) by a crash:
   * temp files on disk, unfinished multipart uploads on S3. Returns how many it removed.
   */
  sweepIncomplete(before: number): Promise<number>;
  /** Health and safety facts for `burrow audit`. */
  check(): Promise<BlobStoreCheck>;
  /**
   * Whether the store answers right now, for readiness probes: one cheap request (S3 HeadBucket)
   * or a few system calls. Never throws; writes no blob (a directory store makes its directory).
   */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The store cannot be reached or used right now (an S3 endpoint that refuses or times out or
 * answers 5xx, a blob directory the server may not read or write): a 503 naming the object store,
 * never the database. `detail` is for the operator's log and never carries a credential.
 */
export class BlobStoreUnavailableError extends Error {
  constructor(detail: string, options: { cause?: unknown } = {}) {
    super(`the object store is unavailable: ${detail}`, options);
    this.name = 'BlobStoreUnavailableError';
  }
}

/** True for a `BlobStoreUnavailableError`. */
export function isBlobStoreUnavailable(error: unknown): error is BlobStoreUnavailableError {
  return error instanceof BlobStoreUnavailableError;
}

/** Bytes of randomness in a blob name: 192 bits, 32 base64url characters. */
const NAME_BYTES = 24;
const NAME_PATTERN = /^[A-Za-z0-9_-]{32}$/;

/** A fresh random blob name: 192 bits, base64url, derived from nothing a client sees. */
export function newBlobName(): string {
  return toBase64Url(randomBytes(NAME_BYTES));
}

/** Whether `name` has the shape of a blob name (and so cannot traverse paths or keys). */
export function isBlobName(name: unknown): name is string {
  return typeof name === 'string' && NAME_PATTERN.test(name);
}

/** Throws a TypeError naming the argument unless `name` is a well-formed blob name. */
export function assertBlobName(name: unknown, argument = 'name'): asserts name is string {
  if (!isBlobName(name)) throw new TypeError(`${argument} must be a blob name (32 base64url characters)`);
}

/** Throws a TypeError unless the put options are sane. */
export function assertPutOptions(options: PutBlobOptions): void {
  if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 0) {
    throw new TypeError('options.maxBytes must be a non-negative integer');
  }
  if (options.size !== undefined && (!Number.isSafeInteger(options.size) || options.size < 0)) {
    throw new TypeError('options.size must be a non-negative integer');
  }
}

/** Throws a TypeError unless `range` is a sane byte range. */
export function assertRange(range: BlobRange | undefined): void {
  if (range === undefined) return;
  if (!Number.isSafeInteger(range.offset) || range.offset < 0) throw new TypeError('range.offset must be a non-negative integer');
  if (range.length !== undefined && (!Number.isSafeInteger(range.length) || range.length < 0)) {
    throw new TypeError('range.length must be a non-negative integer');
  }
}

/** The error `put` rejects with when its signal aborts. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The upload was aborted', 'AbortError');
}

function isWebStream(body: BlobBody): body is ReadableStream<Uint8Array> {
  return typeof (body as ReadableStream<Uint8Array>).getReader === 'function';
}

async function* chunksOf(body: BlobBody): AsyncGenerator<Uint8Array> {
  if (isWebStream(body)) {
    const reader = body.getReader();
    let done = false;
    try {
      for (;;) {
        const next = await reader.read();
        if (next.done) {
          done = true;
          return;
        }
        yield next.value;
      }
    } finally {
      if (!done) await reader.cancel().catch(() => undefined);
      reader.releaseLock();
    }
  }
  for await (const chunk of body as AsyncIterable<unknown>) {
    if (!(chunk instanceof Uint8Array)) throw new TypeError('body must yield Uint8Array chunks');
    yield chunk;
  }
}

/** Passes chunks on until `signal` aborts, even while the source is waiting for its next chunk. */
async function* abortable(source: AsyncGenerator<Uint8Array>, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
  if (signal === undefined) {
    yield* source;
    return;
  }
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  try {
    for (;;) {
      signal.throwIfAborted();
      const next = await Promise.race([source.next(), aborted]);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    signal.removeEventListener('abort', onAbort!);
    // A source stuck waiting cannot be returned (its generator is busy): release it without waiting.
    void source.return(undefined).catch(() => undefined);
  }
}

/**
 * Reads a body chunk by chunk while counting and hashing it: what every adapter's `put` streams
 * through. Throws `burrow/payload-too-large` as soon as the count passes `maxBytes` (before the
 * offending chunk is passed on), `burrow/bad-request` when a declared size is not met, and the
 * signal's reason when aborted.
 */
export class MeteredBody implements AsyncIterable<Uint8Array> {
  #size = 0;
  readonly #hash: Hash | undefined;
  #digest: Uint8Array | undefined;
  readonly #body: BlobBody;
  readonly #options: PutBlobOptions;

  constructor(body: BlobBody, options: PutBlobOptions) {
    assertPutOptions(options);
    this.#body = body;
    this.#options = options;
    this.#hash = options.hash === false ? undefined : createHash('sha256');
  }

  /** Bytes passed on so far. */
  get size(): number {
    return this.#size;
  }

  /** SHA-256 of the whole body, only after it has been read to its end; undefined when asked for no hash. */
  get sha256(): Uint8Array | undefined {
    if (this.#hash === undefined) return undefined;
    if (this.#digest === undefined) throw new Error('the body has not been read to its end');
    return this.#digest;
  }

  /** What `put` answers: the name, the size and, when asked for, the hash. */
  stored(name: string): StoredBlob {
    const sha256 = this.sha256;
    return sha256 === undefined ? { name, size: this.#size } : { name, size: this.#size, sha256 };
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    const { maxBytes, size, signal } = this.#options;
    if (size !== undefined && size > maxBytes) throw tooLarge(maxBytes);
    signal?.throwIfAborted();
    for await (const chunk of abortable(chunksOf(this.#body), signal)) {
      if (chunk.length === 0) continue;
      this.#size += chunk.length;
      if (this.#size > maxBytes) throw tooLarge(maxBytes);
      if (size !== undefined && this.#size > size) throw sizeMismatch(size);
      this.#hash?.update(chunk);
      yield chunk;
    }
    if (signal?.aborted) throw abortReason(signal);
    if (size !== undefined && this.#size !== size) throw sizeMismatch(size);
    if (this.#hash !== undefined) this.#digest = new Uint8Array(this.#hash.digest());
  }
}

function tooLarge(maxBytes: number): BurrowError {
  return new BurrowError('burrow/payload-too-large', `The body is larger than ${maxBytes} bytes`);
}

function sizeMismatch(size: number): BurrowError {
  return new BurrowError('burrow/bad-request', `The body is not the declared ${size} bytes`);
}
