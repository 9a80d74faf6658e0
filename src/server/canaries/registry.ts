/**
 * The canary registry: which accounts, families and message blobs are decoys. It lives in
 * `<data>/canaries.json` (mode 0600), never in the database, so a copy of the database cannot
 * tell decoys from real records. Entries are keyed hashes (HMAC-SHA-256 under a key derived from
 * the cookie key, label "burrow/canary/v1") of the account's email lookup hash, the family id,
 * the message id or the blob name; decoy emails are kept only sealed, for `canary list --show`.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync, constants } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, toBase64Url, utf8 } from '../../crypto/bytes.js';
import { openEmail, sealEmail, type Secrets } from '../secrets.js';

/** What a canary stands for: a login name, a family, or a stored envelope. */
export type CanaryKind = 'account' | 'family' | 'blob';

/** One registry entry: a keyed hash, and for accounts the decoy email sealed under the email key. */
export interface CanaryEntry {
  kind: CanaryKind;
  tag: string;
  sealedEmail?: string;
  createdAt: number;
}

interface RegistryFile {
  version: 1;
  canaries: CanaryEntry[];
}

/** The registry file inside a data directory. */
export function canaryRegistryPath(dataDir: string): string {
  return join(dataDir, 'canaries.json');
}

/** The HMAC key for canary tags (RFC 5869: its own `info` label, independent of other keys). */
export function canaryKey(secrets: Secrets): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secrets.cookieKey, new Uint8Array(0), utf8('burrow/canary/v1'), 32));
}

/** base64url(HMAC-SHA-256(canaryKey, kind ":" value)): what the registry holds and what checks compare. */
export function canaryTag(key: Uint8Array, kind: CanaryKind, value: string): string {
  return toBase64Url(new Uint8Array(createHmac('sha256', key).update(`${kind}:${value}`, 'utf8').digest()));
}

/** Associated data binding a sealed decoy email to its registry entry. */
function emailContext(tag: string): string {
  return `canary:${tag}`;
}

/** Seals a decoy email for the registry entry `tag`. */
export function sealCanaryEmail(secrets: Secrets, tag: string, email: string): string {
  return sealEmail(secrets, emailContext(tag), email);
}

/** Opens a decoy email kept in the registry. */
export function openCanaryEmail(secrets: Secrets, entry: CanaryEntry): string | undefined {
  if (entry.sealedEmail === undefined) return undefined;
  return openEmail(secrets, emailContext(entry.tag), entry.sealedEmail);
}

/** Reads the registry; an absent file is an empty registry. Throws on a malformed file. */
export function readCanaryRegistry(dataDir: string): CanaryEntry[] {
  let text: string;
  try {
    text = readFileSync(canaryRegistryPath(dataDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const parsed = JSON.parse(text) as Partial<RegistryFile>;
  if (parsed.version !== 1 || !Array.isArray(parsed.canaries)) throw new Error('the canary registry has an unknown format');
  return parsed.canaries.filter((e) => (e.kind === 'account' || e.kind === 'family' || e.kind === 'blob') && typeof e.tag === 'string');
}

/** The registry file's modification time in ms, or undefined when there is none. */
export function canaryRegistryMtime(dataDir: string): number | undefined {
  try {
    return statSync(canaryRegistryPath(dataDir)).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Adds entries to the registry: written 0600 to a temporary file, then renamed into place. */
export function appendCanaryRegistry(dataDir: string, entries: readonly CanaryEntry[]): void {
  const all: RegistryFile = { version: 1, canaries: [...readCanaryRegistry(dataDir), ...entries] };
  const path = canaryRegistryPath(dataDir);
  const temp = `${path}.${toBase64Url(randomBytes(6))}.tmp`;
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    writeSync(fd, `${JSON.stringify(all, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(temp, 0o600);
  renameSync(temp, path);
}
