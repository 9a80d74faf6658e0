/**
 * The server's secrets: the OPAQUE server setup, the cookie key and the key for emails at rest.
 * They live in `<data>/secrets.json` (mode 0600) or come from the environment, and never in the
 * database: without them a copy of the database gives an attacker nothing to guess passwords
 * against (RFC 9807 §10.4: the registration record is useless without the server's OPRF seed).
 */
import { createCipheriv, createDecipheriv, createECDH, createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync, constants } from 'node:fs';
import { join } from 'node:path';
import { fromBase64Url, randomBytes, toBase64Url, utf8, concatBytes } from '../crypto/bytes.js';
import { loadOpaque } from './accounts/opaque-module.js';
import type { EnvironmentSecrets } from './config.js';

/** The file format, version 1. */
interface SecretsFile {
  version: 1;
  serverSetup: string;
  cookieKey: string;
  emailKey: string;
  /** Added by later versions; files written before it get one on their next start. */
  logSigningKey?: string;
  /** The P-256 private key (32 bytes, base64url) that signs Web Push requests (VAPID, RFC 8292). */
  vapidPrivateKey?: string;
}

/** The secrets in use, with the keys derived from them. Never log this object. */
export interface Secrets {
  /** `opaque.server.createSetup()` output. */
  readonly serverSetup: string;
  /** 32 bytes; reserved for signing cookies and sealing server-side state. */
  readonly cookieKey: Uint8Array;
  /** 32 bytes; the root of the two email keys below. */
  readonly emailKey: Uint8Array;
  /** HMAC-SHA-256 key for the email lookup hash (HKDF-SHA-256 of emailKey, label "burrow/email-lookup/v1"). */
  readonly emailLookupKey: Uint8Array;
  /** AES-256-GCM key for emails at rest (HKDF-SHA-256 of emailKey, label "burrow/email-seal/v1"). */
  readonly emailSealKey: Uint8Array;
  /** 32 bytes: the Ed25519 seed that signs every family security log event. */
  readonly logSigningKey: Uint8Array;
  /** 32 bytes: the P-256 private key of the server's VAPID identity (RFC 8292), for Web Push. */
  readonly vapidPrivateKey: Uint8Array;
  /** 65 bytes: its uncompressed public key, the `applicationServerKey` browsers subscribe with. */
  readonly vapidPublicKey: Uint8Array;
}

/** Thrown when the secrets or the data directory cannot be used safely; the message says how to fix it. */
export class SecretsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretsError';
  }
}

function derive(key: Uint8Array, label: string): Uint8Array {
  // RFC 5869: distinct `info` labels give independent keys from one root key.
  return new Uint8Array(hkdfSync('sha256', key, new Uint8Array(0), utf8(label), 32));
}

function decodeKey(value: string, name: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64Url(value);
  } catch {
    throw new SecretsError(`${name} must be 32 bytes of base64url`);
  }
  if (bytes.length !== 32) throw new SecretsError(`${name} must be 32 bytes of base64url`);
  return bytes;
}

/** The order of the P-256 group (SEC 2 §2.4.2). */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/**
 * A VAPID key for secrets that have none (given through the environment without one): derived from
 * the cookie key, so every node that shares the secrets signs with the same key. 48 bytes of HKDF
 * output reduced to [1, n−1] (FIPS 186-5 §A.2.1), so the key is uniform and always valid.
 */
function deriveVapidKey(cookieKey: Uint8Array): Uint8Array {
  const wide = new Uint8Array(hkdfSync('sha256', cookieKey, new Uint8Array(0), utf8('burrow/vapid/v1'), 48));
  const scalar = (BigInt(`0x${Buffer.from(wide).toString('hex')}`) % (P256_ORDER - 1n)) + 1n;
  return new Uint8Array(Buffer.from(scalar.toString(16).padStart(64, '0'), 'hex'));
}

function vapidPublicKeyOf(privateKey: Uint8Array): Uint8Array {
  const ecdh = createECDH('prime256v1');
  try {
    ecdh.setPrivateKey(privateKey);
  } catch {
    throw new SecretsError('vapidPrivateKey is not a P-256 private key');
  }
  return new Uint8Array(ecdh.getPublicKey());
}

/** Builds `Secrets` from their stored (string) form, checking every field. */
export function secretsFromFields(fields: EnvironmentSecrets): Secrets {
  if (typeof fields.serverSetup !== 'string' || !/^[A-Za-z0-9_-]{32,}$/.test(fields.serverSetup)) {
    throw new SecretsError('serverSetup must be the base64url output of opaque.server.createSetup()');
  }
  const cookieKey = decodeKey(fields.cookieKey, 'cookieKey');
  const emailKey = decodeKey(fields.emailKey, 'emailKey');
  // Secrets from before the security log have no log key: one derived from the cookie key is as
  // secret as it and the same on every node that shares these secrets.
  const logSigningKey = fields.logSigningKey === undefined ? derive(cookieKey, 'burrow/log-signing/v1') : decodeKey(fields.logSigningKey, 'logSigningKey');
  const vapidPrivateKey = fields.vapidPrivateKey === undefined ? deriveVapidKey(cookieKey) : decodeKey(fields.vapidPrivateKey, 'vapidPrivateKey');
  return Object.freeze({
    serverSetup: fields.serverSetup,
    cookieKey,
    emailKey,
    emailLookupKey: derive(emailKey, 'burrow/email-lookup/v1'),
    emailSealKey: derive(emailKey, 'burrow/email-seal/v1'),
    logSigningKey,
    vapidPrivateKey,
    vapidPublicKey: vapidPublicKeyOf(vapidPrivateKey),
  });
}

/** Fresh secrets: a new OPAQUE server setup, random 32-byte keys and a new VAPID key pair. */
export async function generateSecrets(): Promise<Secrets> {
  const opaque = await loadOpaque();
  return secretsFromFields({
    serverSetup: opaque.server.createSetup(),
    cookieKey: toBase64Url(randomBytes(32)),
    emailKey: toBase64Url(randomBytes(32)),
    logSigningKey: toBase64Url(randomBytes(32)),
    vapidPrivateKey: newVapidPrivateKey(),
  });
}

/** A fresh P-256 private key for VAPID, made by the platform's key generator. */
function newVapidPrivateKey(): string {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  // getPrivateKey() drops leading zero bytes; the stored form is always 32 bytes.
  const key = new Uint8Array(ecdh.getPrivateKey());
  return toBase64Url(concatBytes(new Uint8Array(32 - key.length), key));
}

/** The stored form of secrets, as written to the file or to `BURROW_SECRETS`. */
export function serialiseSecrets(secrets: Secrets): string {
  const file: SecretsFile = {
    version: 1,
    serverSetup: secrets.serverSetup,
    cookieKey: toBase64Url(secrets.cookieKey),
    emailKey: toBase64Url(secrets.emailKey),
    logSigningKey: toBase64Url(secrets.logSigningKey),
    vapidPrivateKey: toBase64Url(secrets.vapidPrivateKey),
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Creates the data directory with mode 0700, or checks that an existing one is not open to others. */
export function ensureDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const mode = statSync(dataDir).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new SecretsError(`the data directory ${dataDir} is open to other users (mode ${mode.toString(8)}); fix it with: chmod 700 ${dataDir}`);
  }
}

/** The path of the secrets file inside a data directory. */
export function secretsPath(dataDir: string): string {
  return join(dataDir, 'secrets.json');
}

function writeSecretsFileExclusive(path: string, text: string): boolean {
  const temp = `${path}.${toBase64Url(randomBytes(6))}.tmp`;
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(temp, 0o600);
  try {
    // link() fails with EEXIST if another process created the file first, where rename() would replace it.
    linkSync(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(temp);
  }
}

function readSecretsFile(path: string): Secrets {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new SecretsError(`the secrets file ${path} is readable by other users (mode ${mode.toString(8)}); fix it with: chmod 600 ${path}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new SecretsError(`the secrets file ${path} is not valid JSON; restore it from a backup`);
  }
  const p = parsed as Partial<SecretsFile>;
  if (typeof p !== 'object' || p === null || p.version !== 1) throw new SecretsError(`the secrets file ${path} has an unknown version`);
  const secrets = secretsFromFields(p as SecretsFile);
  if (p.logSigningKey === undefined) addLogSigningKey(path, secrets);
  return secrets;
}

/**
 * Writes the (derived, so every concurrent writer writes the same bytes) log key into a file from
 * before the security log: a new 0600 file beside it, then an atomic rename over it. If the
 * directory is read-only the derived key still works, it is simply derived again next time.
 */
function addLogSigningKey(path: string, secrets: Secrets): void {
  const temp = `${path}.${toBase64Url(randomBytes(6))}.tmp`;
  try {
    const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      writeSync(fd, serialiseSecrets(secrets));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(temp, 0o600);
    renameSync(temp, path);
  } catch {
    try {
      unlinkSync(temp);
    } catch {
      // Nothing was written.
    }
  }
}

/**
 * Loads the secrets: from the environment when given there, else from `<data>/secrets.json`,
 * creating the data directory (0700) and the file (0600, written to a temporary file and
 * linked into place) on first start. Refuses a directory or file open to other users.
 */
export async function loadOrCreateSecrets(options: { dataDir: string; fromEnvironment?: EnvironmentSecrets }): Promise<{ secrets: Secrets; created: boolean }> {
  if (options.fromEnvironment !== undefined) return { secrets: secretsFromFields(options.fromEnvironment), created: false };
  ensureDataDir(options.dataDir);
  const path = secretsPath(options.dataDir);
  let exists = true;
  try {
    statSync(path);
  } catch {
    exists = false;
  }
  if (exists) return { secrets: readSecretsFile(path), created: false };
  const fresh = await generateSecrets();
  const created = writeSecretsFileExclusive(path, serialiseSecrets(fresh));
  return { secrets: created ? fresh : readSecretsFile(path), created };
}

/** Each secrets' lookup key as a KeyObject: an HMAC keyed with one is made several times faster than with bytes. */
const lookupKeys = new WeakMap<Secrets, KeyObject>();

/** Keyed lookup hash of a normalised email: base64url(HMAC-SHA-256(emailLookupKey, email)). */
export function emailLookupHash(secrets: Secrets, normalisedEmail: string): string {
  let key = lookupKeys.get(secrets);
  if (key === undefined) lookupKeys.set(secrets, (key = createSecretKey(secrets.emailLookupKey)));
  return toBase64Url(new Uint8Array(createHmac('sha256', key).update(normalisedEmail, 'utf8').digest()));
}

/**
 * Seals an email at rest: AES-256-GCM under emailSealKey with a random 96-bit nonce and the
 * account id as associated data; output nonce ‖ ciphertext ‖ tag, base64url. Random nonces keep
 * the key safe for 2^32 seals (NIST SP 800-38D §8.3), far beyond any account count.
 */
export function sealEmail(secrets: Secrets, accountId: string, normalisedEmail: string, nonce: Uint8Array = randomBytes(12)): string {
  const cipher = createCipheriv('aes-256-gcm', secrets.emailSealKey, nonce);
  cipher.setAAD(utf8(accountId));
  const body = concatBytes(new Uint8Array(cipher.update(normalisedEmail, 'utf8')), new Uint8Array(cipher.final()));
  return toBase64Url(concatBytes(nonce, body, new Uint8Array(cipher.getAuthTag())));
}

/** Opens a sealed email; throws if it was altered or belongs to another account. */
export function openEmail(secrets: Secrets, accountId: string, sealed: string): string {
  const bytes = fromBase64Url(sealed);
  if (bytes.length < 28) throw new SecretsError('sealed email is too short');
  const decipher = createDecipheriv('aes-256-gcm', secrets.emailSealKey, bytes.subarray(0, 12));
  decipher.setAAD(utf8(accountId));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString('utf8');
}

/** Normalises an email before hashing or sealing: trims whitespace, Unicode NFC, lower case. */
export function normaliseEmail(email: string): string {
  return email.trim().normalize('NFC').toLowerCase();
}
