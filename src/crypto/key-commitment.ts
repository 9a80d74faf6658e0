/**
 * The family-key commitment a signed roster entry carries (version 3): it binds the entry — and so
 * the signing guardian — to the one family key of its epoch, so a server that wraps a key of its
 * own choosing to a member or toy is caught before anyone seals or opens anything under it.
 *
 *   commitKey  = HKDF-SHA-256(ikm = familyKey, salt = empty, info = "burrow/family-key-commitment/v1")  (32 bytes)
 *   commitment = HMAC-SHA-256(commitKey, "burrow/family-key-commitment/v1" ‖ 0x00 ‖ string familyId ‖ u64 epoch)
 *
 * Committing: for a fixed (familyId, epoch), two keys with one commitment need two 32-byte HMAC
 * keys with one tag, i.e. a SHA-256 collision (HMAC's inner and outer hashes take the fixed-length
 * key as their first block; there is no zero-padding ambiguity because every commitKey is 32
 * bytes), or two family keys with one HKDF output, again a collision of HMAC-SHA-256 in its
 * message. So a server that knows the commitment cannot find a second key that matches it, even
 * choosing both keys itself. Hiding: the commitment is a PRF output under a key derived from a
 * uniformly random 256-bit secret, so the server, which stores it, learns nothing about the key;
 * the HKDF label keeps commitKey independent of every other key derived from the family key.
 * The family id and epoch inside it stop a commitment being moved to another family or epoch.
 */
import { assertBytes, bytesEqual } from './bytes.js';
import { CanonicalWriter, labelled } from './canonical.js';
import { deriveKey } from './kdf.js';
import { buf, subtle } from './webcrypto.js';

/** HKDF info and HMAC label of the commitment. */
export const FAMILY_KEY_COMMITMENT_LABEL = 'burrow/family-key-commitment/v1';
/** Bytes of a commitment (an HMAC-SHA-256 tag). */
export const FAMILY_KEY_COMMITMENT_BYTES = 32;

function checkContext(familyId: unknown, epoch: unknown): void {
  if (typeof familyId !== 'string' || familyId.length === 0) throw new TypeError('familyId must be a non-empty string');
  if (!Number.isSafeInteger(epoch) || (epoch as number) < 0) throw new TypeError('epoch must be a non-negative integer');
}

/** The commitment to `key` as the family key of `epoch` of `familyId` (see the module comment). */
export async function familyKeyCommitment(options: { familyId: string; epoch: number; key: Uint8Array }): Promise<Uint8Array> {
  const { familyId, epoch, key } = options;
  checkContext(familyId, epoch);
  assertBytes(key, 'key', 32);
  const commitKey = await deriveKey(key, FAMILY_KEY_COMMITMENT_LABEL, 32);
  try {
    const hmacKey = await subtle().importKey('raw', buf(commitKey), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const message = labelled(FAMILY_KEY_COMMITMENT_LABEL, new CanonicalWriter().string(familyId).u64(epoch).finish());
    return new Uint8Array(await subtle().sign('HMAC', hmacKey, buf(message)));
  } finally {
    commitKey.fill(0);
  }
}

/** Whether `key` is the key `commitment` commits to for `epoch` of `familyId`. */
export async function familyKeyMatchesCommitment(options: { familyId: string; epoch: number; key: Uint8Array; commitment: Uint8Array }): Promise<boolean> {
  assertBytes(options.commitment, 'commitment', FAMILY_KEY_COMMITMENT_BYTES);
  const expected = await familyKeyCommitment(options);
  return bytesEqual(expected, options.commitment);
}
