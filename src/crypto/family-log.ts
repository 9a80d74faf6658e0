/**
 * The family security log's chain: each event is encoded canonically, hashed together with the
 * previous event's hash, and the hash is signed by the server's log key (Ed25519, RFC 8032), so
 * that editing, removing or reordering a stored event breaks either the chain or a signature.
 *
 *   hash_i = SHA-256("burrow/family-log/v1" ‖ 0x00 ‖ canonical(event_i) ‖ hash_{i-1})
 *   signature_i = Ed25519(logKey, "burrow/family-log-signature/v1" ‖ 0x00 ‖ hash_i)
 *
 * hash_0 (before the first event) is 32 zero bytes.
 */
import { CanonicalWriter, labelled } from './canonical.js';
import { concatBytes } from './bytes.js';
import { verifyLabelled } from './signature.js';
import { sha256 } from './webcrypto.js';

export const FAMILY_LOG_HASH_LABEL = 'burrow/family-log/v1';
export const FAMILY_LOG_SIGNATURE_LABEL = 'burrow/family-log-signature/v1';

/** Every kind of security event a family log records. */
export const FAMILY_LOG_KINDS = [
  'login',
  'session-created',
  'member-added',
  'member-removed',
  'toy-added',
  'toy-removed',
  'settings-changed',
  'role-changed',
  'message-downloaded',
  'family-created',
  /** A member's client or a toy refused something the server delivered (a forged key, a forked roster…) and said so. */
  'client-refusal',
] as const;

export type FamilyLogKind = (typeof FAMILY_LOG_KINDS)[number];

/** One event as it is hashed: ids and numbers only, never an email, an address or content. */
export interface FamilyLogEventBody {
  familyId: string;
  seq: number;
  at: number;
  kind: FamilyLogKind;
  actorId: string;
  subjectId?: string;
  details: Record<string, string | number>;
}

/** The hash before the first event of every family. */
export const FAMILY_LOG_GENESIS_HASH = new Uint8Array(32);

/** The canonical bytes of an event body: fixed field order, details sorted by key. */
export function encodeFamilyLogEvent(event: FamilyLogEventBody): Uint8Array {
  const w = new CanonicalWriter()
    .string(event.familyId)
    .u64(event.seq)
    .u64(event.at)
    .string(event.kind)
    .string(event.actorId);
  if (event.subjectId === undefined) w.u8(0);
  else w.u8(1).string(event.subjectId);
  const keys = Object.keys(event.details).sort();
  w.u32(keys.length);
  for (const key of keys) {
    const value = event.details[key];
    w.string(key);
    if (typeof value === 'number') w.u8(1).u64(value);
    else if (typeof value === 'string') w.u8(2).string(value);
    else throw new TypeError(`details.${key} must be a string or a non-negative integer`);
  }
  return w.finish();
}

/** hash_i from the event and hash_{i-1} (32 bytes each). */
export async function hashFamilyLogEvent(event: FamilyLogEventBody, previousHash: Uint8Array): Promise<Uint8Array> {
  if (!(previousHash instanceof Uint8Array) || previousHash.length !== 32) throw new TypeError('previousHash must be 32 bytes');
  return sha256(labelled(FAMILY_LOG_HASH_LABEL, concatBytes(encodeFamilyLogEvent(event), previousHash)));
}

/** The bytes the log key signs for an event with hash `hash`. */
export function familyLogSignedBytes(hash: Uint8Array): Uint8Array {
  return labelled(FAMILY_LOG_SIGNATURE_LABEL, hash);
}

/** True only if `signature` is the log key's signature over `hash`. */
export function verifyFamilyLogSignature(options: { logKey: Uint8Array; hash: Uint8Array; signature: Uint8Array }): Promise<boolean> {
  return verifyLabelled({ publicKey: options.logKey, label: FAMILY_LOG_SIGNATURE_LABEL, message: options.hash, signature: options.signature });
}
