/**
 * The invite description: who invites, whom the invite is for and to which family, sealed so that
 * only holders of the link can read it, and signed by the inviting guardian, so that no one
 * without the link's secret — the server included — can write or change it, and no one but that
 * guardian can have written it. It is a record of its own beside the invite's proofs
 * (src/crypto/invite.ts), under its own key, so the proofs and this record change independently.
 *
 *   key        HKDF-SHA-256(secret, info "burrow/invite/description/v2") (RFC 5869), 32 bytes
 *   plaintext  u8 2 ‖ string familyName ‖ string from ‖ string for ‖ signature (64)
 *   signature  Ed25519(guardian, "burrow/invite/description-signature/v1" ‖ 0x00 ‖
 *                      string inviteId ‖ string familyId ‖ string familyName ‖ string from ‖ string for)
 *   sealed     aeadSeal(key, plaintext, aad)                  (src/crypto/aead.ts layout)
 *   aad        "burrow/invite/description/v2" ‖ 0x00 ‖ string inviteId ‖ string familyId
 *
 * The guardian's keys the signature is checked with come from the invite's guardian proof, which
 * the link's secret authenticates: a server that swapped the guardian's keys fails that proof
 * first. The additional data binds the record to its invite and family.
 *
 * The joiner's name travels the other way, in a record of its own: the name the joiner chose,
 * sealed under a key from the same secret and bound to the invite and the joiner's account id, for
 * the inviting guardian to read on the let-in card.
 *
 *   key        HKDF-SHA-256(secret, info "burrow/invite/joiner-name/v1"), 32 bytes
 *   plaintext  u8 1 ‖ string name
 *   aad        "burrow/invite/joiner-name/v1" ‖ 0x00 ‖ string inviteId ‖ string joinerId
 *
 * Key use: one secret per invite; its description key seals one record, once; its joiner-name key
 * one record per accept (one accept per invite).
 */
import { aeadOpen, aeadSeal } from './aead.js';
import { assertBytes } from './bytes.js';
import { CanonicalError, CanonicalReader, CanonicalWriter, labelled } from './canonical.js';
import { assertIdentity, assertPublicKeys, type Identity, type PublicIdentityKeys } from './identity.js';
import { deriveKey } from './kdf.js';
import { fail, ok, type CryptoResult } from './result.js';
import { SIGNATURE_LABELS, signLabelled, verifyLabelled } from './signature.js';

const LABEL = 'burrow/invite/description/v2';
const JOINER_LABEL = 'burrow/invite/joiner-name/v1';
const PLAINTEXT_VERSION = 2;
const JOINER_VERSION = 1;
const SIGNATURE_BYTES = 64;
/** Bytes of a family name, inviter or invitee name at most (UTF-8). */
export const MAX_DESCRIPTION_STRING_BYTES = 256;
/** Bytes of a sealed description at most. */
export const MAX_SEALED_DESCRIPTION_BYTES = 1 + 3 * (4 + MAX_DESCRIPTION_STRING_BYTES) + SIGNATURE_BYTES + 29;
/** Bytes of a sealed joiner name at most. */
export const MAX_SEALED_JOINER_NAME_BYTES = 1 + 4 + MAX_DESCRIPTION_STRING_BYTES + 29;

/** What an invitee reads before joining. */
export interface InviteDescription {
  familyName: string;
  /** The name the inviting guardian goes by for the invitee ("Anna", "Grandma's daughter"); may be empty. */
  from: string;
  /** Whom the guardian made the invite for ("Grandma Rose"); may be empty. */
  for: string;
}

const FIELDS = ['familyName', 'from', 'for'] as const;

function checkIds(inviteId: unknown, otherId: unknown, otherName: string): void {
  if (typeof inviteId !== 'string' || inviteId.length === 0) throw new TypeError('inviteId must be a non-empty string');
  if (typeof otherId !== 'string' || otherId.length === 0) throw new TypeError(`${otherName} must be a non-empty string`);
}

function checkString(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || new TextEncoder().encode(value).length > MAX_DESCRIPTION_STRING_BYTES) throw new TypeError(`${name} must be a string of at most ${MAX_DESCRIPTION_STRING_BYTES} bytes`);
}

function aad(label: string, inviteId: string, otherId: string): Uint8Array {
  return labelled(label, new CanonicalWriter().string(inviteId).string(otherId).finish());
}

function signedFields(inviteId: string, familyId: string, d: InviteDescription): Uint8Array {
  return new CanonicalWriter().string(inviteId).string(familyId).string(d.familyName).string(d.from).string(d.for).finish();
}

/** Signs the description of one invite as the inviting guardian and seals it under a key derived from its secret. */
export async function sealInviteDescription(options: { secret: Uint8Array; inviteId: string; familyId: string; description: InviteDescription; guardian: Identity }): Promise<Uint8Array> {
  const { secret, inviteId, familyId, description, guardian } = options;
  assertBytes(secret, 'secret', 16);
  checkIds(inviteId, familyId, 'familyId');
  for (const field of FIELDS) checkString(description?.[field], `description.${field}`);
  assertIdentity(guardian, 'guardian');
  const signature = await signLabelled(guardian, SIGNATURE_LABELS.inviteDescription, signedFields(inviteId, familyId, description));
  const key = await deriveKey(secret, LABEL, 32);
  try {
    const plaintext = new CanonicalWriter().u8(PLAINTEXT_VERSION).string(description.familyName).string(description.from).string(description.for).fixed(signature).finish();
    return await aeadSeal(key, plaintext, aad(LABEL, inviteId, familyId));
  } finally {
    key.fill(0);
  }
}

/**
 * Opens a sealed description and checks the inviting guardian's signature (with the keys the
 * guardian proof authenticated): `invite-description/refused` when it is not this invite's, or
 * damaged; `invite-description/bad-signature` when the guardian did not sign it.
 */
export async function openInviteDescription(options: { secret: Uint8Array; inviteId: string; familyId: string; sealed: Uint8Array; guardianKeys: PublicIdentityKeys }): Promise<CryptoResult<InviteDescription>> {
  const { secret, inviteId, familyId, sealed, guardianKeys } = options;
  assertBytes(secret, 'secret', 16);
  assertBytes(sealed, 'sealed');
  assertPublicKeys(guardianKeys, 'guardianKeys');
  if (sealed.length > MAX_SEALED_DESCRIPTION_BYTES) return fail('invite-description/malformed');
  const key = await deriveKey(secret, LABEL, 32);
  let opened: CryptoResult<Uint8Array>;
  try {
    opened = await aeadOpen(key, sealed, aad(LABEL, inviteId, familyId));
  } finally {
    key.fill(0);
  }
  if (!opened.ok) return fail('invite-description/refused');
  let description: InviteDescription;
  let signature: Uint8Array;
  try {
    const r = new CanonicalReader(opened.value);
    if (r.u8() !== PLAINTEXT_VERSION) return fail('invite-description/unsupported-version');
    description = { familyName: r.string(MAX_DESCRIPTION_STRING_BYTES), from: r.string(MAX_DESCRIPTION_STRING_BYTES), for: r.string(MAX_DESCRIPTION_STRING_BYTES) };
    signature = r.fixed(SIGNATURE_BYTES);
    r.end();
  } catch (error) {
    if (error instanceof CanonicalError) return fail('invite-description/malformed');
    throw error;
  }
  const signed = await verifyLabelled({ publicKey: guardianKeys.signingKey, label: SIGNATURE_LABELS.inviteDescription, message: signedFields(inviteId, familyId, description), signature });
  return signed ? ok(description) : fail('invite-description/bad-signature');
}

/** Seals the name a joiner chose, for the inviting guardian, under a key derived from the invite's secret. */
export async function sealJoinerName(options: { secret: Uint8Array; inviteId: string; joinerId: string; name: string }): Promise<Uint8Array> {
  const { secret, inviteId, joinerId, name } = options;
  assertBytes(secret, 'secret', 16);
  checkIds(inviteId, joinerId, 'joinerId');
  checkString(name, 'name');
  const key = await deriveKey(secret, JOINER_LABEL, 32);
  try {
    return await aeadSeal(key, new CanonicalWriter().u8(JOINER_VERSION).string(name).finish(), aad(JOINER_LABEL, inviteId, joinerId));
  } finally {
    key.fill(0);
  }
}

/** Opens a joiner's sealed name; `invite-joiner-name/refused` when it is not this invite's and joiner's, or damaged. */
export async function openJoinerName(options: { secret: Uint8Array; inviteId: string; joinerId: string; sealed: Uint8Array }): Promise<CryptoResult<string>> {
  const { secret, inviteId, joinerId, sealed } = options;
  assertBytes(secret, 'secret', 16);
  assertBytes(sealed, 'sealed');
  checkIds(inviteId, joinerId, 'joinerId');
  if (sealed.length > MAX_SEALED_JOINER_NAME_BYTES) return fail('invite-joiner-name/malformed');
  const key = await deriveKey(secret, JOINER_LABEL, 32);
  let opened: CryptoResult<Uint8Array>;
  try {
    opened = await aeadOpen(key, sealed, aad(JOINER_LABEL, inviteId, joinerId));
  } finally {
    key.fill(0);
  }
  if (!opened.ok) return fail('invite-joiner-name/refused');
  try {
    const r = new CanonicalReader(opened.value);
    if (r.u8() !== JOINER_VERSION) return fail('invite-joiner-name/unsupported-version');
    const name = r.string(MAX_DESCRIPTION_STRING_BYTES);
    r.end();
    return ok(name);
  } catch (error) {
    if (error instanceof CanonicalError) return fail('invite-joiner-name/malformed');
    throw error;
  }
}
