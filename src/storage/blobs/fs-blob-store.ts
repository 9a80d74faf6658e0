/**
 * The directory adapter of the blob port: one file per blob under `<dir>/<first two chars>/<name>`,
 * written to `<dir>/tmp/` first and made durable (written with O_DSYNC, else fsynced), renamed
 * into place and the directory fsynced, so a crash leaves either the whole blob or an unreferenced
 * temp file that `sweepIncomplete` removes.
 *
 * Uploads that land together share a shard and one directory fsync: names are drawn in runs of
 * `SHARD_RUN` under one random shard (the other 30 characters stay random: 180 bits), and a put
 * waits for an fsync of its shard that started after its rename, which several puts may share.
 */
import { close as closeFile, constants, createReadStream, fstat, open as openFile, read } from 'node:fs';
import { access, mkdir, open, opendir, rename, stat, statfs, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BurrowError } from '../../protocol/errors.js';
import { SharedSync } from './shared-sync.js';
import {
  MeteredBody,
  assertBlobName,
  assertRange,
  isBlobName,
  newBlobName,
  type BlobBody,
  type BlobListing,
  type BlobRange,
  type BlobRead,
  type BlobStore,
  type BlobStoreCheck,
  type PutBlobOptions,
  type StoredBlob,
  BlobStoreUnavailableError,
} from './blob-store.js';

export interface FsBlobStoreOptions {
  /** The blob directory; created (mode 0700) when missing. */
  dir: string;
  /**
   * Writes one chunk to an open temp file. Only tests replace it, to simulate a failing disk where
   * no small filesystem can be mounted.
   */
  writeChunk?: (file: FileHandle, chunk: Uint8Array) => Promise<void>;
  /** Told how long each stored blob took to become durable (its last write or fsync, rename, directory fsync), in ms: metrics. */
  observeSync?: (durationMs: number) => void;
}

const TEMP_DIR = 'tmp';
/** Bytes gathered before a write to the temp file: the body is held in memory at most this much at a time. */
const WRITE_BATCH_BYTES = 128 * 1024;
const SHARD_PATTERN = /^[A-Za-z0-9_-]{2}$/;
const TEMP_PATTERN = /^[A-Za-z0-9_-]{32}\.part$/;
/**
 * Puts whose names share one shard before another is drawn: enough for the uploads in flight at
 * once to meet in one directory, few enough that the shards fill evenly.
 */
const SHARD_RUN = 64;
/**
 * How a temp file is opened: O_CREAT|O_EXCL (never follow or reuse an existing path), and where the
 * platform has it O_DSYNC, so each write returns once its data and the metadata needed to read it
 * back (the size, the blocks) are on disk, as `fdatasync` after it would (POSIX "synchronized I/O
 * data integrity completion"): one system call fewer than write then fsync.
 */
const TEMP_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_DSYNC ?? 0);
const WRITES_ARE_DURABLE = constants.O_DSYNC !== undefined;
/**
 * A whole blob up to this size is read in one call into memory and answered from there (open,
 * read, close) rather than streamed (open, fstat, reads, close): a voice message is well under it.
 * A longer one costs that first read more, then streams.
 */
const ONE_READ_BYTES = 256 * 1024;
/**
 * Read buffers kept for reuse: a fresh buffer of `ONE_READ_BYTES` per download would be a
 * mapping made and unmapped by the allocator each time. One per download in flight, up to this many.
 */
const SCRATCH_BUFFERS_KEPT = 8;
const scratchBuffers: Buffer[] = [];

/** Stores blobs as files in a directory. */
export class FsBlobStore implements BlobStore {
  readonly dir: string;
  readonly #writeChunk: (file: FileHandle, chunk: Uint8Array) => Promise<void>;
  readonly #observeSync: ((durationMs: number) => void) | undefined;
  #ready: Promise<void> | undefined;
  /** Shard directories known to exist (at most 4096: two base64url characters). */
  readonly #shards = new Set<string>();
  /** One fsync at a time per directory, shared by every put whose rename came before it started. */
  readonly #syncs = new Map<string, SharedSync>();
  #runShard = '';
  #runLeft = 0;

  constructor(options: FsBlobStoreOptions) {
    if (typeof options.dir !== 'string' || options.dir === '') throw new TypeError('options.dir must be a directory path');
    this.dir = options.dir;
    this.#writeChunk = options.writeChunk ?? writeAll;
    this.#observeSync = options.observeSync;
  }

  async put(body: BlobBody, options: PutBlobOptions): Promise<StoredBlob> {
    const metered = new MeteredBody(body, options);
    await this.#prepare();
    const name = this.#nextName();
    const tempPath = join(this.dir, TEMP_DIR, `${name}.part`);
    let file: FileHandle | undefined;
    let placed = false;
    try {
      file = await open(tempPath, TEMP_FLAGS, 0o600);
      // Chunks are written in batches of up to WRITE_BATCH_BYTES: a voice message is one or two
      // writes, not one per network read (each write is a round trip to libuv's thread pool).
      const batch: Uint8Array[] = [];
      let batched = 0;
      for await (const chunk of metered) {
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= WRITE_BATCH_BYTES) {
          await this.#writeChunk(file, joined(batch.splice(0)));
          batched = 0;
        }
      }
      // Timed from the last write, which with O_DSYNC is where the file's data becomes durable.
      const syncStarted = performance.now();
      if (batch.length > 0) await this.#writeChunk(file, joined(batch));
      // An empty file has no write to carry its metadata to disk; without O_DSYNC nothing did.
      if (!WRITES_ARE_DURABLE || metered.size === 0) await file.sync();
      await file.close();
      file = undefined;
      const shard = join(this.dir, shardOf(name));
      // A shard made (or found) once is not made again on every put; one removed behind our back
      // is made again when the rename finds it missing.
      if (!this.#shards.has(shard)) await this.#makeShard(shard);
      await rename(tempPath, join(shard, name)).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
        this.#shards.delete(shard);
        await this.#makeShard(shard);
        await rename(tempPath, join(shard, name));
      });
      placed = true;
      await this.#syncDirectory(shard);
      this.#observeSync?.(performance.now() - syncStarted);
      return metered.stored(name);
    } catch (error) {
      await file?.close().catch(() => undefined);
      await unlink(tempPath).catch(() => undefined);
      if (placed) await unlink(join(this.dir, shardOf(name), name)).catch(() => undefined);
      throw translate(error);
    }
  }

  async get(name: string, range?: BlobRange): Promise<BlobRead | undefined> {
    assertBlobName(name);
    assertRange(range);
    let fd: number;
    try {
      fd = await openForReading(this.#pathOf(name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw translate(error);
    }
    try {
      if (range === undefined) {
        const whole = await readIfSmall(fd);
        if (whole !== undefined) {
          await closeFd(fd);
          return inMemoryRead(whole);
        }
      }
      const { size } = await fstatFd(fd);
      const start = Math.min(range?.offset ?? 0, size);
      const end = range?.length === undefined ? size : Math.min(size, start + range.length);
      if (end <= start) {
        await closeFd(fd);
        return { size, body: emptyReadable() };
      }
      // The stream owns the descriptor from here and closes it when done or destroyed.
      const body = createReadStream('', { fd, start, end: end - 1, autoClose: true });
      return { size, body };
    } catch (error) {
      await closeFd(fd).catch(() => undefined);
      throw translate(error);
    }
  }

  async delete(name: string): Promise<void> {
    assertBlobName(name);
    try {
      await unlink(this.#pathOf(name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw translate(error);
    }
  }

  async *list(): AsyncGenerator<BlobListing> {
    for (const shard of await entriesOf(this.dir)) {
      if (!SHARD_PATTERN.test(shard)) continue;
      for (const name of await entriesOf(join(this.dir, shard))) {
        if (!isBlobName(name) || shardOf(name) !== shard) continue;
        const info = await stat(join(this.dir, shard, name)).catch(() => undefined);
        if (info?.isFile()) yield { name, createdAt: info.mtimeMs };
      }
    }
  }

  async sweepIncomplete(before: number): Promise<number> {
    if (!Number.isFinite(before)) throw new TypeError('before must be a time in ms since the epoch');
    const tempDir = join(this.dir, TEMP_DIR);
    let removed = 0;
    for (const entry of await entriesOf(tempDir)) {
      if (!TEMP_PATTERN.test(entry)) continue;
      const path = join(tempDir, entry);
      const info = await stat(path).catch(() => undefined);
      if (info === undefined || info.mtimeMs >= before) continue;
      await unlink(path).then(
        () => removed++,
        () => undefined,
      );
    }
    return removed;
  }

  async check(): Promise<BlobStoreCheck> {
    try {
      await this.#prepare();
      const info = await stat(this.dir);
      const probe = join(this.dir, TEMP_DIR, `${newBlobName()}.part`);
      const file = await open(probe, 'wx', 0o600);
      await file.close();
      await unlink(probe);
      // A directory that other local users can list and read is this adapter's "public bucket".
      const publicRead = (info.mode & 0o005) !== 0;
      const space = await statfs(this.dir);
      const detail = `${space.bavail * space.bsize} bytes free${publicRead ? '; the blob directory is readable by other users (chmod 700 it)' : ''}`;
      return { ok: true, publicRead, detail };
    } catch (error) {
      return { ok: false, publicRead: 'unknown', detail: `the blob directory is not usable (${(error as NodeJS.ErrnoException).code ?? 'error'})` };
    }
  }

  async ping(): Promise<boolean> {
    try {
      // Made on first use, as by an upload; then the directory and its temp directory must be
      // usable (read, write, search) and listable.
      await this.#prepare();
      for (const dir of [this.dir, join(this.dir, TEMP_DIR)]) await access(dir, constants.R_OK | constants.W_OK | constants.X_OK);
      await (await opendir(this.dir)).close();
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    // Nothing is held open between calls.
  }

  async #makeShard(shard: string): Promise<void> {
    await mkdir(shard, { mode: 0o700 }).then(
      () => this.#syncDirectory(this.dir),
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      },
    );
    this.#shards.add(shard);
  }

  /** A fresh blob name in the current run's shard. */
  #nextName(): string {
    const fresh = newBlobName();
    if (this.#runLeft === 0) {
      this.#runShard = shardOf(fresh);
      this.#runLeft = SHARD_RUN;
    }
    this.#runLeft--;
    return this.#runShard + fresh.slice(this.#runShard.length);
  }

  /** Resolves once an fsync of `path` that started after this call has completed. */
  #syncDirectory(path: string): Promise<void> {
    let sync = this.#syncs.get(path);
    if (sync === undefined) {
      sync = new SharedSync(() => syncDirectory(path), () => this.#syncs.delete(path));
      this.#syncs.set(path, sync);
    }
    return sync.request();
  }

  #prepare(): Promise<void> {
    this.#ready ??= (async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await mkdir(join(this.dir, TEMP_DIR), { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
    })().catch((error: unknown) => {
      this.#ready = undefined;
      throw translate(error);
    });
    return this.#ready;
  }

  #pathOf(name: string): string {
    return join(this.dir, shardOf(name), name);
  }
}

function shardOf(name: string): string {
  return name.slice(0, 2);
}

/** One buffer of `chunks` (the chunk itself when there is one). */
function joined(chunks: Uint8Array[]): Uint8Array {
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

async function writeAll(file: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await file.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

/** fsync a directory so a rename or a new entry in it survives a crash. */
async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

async function entriesOf(path: string): Promise<string[]> {
  try {
    const names: string[] = [];
    for await (const entry of await opendir(path)) names.push(entry.name);
    return names;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw translate(error);
  }
}

/**
 * The whole file when it is under `ONE_READ_BYTES`, read in one call from the start; undefined
 * when it may be longer. A read of a regular file returns fewer bytes than asked for only at its
 * end, and a placed blob never changes, so a short read is the whole blob.
 */
async function readIfSmall(fd: number): Promise<Buffer | undefined> {
  const buffer = scratchBuffers.pop() ?? Buffer.allocUnsafeSlow(ONE_READ_BYTES);
  try {
    const bytesRead = await new Promise<number>((resolve, reject) => {
      read(fd, buffer, 0, ONE_READ_BYTES, 0, (error, count) => (error ? reject(error) : resolve(count)));
    });
    if (bytesRead === ONE_READ_BYTES) return undefined;
    // A copy of the blob's size: the answer holds that, and the scratch buffer goes back.
    return Buffer.from(buffer.subarray(0, bytesRead));
  } finally {
    // The read has finished (or failed) here, so nothing writes into the buffer any more.
    if (scratchBuffers.length < SCRATCH_BUFFERS_KEPT) scratchBuffers.push(buffer);
  }
}

/** A blob read into memory: `bytes`, and a stream of them made only if someone asks for it. */
function inMemoryRead(bytes: Buffer): BlobRead {
  let body: Readable | undefined;
  return {
    size: bytes.length,
    bytes,
    get body() {
      body ??= bytes.length === 0 ? emptyReadable() : Readable.from([bytes]);
      return body;
    },
  };
}

// The download path uses plain descriptors rather than `FileHandle`s: the same system calls with
// less per-call work on the event loop (no handle object, no close through a promise chain).
function openForReading(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    openFile(path, 'r', (error, fd) => (error ? reject(error) : resolve(fd)));
  });
}

function fstatFd(fd: number): Promise<{ size: number }> {
  return new Promise((resolve, reject) => {
    fstat(fd, (error, info) => (error ? reject(error) : resolve(info)));
  });
}

function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    closeFile(fd, (error) => (error ? reject(error) : resolve()));
  });
}

function emptyReadable(): Readable {
  return Readable.from([]);
}

/** Errors that mean the directory cannot be used at all: permissions, a read-only or failing disk. */
const UNUSABLE_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'EIO', 'ENOTDIR']);

/**
 * A full disk or exhausted quota becomes the catalogue's 507, a directory the server may not use
 * `BlobStoreUnavailableError` (503); everything else passes unchanged.
 */
function translate(error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new BurrowError('burrow/storage-full', 'The blob store has no space left');
  }
  if (code !== undefined && UNUSABLE_CODES.has(code)) return new BlobStoreUnavailableError(`the blob directory cannot be used (${code})`, { cause: error });
  return error;
}

