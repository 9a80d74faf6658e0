import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from '../../../src/crypto/bytes.js';
import { BurrowError } from '../../../src/protocol/errors.js';
import { newBlobName } from '../../../src/storage/blobs/blob-store.js';
import { FsBlobStore } from '../../../src/storage/blobs/fs-blob-store.js';
import { blobStoreContract, chunked, expectSameBytes, readAll } from './blob-store.contract.js';

blobStoreContract('directory', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'burrow-blobs-'));
  const store = new FsBlobStore({ dir: join(dir, 'blobs') });
  return {
    store,
    reopen: async () => new FsBlobStore({ dir: join(dir, 'blobs') }),
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('directory blob store', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'burrow-blobs-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  it('keeps blobs private to the server user: directories 0700, files 0600', async () => {
    const dir = join(await tempDir(), 'blobs');
    const store = new FsBlobStore({ dir });
    const { name } = await store.put(Readable.from([randomBytes(100)]), { maxBytes: 1_000 });
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, name.slice(0, 2)))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, 'tmp'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, name.slice(0, 2), name))).mode & 0o777).toBe(0o600);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('a shard directory removed behind the store’s back is made again by the next put into it', async () => {
    const dir = join(await tempDir(), 'blobs');
    const store = new FsBlobStore({ dir });
    const removed = new Set<string>();
    // Puts until one lands in a shard the store made and saw removed (about 80 puts: 4096 shards).
    for (let i = 0; i < 2_000; i++) {
      const bytes = randomBytes(16);
      const { name } = await store.put(Readable.from([bytes]), { maxBytes: 1_000 });
      const shard = name.slice(0, 2);
      if (removed.has(shard)) {
        const read = await store.get(name);
        const chunks: Buffer[] = [];
        for await (const chunk of read!.body) chunks.push(chunk as Buffer);
        expect(new Uint8Array(Buffer.concat(chunks))).toEqual(bytes);
        return;
      }
      await rm(join(dir, shard), { recursive: true });
      removed.add(shard);
    }
    throw new Error('no two puts shared a shard');
  });

  it('uploads made together land in one shard, and later ones spread over others', async () => {
    const dir = join(await tempDir(), 'blobs');
    const store = new FsBlobStore({ dir });
    const together = await Promise.all(Array.from({ length: 16 }, () => store.put(Readable.from([randomBytes(10)]), { maxBytes: 100 })));
    expect(new Set(together.map(({ name }) => name.slice(0, 2))).size).toBe(1);
    expect(new Set(together.map(({ name }) => name.slice(2))).size).toBe(16);
    const shards = new Set<string>();
    for (let i = 0; i < 200; i++) shards.add((await store.put(Readable.from([randomBytes(1)]), { maxBytes: 10 })).name.slice(0, 2));
    expect(shards.size).toBeGreaterThan(1);
  });

  it('reads a small blob whole into memory and streams a larger one, the same bytes either way', async () => {
    const store = new FsBlobStore({ dir: join(await tempDir(), 'blobs') });
    const limit = 256 * 1024;
    for (const size of [0, 1, 65_536, limit - 1, limit, limit + 1, 3 * limit]) {
      const bytes = randomBytes(size);
      const { name } = await store.put(Readable.from(chunked(bytes)), { maxBytes: 4 * limit });
      const read = await store.get(name);
      expect(read?.size).toBe(size);
      if (size < limit) expectSameBytes(read!.bytes!, bytes);
      else expect(read?.bytes).toBeUndefined();
      expectSameBytes(await readAll(read!.body), bytes);
      const part = await store.get(name, { offset: 1 });
      expect(part?.bytes).toBeUndefined();
      expectSameBytes(await readAll(part!.body), bytes.subarray(1));
    }
  });

  it('small blobs read at the same time each get their own bytes', async () => {
    const store = new FsBlobStore({ dir: join(await tempDir(), 'blobs') });
    const bodies = Array.from({ length: 20 }, (_, i) => randomBytes(1_000 + i * 997));
    const names = await Promise.all(bodies.map(async (bytes) => (await store.put(Readable.from([bytes]), { maxBytes: 100_000 })).name));
    for (let round = 0; round < 3; round++) {
      const reads = await Promise.all(names.map((name) => store.get(name)));
      reads.forEach((read, i) => expectSameBytes(read!.bytes!, bodies[i]!));
    }
  });

  it('check reports a blob directory that other users can read', async () => {
    const dir = join(await tempDir(), 'blobs');
    const store = new FsBlobStore({ dir });
    expect((await store.check()).publicRead).toBe(false);
    await chmod(dir, 0o755);
    const result = await store.check();
    expect(result.ok).toBe(true);
    expect(result.publicRead).toBe(true);
  });

  it('check reports a blob directory it cannot create', async () => {
    const root = await tempDir();
    await writeFile(join(root, 'file'), 'not a directory');
    const result = await new FsBlobStore({ dir: join(root, 'file', 'blobs') }).check();
    expect(result.ok).toBe(false);
  });

  it('sweeps temp files left by a crash once they are older than the cutoff, and nothing else', async () => {
    const dir = join(await tempDir(), 'blobs');
    const store = new FsBlobStore({ dir });
    const { name } = await store.put(Readable.from([randomBytes(10)]), { maxBytes: 100 });
    const old = join(dir, 'tmp', `${newBlobName()}.part`);
    const fresh = join(dir, 'tmp', `${newBlobName()}.part`);
    const stranger = join(dir, 'tmp', 'notes.txt');
    await writeFile(old, 'half an upload');
    await writeFile(fresh, 'an upload in progress');
    await writeFile(stranger, 'not ours');
    await utimes(old, new Date(1_000_000), new Date(1_000_000));
    await utimes(fresh, new Date(3_000_000), new Date(3_000_000));
    expect(await store.sweepIncomplete(2_000_000)).toBe(1);
    expect((await readdir(join(dir, 'tmp'))).sort()).toEqual([fresh.split('/').pop(), 'notes.txt'].sort());
    const listed = [];
    for await (const entry of store.list()) listed.push(entry.name);
    expect(listed).toEqual([name]);
  });

  it('list ignores files that are not blobs', async () => {
    const dir = join(await tempDir(), 'blobs');
    const store = new FsBlobStore({ dir });
    const { name } = await store.put(Readable.from([randomBytes(10)]), { maxBytes: 100 });
    const misplaced = newBlobName();
    await mkdir(join(dir, 'zz'), { recursive: true });
    await writeFile(join(dir, 'zz', misplaced), 'wrong shard');
    await writeFile(join(dir, name.slice(0, 2), 'README'), 'not a blob');
    const listed = [];
    for await (const entry of store.list()) listed.push(entry.name);
    expect(listed).toEqual([name]);
  });

  it('a full disk during upload is storage-full, leaves no temp file, and the store works once space returns', async () => {
    const mountPoint = await tempDir();
    const dir = join(mountPoint, 'blobs');
    let tmpfs = false;
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mountPoint], { stdio: 'ignore' });
      tmpfs = true;
      cleanups.push(async () => {
        execFileSync('umount', [mountPoint], { stdio: 'ignore' });
      });
    } catch {
      // No permission to mount here: simulate the disk filling at 256 KiB through the write hook.
    }
    let written = 0;
    const store = new FsBlobStore({
      dir,
      writeChunk: tmpfs
        ? undefined
        : async (file, chunk) => {
            written += chunk.length;
            if (written > 256 * 1024) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
            await file.write(chunk);
          },
    });
    const bytes = randomBytes(2 * 1024 * 1024);
    const error = await store.put(Readable.from(chunked(bytes)), { maxBytes: 5 * 1024 * 1024 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BurrowError);
    expect((error as BurrowError).code).toBe('burrow/storage-full');
    expect((error as BurrowError).status).toBe(507);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    const listed = [];
    for await (const entry of store.list()) listed.push(entry.name);
    expect(listed).toEqual([]);

    written = 0;
    const small = randomBytes(100 * 1024);
    const stored = await store.put(Readable.from([small]), { maxBytes: 5 * 1024 * 1024 });
    expect(stored.size).toBe(small.length);
  });
});
