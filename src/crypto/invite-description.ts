/**
 * The invite description: who invites and to which family, sealed so that only holders of the
 * link can read it and no one without the link's secret — the server included — can write or
 * change it. It is a record of its own beside the invite's proofs (src/crypto/invite.ts), under its
 * own key, so the proofs and this record change independently.
 *
 *   key        HKDF-SHA-256(secret, info "burrow/invite/description/v1") (RFC 5869), 32 bytes
 *   plaintext  u8 1 ‖ string familyName ‖ string from        (strings: u32 length ‖ UTF-8)
 *   sealed     aeadSeal(key, plaintext, aad)                  (src/crypto/aead.ts layout)
 *   aad        "burrow/invite/description/v1" ‖ 0x00 ‖ string inviteId ‖ string familyId
 *
 * The additional data binds the record to its invite and family: the server cannot move a
 * description from one invite to another. Anyone holding the link can read it; the inviting
 * guardian's identity itself comes from the guardian proof (fingerprint), not from `from`, which
 * is the name the guardian chose to be known by.
 *
 * Key use: one secret per invite; its description key seals one record, once.
 */
import { aeadOpen, aeadSeal } from './aead.js';
import { assertBytes } from './bytes.js';
import { CanonicalError, CanonicalReader, CanonicalWriter, labelled } from './canonical.js';
import { deriveKey } from './kdf.js';
import { fail, ok, type CryptoResult } from './result.js';

const LABEL = 'burrow/invite/description/v1';
const PLAINTEXT_VERSION = 1;
/** Bytes of a family name or inviter name at most (UTF-8). */
export const MAX_DESCRIPTION_STRING_BYTES = 256;
/** Bytes of a sealed description at most. */
export const MAX_SEALED_DESCRIPTION_BYTES = 1 + 4 + MAX_DESCRIPTION_STRING_BYTES + 4 + MAX_DESCRIPTION_STRING_BYTES + 29;

/** What an invitee reads before joining. */
export interface InviteDescription {
  familyName: string;
  /** The name the inviting guardian goes by for the invitee ("Anna", "Grandma's daughter"); may be empty. */
  from: string;
}

function aad(inviteId: string, familyId: string): Uint8Array {
  return labelled(LABEL, new CanonicalWriter().string(inviteId).string(familyId).finish());
}

/** Seals the description of one invite under a key derived from its secret. */
export async function sealInviteDescription(options: { secret: Uint8Array; inviteId: string; familyId: string; description: InviteDescription }): Promise<Uint8Array> {
  const { secret, inviteId, familyId, description } = options;
  assertBytes(secret, 'secret', 16);
  if (typeof inviteId !== 'string' || inviteId.length === 0) throw new TypeError('inviteId must be a non-empty string');
  if (typeof familyId !== 'string' || familyId.length === 0) throw new TypeError('familyId must be a non-empty string');
  for (const field of ['familyName', 'from'] as const) {
    const value = description?.[field];
    if (typeof value !== 'string' || new TextEncoder().encode(value).length > MAX_DESCRIPTION_STRING_BYTES) throw new TypeError(`description.${field} must be a string of at most ${MAX_DESCRIPTION_STRING_BYTES} bytes`);
  }
  const key = await deriveKey(secret, LABEL, 32);
  try {
    const plaintext = new CanonicalWriter().u8(PLAINTEXT_VERSION).string(description.familyName).string(description.from).finish();
    return await aeadSeal(key, plaintext, aad(inviteId, familyId));
  } finally {
    key.fill(0);
  }
}

/** Opens a sealed description; `invite-description/refused` when it is not this invite's, or damaged. */
export async function openInviteDescription(options: { secret: Uint8Array; inviteId: string; familyId: string; sealed: Uint8Array }): Promise<CryptoResult<InviteDescription>> {
  const { secret, inviteId, familyId, sealed } = options;
  assertBytes(secret, 'secret', 16);
  assertBytes(sealed, 'sealed');
  if (sealed.length > MAX_SEALED_DESCRIPTION_BYTES) return fail('invite-description/malformed');
  const key = await deriveKey(secret, LABEL, 32);
  let opened: CryptoResult<Uint8Array>;
  try {
    opened = await aeadOpen(key, sealed, aad(inviteId, familyId));
  } finally {
    key.fill(0);
  }
  if (!opened.ok) return fail('invite-description/refused');
  try {
    const r = new CanonicalReader(opened.value);
    if (r.u8() !== PLAINTEXT_VERSION) return fail('invite-description/unsupported-version');
    const familyName = r.string(MAX_DESCRIPTION_STRING_BYTES);
    const from = r.string(MAX_DESCRIPTION_STRING_BYTES);
    r.end();
    return ok({ familyName, from });
  } catch (error) {
    if (error instanceof CanonicalError) return fail('invite-description/malformed');
    throw error;
  }
}
