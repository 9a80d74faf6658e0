/**
 * Sealed profile data: small records the server must store but never read — the family name,
 * child names, toy names, member display names — signed by whoever sealed them.
 *
 * The same construction as messages: a key derived with HKDF-SHA-256 (RFC 5869) from the key of
 * the record's scope at its epoch (`profileScope`: a child's record under that child's key, so only
 * those who may talk with the child and the child's toys read the name; every other record under
 * the family-wide key, which all members and no toys hold; the entry of the record's epoch says
 * which), salted by the record's kind and object id, and AES-256-GCM (aead.ts) with AAD binding
 * the header (version, epoch, signer key), family, kind and object id. A sealed child name
 * therefore cannot be moved to another child, kind or family: it simply does not open there.
 * Plaintexts are padded to a multiple of 64 bytes so the ciphertext length does not reveal the
 * exact length of a name.
 *
 * A scope key is shared by all the scope's holders, so encryption alone does not say who wrote a
 * record: any relative allowed a child (or a removed member holding an old key) could rename them.
 * Each record is therefore signed with the sealer's Ed25519 key (label `burrow/profile-signature/v1`,
 * over family id, kind, object id and the sealed bytes), and opening checks the signer against the
 * verified roster head: family-name, child and toy records must be signed by a guardian of the head,
 * a member record by that member.
 *
 * Layout (version 3): "BRWP" ‖ u8 version (3) ‖ u64 epoch ‖ signer Ed25519 public key (32) ‖
 * sealed box (0x01 ‖ nonce(12) ‖ ciphertext ‖ tag(16)) ‖ Ed25519 signature (64).
 * Key use: one key per (scope key, kind, object id); each update is a fresh random nonce, well under
 * the 2^32 seals per key that random 96-bit nonces allow (NIST SP 800-38D §8.3).
 */
import { aeadOpen, aeadSeal } from './aead.js';
import { assertBytes, bytesEqual, concatBytes, fromUtf8, utf8 } from './bytes.js';
import { CanonicalError, CanonicalReader, CanonicalWriter, labelled } from './canonical.js';
import { assertIdentity, type Identity } from './identity.js';
import { hkdfSha256 } from './kdf.js';
import { fail, ok, type CryptoResult } from './result.js';
import { FAMILY_SCOPE } from './key-scopes.js';
import type { Member } from './roster.js';
import { SIGNATURE_LABELS, signLabelled, verifyLabelled } from './signature.js';

export type ProfileKind = 'family-name' | 'child' | 'toy' | 'member';
const KINDS: readonly string[] = ['family-name', 'child', 'toy', 'member'];

const MAGIC = utf8('BRWP');
const VERSION = 3;
const KEY_INFO = 'burrow/profile-key/v1';
const AAD_LABEL = 'burrow/profile/v2';
const SIGNER_BYTES = 32;
const SIGNATURE_BYTES = 64;
/** "BRWP" ‖ version ‖ epoch ‖ signer key. */
const HEADER_BYTES = 4 + 1 + 8 + SIGNER_BYTES;
const PAD_TO = 64;
/** Largest JSON a profile record may hold. */
export const MAX_PROFILE_BYTES = 16 * 1024;
/** Largest JSON a member profile may hold: a name and a photo of at most 64 KiB as base64url. */
export const MAX_MEMBER_PROFILE_BYTES = 90 * 1024;

/**
 * The key scope a record sealed at `entry` is under: a child's record under the child's key when
 * the entry has that scope, everything else — and a child's record before any relative or toy
 * gives the child a conversation — under the family-wide key.
 */
export function profileScope(entry: { readonly scopeKeys: readonly { scope: string }[] }, kind: ProfileKind, objectId: string): string {
  return kind === 'child' && entry.scopeKeys.some((k) => k.scope === objectId) ? objectId : FAMILY_SCOPE;
}

function maxJsonBytes(kind: string): number {
  return kind === 'member' ? MAX_MEMBER_PROFILE_BYTES : MAX_PROFILE_BYTES;
}

function checkTarget(familyId: unknown, kind: unknown, objectId: unknown): void {
  if (typeof familyId !== 'string' || familyId.length === 0) throw new TypeError('familyId must be a non-empty string');
  if (typeof kind !== 'string' || !KINDS.includes(kind)) throw new TypeError(`kind must be one of ${KINDS.join(', ')}`);
  if (typeof objectId !== 'string' || objectId.length === 0) throw new TypeError('objectId must be a non-empty string');
}

function headerBytes(epoch: number, signerKey: Uint8Array): Uint8Array {
  return new CanonicalWriter().fixed(MAGIC).u8(VERSION).u64(epoch).fixed(signerKey).finish();
}

/** What the signature covers: the target (family, kind, object) and every sealed byte before it. */
function signedBytes(familyId: string, kind: string, objectId: string, headerAndBox: Uint8Array): Uint8Array {
  return new CanonicalWriter().string(familyId).string(kind).string(objectId).bytes(headerAndBox).finish();
}

function aad(header: Uint8Array, familyId: string, kind: string, objectId: string): Uint8Array {
  return labelled(AAD_LABEL, concatBytes(header, new CanonicalWriter().string(familyId).string(kind).string(objectId).finish()));
}

async function profileKey(scopeKey: Uint8Array, kind: string, objectId: string): Promise<Uint8Array> {
  const salt = new CanonicalWriter().string(kind).string(objectId).finish();
  return hkdfSha256({ ikm: scopeKey, salt, info: utf8(KEY_INFO), length: 32 });
}

/**
 * Encrypts a small JSON record (e.g. `{ name: 'Mia' }`) for one object of a family at an epoch and
 * signs it as `signer` (who must be a guardian of the head for family-name, child and toy records,
 * the member themselves for a member record, or readers refuse it).
 */
export async function sealProfile(options: { familyId: string; epoch: number; key: Uint8Array; kind: ProfileKind; objectId: string; data: object; signer: Identity }): Promise<Uint8Array> {
  const { familyId, epoch, kind, objectId, data, signer } = options;
  checkTarget(familyId, kind, objectId);
  assertIdentity(signer, 'signer');
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new TypeError('epoch must be a non-negative integer');
  assertBytes(options.key, 'key', 32);
  if (typeof data !== 'object' || data === null) throw new TypeError('data must be an object');
  const json = utf8(JSON.stringify(data));
  if (json.length > maxJsonBytes(kind)) throw new TypeError(`data must serialise to at most ${maxJsonBytes(kind)} bytes`);
  const unpadded = new CanonicalWriter().bytes(json).finish();
  const padded = new Uint8Array(Math.ceil(unpadded.length / PAD_TO) * PAD_TO);
  padded.set(unpadded);
  const header = headerBytes(epoch, signer.publicKeys.signingKey);
  const key = await profileKey(options.key, kind, objectId);
  const box = await aeadSeal(key, padded, aad(header, familyId, kind, objectId));
  key.fill(0);
  const sealed = concatBytes(header, box);
  const signature = await signLabelled(signer, SIGNATURE_LABELS.profile, signedBytes(familyId, kind, objectId, sealed));
  return concatBytes(sealed, signature);
}

/** The epoch a sealed profile was sealed at (unauthenticated until it opens), or undefined if malformed. */
export function profileEpoch(sealed: Uint8Array): number | undefined {
  return parseHeader(sealed)?.epoch;
}

/** The header's epoch and signer key, or undefined when `sealed` is not a version-2 record of plausible length. */
function parseHeader(sealed: Uint8Array): { epoch: number; signerKey: Uint8Array } | undefined {
  // The smallest box: flag, nonce, one padded block, tag.
  if (sealed.length < HEADER_BYTES + 1 + 12 + PAD_TO + 16 + SIGNATURE_BYTES) return undefined;
  try {
    const r = new CanonicalReader(sealed.subarray(0, HEADER_BYTES));
    if (!bytesEqual(r.fixed(MAGIC.length), MAGIC) || r.u8() !== VERSION) return undefined;
    return { epoch: r.u64(), signerKey: r.fixed(SIGNER_BYTES) };
  } catch (error) {
    if (error instanceof CanonicalError) return undefined;
    throw error;
  }
}

/** The member of the verified head who may sign a record of `kind` for `objectId`, if `signerKey` is theirs. */
function allowedSigner(head: { members: readonly Member[] }, kind: ProfileKind, objectId: string, signerKey: Uint8Array): Member | undefined {
  return head.members.find((m) => bytesEqual(m.keys.signingKey, signerKey) && (kind === 'member' ? m.accountId === objectId : m.role === 'guardian'));
}

/**
 * Opens a sealed profile for the expected family, kind and object id, checking its signer against
 * `head`, the verified roster head (never a list the server sent): a family-name, child or toy
 * record must be signed by a guardian of the head (`profile/signer-not-allowed` otherwise), a
 * member record by that member. A bad signature gives `profile/bad-signature`; a record moved from
 * another object, kind or family fails its signature; a wrong key gives `profile/decrypt-failed`.
 */
export async function openProfile<T = Record<string, unknown>>(options: {
  sealed: Uint8Array;
  familyId: string;
  kind: ProfileKind;
  objectId: string;
  /** The verified roster: its head's members judge the signer, the entry of the record's epoch its scope. */
  head: { familyId: string; members: readonly Member[]; entryAt(epoch: number): { readonly scopeKeys: readonly { scope: string }[] } | undefined };
  /** The reader's key of `scope` as the entry of `epoch` names it; undefined when it holds none. */
  keyFor: (epoch: number, scope: string) => Uint8Array | undefined | Promise<Uint8Array | undefined>;
}): Promise<CryptoResult<{ epoch: number; data: T; signerId: string }>> {
  const { sealed, familyId, kind, objectId, head } = options;
  checkTarget(familyId, kind, objectId);
  if (typeof head !== 'object' || head === null || !Array.isArray(head.members)) throw new TypeError('head must be the verified roster head');
  if (head.familyId !== familyId) return fail('profile/wrong-family');
  if (!(sealed instanceof Uint8Array)) return fail('profile/malformed');
  if (sealed.length >= 5 && bytesEqual(sealed.subarray(0, 4), MAGIC) && sealed[4] !== VERSION) return fail('profile/unsupported-version');
  const parsed = parseHeader(sealed);
  if (parsed === undefined) return fail('profile/malformed');
  const { epoch, signerKey } = parsed;
  const signer = allowedSigner(head, kind, objectId, signerKey);
  if (signer === undefined) return fail('profile/signer-not-allowed');
  const body = sealed.subarray(0, sealed.length - SIGNATURE_BYTES);
  const signature = sealed.subarray(sealed.length - SIGNATURE_BYTES);
  const signed = await verifyLabelled({ publicKey: signerKey, label: SIGNATURE_LABELS.profile, message: signedBytes(familyId, kind, objectId, body), signature });
  if (!signed) return fail('profile/bad-signature');
  const header = sealed.subarray(0, HEADER_BYTES);
  const entry = head.entryAt(epoch);
  if (entry === undefined) return fail('profile/no-key');
  const scopeKey = await options.keyFor(epoch, profileScope(entry, kind, objectId));
  if (!(scopeKey instanceof Uint8Array) || scopeKey.length !== 32) return fail('profile/no-key');
  const key = await profileKey(scopeKey, kind, objectId);
  const opened = await aeadOpen(key, body.subarray(HEADER_BYTES), aad(header, familyId, kind, objectId));
  key.fill(0);
  if (!opened.ok) return fail(opened.code === 'aead/decrypt-failed' ? 'profile/decrypt-failed' : 'profile/malformed');
  try {
    const r = new CanonicalReader(opened.value);
    const json = r.bytes(maxJsonBytes(kind));
    const data: unknown = JSON.parse(fromUtf8(json));
    if (typeof data !== 'object' || data === null) return fail('profile/malformed');
    return ok({ epoch, data: data as T, signerId: signer.accountId });
  } catch {
    return fail('profile/malformed');
  }
}
