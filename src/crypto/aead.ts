/**
 * A sealed box over WebCrypto AES-256-GCM (NIST SP 800-38D).
 *
 * Layout: version (1 byte, 0x01) ‖ nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes).
 * The version byte is authenticated: the additional data passed to GCM is version ‖ aad.
 *
 * Limits: nonces are random 96-bit values, so one key may seal at most 2^32 boxes
 * (SP 800-38D §8.3); callers that derive a key per message use it once. A box holds at most
 * 2^36 − 32 bytes of plaintext (SP 800-38D §5.2.1.1), far above anything Burrow seals.
 */
import { assertBytes, concatBytes, randomBytes } from './bytes.js';
import { fail, ok, type CryptoResult } from './result.js';
import { buf, subtle } from './webcrypto.js';

const VERSION = 0x01;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;

/** Bytes a sealed box adds to its plaintext. */
export const AEAD_OVERHEAD = 1 + NONCE_LENGTH + TAG_LENGTH;

async function importAesKey(key: Uint8Array, usage: KeyUsage): Promise<CryptoKey> {
  return subtle().importKey('raw', buf(key), { name: 'AES-GCM' }, false, [usage]);
}

/**
 * Imports a 32-byte key for `aeadSealInPlace` ahead of time, so the import (a round trip to
 * WebCrypto's thread in browsers) can run while the caller still prepares the plaintext.
 * WebCrypto keeps its own copy: the caller may wipe `key` once this has settled.
 */
export async function importSealingKey(key: Uint8Array): Promise<CryptoKey> {
  assertBytes(key, 'key', 32);
  return importAesKey(key, 'encrypt');
}

function isSealingKey(key: unknown): key is CryptoKey {
  return typeof CryptoKey !== 'undefined' && key instanceof CryptoKey && key.algorithm.name === 'AES-GCM' && key.usages.includes('encrypt');
}

/** Where the plaintext starts in a box: after the version byte and the nonce. */
export const AEAD_PLAINTEXT_OFFSET = 1 + NONCE_LENGTH;

/**
 * Seals in place under a 32-byte key (or one from `importSealingKey`): `box` holds the plaintext at `AEAD_PLAINTEXT_OFFSET` and `AEAD_OVERHEAD` bytes
 * around it (its first 13 bytes and last 16 are overwritten); on return it is the sealed box,
 * byte for byte what `aeadSeal` gives for that plaintext and a fresh nonce. A caller that builds
 * its plaintext inside a larger output buffer (an envelope) so saves every full-size copy but the
 * one WebCrypto's result needs. `box` must not be read or written by anyone else until this settles;
 * if sealing fails, the whole box is zeroed so no plaintext lingers.
 */
export async function aeadSealInPlace(key: Uint8Array | CryptoKey, box: Uint8Array, aad: Uint8Array): Promise<void> {
  if (!isSealingKey(key)) assertBytes(key, 'key', 32);
  assertBytes(box, 'box');
  assertBytes(aad, 'aad');
  if (box.length < AEAD_OVERHEAD) throw new TypeError(`box must be at least ${AEAD_OVERHEAD} bytes`);
  try {
    box[0] = VERSION;
    box.set(randomBytes(NONCE_LENGTH), 1);
    const cryptoKey = isSealingKey(key) ? key : await importAesKey(key, 'encrypt');
    const sealed = await subtle().encrypt(
      { name: 'AES-GCM', iv: buf(box.subarray(1, AEAD_PLAINTEXT_OFFSET)), additionalData: buf(concatBytes(box.subarray(0, 1), aad)), tagLength: TAG_LENGTH * 8 },
      cryptoKey,
      buf(box.subarray(AEAD_PLAINTEXT_OFFSET, box.length - TAG_LENGTH)),
    );
    // WebCrypto worked on its own copy of the plaintext: ciphertext ‖ tag now overwrites all of it.
    box.set(new Uint8Array(sealed), AEAD_PLAINTEXT_OFFSET);
  } catch (error) {
    box.fill(0);
    throw error;
  }
}

/** Seals `plaintext` under a 32-byte `key`, authenticating `aad`, with a fresh random nonce. */
export async function aeadSeal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  assertBytes(key, 'key', 32);
  assertBytes(plaintext, 'plaintext');
  assertBytes(aad, 'aad');
  const box = new Uint8Array(plaintext.length + AEAD_OVERHEAD);
  box.set(plaintext, AEAD_PLAINTEXT_OFFSET);
  await aeadSealInPlace(key, box, aad);
  return box;
}

/** Opens a box sealed by `aeadSeal`; a wrong key, aad or any changed byte gives `aead/decrypt-failed`. */
export async function aeadOpen(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Promise<CryptoResult<Uint8Array>> {
  assertBytes(key, 'key', 32);
  assertBytes(sealed, 'sealed');
  assertBytes(aad, 'aad');
  if (sealed.length < AEAD_OVERHEAD) return fail('aead/malformed');
  if (sealed[0] !== VERSION) return fail('aead/unsupported-version');
  const nonce = sealed.subarray(1, 1 + NONCE_LENGTH);
  const body = sealed.subarray(1 + NONCE_LENGTH);
  const cryptoKey = await importAesKey(key, 'decrypt');
  try {
    const plaintext = await subtle().decrypt(
      { name: 'AES-GCM', iv: buf(nonce), additionalData: buf(concatBytes(sealed.subarray(0, 1), aad)), tagLength: TAG_LENGTH * 8 },
      cryptoKey,
      buf(body),
    );
    return ok(new Uint8Array(plaintext));
  } catch {
    return fail('aead/decrypt-failed');
  }
}
