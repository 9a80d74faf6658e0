/**
 * X-Wing (draft-connolly-cfrg-xwing-kem): the hybrid KEM X25519 + ML-KEM-768 (FIPS 203), whose
 * shared secret stays secret as long as either X25519 or ML-KEM-768 holds. The primitive is
 * @noble/post-quantum's `ml_kem768_x25519` (checked against the draft's test vectors in
 * test/crypto/xwing-vectors.test.ts); this module only adapts it to @hpke/core's KEM interface as
 * the draft's "Use in HPKE" section specifies (KEM id 0x647a; Nsecret 32, Nenc 1120, Npk 1216,
 * Nsk 32; serialisation is the identity; DeriveKeyPair(ikm) = GenerateKeyPairDerand(SHAKE256(ikm, 32))).
 *
 * A private key is the draft's 32-byte decapsulation key (a seed: the ML-KEM and X25519 keys are
 * expanded from it on every use). It is held in an opaque `KemPrivateKey` whose bytes are not
 * reachable through its properties (not enumerable, not JSON-serialisable, not structured-cloned):
 * like a non-extractable WebCrypto key as far as plain JavaScript goes, though — unlike WebCrypto —
 * the bytes do live in the page's heap.
 */
import { DecapError, DeserializeError, EncapError, NotSupportedError, SerializeError, type KemId, type KemInterface, type RecipientContextParams, type SenderContextParams } from '@hpke/core';
import { shake256 } from '@noble/hashes/sha3.js';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { assertBytes, randomBytes } from './bytes.js';

/** X-Wing sizes (draft §IANA): public (encapsulation) key, private (decapsulation) key, ciphertext, shared secret. */
export const XWING_PUBLIC_KEY_BYTES = 1216;
export const XWING_SEED_BYTES = 32;
export const XWING_CIPHERTEXT_BYTES = 1120;
export const XWING_SHARED_SECRET_BYTES = 32;
/** The HPKE KEM identifier the draft requests for X-Wing (25722 = 0x647a). */
export const XWING_HPKE_KEM_ID = 0x647a;

/** An X-Wing private key: its public key in the clear, its 32-byte seed hidden. */
export interface KemPrivateKey {
  readonly algorithm: 'X-Wing';
  readonly publicKey: Uint8Array;
  readonly extractable: boolean;
}

const seeds = new WeakMap<KemPrivateKey, Uint8Array>();

function makePrivateKey(seed: Uint8Array, publicKey: Uint8Array, extractable: boolean): KemPrivateKey {
  const key: KemPrivateKey = Object.freeze({ algorithm: 'X-Wing' as const, publicKey, extractable });
  seeds.set(key, seed.slice());
  return key;
}

/** True for keys made by this module (a look-alike object has no seed behind it). */
export function isKemPrivateKey(value: unknown): value is KemPrivateKey {
  return typeof value === 'object' && value !== null && seeds.has(value as KemPrivateKey);
}

/** A fresh random 32-byte X-Wing seed. */
export function generateKemSeed(): Uint8Array {
  return randomBytes(XWING_SEED_BYTES);
}

/** The X-Wing key pair of a 32-byte seed (the draft's GenerateKeyPairDerand). */
export function kemKeyPairFromSeed(seed: Uint8Array, options: { extractable?: boolean } = {}): { publicKey: Uint8Array; privateKey: KemPrivateKey } {
  assertBytes(seed, 'seed', XWING_SEED_BYTES);
  const publicKey = ml_kem768_x25519.getPublicKey(seed);
  return { publicKey, privateKey: makePrivateKey(seed, publicKey, options.extractable ?? true) };
}

/** The seed of an extractable X-Wing private key (a copy). Throws for a non-extractable or foreign key. */
export function exportKemSeed(key: KemPrivateKey): Uint8Array {
  const seed = isKemPrivateKey(key) ? seeds.get(key) : undefined;
  if (seed === undefined) throw new TypeError('key is not an X-Wing private key');
  if (!key.extractable) throw new TypeError('key is not extractable');
  return seed.slice();
}

/** X-Wing Encapsulate to a 1216-byte public key; `randomness` (64 bytes) only for known-answer tests. */
export function xwingEncapsulate(publicKey: Uint8Array, randomness?: Uint8Array): { ciphertext: Uint8Array; sharedSecret: Uint8Array } {
  assertBytes(publicKey, 'publicKey', XWING_PUBLIC_KEY_BYTES);
  if (randomness !== undefined) assertBytes(randomness, 'randomness', 64);
  const { cipherText, sharedSecret } = ml_kem768_x25519.encapsulate(publicKey, randomness);
  return { ciphertext: cipherText, sharedSecret };
}

/** X-Wing Decapsulate. A wrong ciphertext gives an unrelated secret (implicit rejection), never an error. */
export function xwingDecapsulate(ciphertext: Uint8Array, privateKey: KemPrivateKey): Uint8Array {
  assertBytes(ciphertext, 'ciphertext', XWING_CIPHERTEXT_BYTES);
  const seed = isKemPrivateKey(privateKey) ? seeds.get(privateKey) : undefined;
  if (seed === undefined) throw new TypeError('privateKey is not an X-Wing private key');
  return ml_kem768_x25519.decapsulate(ciphertext, seed);
}

// --- HPKE KEM adapter -------------------------------------------------------------------------

/** A public key as @hpke/core carries it (it only hands keys back to this KEM). */
interface HpkePublicKey {
  readonly type: 'public';
  readonly algorithm: { name: 'X-Wing' };
  readonly extractable: true;
  readonly usages: KeyUsage[];
  readonly raw: Uint8Array;
}

function bytesOf(value: ArrayBufferLike | ArrayBufferView): Uint8Array {
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();
  return new Uint8Array(value).slice();
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer as ArrayBuffer;
}

function publicKeyOf(key: unknown): Uint8Array {
  const k = key as Partial<HpkePublicKey> | null;
  if (typeof k !== 'object' || k === null || k.type !== 'public' || k.algorithm?.name !== 'X-Wing' || !(k.raw instanceof Uint8Array)) {
    throw new TypeError('not an X-Wing public key');
  }
  return k.raw;
}

/**
 * X-Wing as an @hpke/core KEM (draft-connolly-cfrg-xwing-kem, "Use in HPKE"). Private keys are
 * `KemPrivateKey` objects (from `kemKeyPairFromSeed`), passed to HPKE as `recipientKey`.
 */
export class XWingKem implements KemInterface {
  readonly id = XWING_HPKE_KEM_ID as KemId;
  readonly secretSize = XWING_SHARED_SECRET_BYTES;
  readonly encSize = XWING_CIPHERTEXT_BYTES;
  readonly publicKeySize = XWING_PUBLIC_KEY_BYTES;
  readonly privateKeySize = XWING_SEED_BYTES;

  async serializePublicKey(key: CryptoKey): Promise<ArrayBuffer> {
    try {
      return toArrayBuffer(publicKeyOf(key));
    } catch (e) {
      throw new SerializeError(e);
    }
  }

  async deserializePublicKey(key: ArrayBufferLike | ArrayBufferView): Promise<CryptoKey> {
    const raw = bytesOf(key);
    if (raw.length !== XWING_PUBLIC_KEY_BYTES) throw new DeserializeError(new Error('an X-Wing public key is 1216 bytes'));
    const publicKey: HpkePublicKey = Object.freeze({ type: 'public' as const, algorithm: { name: 'X-Wing' as const }, extractable: true as const, usages: [], raw });
    return publicKey as unknown as CryptoKey;
  }

  async serializePrivateKey(key: CryptoKey): Promise<ArrayBuffer> {
    try {
      return toArrayBuffer(exportKemSeed(key as unknown as KemPrivateKey));
    } catch (e) {
      throw new SerializeError(e);
    }
  }

  async deserializePrivateKey(key: ArrayBufferLike | ArrayBufferView): Promise<CryptoKey> {
    const seed = bytesOf(key);
    if (seed.length !== XWING_SEED_BYTES) throw new DeserializeError(new Error('an X-Wing private key is 32 bytes'));
    return kemKeyPairFromSeed(seed).privateKey as unknown as CryptoKey;
  }

  async importKey(format: 'raw' | 'jwk', key: ArrayBuffer | JsonWebKey, isPublic = true): Promise<CryptoKey> {
    if (format !== 'raw' || key instanceof ArrayBuffer === false) throw new NotSupportedError('X-Wing keys are imported raw');
    return isPublic ? this.deserializePublicKey(key) : this.deserializePrivateKey(key);
  }

  async generateKeyPair(): Promise<CryptoKeyPair> {
    return this.pairOf(generateKemSeed());
  }

  async deriveKeyPair(ikm: ArrayBufferLike | ArrayBufferView): Promise<CryptoKeyPair> {
    return this.pairOf(shake256(bytesOf(ikm), { dkLen: XWING_SEED_BYTES }));
  }

  private async pairOf(seed: Uint8Array): Promise<CryptoKeyPair> {
    const { publicKey, privateKey } = kemKeyPairFromSeed(seed);
    return { publicKey: await this.deserializePublicKey(publicKey), privateKey: privateKey as unknown as CryptoKey };
  }

  async encap(params: SenderContextParams): Promise<{ sharedSecret: ArrayBuffer; enc: ArrayBuffer }> {
    if (params.senderKey !== undefined) throw new NotSupportedError('X-Wing is not an authenticated KEM');
    try {
      const randomness = params.ekm === undefined ? undefined : ArrayBuffer.isView(params.ekm) || params.ekm instanceof ArrayBuffer ? bytesOf(params.ekm) : undefined;
      if (params.ekm !== undefined && randomness === undefined) throw new TypeError('ekm must be 64 bytes');
      const { ciphertext, sharedSecret } = xwingEncapsulate(publicKeyOf(params.recipientPublicKey), randomness);
      return { sharedSecret: toArrayBuffer(sharedSecret), enc: toArrayBuffer(ciphertext) };
    } catch (e) {
      throw new EncapError(e);
    }
  }

  async decap(params: RecipientContextParams): Promise<ArrayBuffer> {
    if (params.senderPublicKey !== undefined) throw new NotSupportedError('X-Wing is not an authenticated KEM');
    try {
      const recipientKey = 'privateKey' in params.recipientKey ? params.recipientKey.privateKey : params.recipientKey;
      return toArrayBuffer(xwingDecapsulate(bytesOf(params.enc), recipientKey as unknown as KemPrivateKey));
    } catch (e) {
      throw new DecapError(e);
    }
  }
}
