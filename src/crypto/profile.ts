/**
 * Sealed profile data: small records the server must store but never read — the family name,
 * child names, toy names, member display names.
 *
 * The same construction as messages: a key derived with HKDF-SHA-256 (RFC 5869) from the epoch's
 * family key, salted by the record's kind and object id, and AES-256-GCM (aead.ts) with AAD binding
 * the family, epoch, kind and object id. A sealed child name therefore cannot be moved to another
 * child, kind or family: it simply does not open there. Plaintexts are padded to a multiple of 64
 * bytes so the ciphertext length does not reveal the exact length of a name.
 *
 * Layout: "BRWP" ‖ u8 version (1) ‖ u64 epoch ‖ sealed box (0x01 ‖ nonce ‖ ciphertext ‖ tag).
 * Key use: one key per (epoch, kind, object id); each update is a fresh random nonce, well under
 * the 2^32 seals per key that random 96-bit nonces allow (NIST SP 800-38D §8.3).
 */
import { aeadOpen, aeadSeal } from './aead.js';
import { assertBytes, bytesEqual, concatBytes, fromUtf8, utf8 } from './bytes.js';
import { CanonicalError, CanonicalReader, CanonicalWriter, labelled } from './canonical.js';
import { hkdfSha256 } from './kdf.js';
import { fail, ok, type CryptoResult } from './result.js';

export type ProfileKind = 'family-name' | 'child' | 'toy' | 'member';
const KINDS: readonly string[] = ['family-name', 'child', 'toy', 'member'];

const MAGIC = utf8('BRWP');
const VERSION = 1;
const KEY_INFO = 'burrow/profile-key/v1';
const AAD_LABEL = 'burrow/profile/v1';
const PAD_TO = 64;
/** Largest JSON a profile record may hold. */
export const MAX_PROFILE_BYTES = 16 * 1024;

function checkTarget(familyId: unknown, kind: unknown, objectId: unknown): void {
  if (typeof familyId !== 'string' || familyId.length === 0) throw new TypeError('familyId must be a non-empty string');
  if (typeof kind !== 'string' || !KINDS.includes(kind)) throw new TypeError(`kind must be one of ${KINDS.join(', ')}`);
  if (typeof objectId !== 'string' || objectId.length === 0) throw new TypeError('objectId must be a non-empty string');
}

function headerBytes(epoch: number): Uint8Array {
  return new CanonicalWriter().fixed(MAGIC).u8(VERSION).u64(epoch).finish();
}

function aad(header: Uint8Array, familyId: string, kind: string, objectId: string): Uint8Array {
  return labelled(AAD_LABEL, concatBytes(header, new CanonicalWriter().string(familyId).string(kind).string(objectId).finish()));
}

async function profileKey(familyKey: Uint8Array, kind: string, objectId: string): Promise<Uint8Array> {
  const salt = new CanonicalWriter().string(kind).string(objectId).finish();
  return hkdfSha256({ ikm: familyKey, salt, info: utf8(KEY_INFO), length: 32 });
}

/** Encrypts a small JSON record (e.g. `{ name: 'Mia' }`) for one object of a family at an epoch. */
export async function sealProfile(options: { familyId: string; epoch: number; familyKey: Uint8Array; kind: ProfileKind; objectId: string; data: object }): Promise<Uint8Array> {
  const { familyId, epoch, familyKey, kind, objectId, data } = options;
  checkTarget(familyId, kind, objectId);
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new TypeError('epoch must be a non-negative integer');
  assertBytes(familyKey, 'familyKey', 32);
  if (typeof data !== 'object' || data === null) throw new TypeError('data must be an object');
  const json = utf8(JSON.stringify(data));
  if (json.length > MAX_PROFILE_BYTES) throw new TypeError(`data must serialise to at most ${MAX_PROFILE_BYTES} bytes`);
  const unpadded = new CanonicalWriter().bytes(json).finish();
  const padded = new Uint8Array(Math.ceil(unpadded.length / PAD_TO) * PAD_TO);
  padded.set(unpadded);
  const header = headerBytes(epoch);
  const key = await profileKey(familyKey, kind, objectId);
  const box = await aeadSeal(key, padded, aad(header, familyId, kind, objectId));
  key.fill(0);
  return concatBytes(header, box);
}

/** The epoch a sealed profile was sealed at (unauthenticated until it opens), or undefined if malformed. */
export function profileEpoch(sealed: Uint8Array): number | undefined {
  try {
    const r = new CanonicalReader(sealed);
    if (!bytesEqual(r.fixed(MAGIC.length), MAGIC) || r.u8() !== VERSION) return undefined;
    return r.u64();
  } catch (error) {
    if (error instanceof CanonicalError) return undefined;
    throw error;
  }
}

/**
 * Opens a sealed profile for the expected family, kind and object id. A record moved from another
 * object, kind or family, a wrong key or any changed byte gives `profile/decrypt-failed`.
 */
export async function openProfile<T = Record<string, unknown>>(options: {
  sealed: Uint8Array;
  familyId: string;
  kind: ProfileKind;
  objectId: string;
  familyKeyForEpoch: (epoch: number) => Uint8Array | undefined | Promise<Uint8Array | undefined>;
}): Promise<CryptoResult<{ epoch: number; data: T }>> {
  const { sealed, familyId, kind, objectId } = options;
  checkTarget(familyId, kind, objectId);
  if (!(sealed instanceof Uint8Array)) return fail('profile/malformed');
  const epoch = profileEpoch(sealed);
  if (epoch === undefined) return fail('profile/malformed');
  const header = sealed.subarray(0, MAGIC.length + 1 + 8);
  const familyKey = await options.familyKeyForEpoch(epoch);
  if (!(familyKey instanceof Uint8Array) || familyKey.length !== 32) return fail('profile/no-key');
  const key = await profileKey(familyKey, kind, objectId);
  const opened = await aeadOpen(key, sealed.subarray(header.length), aad(header, familyId, kind, objectId));
  key.fill(0);
  if (!opened.ok) return fail(opened.code === 'aead/decrypt-failed' ? 'profile/decrypt-failed' : 'profile/malformed');
  try {
    const r = new CanonicalReader(opened.value);
    const json = r.bytes(MAX_PROFILE_BYTES);
    const data: unknown = JSON.parse(fromUtf8(json));
    if (typeof data !== 'object' || data === null) return fail('profile/malformed');
    return ok({ epoch, data: data as T });
  } catch {
    return fail('profile/malformed');
  }
}
