/**
 * Identities: an Ed25519 signing key pair (RFC 8032) and an X25519 key agreement key pair
 * (RFC 7748), held as WebCrypto keys, and — since the post-quantum change — an X-Wing
 * (X25519 + ML-KEM-768) key pair that family keys are wrapped to (see xwing.ts); their
 * serialisation, sealing, and the safety code two people compare.
 *
 * Identities made before X-Wing (secret version 1) have no KEM key: they keep working, and family
 * keys are wrapped to them with the classical suite until they are replaced by a new identity.
 */
import { aeadOpen, aeadSeal } from './aead.js';
import { assertBytes, bytesEqual, concatBytes, fromBase64Url, toBase64Url, utf8 } from './bytes.js';
import { fail, ok, type CryptoResult } from './result.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { buf, subtle } from './webcrypto.js';
import { exportKemSeed, generateKemSeed, isKemPrivateKey, kemKeyPairFromSeed, XWING_PUBLIC_KEY_BYTES, XWING_SEED_BYTES, type KemPrivateKey } from './xwing.js';

/**
 * Raw public keys of an identity: Ed25519 (RFC 8032 §5.1.5) and X25519 (RFC 7748 §5), 32 bytes
 * each, and the X-Wing encapsulation key (1216 bytes) of identities that have one.
 */
export interface PublicIdentityKeys {
  signingKey: Uint8Array;
  agreementKey: Uint8Array;
  /** X-Wing public key (draft-connolly-cfrg-xwing-kem); absent for identities made before it. */
  kemKey?: Uint8Array;
}

/**
 * A private identity: public keys plus WebCrypto private keys (Ed25519 `sign`, X25519
 * `deriveBits`) and, when `publicKeys.kemKey` is set, the matching X-Wing private key.
 */
export interface Identity {
  readonly publicKeys: PublicIdentityKeys;
  readonly signingPrivateKey: CryptoKey;
  readonly agreementPrivateKey: CryptoKey;
  readonly kemPrivateKey?: KemPrivateKey;
}

/** version 1 (1) ‖ Ed25519 seed (32) ‖ X25519 private key (32): identities without a KEM key. */
const SECRET_V1 = 0x01;
const SECRET_V1_LENGTH = 65;
/** version 2 (1) ‖ Ed25519 seed (32) ‖ X25519 private key (32) ‖ X-Wing seed (32). */
const SECRET_V2 = 0x02;
const SECRET_V2_LENGTH = 97;

// The X-Wing private key of each identity's X25519 private key, so that code holding only the
// `agreementPrivateKey` (as callers of `unwrapFamilyKey` did before X-Wing) can still open wraps.
const kemKeysByAgreementKey = new WeakMap<CryptoKey, KemPrivateKey>();

/** The X-Wing private key of the identity whose X25519 private key is `agreementPrivateKey`, if it has one. */
export function kemPrivateKeyOf(agreementPrivateKey: CryptoKey): KemPrivateKey | undefined {
  return typeof agreementPrivateKey === 'object' && agreementPrivateKey !== null ? kemKeysByAgreementKey.get(agreementPrivateKey) : undefined;
}

function makeIdentity(publicKeys: PublicIdentityKeys, signingPrivateKey: CryptoKey, agreementPrivateKey: CryptoKey, kemPrivateKey?: KemPrivateKey): Identity {
  if (kemPrivateKey === undefined) return Object.freeze({ publicKeys: Object.freeze(publicKeys), signingPrivateKey, agreementPrivateKey });
  kemKeysByAgreementKey.set(agreementPrivateKey, kemPrivateKey);
  return Object.freeze({ publicKeys: Object.freeze(publicKeys), signingPrivateKey, agreementPrivateKey, kemPrivateKey });
}

// RFC 8410 §7 OneAsymmetricKey prefixes for a 32-byte private key, used to import seeds as PKCS#8.
const ED25519_PKCS8_PREFIX = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20);
const X25519_PKCS8_PREFIX = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20);

const SEAL_LABEL = 'burrow/identity-seal/v1\0';
const SAFETY_DIGEST_LABEL = 'burrow/safety-code/identity/v1\0';
const SAFETY_KEM_LABEL = 'burrow/safety-code/kem/v1\0';
const SAFETY_CODE_LABEL = 'burrow/safety-code/v1\0';
/** What a safety code's QR code says: this prefix, then the 32-byte code value as base64url. */
const SAFETY_QR_PREFIX = 'burrow-safety-code:v1:';
// Signal's numeric fingerprint iterates SHA-512 5200 times to make a colliding key costly to find.
const SAFETY_ITERATIONS = 5200;

/** Throws a TypeError naming `name` unless `keys` holds two 32-byte public keys. */
export function assertPublicKeys(keys: unknown, name: string): asserts keys is PublicIdentityKeys {
  if (typeof keys !== 'object' || keys === null) throw new TypeError(`${name} must be an object with signingKey and agreementKey`);
  const k = keys as Partial<PublicIdentityKeys>;
  assertBytes(k.signingKey, `${name}.signingKey`, 32);
  assertBytes(k.agreementKey, `${name}.agreementKey`, 32);
  if (k.kemKey !== undefined) assertBytes(k.kemKey, `${name}.kemKey`, XWING_PUBLIC_KEY_BYTES);
}

/** Throws a TypeError naming `name` unless `identity` looks like an Identity. */
export function assertIdentity(identity: unknown, name: string): asserts identity is Identity {
  if (typeof identity !== 'object' || identity === null) throw new TypeError(`${name} must be an Identity`);
  const i = identity as Partial<Identity>;
  assertPublicKeys(i.publicKeys, `${name}.publicKeys`);
  if (!(i.signingPrivateKey instanceof CryptoKey) || i.signingPrivateKey.algorithm.name !== 'Ed25519') {
    throw new TypeError(`${name}.signingPrivateKey must be an Ed25519 CryptoKey`);
  }
  if (!(i.agreementPrivateKey instanceof CryptoKey) || i.agreementPrivateKey.algorithm.name !== 'X25519') {
    throw new TypeError(`${name}.agreementPrivateKey must be an X25519 CryptoKey`);
  }
  const kemKey = i.publicKeys!.kemKey;
  if ((kemKey === undefined) !== (i.kemPrivateKey === undefined)) throw new TypeError(`${name} must have both publicKeys.kemKey and kemPrivateKey, or neither`);
  if (i.kemPrivateKey !== undefined && (!isKemPrivateKey(i.kemPrivateKey) || !bytesEqual(i.kemPrivateKey.publicKey, kemKey!))) {
    throw new TypeError(`${name}.kemPrivateKey must be the X-Wing private key of publicKeys.kemKey`);
  }
}

/**
 * Generates a fresh identity, with an X-Wing key pair unless `kem: false` (which makes an identity
 * like those from before X-Wing, for tests of old objects). Private keys are extractable by
 * default so the identity can be sealed.
 */
export async function generateIdentity(options: { extractable?: boolean; kem?: boolean } = {}): Promise<Identity> {
  const extractable = options.extractable ?? true;
  const signing = (await subtle().generateKey({ name: 'Ed25519' }, extractable, ['sign', 'verify'])) as CryptoKeyPair;
  const agreement = (await subtle().generateKey({ name: 'X25519' }, extractable, ['deriveBits'])) as CryptoKeyPair;
  const signingKey = new Uint8Array(await subtle().exportKey('raw', signing.publicKey));
  const agreementKey = new Uint8Array(await subtle().exportKey('raw', agreement.publicKey));
  if (options.kem === false) return makeIdentity({ signingKey, agreementKey }, signing.privateKey, agreement.privateKey);
  const seed = generateKemSeed();
  const kem = kemKeyPairFromSeed(seed, { extractable });
  seed.fill(0);
  return makeIdentity({ signingKey, agreementKey, kemKey: kem.publicKey }, signing.privateKey, agreement.privateKey, kem.privateKey);
}

async function privateSeed(key: CryptoKey, name: string): Promise<Uint8Array> {
  if (!key.extractable) throw new TypeError(`${name} is not extractable`);
  const jwk = await subtle().exportKey('jwk', key);
  if (typeof jwk.d !== 'string') throw new TypeError(`${name} is not a private key`);
  const seed = fromBase64Url(jwk.d);
  if (seed.length !== 32) throw new TypeError(`${name} is not a 32-byte private key`);
  return seed;
}

/**
 * Serialises the identity's private keys: 0x02 ‖ Ed25519 seed (RFC 8032 §5.1.5) ‖ X25519 private
 * key (RFC 7748 §5) ‖ X-Wing seed, 97 bytes — or, for an identity without a KEM key, version 1:
 * 0x01 ‖ Ed25519 seed ‖ X25519 private key, 65 bytes. This is the secret itself: seal it before it
 * leaves the device.
 */
export async function exportIdentitySecret(identity: Identity): Promise<Uint8Array> {
  assertIdentity(identity, 'identity');
  const signingSeed = await privateSeed(identity.signingPrivateKey, 'identity.signingPrivateKey');
  const agreementSeed = await privateSeed(identity.agreementPrivateKey, 'identity.agreementPrivateKey');
  if (identity.kemPrivateKey === undefined) return concatBytes(Uint8Array.of(SECRET_V1), signingSeed, agreementSeed);
  let kemSeed: Uint8Array;
  try {
    kemSeed = exportKemSeed(identity.kemPrivateKey);
  } catch {
    throw new TypeError('identity.kemPrivateKey is not extractable');
  }
  return concatBytes(Uint8Array.of(SECRET_V2), signingSeed, agreementSeed, kemSeed);
}

async function importPrivate(prefix: Uint8Array, seed: Uint8Array, algorithm: 'Ed25519' | 'X25519', extractable: boolean): Promise<{ key: CryptoKey; publicKey: Uint8Array }> {
  const usages: KeyUsage[] = algorithm === 'Ed25519' ? ['sign'] : ['deriveBits'];
  const pkcs8 = buf(concatBytes(prefix, seed));
  // WebCrypto has no "public key from private key"; an extractable import exposes it as JWK `x`.
  const probe = await subtle().importKey('pkcs8', pkcs8, { name: algorithm }, true, usages);
  const jwk = await subtle().exportKey('jwk', probe);
  if (typeof jwk.x !== 'string') throw new TypeError('secret did not yield a public key');
  const publicKey = fromBase64Url(jwk.x);
  const key = extractable ? probe : await subtle().importKey('pkcs8', pkcs8, { name: algorithm }, false, usages);
  return { key, publicKey };
}

function isWellFormedSecret(secret: Uint8Array): boolean {
  return (secret[0] === SECRET_V1 && secret.length === SECRET_V1_LENGTH) || (secret[0] === SECRET_V2 && secret.length === SECRET_V2_LENGTH);
}

/**
 * Rebuilds an identity from `exportIdentitySecret` output, of either version (a version-1 secret
 * gives an identity without a KEM key). Throws a TypeError on a malformed secret.
 */
export async function importIdentitySecret(secret: Uint8Array, options: { extractable?: boolean } = {}): Promise<Identity> {
  assertBytes(secret, 'secret');
  if (secret[0] !== SECRET_V1 && secret[0] !== SECRET_V2) throw new TypeError(`secret has unsupported version ${secret[0]}`);
  if (!isWellFormedSecret(secret)) throw new TypeError(`secret of version ${secret[0]} must be ${secret[0] === SECRET_V1 ? SECRET_V1_LENGTH : SECRET_V2_LENGTH} bytes`);
  const extractable = options.extractable ?? true;
  const signing = await importPrivate(ED25519_PKCS8_PREFIX, secret.subarray(1, 33), 'Ed25519', extractable);
  const agreement = await importPrivate(X25519_PKCS8_PREFIX, secret.subarray(33, 65), 'X25519', extractable);
  if (secret[0] === SECRET_V1) return makeIdentity({ signingKey: signing.publicKey, agreementKey: agreement.publicKey }, signing.key, agreement.key);
  const kem = kemKeyPairFromSeed(secret.subarray(65, 65 + XWING_SEED_BYTES), { extractable });
  return makeIdentity({ signingKey: signing.publicKey, agreementKey: agreement.publicKey, kemKey: kem.publicKey }, signing.key, agreement.key, kem.privateKey);
}

function sealAad(context: string): Uint8Array {
  if (typeof context !== 'string' || context.length === 0) throw new TypeError('context must be a non-empty string');
  return concatBytes(utf8(SEAL_LABEL), utf8(context));
}

/**
 * Seals the identity's secret under a 32-byte `sealingKey` with AES-256-GCM (see aead.ts), binding
 * `context` (e.g. "account:<id>/password") as additional data so a bundle cannot be moved between
 * contexts. `sealingKey` must be a KDF output (e.g. `deriveKey` of OPAQUE's export_key).
 */
export async function sealIdentity(identity: Identity, sealingKey: Uint8Array, context: string): Promise<Uint8Array> {
  assertBytes(sealingKey, 'sealingKey', 32);
  const aad = sealAad(context);
  const secret = await exportIdentitySecret(identity);
  try {
    return await aeadSeal(sealingKey, secret, aad);
  } finally {
    secret.fill(0);
  }
}

/** Opens a sealed identity; a wrong key, context or any changed byte gives `identity/unseal-failed`. */
export async function openSealedIdentity(
  sealed: Uint8Array,
  sealingKey: Uint8Array,
  context: string,
  options: { extractable?: boolean } = {},
): Promise<CryptoResult<Identity>> {
  assertBytes(sealed, 'sealed');
  assertBytes(sealingKey, 'sealingKey', 32);
  const opened = await aeadOpen(sealingKey, sealed, sealAad(context));
  if (!opened.ok) return fail('identity/unseal-failed');
  const secret = opened.value;
  try {
    if (secret.length === 0 || !isWellFormedSecret(secret)) return fail('identity/malformed');
    return ok(await importIdentitySecret(secret, options));
  } catch {
    return fail('identity/malformed');
  } finally {
    secret.fill(0);
  }
}

/** The iterated digest of one identity's public keys (32 bytes), the half of a safety code each side contributes. */
function identityDigest(keys: PublicIdentityKeys): Uint8Array {
  // An X-Wing key is covered through its SHA-512 (a substituted KEM key would let its maker open every wrap).
  const keyBlob = keys.kemKey === undefined ? concatBytes(keys.signingKey, keys.agreementKey) : concatBytes(keys.signingKey, keys.agreementKey, sha512(concatBytes(utf8(SAFETY_KEM_LABEL), keys.kemKey)));
  // Signal's numeric fingerprint construction: H0 = SHA-512(label ‖ keys), Hi = SHA-512(Hi-1 ‖ keys).
  // The 5200 iterations use @noble/hashes: one awaited WebCrypto digest per step is ~10× slower.
  let hash = sha512(concatBytes(utf8(SAFETY_DIGEST_LABEL), keyBlob));
  const block = new Uint8Array(64 + keyBlob.length);
  block.set(keyBlob, 64);
  for (let i = 0; i < SAFETY_ITERATIONS; i++) {
    block.set(hash, 0);
    hash = sha512(block);
  }
  return hash.slice(0, 32);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** The one thing two people compare to confirm each other's keys: the same on both sides. */
export interface SafetyCode {
  /** Twelve digits in three groups of four ("1234 5678 9012"), to read to each other. */
  digits: string;
  /** What the QR code carries: the whole 32-byte value, for the other device's camera. */
  qr: string;
  /** The 32-byte value both sides compute. */
  value: Uint8Array;
}

/**
 * The safety code of two identities: SHA-256("burrow/safety-code/v1\0" ‖ the two identity digests,
 * sorted), so either side computes the same value. Shown as 12 digits (the value's first 8 bytes as
 * a big-endian integer mod 10^12) and as a QR code of the whole value (`burrow-safety-code:v1:` ‖
 * base64url), which a scan compares in full.
 */
export async function safetyCode(a: PublicIdentityKeys, b: PublicIdentityKeys): Promise<SafetyCode> {
  assertPublicKeys(a, 'a');
  assertPublicKeys(b, 'b');
  const da = identityDigest(a);
  const db = identityDigest(b);
  const [first, second] = compareBytes(da, db) <= 0 ? [da, db] : [db, da];
  const value = sha256(concatBytes(utf8(SAFETY_CODE_LABEL), first, second));
  let n = 0n;
  for (let i = 0; i < 8; i++) n = (n << 8n) | BigInt(value[i]!);
  const digits = (n % 10n ** 12n).toString().padStart(12, '0');
  return { digits: digits.match(/.{4}/g)!.join(' '), qr: SAFETY_QR_PREFIX + toBase64Url(value), value };
}

/** True when `scanned` (the text of a scanned QR code) is exactly the QR text of `code`. */
export function safetyCodeMatchesScan(code: SafetyCode, scanned: string): boolean {
  if (typeof scanned !== 'string' || !scanned.startsWith(SAFETY_QR_PREFIX)) return false;
  let other: Uint8Array;
  try {
    other = fromBase64Url(scanned.slice(SAFETY_QR_PREFIX.length));
  } catch {
    return false;
  }
  return other.length === 32 && bytesEqual(other, code.value);
}
