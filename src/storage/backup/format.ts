/**
 * The backup file format, version 1 (docs/operations.md, "Backup file format"):
 *
 *   "BURROW-BACKUP-1\n"                 16 bytes, header magic
 *   file 1 ‖ file 2 ‖ … ‖ file n         each file's bytes, in manifest order, back to back
 *   manifest                             UTF-8 JSON (`BackupManifest`)
 *   manifest length                      4 bytes, big-endian
 *   SHA-256(manifest)                    32 bytes
 *   "BURROW-BACKUP-E\n"                 16 bytes, trailer magic
 *
 * The manifest comes last so a backup is written in one pass while every file is hashed. Restore
 * reads the trailer first, checks the manifest's hash, then every file's size and SHA-256; a file
 * whose sections do not add up exactly is refused.
 */

export const HEADER_MAGIC = Buffer.from('BURROW-BACKUP-1\n', 'latin1');
export const TRAILER_MAGIC = Buffer.from('BURROW-BACKUP-E\n', 'latin1');
/** manifest length (4) + manifest hash (32) + trailer magic (16). */
export const TRAILER_BYTES = 4 + 32 + TRAILER_MAGIC.length;
/** A manifest larger than this is refused before it is read (a million blobs is about 150 MB). */
export const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;

export interface BackupFileEntry {
  /** Relative path inside the data directory, `/`-separated (e.g. `burrow.db`, `blobs/ab/ab…`). */
  path: string;
  size: number;
  /** Hex SHA-256 of the bytes. */
  sha256: string;
}

/** How the secrets file was sealed, when the backup carries it (`--with-secrets`). */
export interface SealedSecretsInfo {
  /** The entry in `files` holding nonce ‖ ciphertext ‖ tag. */
  path: string;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  cipher: 'aes-256-gcm';
}

export interface BackupManifest {
  format: 'burrow-backup';
  version: 1;
  /** ISO 8601 time the snapshot was taken. */
  createdAt: string;
  files: BackupFileEntry[];
  secrets?: SealedSecretsInfo;
}

/** Thrown when a backup cannot be written or must not be restored; the message says why. */
export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}

/** Progress of a long backup or restore, for the CLI's stderr. */
export interface BackupProgress {
  phase: 'snapshot' | 'write' | 'verify' | 'swap';
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

const PATH_PATTERN = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

/** Whether `path` is a safe relative path: no absolute path, no `..`, no empty segment. */
export function isSafeBackupPath(path: string): boolean {
  return PATH_PATTERN.test(path) && path.split('/').every((segment) => segment !== '.' && segment !== '..');
}

/** Checks a parsed manifest's shape; throws `BackupError` naming the first problem. */
export function assertManifest(value: unknown): asserts value is BackupManifest {
  const m = value as Partial<BackupManifest> | null;
  if (typeof m !== 'object' || m === null || m.format !== 'burrow-backup') throw new BackupError('the manifest is not a Burrow backup manifest');
  if (m.version !== 1) throw new BackupError(`unsupported backup version ${String(m.version)}`);
  if (typeof m.createdAt !== 'string' || !Array.isArray(m.files)) throw new BackupError('the manifest is incomplete');
  const seen = new Set<string>();
  for (const file of m.files as unknown[]) {
    const f = file as Partial<BackupFileEntry> | null;
    if (typeof f !== 'object' || f === null || typeof f.path !== 'string' || !isSafeBackupPath(f.path)) throw new BackupError('the manifest names an unsafe path');
    if (!Number.isSafeInteger(f.size) || (f.size as number) < 0) throw new BackupError(`the manifest gives ${f.path} an invalid size`);
    if (typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256)) throw new BackupError(`the manifest gives ${f.path} an invalid checksum`);
    if (seen.has(f.path)) throw new BackupError(`the manifest names ${f.path} twice`);
    seen.add(f.path);
  }
  if (m.secrets !== undefined) {
    const s = m.secrets;
    if (typeof s.path !== 'string' || !seen.has(s.path) || s.cipher !== 'aes-256-gcm' || s.kdf?.name !== 'scrypt') throw new BackupError('the manifest\'s secrets entry is malformed');
  }
}
