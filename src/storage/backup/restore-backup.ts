/**
 * Restores a backup into a data directory. Nothing in the target is touched until every byte of
 * the backup has been verified: the manifest against its SHA-256, every file against its size and
 * SHA-256, while the files are written into a staging directory beside the target. Only then is
 * the old directory moved aside (or removed when it was empty) and the staging directory renamed
 * into its place, so the target is always either the old data or the complete restored data.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, open, readFile, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes, toBase64Url } from '../../crypto/bytes.js';
import { assertManifest, BackupError, HEADER_MAGIC, MAX_MANIFEST_BYTES, TRAILER_BYTES, TRAILER_MAGIC, type BackupManifest, type BackupProgress } from './format.js';
import { openSecrets } from './secrets-box.js';

export interface RestoreBackupOptions {
  from: string;
  dataDir: string;
  /** Replace a non-empty data directory (it is moved aside to `<dir>.replaced-<time>`, not deleted). */
  force?: boolean;
  /** The passphrase of a backup made `--with-secrets`; asked for only when the backup holds secrets. */
  secretsPassphrase?: () => Promise<string>;
  onProgress?: (progress: BackupProgress) => void;
  /** Used to name the directory moved aside; now by default. */
  now?: number;
}

export interface RestoreSummary {
  files: number;
  bytes: number;
  /** Where the secrets came from: the backup, the old data directory, or nowhere (the operator must supply them). */
  secrets: 'restored' | 'kept' | 'missing';
  /** Where the previous, non-empty data directory was moved. */
  movedAside?: string;
  manifest: BackupManifest;
}

function damaged(reason: string): BackupError {
  return new BackupError(`the backup is damaged and was not restored (${reason}); nothing was changed`);
}

async function readAt(handle: Awaited<ReturnType<typeof open>>, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  if (bytesRead !== length) throw damaged('it is shorter than its own trailer says');
  return buffer;
}

/** Reads and checks the header, trailer and manifest; returns the manifest and where the files start. */
export async function readBackupManifest(path: string): Promise<{ manifest: BackupManifest; dataStart: number; dataEnd: number }> {
  const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
    throw new BackupError(`cannot read ${path} (${error.code ?? 'error'})`);
  });
  try {
    const size = (await handle.stat()).size;
    if (size < HEADER_MAGIC.length + TRAILER_BYTES) throw damaged('it is too short to be a backup');
    if (!(await readAt(handle, 0, HEADER_MAGIC.length)).equals(HEADER_MAGIC)) throw damaged('the header is not a Burrow backup header');
    const trailer = await readAt(handle, size - TRAILER_BYTES, TRAILER_BYTES);
    if (!trailer.subarray(36).equals(TRAILER_MAGIC)) throw damaged('the trailer is missing or altered');
    const manifestLength = trailer.readUInt32BE(0);
    const manifestStart = size - TRAILER_BYTES - manifestLength;
    if (manifestLength > MAX_MANIFEST_BYTES || manifestStart < HEADER_MAGIC.length) throw damaged('the manifest length is impossible');
    const manifestBytes = await readAt(handle, manifestStart, manifestLength);
    if (!createHash('sha256').update(manifestBytes).digest().equals(trailer.subarray(4, 36))) throw damaged('the manifest does not match its checksum');
    let manifest: unknown;
    try {
      manifest = JSON.parse(manifestBytes.toString('utf8'));
    } catch {
      throw damaged('the manifest is not JSON');
    }
    assertManifest(manifest);
    const total = manifest.files.reduce((sum, f) => sum + f.size, 0);
    if (HEADER_MAGIC.length + total !== manifestStart) throw damaged('the files do not add up to the manifest');
    return { manifest, dataStart: HEADER_MAGIC.length, dataEnd: manifestStart };
  } finally {
    await handle.close();
  }
}

async function isEmptyDirectory(path: string): Promise<boolean | undefined> {
  try {
    return (await readdir(path)).length === 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function stageFile(from: string, start: number, size: number, to: string, expected: string, path: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true, mode: 0o700 });
  const out = await open(to, 'wx', 0o600);
  const hash = createHash('sha256');
  try {
    if (size > 0) {
      for await (const chunk of createReadStream(from, { start, end: start + size - 1 })) {
        const data = chunk as Buffer;
        hash.update(data);
        await out.write(data);
      }
    }
    await out.sync();
  } finally {
    await out.close();
  }
  if (hash.digest('hex') !== expected) throw damaged(`${path} does not match its checksum`);
}

/** Verifies every checksum into a staging directory, then swaps it into place. */
export async function restoreBackup(options: RestoreBackupOptions): Promise<RestoreSummary> {
  const target = options.dataDir;
  const empty = await isEmptyDirectory(target);
  if (empty === false && options.force !== true) {
    throw new BackupError(`${target} is not empty; restore into a new directory, or add --force to move the current one aside first`);
  }
  const { manifest, dataStart } = await readBackupManifest(options.from);
  const totalBytes = manifest.files.reduce((sum, f) => sum + f.size, 0);
  await mkdir(dirname(target), { recursive: true });
  const staging = join(dirname(target), `.${basename(target)}.restore-${toBase64Url(randomBytes(6))}`);
  await mkdir(staging, { mode: 0o700 });
  let swapped = false;
  try {
    let offset = dataStart;
    let bytes = 0;
    let files = 0;
    for (const file of manifest.files) {
      await stageFile(options.from, offset, file.size, join(staging, ...file.path.split('/')), file.sha256, file.path);
      offset += file.size;
      bytes += file.size;
      files += 1;
      options.onProgress?.({ phase: 'verify', files, totalFiles: manifest.files.length, bytes, totalBytes });
    }
    await mkdir(join(staging, 'blobs'), { recursive: true, mode: 0o700 });

    let secrets: RestoreSummary['secrets'];
    if (manifest.secrets !== undefined) {
      if (options.secretsPassphrase === undefined) throw new BackupError('this backup holds sealed secrets: give its passphrase (BURROW_BACKUP_PASSPHRASE or the prompt)');
      const sealedPath = join(staging, ...manifest.secrets.path.split('/'));
      const plaintext = openSecrets(new Uint8Array(await readFile(sealedPath)), await options.secretsPassphrase(), manifest.secrets);
      const handle = await open(join(staging, 'secrets.json'), 'wx', 0o600);
      await handle.writeFile(plaintext);
      await handle.sync();
      await handle.close();
      await unlink(sealedPath);
      secrets = 'restored';
    } else if (empty === false && (await stat(join(target, 'secrets.json')).catch(() => undefined))?.isFile() === true) {
      await copyFile(join(target, 'secrets.json'), join(staging, 'secrets.json'));
      await chmod(join(staging, 'secrets.json'), 0o600);
      secrets = 'kept';
    } else {
      secrets = 'missing';
    }

    options.onProgress?.({ phase: 'swap', files, totalFiles: manifest.files.length, bytes, totalBytes });
    let movedAside: string | undefined;
    if (empty === true) {
      await rmdir(target);
    } else if (empty === false) {
      movedAside = `${target}.replaced-${new Date(options.now ?? Date.now()).toISOString().replace(/[:.]/g, '-')}`;
      await rename(target, movedAside);
    }
    await rename(staging, target);
    swapped = true;
    await chmod(target, 0o700);
    return { files, bytes, secrets, manifest, ...(movedAside === undefined ? {} : { movedAside }) };
  } finally {
    if (!swapped) await rm(staging, { recursive: true, force: true });
  }
}
