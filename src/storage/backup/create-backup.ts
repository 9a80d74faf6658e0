/**
 * Writes a consistent backup of a data directory while the server may be running: every SQLite
 * database through SQLite's online backup API (a transaction-consistent copy, however the server
 * writes meanwhile), then the blob files (immutable once stored, so a plain copy is consistent),
 * each hashed as it is streamed, then the manifest. The secrets file only on request, sealed.
 *
 * Order matters: the database is copied first, so every blob a copied message row names already
 * existed when the copy was taken.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { randomBytes, toBase64Url } from '../../crypto/bytes.js';
import { BackupError, HEADER_MAGIC, TRAILER_MAGIC, type BackupFileEntry, type BackupManifest, type BackupProgress } from './format.js';
import { sealSecrets } from './secrets-box.js';

export interface CreateBackupOptions {
  dataDir: string;
  /** The backup file to write; written to a temporary name beside it and renamed when complete. */
  out: string;
  /** Seal the secrets file into the backup with this passphrase; absent: secrets are left out. */
  secretsPassphrase?: string;
  /** Refuse (a {@link BackupError}) rather than replace an existing `out`; checked again at the final step. */
  noClobber?: boolean;
  onProgress?: (progress: BackupProgress) => void;
  /** The snapshot's time (ms since the epoch); now by default. */
  now?: number;
}

export interface BackupSummary {
  out: string;
  files: number;
  bytes: number;
  withSecrets: boolean;
  manifest: BackupManifest;
}

interface Source {
  path: string;
  /** Where to read the bytes: a snapshot copy for databases, the file itself for blobs. */
  from: string;
  size: number;
}

async function listBlobs(dataDir: string): Promise<Source[]> {
  const root = join(dataDir, 'blobs');
  const out: Source[] = [];
  let shards: string[];
  try {
    shards = await readdir(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw error;
  }
  for (const shard of shards.sort()) {
    // tmp/ holds uploads in flight: never part of a snapshot.
    if (shard === 'tmp') continue;
    const shardPath = join(root, shard);
    if (!(await stat(shardPath)).isDirectory()) continue;
    for (const name of (await readdir(shardPath)).sort()) {
      const from = join(shardPath, name);
      const info = await stat(from).catch(() => undefined);
      if (info?.isFile() === true) out.push({ path: `blobs/${shard}/${name}`, from, size: info.size });
    }
  }
  return out;
}

async function snapshotDatabases(dataDir: string, workDir: string): Promise<Source[]> {
  const out: Source[] = [];
  for (const name of (await readdir(dataDir)).sort()) {
    if (!name.endsWith('.db')) continue;
    const snapshot = join(workDir, name);
    const source = new BetterSqlite3(join(dataDir, name), { readonly: true, fileMustExist: true });
    try {
      // sqlite3_backup: a page-by-page copy that restarts if another connection writes meanwhile,
      // so the result is one consistent state of the database.
      await source.backup(snapshot);
    } finally {
      source.close();
    }
    out.push({ path: name, from: snapshot, size: (await stat(snapshot)).size });
  }
  return out;
}

/** `noClobber` and the backup file exists already: nothing was written. */
export class BackupExistsError extends BackupError {
  constructor(readonly out: string) {
    super(`${out} exists already and was not replaced`);
  }
}

/** Writes one backup file; throws `BackupError` when the data directory is unusable. */

export async function createBackup(options: CreateBackupOptions): Promise<BackupSummary> {
  if (options.noClobber === true && (await stat(options.out).catch(() => undefined)) !== undefined) throw new BackupExistsError(options.out);
  const { dataDir } = options;
  const dataInfo = await stat(dataDir).catch(() => undefined);
  if (dataInfo?.isDirectory() !== true) throw new BackupError(`${dataDir} is not a data directory`);
  await mkdir(dirname(options.out), { recursive: true, mode: 0o700 });
  // mkdtemp makes the directory 0700: the database snapshots in it are never readable by others.
  const workDir = await mkdtemp(join(dirname(options.out), `.${basename(options.out)}.work-`));
  const partial = `${options.out}.${toBase64Url(randomBytes(6))}.part`;
  try {
    options.onProgress?.({ phase: 'snapshot', files: 0, totalFiles: 0, bytes: 0, totalBytes: 0 });
    const sources: Source[] = [...(await snapshotDatabases(dataDir, workDir)), ...(await listBlobs(dataDir))];
    let secrets: BackupManifest['secrets'];
    if (options.secretsPassphrase !== undefined) {
      let plaintext: Buffer;
      try {
        plaintext = await readFile(join(dataDir, 'secrets.json'));
      } catch {
        throw new BackupError(`--with-secrets: ${join(dataDir, 'secrets.json')} cannot be read (secrets from the environment are backed up where you keep the environment)`);
      }
      const { sealed, info } = sealSecrets(plaintext, options.secretsPassphrase, 'secrets.json.sealed');
      const sealedPath = join(workDir, 'secrets.json.sealed');
      const handle = await open(sealedPath, 'wx', 0o600);
      await handle.writeFile(sealed);
      await handle.close();
      sources.push({ path: info.path, from: sealedPath, size: sealed.length });
      secrets = info;
    }

    const totalBytes = sources.reduce((sum, s) => sum + s.size, 0);
    const files: BackupFileEntry[] = [];
    let bytes = 0;
    const out = await open(partial, 'wx', 0o600);
    try {
      await out.write(HEADER_MAGIC);
      for (const source of sources) {
        const hash = createHash('sha256');
        let size = 0;
        try {
          for await (const chunk of createReadStream(source.from)) {
            const data = chunk as Buffer;
            hash.update(data);
            size += data.length;
            await out.write(data);
          }
        } catch (error) {
          // A blob deleted (expired, or its family deleted) since it was listed: it is simply not in the snapshot.
          if ((error as NodeJS.ErrnoException).code === 'ENOENT' && size === 0 && source.path.startsWith('blobs/')) continue;
          throw error;
        }
        bytes += size;
        files.push({ path: source.path, size, sha256: hash.digest('hex') });
        options.onProgress?.({ phase: 'write', files: files.length, totalFiles: sources.length, bytes, totalBytes });
      }
      const manifest: BackupManifest = {
        format: 'burrow-backup',
        version: 1,
        createdAt: new Date(options.now ?? Date.now()).toISOString(),
        files,
        ...(secrets === undefined ? {} : { secrets }),
      };
      const manifestBytes = Buffer.from(JSON.stringify(manifest), 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(manifestBytes.length);
      await out.write(manifestBytes);
      await out.write(length);
      await out.write(createHash('sha256').update(manifestBytes).digest());
      await out.write(TRAILER_MAGIC);
      await out.sync();
      await out.close();
      if (options.noClobber === true) {
        // link() fails when the name exists, where rename() would replace it.
        await link(partial, options.out).catch((error: unknown) => {
          if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new BackupExistsError(options.out);
          throw error;
        });
      } else {
        await rename(partial, options.out);
      }
      return { out: options.out, files: files.length, bytes, withSecrets: secrets !== undefined, manifest };
    } catch (error) {
      await out.close().catch(() => undefined);
      throw error;
    }
  } finally {
    await unlink(partial).catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  }
}
