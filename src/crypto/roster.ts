/**
 * The family roster: an append-only chain of signed entries saying who belongs to a family
 * (members and toys, with their public keys) and how its toys behave (settings).
 *
 * Epoch 0 is signed by its creator, who must be a guardian in it; every later entry is signed by a
 * guardian of the previous entry and names the previous entry's hash, so the server, which stores
 * the chain, can neither add a member or toy nor reorder, drop or rewrite entries without a
 * client that holds a trust anchor noticing. Each entry (version 6) also commits to the key of
 * every key scope it has (key-scopes.ts: the family-wide scope and one per child; scope-key.ts), so
 * the server cannot hand anyone a key of its own choosing, and says which generation of each scope's
 * key is current: a scope that loses a holder must start a new generation at this entry, one that
 * does not keeps the generation and commitment of the entry before (`verifyRoster` checks both).
 * It carries its signer's clock (`createdAt`) and, when it removes someone, the digests of the
 * messages they sent that stay in the family's history (`kept`, see envelope.ts
 * `keptMessageDigest`). Its quiet hours are sealed once under each scope's key (sealed-settings.ts),
 * so every member and every toy reads them and the server, which stores the entry, reads the
 * retention and volume limit but not a home's time zone and bedtime.
 */
import { assertBytes, bytesEqual, concatBytes } from './bytes.js';
import { CanonicalError, CanonicalReader, CanonicalWriter, labelled } from './canonical.js';
import { assertIdentity, type Identity, type PublicIdentityKeys } from './identity.js';
import { childrenNamedBy, scopedContentsOf, scopesOf, scopesToRotate, wrapsForChange, type NeededWrap } from './key-scopes.js';
import { SCOPE_KEY_COMMITMENT_BYTES, scopeKeyCommitment, type ScopeKeyCommitment } from './scope-key.js';
import { fail, ok, type CryptoResult } from './result.js';
import { MAX_SEALED_QUIET_HOURS_BYTES, openQuietHours, sealQuietHours, type QuietHours } from './sealed-settings.js';
import { SIGNATURE_LABELS, signLabelled, verifyLabelled } from './signature.js';
import { sha256 } from './webcrypto.js';
import { XWING_PUBLIC_KEY_BYTES } from './xwing.js';

export type Role = 'guardian' | 'relative';

/** A person in the family. Guardians may message every child; a relative only `children`. */
export interface Member {
  accountId: string;
  role: Role;
  keys: PublicIdentityKeys;
  /** Child ids a relative may message (ignored for guardians, who may message all). */
  children?: string[];
  /** When true, a guardian must approve this relative's messages before a toy plays them. */
  needsApproval?: boolean;
}

/** A toy, bound to one child. */
export interface Toy {
  toyId: string;
  keys: PublicIdentityKeys;
  childId: string;
}

/**
 * Settings that change what a toy does, as a guardian sets them and the family reads them; signed
 * with the roster so the server cannot alter them. An entry carries them as `EntrySettings`, the
 * quiet hours sealed; `openEntrySettings` gives them back.
 */
export interface FamilySettings {
  /** Maximum playback volume, 0–100. */
  volumeLimit: number;
  /** Times ('HH:MM', 24 h) in an IANA time zone during which toys stay silent. */
  quietHours?: QuietHours;
  /** Days a message is kept, 1–365. */
  retentionDays: number;
  /** When true, a toy's reply also plays on its sibling toys (the other toys of its child); absent means false. */
  toyToToy?: boolean;
}

/**
 * The settings as a signed entry holds them: what the server enforces or checks in the clear, the
 * quiet hours sealed under each scope's key (sealed-settings.ts).
 */
export interface EntrySettings {
  volumeLimit: number;
  retentionDays: number;
  toyToToy?: boolean;
  /**
   * The quiet hours, when the family has any: one sealed copy per scope of the entry, in the order
   * of `scopeKeys`, each under that scope's key, so each holder opens the copy of a scope it holds.
   */
  sealedQuietHours?: Uint8Array[];
}

export interface RosterEntry {
  /** 6: the only version (one protocol version until 1.0); earlier versions no longer decode. */
  version: 6;
  familyId: string;
  epoch: number;
  /** When the signer made the entry, by the signer's clock (ms since 1970): e.g. when a toy was removed. */
  createdAt: number;
  /** SHA-256 hash (see `hashRosterEntry`) of the previous entry; 32 zero bytes at epoch 0. */
  previousHash: Uint8Array;
  /**
   * One per scope of the entry (`scopesOf`: the family-wide scope, then each child by id): the
   * current generation of its key and the commitment to that key (scope-key.ts), covered by the
   * signature. A client uses an unwrapped key only if it matches (`unwrapAndCheckScopeKey`).
   */
  scopeKeys: ScopeKeyCommitment[];
  members: Member[];
  toys: Toy[];
  /**
   * The family's children (ids, sorted, each once): each has a conversation and its key scope, and
   * every relative's `children` and every toy's child must be one of them. A guardian adds a child
   * here (a new entry) before anyone messages them, so the server cannot add or hide a child.
   */
  children: string[];
  settings: EntrySettings;
  /**
   * Digests (`keptMessageDigest`, 32 bytes each, strictly ascending) of the messages that members or
   * toys this entry removes sent before it: they stay in members' history. Empty in most entries.
   */
  kept: Uint8Array[];
  signerId: string;
  signature: Uint8Array;
}

/** A roster whose every entry has been verified from a trust anchor. */
export interface VerifiedRoster {
  readonly familyId: string;
  readonly entries: readonly RosterEntry[];
  readonly head: RosterEntry;
  readonly headHash: Uint8Array;
  /** The head's epoch, members, toys and settings. */
  readonly epoch: number;
  readonly members: readonly Member[];
  readonly toys: readonly Toy[];
  /** The head's settings as signed: open the quiet hours with `openEntrySettings`. */
  readonly settings: EntrySettings;
  entryAt(epoch: number): RosterEntry | undefined;
  memberAt(epoch: number, accountId: string): Member | undefined;
  toyAt(epoch: number, toyId: string): Toy | undefined;
}

/**
 * Where a caller's trust starts: the genesis hash it was given out of band, the hash of a head a
 * guardian vouched for (bound into a pairing confirmation or an invite proof), or an entry it
 * verified before.
 */
export type RosterAnchor = { genesisHash: Uint8Array } | { headHash: Uint8Array } | { trustedEntry: RosterEntry };

/** Entries that commit to one key per scope, carry a signed time and kept-message digests, and seal quiet hours per scope. */
const VERSION = 6;
const HASH_LABEL = 'burrow/roster-hash/v1';
const ZERO_HASH = new Uint8Array(32);
const MAX_ID_BYTES = 128;
const MAX_MEMBERS = 256;
const MAX_TOYS = 64;
const MAX_CHILDREN = 64;
/** The family-wide scope and one per child: every child a relative or toy of the entry names. */
const MAX_SCOPES = 1 + MAX_CHILDREN + MAX_TOYS;
/** Most kept-message digests one entry carries (128 KiB). */
export const MAX_KEPT_MESSAGES = 4096;
const KEPT_DIGEST_BYTES = 32;
const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

/** The participant who signs an entry. */
export interface RosterSigner {
  accountId: string;
  identity: Identity;
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && new TextEncoder().encode(value).length <= MAX_ID_BYTES;
}

function isKeys(keys: unknown): keys is PublicIdentityKeys {
  if (typeof keys !== 'object' || keys === null) return false;
  const k = keys as Partial<PublicIdentityKeys>;
  if (k.kemKey !== undefined && !(k.kemKey instanceof Uint8Array && k.kemKey.length === XWING_PUBLIC_KEY_BYTES)) return false;
  return k.signingKey instanceof Uint8Array && k.signingKey.length === 32 && k.agreementKey instanceof Uint8Array && k.agreementKey.length === 32;
}

function isTimeZone(value: unknown): boolean {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/** Why the contents of an entry are not well formed, or undefined when they are. */
function contentProblem(members: readonly Member[], toys: readonly Toy[], children: readonly string[], settings: EntrySettings): string | undefined {
  if (!Array.isArray(members) || members.length === 0 || members.length > MAX_MEMBERS) return 'members';
  if (!Array.isArray(toys) || toys.length > MAX_TOYS) return 'toys';
  const ids = new Set<string>();
  for (const m of members) {
    if (typeof m !== 'object' || m === null || !isId(m.accountId) || ids.has(m.accountId)) return 'member id';
    ids.add(m.accountId);
    if (m.role !== 'guardian' && m.role !== 'relative') return 'member role';
    if (!isKeys(m.keys)) return 'member keys';
    const allowed = m.children ?? [];
    if (!Array.isArray(allowed) || allowed.length > MAX_CHILDREN || !allowed.every(isId) || new Set(allowed).size !== allowed.length) return 'member children';
    if (m.needsApproval !== undefined && typeof m.needsApproval !== 'boolean') return 'member needsApproval';
  }
  if (!members.some((m) => m.role === 'guardian')) return 'no guardian';
  for (const t of toys) {
    if (typeof t !== 'object' || t === null || !isId(t.toyId) || ids.has(t.toyId)) return 'toy id';
    ids.add(t.toyId);
    if (!isKeys(t.keys) || !isId(t.childId)) return 'toy';
  }
  if (!Array.isArray(children) || children.length > MAX_CHILDREN || !children.every(isId)) return 'children';
  for (let i = 1; i < children.length; i++) if (children[i - 1]! >= children[i]!) return 'children order';
  const known = new Set(children);
  if (!childrenNamedBy(members, toys).every((c) => known.has(c))) return 'a relative or toy names a child the entry does not list';
  if (typeof settings !== 'object' || settings === null) return 'settings';
  if (!Number.isInteger(settings.volumeLimit) || settings.volumeLimit < 0 || settings.volumeLimit > 100) return 'settings.volumeLimit';
  if (!Number.isInteger(settings.retentionDays) || settings.retentionDays < 1 || settings.retentionDays > 365) return 'settings.retentionDays';
  const sealed = settings.sealedQuietHours;
  if (sealed !== undefined && !(Array.isArray(sealed) && sealed.length > 0 && sealed.every((s) => s instanceof Uint8Array && s.length > 0 && s.length <= MAX_SEALED_QUIET_HOURS_BYTES))) return 'settings.sealedQuietHours';
  if (settings.toyToToy !== undefined && typeof settings.toyToToy !== 'boolean') return 'settings.toyToToy';
  return undefined;
}

/** Why quiet hours as a guardian sets them (or as they open) are not well formed, or undefined. */
function quietHoursProblem(q: QuietHours | undefined): string | undefined {
  if (q === undefined) return undefined;
  return typeof q !== 'object' || q === null || !TIME.test(q.start) || !TIME.test(q.end) || !isTimeZone(q.timeZone) ? 'settings.quietHours' : undefined;
}

/** Kept digests must be 32-byte values in strictly ascending byte order (so one set has one encoding). */
function keptProblem(kept: unknown): boolean {
  if (!Array.isArray(kept) || kept.length > MAX_KEPT_MESSAGES) return true;
  for (let i = 0; i < kept.length; i++) {
    const digest: unknown = kept[i];
    if (!(digest instanceof Uint8Array) || digest.length !== KEPT_DIGEST_BYTES) return true;
    if (i > 0 && compareBytes(kept[i - 1] as Uint8Array, digest) >= 0) return true;
  }
  return false;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Whether `entry` keeps the message with this `keptMessageDigest` in the family's history. */
export function entryKeeps(entry: RosterEntry, digest: Uint8Array): boolean {
  let low = 0;
  let high = entry.kept.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const order = compareBytes(entry.kept[mid]!, digest);
    if (order === 0) return true;
    if (order < 0) low = mid + 1;
    else high = mid - 1;
  }
  return false;
}

function entryProblem(entry: RosterEntry): string | undefined {
  if (typeof entry !== 'object' || entry === null) return 'entry';
  if (entry.version !== VERSION) return 'version';
  if (!isId(entry.familyId)) return 'familyId';
  if (!Number.isSafeInteger(entry.epoch) || entry.epoch < 0) return 'epoch';
  if (!Number.isSafeInteger(entry.createdAt) || entry.createdAt < 0) return 'createdAt';
  if (keptProblem(entry.kept)) return 'kept';
  if (!(entry.previousHash instanceof Uint8Array) || entry.previousHash.length !== 32) return 'previousHash';
  if (!isId(entry.signerId)) return 'signerId';
  if (!(entry.signature instanceof Uint8Array) || entry.signature.length !== 64) return 'signature';
  return contentProblem(entry.members, entry.toys, entry.children, entry.settings) ?? scopeKeysProblem(entry);
}

/** The scope list must be the entry's scopes in canonical order, each with a generation no later than the entry. */
function scopeKeysProblem(entry: RosterEntry): string | undefined {
  if (!Array.isArray(entry.scopeKeys)) return 'scopeKeys';
  const scopes = scopesOf(scopedContentsOf(entry));
  if (entry.scopeKeys.length !== scopes.length) return 'scopeKeys';
  for (let i = 0; i < scopes.length; i++) {
    const k = entry.scopeKeys[i];
    if (typeof k !== 'object' || k === null || k.scope !== scopes[i]) return 'scopeKeys';
    if (!Number.isSafeInteger(k.generation) || k.generation < 0 || k.generation > entry.epoch) return 'scopeKeys generation';
    if (!(k.commitment instanceof Uint8Array) || k.commitment.length !== SCOPE_KEY_COMMITMENT_BYTES) return 'scopeKeys commitment';
  }
  const sealed = entry.settings.sealedQuietHours;
  if (sealed !== undefined && sealed.length !== scopes.length) return 'settings.sealedQuietHours';
  return undefined;
}

/** The signed generation and commitment of `scope` in `entry`, or undefined when the entry has no such scope. */
export function scopeKeyOf(entry: RosterEntry, scope: string): ScopeKeyCommitment | undefined {
  return entry.scopeKeys.find((k) => k.scope === scope);
}

/**
 * The wraps `entry` needs after `previous` (undefined for a genesis), read from the two signed
 * entries alone: a scope whose generation the entry changed (or that is new) goes to every holder,
 * a kept one only to its new holders (`wrapsForChange`). What the client makes, the server
 * insists on and the tests build, from the one rule.
 */
export function wrapsNeededBy(previous: RosterEntry | undefined, entry: RosterEntry): NeededWrap[] {
  const plan = entry.scopeKeys.map((k) => ({ scope: k.scope, generation: k.generation, fresh: previous === undefined || scopeKeyOf(previous, k.scope)?.generation !== k.generation }));
  return wrapsForChange(previous === undefined ? undefined : scopedContentsOf(previous), scopedContentsOf(entry), plan);
}

/** The canonical bytes an entry's signature covers (everything but the signature). */
export function encodeRosterEntryBody(entry: Omit<RosterEntry, 'signature'>): Uint8Array {
  const w = new CanonicalWriter().u8(entry.version).string(entry.familyId).u64(entry.epoch).u64(entry.createdAt).fixed(entry.previousHash);
  w.u32(entry.scopeKeys.length);
  for (const k of entry.scopeKeys) w.string(k.scope).u64(k.generation).fixed(k.commitment);
  // After the X25519 key: 0 (no X-Wing key) or 1 ‖ the 1216-byte X-Wing key.
  const writeKeys = (keys: PublicIdentityKeys) => {
    w.fixed(keys.signingKey).fixed(keys.agreementKey);
    if (keys.kemKey === undefined) w.u8(0);
    else w.u8(1).fixed(keys.kemKey);
  };
  w.u32(entry.members.length);
  for (const m of entry.members) {
    w.string(m.accountId).u8(m.role === 'guardian' ? 1 : 2);
    writeKeys(m.keys);
    w.strings(m.children ?? []).u8(m.needsApproval ? 1 : 0);
  }
  w.u32(entry.toys.length);
  for (const t of entry.toys) {
    w.string(t.toyId);
    writeKeys(t.keys);
    w.string(t.childId);
  }
  w.strings(entry.children);
  const s = entry.settings;
  w.u8(s.volumeLimit).u16(s.retentionDays);
  const sealed = s.sealedQuietHours ?? [];
  w.u32(sealed.length);
  for (const copy of sealed) w.bytes(copy);
  w.u8(s.toyToToy === true ? 1 : 0);
  w.u32(entry.kept.length);
  for (const digest of entry.kept) w.fixed(digest);
  return w.string(entry.signerId).finish();
}

/** Serialises a signed entry: canonical body ‖ u32 length ‖ signature. `decodeRosterEntry` reverses it. */
export function encodeRosterEntry(entry: RosterEntry): Uint8Array {
  return concatBytes(encodeRosterEntryBody(entry), new CanonicalWriter().bytes(entry.signature).finish());
}

function readKeys(r: CanonicalReader): PublicIdentityKeys {
  const keys: PublicIdentityKeys = { signingKey: r.fixed(32), agreementKey: r.fixed(32) };
  const hasKem = r.u8();
  if (hasKem > 1) throw new CanonicalError('bad X-Wing key flag');
  if (hasKem === 1) keys.kemKey = r.fixed(XWING_PUBLIC_KEY_BYTES);
  return keys;
}

/** Parses `encodeRosterEntry` output (e.g. from the server); does not verify it — `verifyRoster` does. */
export function decodeRosterEntry(bytes: Uint8Array): CryptoResult<RosterEntry> {
  assertBytes(bytes, 'bytes');
  try {
    const r = new CanonicalReader(bytes);
    const version = r.u8();
    if (version !== VERSION) return fail('roster/malformed');
    const familyId = r.string(MAX_ID_BYTES);
    const epoch = r.u64();
    const createdAt = r.u64();
    const previousHash = r.fixed(32);
    const scopeCount = r.u32();
    if (scopeCount > MAX_SCOPES) return fail('roster/malformed');
    const scopeKeys: ScopeKeyCommitment[] = [];
    for (let i = 0; i < scopeCount; i++) scopeKeys.push({ scope: r.string(MAX_ID_BYTES), generation: r.u64(), commitment: r.fixed(SCOPE_KEY_COMMITMENT_BYTES) });
    const memberCount = r.u32();
    if (memberCount > MAX_MEMBERS) return fail('roster/malformed');
    const members: Member[] = [];
    for (let i = 0; i < memberCount; i++) {
      const accountId = r.string(MAX_ID_BYTES);
      const roleByte = r.u8();
      if (roleByte !== 1 && roleByte !== 2) return fail('roster/malformed');
      const keys = readKeys(r);
      const children = r.strings(MAX_CHILDREN, MAX_ID_BYTES);
      const approvalByte = r.u8();
      if (approvalByte > 1) return fail('roster/malformed');
      const member: Member = { accountId, role: roleByte === 1 ? 'guardian' : 'relative', keys, children };
      if (approvalByte === 1) member.needsApproval = true;
      members.push(member);
    }
    const toyCount = r.u32();
    if (toyCount > MAX_TOYS) return fail('roster/malformed');
    const toys: Toy[] = [];
    for (let i = 0; i < toyCount; i++) toys.push({ toyId: r.string(MAX_ID_BYTES), keys: readKeys(r), childId: r.string(MAX_ID_BYTES) });
    const children = r.strings(MAX_CHILDREN, MAX_ID_BYTES);
    const settings: EntrySettings = { volumeLimit: r.u8(), retentionDays: r.u16() };
    const sealedCount = r.u32();
    if (sealedCount > MAX_SCOPES) return fail('roster/malformed');
    if (sealedCount > 0) {
      settings.sealedQuietHours = [];
      for (let i = 0; i < sealedCount; i++) settings.sealedQuietHours.push(r.bytes(MAX_SEALED_QUIET_HOURS_BYTES));
    }
    const toyToToy = r.u8();
    if (toyToToy > 1) return fail('roster/malformed');
    if (toyToToy === 1) settings.toyToToy = true;
    const keptCount = r.u32();
    if (keptCount > MAX_KEPT_MESSAGES) return fail('roster/malformed');
    const kept: Uint8Array[] = [];
    for (let i = 0; i < keptCount; i++) kept.push(r.fixed(KEPT_DIGEST_BYTES));
    const signerId = r.string(MAX_ID_BYTES);
    const signature = r.bytes(64);
    r.end();
    const entry: RosterEntry = { version: VERSION, familyId, epoch, createdAt, previousHash, scopeKeys, members, toys, children, settings, kept, signerId, signature };
    if (entryProblem(entry) !== undefined) return fail('roster/malformed');
    // A non-canonical encoding (e.g. a guardian with children) would hash differently from its body.
    if (!bytesEqual(encodeRosterEntry(entry), bytes)) return fail('roster/malformed');
    return ok(entry);
  } catch (error) {
    if (error instanceof CanonicalError || error instanceof TypeError) return fail('roster/malformed');
    throw error;
  }
}

/** SHA-256(label ‖ encoded entry including its signature): what the next entry's `previousHash` holds. */
export async function hashRosterEntry(entry: RosterEntry): Promise<Uint8Array> {
  return sha256(labelled(HASH_LABEL, encodeRosterEntry(entry)));
}

function copyKeys(keys: PublicIdentityKeys): PublicIdentityKeys {
  const out: PublicIdentityKeys = { signingKey: keys.signingKey.slice(), agreementKey: keys.agreementKey.slice() };
  if (keys.kemKey !== undefined) out.kemKey = keys.kemKey.slice();
  return out;
}

function normalise(members: readonly Member[], toys: readonly Toy[], children: readonly string[], settings: EntrySettings): Pick<RosterEntry, 'members' | 'toys' | 'children' | 'settings'> {
  return {
    members: members.map((m) => {
      const out: Member = { accountId: m.accountId, role: m.role, keys: copyKeys(m.keys), children: m.role === 'guardian' ? [] : [...(m.children ?? [])] };
      if (m.needsApproval) out.needsApproval = true;
      return out;
    }),
    toys: toys.map((t) => ({ toyId: t.toyId, keys: copyKeys(t.keys), childId: t.childId })),
    children: [...new Set(children)].sort(),
    settings: normaliseSettings(settings),
  };
}

function normaliseSettings(settings: EntrySettings): EntrySettings {
  const out: EntrySettings = { volumeLimit: settings.volumeLimit, retentionDays: settings.retentionDays };
  if (settings.sealedQuietHours !== undefined) out.sealedQuietHours = [...settings.sealedQuietHours];
  // Absent means false, so decoding gives back what was signed; a non-boolean is kept for the well-formedness check to refuse.
  if (settings.toyToToy !== undefined && settings.toyToToy !== false) out.toyToToy = settings.toyToToy;
  return out;
}

/** One scope's key as the signer of an entry holds it: the commitment is made from it when signing. */
export interface ScopeKey {
  scope: string;
  generation: number;
  key: Uint8Array;
}

/**
 * The contents of an entry to sign, with the keys of its scopes in place of the commitments to
 * them (one per scope of the entry, any order) and the settings in the clear (the quiet hours are
 * sealed under each scope's key when signing); `createdAt` defaults to the signer's clock now,
 * `kept` to none (any order: it is sorted).
 */
export type RosterEntryBody = Omit<RosterEntry, 'signature' | 'version' | 'scopeKeys' | 'createdAt' | 'kept' | 'settings' | 'children'> & {
  settings: FamilySettings;
  /** Any order; default: the children its relatives and toys name. */
  children?: readonly string[];
  scopeKeys: readonly ScopeKey[];
  createdAt?: number;
  kept?: readonly Uint8Array[];
};

/** Kept digests in their canonical order, duplicates dropped. */
function normaliseKept(kept: readonly Uint8Array[] | undefined): Uint8Array[] {
  const sorted = [...(kept ?? [])].map((d) => {
    assertBytes(d, 'kept[]', KEPT_DIGEST_BYTES);
    return d.slice();
  }).sort(compareBytes);
  return sorted.filter((d, i) => i === 0 || compareBytes(sorted[i - 1]!, d) !== 0);
}

/** The keys of `scopes`, in that order, from `given`: each scope's key exactly once, nothing else. */
function keysForScopes(scopes: readonly string[], given: readonly ScopeKey[]): ScopeKey[] {
  if (!Array.isArray(given) || given.length !== scopes.length) throw new TypeError(`roster entry needs one key for each of its ${scopes.length} scopes`);
  return scopes.map((scope) => {
    const found = given.filter((k) => k?.scope === scope);
    if (found.length !== 1) throw new TypeError(`roster entry needs exactly one key for scope '${scope}'`);
    const key = found[0]!;
    assertBytes(key.key, `key of scope '${scope}'`, 32);
    return key;
  });
}

/**
 * Signs an entry body as `signer`, committing it to the keys of its scopes. Low level: it checks
 * well-formedness but not authority or the rotation rule — use `createGenesisEntry` /
 * `appendRosterEntry`, which do. Exposed for tests of forged entries.
 */
export async function signRosterEntry(body: RosterEntryBody, signer: Identity): Promise<RosterEntry> {
  assertIdentity(signer, 'signer');
  const { familyId, epoch, previousHash, signerId } = body;
  if (!isId(familyId)) throw new TypeError('roster entry is not well formed: familyId');
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new TypeError('roster entry is not well formed: epoch');
  const children = [...new Set(body.children ?? childrenNamedBy(body.members, body.toys))].sort();
  const contentsProblem = contentProblem(body.members, body.toys, children, { volumeLimit: body.settings?.volumeLimit, retentionDays: body.settings?.retentionDays } as EntrySettings);
  if (contentsProblem !== undefined) throw new TypeError(`roster entry is not well formed: ${contentsProblem}`);
  const keys = keysForScopes(scopesOf(scopedContentsOf({ members: body.members, toys: body.toys, children })), body.scopeKeys);
  const scopeKeys: ScopeKeyCommitment[] = [];
  for (const { scope, generation, key } of keys) {
    if (!Number.isSafeInteger(generation) || generation < 0 || generation > epoch) throw new TypeError(`roster entry is not well formed: generation of scope '${scope}'`);
    scopeKeys.push({ scope, generation, commitment: await scopeKeyCommitment({ familyId, scope, generation, key }) });
  }
  const { quietHours, ...clear } = body.settings ?? ({} as FamilySettings);
  const quietProblem = quietHoursProblem(quietHours);
  if (quietProblem !== undefined) throw new TypeError(`roster entry is not well formed: ${quietProblem}`);
  const settings: EntrySettings = { ...clear };
  if (quietHours !== undefined) {
    settings.sealedQuietHours = [];
    for (const { scope, key } of keys) settings.sealedQuietHours.push(await sealQuietHours({ familyId, epoch, scope, key, quietHours }));
  }
  const contents = normalise(body.members, body.toys, children, settings);
  const createdAt = body.createdAt ?? Date.now();
  const kept = normaliseKept(body.kept);
  const unsigned: Omit<RosterEntry, 'signature'> = { version: VERSION, familyId, epoch, createdAt, previousHash, scopeKeys, ...contents, kept, signerId };
  const problem = entryProblem({ ...unsigned, signature: new Uint8Array(64) });
  if (problem !== undefined) throw new TypeError(`roster entry is not well formed: ${problem}`);
  const signature = await signLabelled(signer, SIGNATURE_LABELS.rosterEntry, encodeRosterEntryBody(unsigned));
  return { ...unsigned, signature };
}

/**
 * Creates epoch 0 of a family, with the creator as its first member (a guardian), signed by the
 * creator and committed to `scopeKeys`, the first generation (0) of each of its scopes' keys.
 */
export async function createGenesisEntry(options: { familyId: string; creator: RosterSigner; settings: FamilySettings; scopeKeys: readonly ScopeKey[]; members?: Member[]; toys?: Toy[]; children?: readonly string[]; createdAt?: number }): Promise<RosterEntry> {
  const { familyId, creator, settings, scopeKeys } = options;
  if (!isId(familyId)) throw new TypeError('familyId must be a non-empty string of at most 128 bytes');
  if (!isId(creator?.accountId)) throw new TypeError('creator.accountId must be a non-empty string of at most 128 bytes');
  assertIdentity(creator.identity, 'creator.identity');
  const others = (options.members ?? []).filter((m) => m.accountId !== creator.accountId);
  const members: Member[] = [{ accountId: creator.accountId, role: 'guardian', keys: creator.identity.publicKeys }, ...others];
  return signRosterEntry({ familyId, epoch: 0, previousHash: ZERO_HASH, members, toys: options.toys ?? [], ...(options.children === undefined ? {} : { children: options.children }), settings, signerId: creator.accountId, scopeKeys, ...(options.createdAt === undefined ? {} : { createdAt: options.createdAt }) }, creator.identity);
}

/**
 * Appends the next entry (epoch + 1, linked to the hash of the last entry) with the given contents,
 * committed to `scopeKeys` (key-scopes.ts `planGenerations` says which scopes need a fresh key),
 * signed by `signer`, who must be a guardian of the last entry with matching keys. `kept`: digests
 * of messages from those it removes that stay in history; `createdAt`: the signer's clock (default
 * now). An entry that breaks the rotation rule (`rotationProblem`) is refused here as it would be
 * by every verifier.
 */
export async function appendRosterEntry(
  chain: readonly RosterEntry[],
  options: { signer: RosterSigner; members: Member[]; toys: Toy[]; children?: readonly string[]; settings: FamilySettings; scopeKeys: readonly ScopeKey[]; kept?: readonly Uint8Array[]; createdAt?: number },
): Promise<RosterEntry> {
  if (!Array.isArray(chain) || chain.length === 0) throw new TypeError('chain must be a non-empty array of roster entries');
  const last: RosterEntry = chain[chain.length - 1]!;
  const { signer } = options;
  assertIdentity(signer?.identity, 'signer.identity');
  const guardian = last.members.find((m) => m.accountId === signer.accountId);
  if (!guardian || guardian.role !== 'guardian') throw new TypeError('signer must be a guardian of the previous entry');
  if (!bytesEqual(guardian.keys.signingKey, signer.identity.publicKeys.signingKey)) throw new TypeError('signer.identity does not match the roster keys of signer.accountId');
  return signRosterEntry(
    {
      familyId: last.familyId,
      epoch: last.epoch + 1,
      previousHash: await hashRosterEntry(last),
      members: options.members,
      toys: options.toys,
      children: nextChildren(last, options),
      settings: options.settings,
      signerId: signer.accountId,
      scopeKeys: options.scopeKeys,
      ...(options.kept === undefined ? {} : { kept: options.kept }),
      ...(options.createdAt === undefined ? {} : { createdAt: options.createdAt }),
    },
    signer.identity,
  ).then((entry) => {
    if (rotationProblem(last, entry)) throw new TypeError('roster entry keeps the key of a scope that loses a holder: give that scope a fresh key of this epoch');
    return entry;
  });
}

/**
 * The children of the entry after `last`: `children` when given, else those `last` had and any a
 * relative or toy of the new entry names (a child stays until a guardian drops them explicitly).
 */
export function nextChildren(last: RosterEntry, next: { members: readonly Member[]; toys: readonly Toy[]; children?: readonly string[] | undefined }): string[] {
  return [...new Set(next.children ?? [...last.children, ...childrenNamedBy(next.members, next.toys)])].sort();
}

/**
 * Whether `entry` breaks the rotation rule against `previous`: each of its scopes either starts a
 * new generation at this very epoch, or keeps the generation and commitment `previous` had for it
 * — and a scope that loses a holder (key-scopes.ts `scopesToRotate`) must start a new one, so
 * nobody who left a conversation keeps a key that still opens it.
 */
export function rotationProblem(previous: RosterEntry, entry: RosterEntry): boolean {
  const rotate = new Set(scopesToRotate(scopedContentsOf(previous), scopedContentsOf(entry)));
  return entry.scopeKeys.some((k) => {
    if (k.generation === entry.epoch) return false;
    const before = scopeKeyOf(previous, k.scope);
    return rotate.has(k.scope) || before === undefined || before.generation !== k.generation || !bytesEqual(before.commitment, k.commitment);
  });
}

/**
 * An entry's settings with its quiet hours opened from the copy sealed under `scope`'s key, `key`
 * (a member's or toy's, checked against the entry's commitment when unwrapped). A sealed value
 * that does not open, or opens to hours or a zone that are not well formed, is
 * `roster/settings-unreadable`: only a guardian could have signed it, and the caller decides.
 */
export async function openEntrySettings(entry: RosterEntry, scope: string, key: Uint8Array): Promise<CryptoResult<FamilySettings>> {
  const { sealedQuietHours, ...clear } = entry.settings;
  if (sealedQuietHours === undefined) return ok({ ...clear });
  const index = entry.scopeKeys.findIndex((k) => k.scope === scope);
  if (index < 0) return fail('roster/settings-unreadable');
  const opened = await openQuietHours({ familyId: entry.familyId, epoch: entry.epoch, scope, key, sealed: sealedQuietHours[index]! });
  if (!opened.ok) return opened;
  if (quietHoursProblem(opened.value) !== undefined) return fail('roster/settings-unreadable');
  return ok({ ...clear, quietHours: opened.value });
}

async function checkSignature(entry: RosterEntry, authority: RosterEntry): Promise<'roster/signer-not-guardian' | 'roster/bad-signature' | undefined> {
  const signer = authority.members.find((m) => m.accountId === entry.signerId);
  if (!signer || signer.role !== 'guardian') return 'roster/signer-not-guardian';
  const valid = await verifyLabelled({ publicKey: signer.keys.signingKey, label: SIGNATURE_LABELS.rosterEntry, message: encodeRosterEntryBody(entry), signature: entry.signature });
  return valid ? undefined : 'roster/bad-signature';
}

const verifiedRosters = new WeakSet<object>();

/** True only for rosters returned by `verifyRoster` (a type alone proves nothing at run time). */
export function isVerifiedRoster(value: unknown): value is VerifiedRoster {
  return typeof value === 'object' && value !== null && verifiedRosters.has(value);
}

function makeVerified(entries: RosterEntry[], headHash: Uint8Array): VerifiedRoster {
  const head = entries[entries.length - 1]!;
  const first = entries[0]!.epoch;
  const entryAt = (epoch: number): RosterEntry | undefined => (Number.isInteger(epoch) ? entries[epoch - first] : undefined);
  const roster: VerifiedRoster = Object.freeze({
    familyId: head.familyId,
    entries: Object.freeze([...entries]),
    head,
    headHash,
    epoch: head.epoch,
    members: head.members,
    toys: head.toys,
    settings: head.settings,
    entryAt,
    memberAt: (epoch: number, accountId: string) => entryAt(epoch)?.members.find((m: Member) => m.accountId === accountId),
    toyAt: (epoch: number, toyId: string) => entryAt(epoch)?.toys.find((t: Toy) => t.toyId === toyId),
  });
  verifiedRosters.add(roster);
  return roster;
}

/**
 * Verifies a roster chain from the caller's trust anchor. The chain must start at epoch 0 (or at the
 * trusted entry itself), run 0, 1, 2… without gaps, keep one family id, link each entry to the hash
 * of the one before, and carry on every entry a valid signature by a guardian of the previous entry
 * (epoch 0: by a guardian listed in it). With `{ trustedEntry }` the chain must contain that entry,
 * so a server cannot roll a client back to an older roster. A chain may start at the trusted entry
 * itself, whose signature then cannot be checked: `trustedEntry` must be an entry this caller
 * verified earlier (its stored head), never one taken from the chain being verified. `{ headHash }`
 * works the same with the entry named by its hash: the chain must hold an entry with that hash
 * (else `roster/not-anchored`), so a fork that leaves out the vouched-for head never verifies;
 * entries before it are fixed by its hash chain, entries after it are verified as usual.
 */
export async function verifyRoster(input: readonly RosterEntry[], anchor: RosterAnchor): Promise<CryptoResult<VerifiedRoster>> {
  if (!Array.isArray(input) || input.length === 0) return fail('roster/empty');
  for (const entry of input) if (entryProblem(entry) !== undefined) return fail('roster/malformed');
  // Verify a private copy, so later changes to the caller's objects cannot alter what was verified.
  const chain: RosterEntry[] = structuredClone([...input]);
  const hashes: Uint8Array[] = [];
  for (const entry of chain) hashes.push(await hashRosterEntry(entry));

  let trustedIndex: number;
  if ('genesisHash' in anchor) {
    assertBytes(anchor.genesisHash, 'anchor.genesisHash', 32);
    trustedIndex = chain[0]!.epoch === 0 && bytesEqual(hashes[0]!, anchor.genesisHash) ? 0 : -1;
  } else if ('headHash' in anchor) {
    assertBytes(anchor.headHash, 'anchor.headHash', 32);
    trustedIndex = hashes.findIndex((h) => bytesEqual(h, anchor.headHash));
  } else {
    if (entryProblem(anchor.trustedEntry) !== undefined) throw new TypeError('anchor.trustedEntry must be a roster entry');
    const trustedHash = await hashRosterEntry(anchor.trustedEntry);
    trustedIndex = hashes.findIndex((h) => bytesEqual(h, trustedHash));
  }
  if (trustedIndex < 0) return fail('roster/not-anchored');

  const first = chain[0]!;
  // Only an entry the caller already trusts may begin a chain after epoch 0.
  if (first.epoch !== 0 && trustedIndex !== 0) return fail('roster/not-anchored');
  for (let i = 0; i < chain.length; i++) {
    const entry = chain[i]!;
    if (entry.familyId !== first.familyId) return fail('roster/family-mismatch');
    if (entry.epoch !== first.epoch + i) return fail('roster/epoch-gap');
    if (i === 0) {
      if (entry.epoch === 0) {
        if (!bytesEqual(entry.previousHash, ZERO_HASH)) return fail('roster/malformed');
        const problem = await checkSignature(entry, entry);
        if (problem) return fail(problem);
      }
      continue;
    }
    if (!bytesEqual(entry.previousHash, hashes[i - 1]!)) return fail('roster/broken-link');
    const problem = await checkSignature(entry, chain[i - 1]!);
    if (problem) return fail(problem);
    if (rotationProblem(chain[i - 1]!, entry)) return fail('roster/key-not-rotated');
  }
  return ok(makeVerified([...chain], hashes[hashes.length - 1]!));
}
