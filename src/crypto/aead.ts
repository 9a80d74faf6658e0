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
 * Seals like `aeadSeal` but returns the box in two parts — `head` (version ‖ nonce, 13 bytes) and
 * `body` (ciphertext ‖ tag) — so a caller can place them in a larger buffer without another copy.
 */
export async function aeadSealParts(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<{ head: Uint8Array; body: Uint8Array }> {
  assertBytes(key, 'key', 32);
  assertBytes(plaintext, 'plaintext');
  assertBytes(aad, 'aad');
  const head = new Uint8Array(1 + NONCE_LENGTH);
  head[0] = VERSION;
  head.set(randomBytes(NONCE_LENGTH), 1);
  const cryptoKey = await importAesKey(key, 'encrypt');
  const body = await subtle().encrypt(
    { name: 'AES-GCM', iv: buf(head.subarray(1)), additionalData: buf(concatBytes(head.subarray(0, 1), aad)), tagLength: TAG_LENGTH * 8 },
    cryptoKey,
    buf(plaintext),
  );
  return { head, body: new Uint8Array(body) };
}

/** Seals `plaintext` under a 32-byte `key`, authenticating `aad`, with a fresh random nonce. */
export async function aeadSeal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  const { head, body } = await aeadSealParts(key, plaintext, aad);
  return concatBytes(head, body);
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
