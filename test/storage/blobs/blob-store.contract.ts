/**
 * The blob port's contract: every adapter runs exactly these tests (DESIGN.md §3).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from '../../../src/crypto/bytes.js';
import { BurrowError } from '../../../src/protocol/errors.js';
import { isBlobName, newBlobName, type BlobBody, type BlobStore } from '../../../src/storage/blobs/blob-store.js';

export interface BlobStoreHarness {
  store: BlobStore;
  /** Another store over the same backing storage, as a second server node or a restart would open it. */
  reopen(): Promise<BlobStore>;
  cleanup(): Promise<void>;
}

const MiB = 1024 * 1024;

/** Splits bytes into chunks of at most `size`, as a network stream would deliver them. */
export function chunked(bytes: Uint8Array, size = 64 * 1024): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length; offset += size) chunks.push(bytes.subarray(offset, offset + size));
  return chunks;
}

export async function readAll(body: NodeJS.ReadableStream): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(Buffer.from(chunk as Uint8Array));
  return new Uint8Array(Buffer.concat(parts));
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

/** Byte equality that stays fast for megabytes (a deep equal walks every element). */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  expect(Buffer.from(actual).equals(Buffer.from(expected))).toBe(true);
}

async function names(store: BlobStore): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of store.list()) out.push(entry.name);
  return out.sort();
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BurrowError);
  expect((error as BurrowError).code).toBe(code);
}

export function blobStoreContract(adapter: string, setup: () => Promise<BlobStoreHarness>): void {
  describe(`blob store contract: ${adapter}`, () => {
    let harness: BlobStoreHarness;
    let store: BlobStore;

    beforeEach(async () => {
      harness = await setup();
      store = harness.store;
    });
    afterEach(async () => {
      await harness?.cleanup();
    });

    it('stores streamed bytes and gives back the same bytes, size and SHA-256', async () => {
      const bytes = randomBytes(300_000);
      const stored = await store.put(Readable.from(chunked(bytes, 10_000)), { maxBytes: 5 * MiB });
      expect(stored.size).toBe(bytes.length);
      expect(stored.sha256).toEqual(sha256(bytes));
      const read = await store.get(stored.name);
      expect(read?.size).toBe(bytes.length);
      expectSameBytes(await readAll(read!.body), bytes);
    });

    it('a put that asks for no hash stores the same bytes and gives no hash', async () => {
      const bytes = randomBytes(70_000);
      const stored = await store.put(Readable.from(chunked(bytes, 10_000)), { maxBytes: 5 * MiB, hash: false });
      expect(stored.size).toBe(bytes.length);
      expect(stored.sha256).toBeUndefined();
      const read = await store.get(stored.name);
      expectSameBytes(await readAll(read!.body), bytes);
    });

    it('stores an empty blob', async () => {
      const stored = await store.put(Readable.from([]), { maxBytes: 5 * MiB });
      expect(stored.size).toBe(0);
      expect(stored.sha256).toEqual(sha256(new Uint8Array()));
      const read = await store.get(stored.name);
      expect(read?.size).toBe(0);
      expectSameBytes(await readAll(read!.body), new Uint8Array());
    });

    it('accepts a body of exactly the limit (5 MiB) and reads it back whole', async () => {
      const bytes = randomBytes(5 * MiB);
      const stored = await store.put(Readable.from(chunked(bytes)), { maxBytes: 5 * MiB });
      expect(stored.size).toBe(5 * MiB);
      const read = await store.get(stored.name);
      expectSameBytes(await readAll(read!.body), bytes);
    });

    it('accepts web streams and async iterables as bodies', async () => {
      const bytes = randomBytes(50_000);
      const web = Readable.toWeb(Readable.from(chunked(bytes, 7_000))) as ReadableStream<Uint8Array>;
      const fromWeb = await store.put(web, { maxBytes: MiB });
      async function* generate(): AsyncGenerator<Uint8Array> {
        yield* chunked(bytes, 3_000);
      }
      const fromGenerator = await store.put(generate(), { maxBytes: MiB });
      expectSameBytes(await readAll((await store.get(fromWeb.name))!.body), bytes);
      expectSameBytes(await readAll((await store.get(fromGenerator.name))!.body), bytes);
    });

    it('refuses a body over the limit and leaves nothing behind', async () => {
      const bytes = randomBytes(MiB + 1);
      await expectCode(store.put(Readable.from(chunked(bytes)), { maxBytes: MiB }), 'burrow/payload-too-large');
      expect(await names(store)).toEqual([]);
    });

    it('refuses a declared size over the limit before reading the body', async () => {
      let pulled = false;
      async function* body(): AsyncGenerator<Uint8Array> {
        pulled = true;
        yield new Uint8Array(10);
      }
      await expectCode(store.put(body(), { maxBytes: 100, size: 101 }), 'burrow/payload-too-large');
      expect(pulled).toBe(false);
      expect(await names(store)).toEqual([]);
    });

    it('stores a body of its declared size, and refuses one that is shorter or longer', async () => {
      const bytes = randomBytes(100_000);
      const stored = await store.put(Readable.from(chunked(bytes)), { maxBytes: MiB, size: bytes.length });
      expectSameBytes(await readAll((await store.get(stored.name))!.body), bytes);
      await expectCode(store.put(Readable.from(chunked(bytes)), { maxBytes: MiB, size: bytes.length + 1 }), 'burrow/bad-request');
      await expectCode(store.put(Readable.from(chunked(bytes)), { maxBytes: MiB, size: bytes.length - 1 }), 'burrow/bad-request');
      expect(await names(store)).toEqual([stored.name]);
    });

    it('an upload aborted mid-stream rejects with the reason and leaves nothing behind', async () => {
      const controller = new AbortController();
      const reason = new Error('client went away');
      async function* body(): AsyncGenerator<Uint8Array> {
        yield randomBytes(100_000);
        controller.abort(reason);
        yield randomBytes(100_000);
        await new Promise(() => undefined);
      }
      await expect(store.put(body(), { maxBytes: MiB, signal: controller.signal })).rejects.toBe(reason);
      expect(await names(store)).toEqual([]);
    });

    it('an upload whose body has stalled is abandoned as soon as the signal aborts', async () => {
      const controller = new AbortController();
      let firstChunkTaken!: () => void;
      const taken = new Promise<void>((resolve) => (firstChunkTaken = resolve));
      async function* body(): AsyncGenerator<Uint8Array> {
        yield randomBytes(1_000);
        firstChunkTaken();
        await new Promise(() => undefined);
      }
      const upload = store.put(body(), { maxBytes: MiB, signal: controller.signal });
      await taken;
      controller.abort();
      const error = await upload.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((error as Error | undefined)?.name).toBe('AbortError');
      expect(await names(store)).toEqual([]);
    });

    it('a body that fails mid-stream rejects and leaves nothing behind', async () => {
      const failure = new Error('connection reset');
      async function* body(): AsyncGenerator<Uint8Array> {
        yield randomBytes(100_000);
        throw failure;
      }
      await expect(store.put(body(), { maxBytes: MiB })).rejects.toBe(failure);
      expect(await names(store)).toEqual([]);
    });

    it('gives every blob a fresh random name, even for identical bytes', async () => {
      const bytes = randomBytes(1_000);
      const stored = await Promise.all(Array.from({ length: 12 }, () => store.put(Readable.from([bytes]), { maxBytes: MiB })));
      const all = stored.map((blob) => blob.name);
      expect(new Set(all).size).toBe(all.length);
      for (const name of all) expect(isBlobName(name)).toBe(true);
      expect(await names(store)).toEqual([...all].sort());
    });

    it('concurrent uploads each keep their own bytes', async () => {
      const bodies = Array.from({ length: 8 }, (_, i) => randomBytes(40_000 + i * 1_000));
      const stored = await Promise.all(bodies.map((bytes) => store.put(Readable.from(chunked(bytes, 4_096)), { maxBytes: MiB })));
      for (const [i, blob] of stored.entries()) {
        expectSameBytes(await readAll((await store.get(blob.name))!.body), bodies[i]!);
      }
    });

    it('refuses names that are not blob names, so no path or key can be reached', async () => {
      const bad = ['', '../../etc/passwd', '..', 'a/b', `${newBlobName()}/`, `../${newBlobName().slice(3)}`, `${newBlobName()}x`, 'tmp', newBlobName().slice(1) + '.'];
      for (const name of bad) {
        await expect(store.get(name)).rejects.toBeInstanceOf(TypeError);
        await expect(store.delete(name)).rejects.toBeInstanceOf(TypeError);
      }
    });

    it('get of a name that was never stored gives undefined', async () => {
      expect(await store.get(newBlobName())).toBeUndefined();
    });

    it('reads a byte range of a blob', async () => {
      const bytes = randomBytes(10_000);
      const { name } = await store.put(Readable.from([bytes]), { maxBytes: MiB });
      const middle = await store.get(name, { offset: 1_000, length: 2_500 });
      expect(middle?.size).toBe(bytes.length);
      expectSameBytes(await readAll(middle!.body), bytes.subarray(1_000, 3_500));
      const tail = await store.get(name, { offset: 9_000 });
      expectSameBytes(await readAll(tail!.body), bytes.subarray(9_000));
      const past = await store.get(name, { offset: 20_000, length: 5 });
      expectSameBytes(await readAll(past!.body), new Uint8Array());
    });

    it('delete removes a blob and is idempotent', async () => {
      const kept = await store.put(Readable.from([randomBytes(10)]), { maxBytes: MiB });
      const gone = await store.put(Readable.from([randomBytes(10)]), { maxBytes: MiB });
      await store.delete(gone.name);
      await store.delete(gone.name);
      await store.delete(newBlobName());
      expect(await store.get(gone.name)).toBeUndefined();
      expect(await names(store)).toEqual([kept.name]);
    });

    it('lists every stored blob with its creation time', async () => {
      const stored = await Promise.all([1, 2, 3].map((n) => store.put(Readable.from([randomBytes(n)]), { maxBytes: MiB })));
      const listed = [];
      for await (const entry of store.list()) listed.push(entry);
      expect(listed.map((entry) => entry.name).sort()).toEqual(stored.map((blob) => blob.name).sort());
      for (const entry of listed) expect(Number.isFinite(entry.createdAt) && entry.createdAt > 0).toBe(true);
    });

    it('a blob stored through one store is readable and deletable through another on the same storage', async () => {
      const bytes = randomBytes(2_000);
      const { name } = await store.put(Readable.from([bytes]), { maxBytes: MiB });
      const other = await harness.reopen();
      try {
        expectSameBytes(await readAll((await other.get(name))!.body), bytes);
        await other.delete(name);
        expect(await store.get(name)).toBeUndefined();
      } finally {
        await other.close();
      }
    });

    it('sweeping incomplete uploads never touches stored blobs', async () => {
      const { name } = await store.put(Readable.from([randomBytes(10)]), { maxBytes: MiB });
      expect(await store.sweepIncomplete(Number.MAX_SAFE_INTEGER)).toBe(0);
      expect(await names(store)).toEqual([name]);
    });

    it('check reports a usable store that strangers cannot read', async () => {
      const result = await store.check();
      expect(result.ok).toBe(true);
      expect(result.publicRead).not.toBe(true);
    });

    it('refuses nonsense limits', async () => {
      const body: BlobBody = Readable.from([]);
      await expect(store.put(body, { maxBytes: -1 })).rejects.toBeInstanceOf(TypeError);
      await expect(store.put(body, { maxBytes: 1.5 })).rejects.toBeInstanceOf(TypeError);
    });
  });
}
