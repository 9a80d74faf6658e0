/**
 * Backup and restore as library calls: what a backup holds (every SQLite database, the blobs, no
 * secrets unless sealed in), what restore does with secrets it does not carry, and that a crafted
 * backup naming a path outside the data directory is refused even with correct checksums.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOrCreateSecrets } from '../../src/server/secrets.js';
import { createBackup } from '../../src/storage/backup/create-backup.js';
import { HEADER_MAGIC, TRAILER_MAGIC, type BackupManifest } from '../../src/storage/backup/format.js';
import { readBackupManifest, restoreBackup } from '../../src/storage/backup/restore-backup.js';
import { FsBlobStore } from '../../src/storage/blobs/fs-blob-store.js';
import { openSqliteStore } from '../../src/storage/sqlite.js';

async function seededDataDir(): Promise<{ work: string; dataDir: string; blobName: string; blobBytes: Uint8Array }> {
  const work = mkdtempSync(join(tmpdir(), 'burrow-backup-'));
  const dataDir = join(work, 'data');
  await loadOrCreateSecrets({ dataDir });
  await (await openSqliteStore(join(dataDir, 'burrow.db'))).close();
  await (await openSqliteStore(join(dataDir, 'events.db'), { migrate: false })).close();
  const blobs = new FsBlobStore({ dir: join(dataDir, 'blobs') });
  const blobBytes = new Uint8Array(3000).map((_, i) => (i * 7) & 0xff);
  const { name } = await blobs.put((async function* () { yield blobBytes; })(), { maxBytes: 10_000 });
  mkdirSync(join(dataDir, 'blobs', 'tmp'), { recursive: true });
  writeFileSync(join(dataDir, 'blobs', 'tmp', 'in-flight.part'), 'half an upload');
  return { work, dataDir, blobName: name, blobBytes };
}

function craftBackup(path: string, files: Array<{ path: string; bytes: Buffer }>): void {
  const manifest: BackupManifest = {
    format: 'burrow-backup',
    version: 1,
    createdAt: new Date(0).toISOString(),
    files: files.map((f) => ({ path: f.path, size: f.bytes.length, sha256: createHash('sha256').update(f.bytes).digest('hex') })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(manifestBytes.length);
  writeFileSync(path, Buffer.concat([HEADER_MAGIC, ...files.map((f) => f.bytes), manifestBytes, length, createHash('sha256').update(manifestBytes).digest(), TRAILER_MAGIC]));
}

describe('backup and restore', () => {
  it('a backup holds every database and blob, never uploads in flight, and no secrets unless sealed in', async () => {
    const { work, dataDir, blobName } = await seededDataDir();
    const plain = join(work, 'plain.burrow-backup');
    await createBackup({ dataDir, out: plain });
    const { manifest } = await readBackupManifest(plain);
    expect(manifest.files.map((f) => f.path).sort()).toEqual(['blobs/' + blobName.slice(0, 2) + '/' + blobName, 'burrow.db', 'events.db'].sort());
    expect(manifest.secrets).toBeUndefined();
    const secretsFile = readFileSync(join(dataDir, 'secrets.json'), 'utf8');
    const key = (JSON.parse(secretsFile) as { emailKey: string }).emailKey;
    expect(readFileSync(plain).includes(Buffer.from(key))).toBe(false);

    const sealed = join(work, 'sealed.burrow-backup');
    await createBackup({ dataDir, out: sealed, secretsPassphrase: 'a long enough passphrase' });
    expect(readFileSync(sealed).includes(Buffer.from(key))).toBe(false);
    expect((await readBackupManifest(sealed)).manifest.secrets?.kdf).toMatchObject({ name: 'scrypt', N: 2 ** 17, r: 8, p: 1 });
    await expect(createBackup({ dataDir, out: join(work, 'short.burrow-backup'), secretsPassphrase: 'short' })).rejects.toThrow(/at least 12/);
  });

  it('restoring a backup without secrets keeps the target\'s secrets file, or says they are missing', async () => {
    const { work, dataDir, blobName, blobBytes } = await seededDataDir();
    const file = join(work, 'plain.burrow-backup');
    await createBackup({ dataDir, out: file });

    const fresh = join(work, 'fresh');
    const missing = await restoreBackup({ from: file, dataDir: fresh });
    expect(missing.secrets).toBe('missing');
    expect(existsSync(join(fresh, 'secrets.json'))).toBe(false);
    expect(new Uint8Array(readFileSync(join(fresh, 'blobs', blobName.slice(0, 2), blobName)))).toEqual(blobBytes);

    const before = readFileSync(join(dataDir, 'secrets.json'));
    const kept = await restoreBackup({ from: file, dataDir, force: true });
    expect(kept.secrets).toBe('kept');
    expect(readFileSync(join(dataDir, 'secrets.json')).equals(before)).toBe(true);
    expect(kept.movedAside).toBeDefined();
    expect(existsSync(join(kept.movedAside!, 'secrets.json'))).toBe(true);
  });

  it('refuses a crafted backup that names a path outside the data directory, though its checksums are right', async () => {
    const work = mkdtempSync(join(tmpdir(), 'burrow-backup-'));
    for (const path of ['../escaped.txt', '/etc/escaped.txt', 'blobs/../../escaped.txt', 'a//b']) {
      const file = join(work, 'crafted.burrow-backup');
      craftBackup(file, [{ path, bytes: Buffer.from('pwned') }]);
      await expect(restoreBackup({ from: file, dataDir: join(work, 'target') }), path).rejects.toThrow(/unsafe path/);
      expect(existsSync(join(work, 'escaped.txt'))).toBe(false);
      expect(existsSync(join(work, 'target'))).toBe(false);
    }
    const ok = join(work, 'ok.burrow-backup');
    craftBackup(ok, [{ path: 'burrow.db', bytes: Buffer.from('not really a database') }]);
    expect((await restoreBackup({ from: ok, dataDir: join(work, 'target') })).files).toBe(1);
  });
});
