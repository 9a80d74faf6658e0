/**
 * The account vault: what an account trusts about each of its families (the roster entry it last
 * verified, its trust anchor), sealed so that only the account's own devices can open it, and stored
 * on the server so that the trust follows the account to every device.
 *
 * Record (canonical.ts): u8 version (1) ‖ u64 revision ‖ u32 count ‖ per family, sorted by id:
 * string familyId ‖ bytes anchor (encodeRosterEntry) ‖ u8 hasJoinedVia ‖ [string joinedVia].
 * Sealed with AES-256-GCM (aead.ts) under HKDF-SHA-256(identity secret, "burrow/vault/v1")
 * (kdf.ts deriveKey), with additional data `"burrow/vault/v1" ‖ 0x00 ‖ string accountId ‖ u64
 * revision`: a vault of another account, or one moved to another revision, does not open.
 *
 * Limits: one key per identity, random 96-bit nonces, so at most 2^32 seals (SP 800-38D §8.3);
 * a revision is written once per change of any family's anchor, far below that.
 */
import { assertBytes } from './bytes.js';
import { aeadOpen, aeadSeal, AEAD_OVERHEAD } from './aead.js';
import { CanonicalError, CanonicalReader, CanonicalWriter, labelled } from './canonical.js';
import { exportIdentitySecret, type Identity } from './identity.js';
import { deriveKey } from './kdf.js';
import { fail, ok, type CryptoResult } from './result.js';
import { decodeRosterEntry } from './roster.js';

/** What the vault keeps about one family. */
export interface VaultFamily {
  /** The last roster entry this account verified for the family (`encodeRosterEntry` bytes). */
  anchor: Uint8Array;
  /** How this account came into the family: `'created'`, or `'invite:<inviteId>'`. Informational. */
  joinedVia?: string;
}

/** The plaintext vault record. */
export interface Vault {
  version: 1;
  /** Counts every write: the server stores revision n + 1 only over revision n. */
  revision: number;
  families: Record<string, VaultFamily>;
}

const VERSION = 1;
const LABEL = 'burrow/vault/v1';
const MAX_ID_BYTES = 128;
const MAX_JOINED_VIA_BYTES = 160;
const MAX_ANCHOR_BYTES = 128 * 1024;
const MAX_FAMILIES = 4096;

/** The largest sealed vault the server stores: 192 KiB, which is 256 KiB as base64url. */
export const MAX_SEALED_VAULT_BYTES = 192 * 1024;

/** An empty vault at revision 0 (nothing stored yet). */
export function emptyVault(): Vault {
  return { version: VERSION, revision: 0, families: {} };
}

function assertRevision(revision: unknown, name: string): asserts revision is number {
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) throw new TypeError(`${name} must be a non-negative safe integer`);
}

function assertAccountId(accountId: unknown): asserts accountId is string {
  if (typeof accountId !== 'string' || accountId.length === 0 || accountId.length > MAX_ID_BYTES) throw new TypeError(`accountId must be a string of 1 to ${MAX_ID_BYTES} characters`);
}

/** Canonical bytes of a vault record; families in id order, so one record has one encoding. */
export function encodeVault(vault: Vault): Uint8Array {
  if (typeof vault !== 'object' || vault === null || vault.version !== VERSION) throw new TypeError('vault must be a version 1 vault');
  assertRevision(vault.revision, 'vault.revision');
  const ids = Object.keys(vault.families).sort();
  if (ids.length > MAX_FAMILIES) throw new TypeError(`vault.families holds more than ${MAX_FAMILIES} families`);
  const w = new CanonicalWriter().u8(VERSION).u64(vault.revision).u32(ids.length);
  for (const familyId of ids) {
    const family = vault.families[familyId]!;
    assertBytes(family.anchor, `vault.families[${familyId}].anchor`);
    if (family.anchor.length > MAX_ANCHOR_BYTES) throw new TypeError(`vault.families[${familyId}].anchor is too long`);
    w.string(familyId).bytes(family.anchor);
    if (family.joinedVia === undefined) w.u8(0);
    else w.u8(1).string(family.joinedVia);
  }
  return w.finish();
}

/**
 * Parses `encodeVault` output. Every anchor must decode as a roster entry of the family it is filed
 * under, ids must be strictly increasing, and nothing may trail: else `vault/malformed`.
 */
export function decodeVault(bytes: Uint8Array): CryptoResult<Vault> {
  assertBytes(bytes, 'bytes');
  try {
    const r = new CanonicalReader(bytes);
    const version = r.u8();
    if (version !== VERSION) return fail('vault/unsupported-version');
    const revision = r.u64();
    const count = r.u32();
    if (count > MAX_FAMILIES) return fail('vault/malformed');
    const families: Record<string, VaultFamily> = {};
    let previous: string | undefined;
    for (let i = 0; i < count; i++) {
      const familyId = r.string(MAX_ID_BYTES);
      if (previous !== undefined && !(familyId > previous)) return fail('vault/malformed');
      previous = familyId;
      const anchor = r.bytes(MAX_ANCHOR_BYTES);
      const entry = decodeRosterEntry(anchor);
      if (!entry.ok || entry.value.familyId !== familyId) return fail('vault/malformed');
      const hasJoinedVia = r.u8();
      if (hasJoinedVia > 1) return fail('vault/malformed');
      const family: VaultFamily = { anchor };
      if (hasJoinedVia === 1) family.joinedVia = r.string(MAX_JOINED_VIA_BYTES);
      families[familyId] = family;
    }
    r.end();
    return ok({ version: VERSION, revision, families });
  } catch (error) {
    if (error instanceof CanonicalError) return fail('vault/malformed');
    throw error;
  }
}

/** The vault key of an identity: HKDF-SHA-256 of its exported secret, label "burrow/vault/v1". Needs an extractable identity. */
export async function deriveVaultKey(identity: Identity): Promise<Uint8Array> {
  const secret = await exportIdentitySecret(identity);
  try {
    return await deriveKey(secret, LABEL);
  } finally {
    secret.fill(0);
  }
}

function vaultAad(accountId: string, revision: number): Uint8Array {
  return labelled(LABEL, new CanonicalWriter().string(accountId).u64(revision).finish());
}

/** Seals a vault record for `accountId` at `vault.revision`. Throws a TypeError if it outgrows `MAX_SEALED_VAULT_BYTES`. */
export async function sealVault(options: { identity: Identity; accountId: string; vault: Vault }): Promise<Uint8Array> {
  const { identity, accountId, vault } = options;
  assertAccountId(accountId);
  const plaintext = encodeVault(vault);
  if (plaintext.length + AEAD_OVERHEAD > MAX_SEALED_VAULT_BYTES) throw new TypeError('vault is too large to store');
  const key = await deriveVaultKey(identity);
  try {
    return await aeadSeal(key, plaintext, vaultAad(accountId, vault.revision));
  } finally {
    key.fill(0);
  }
}

/**
 * Opens a vault stored for `accountId` at `revision` (the revision the server filed it under).
 * Any changed byte, another account, or another revision gives `vault/decrypt-failed`; a record
 * that opens but does not parse gives `vault/malformed`.
 */
export async function openVault(options: { identity: Identity; accountId: string; revision: number; sealed: Uint8Array }): Promise<CryptoResult<Vault>> {
  const { identity, accountId, revision, sealed } = options;
  assertAccountId(accountId);
  assertRevision(revision, 'revision');
  assertBytes(sealed, 'sealed');
  if (sealed.length > MAX_SEALED_VAULT_BYTES) return fail('vault/malformed');
  const key = await deriveVaultKey(identity);
  let opened: CryptoResult<Uint8Array>;
  try {
    opened = await aeadOpen(key, sealed, vaultAad(accountId, revision));
  } finally {
    key.fill(0);
  }
  if (!opened.ok) return fail(opened.code === 'aead/decrypt-failed' ? 'vault/decrypt-failed' : 'vault/malformed');
  const decoded = decodeVault(opened.value);
  opened.value.fill(0);
  if (!decoded.ok) return decoded;
  if (decoded.value.revision !== revision) return fail('vault/malformed');
  return decoded;
}
