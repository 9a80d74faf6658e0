/**
 * Families from the client's side: create one (signing epoch 0), load and verify one (the roster
 * chain from this client's trust anchor, the scope keys wrapped to it, the sealed name and
 * children), and change its roster (admit joiners, remove members, change roles and settings),
 * each change a new epoch that gives a fresh key to every scope that loses a holder
 * (crypto/key-scopes.ts) and wraps keys only to those the entry lets hold them. The server stores and relays; every decision
 * about whom to trust is made here, from the chain.
 */
import type { Static } from '@sinclair/typebox';
import { bytesEqual, fromBase64Url, randomBytes, toBase64Url } from '../crypto/bytes.js';
import { FAMILY_SCOPE, planGenerations, scopedContentsOf } from '../crypto/key-scopes.js';
import { generateScopeKey, wrapScopeKey, type WrappedScopeKey } from '../crypto/scope-key.js';
import type { PublicIdentityKeys } from '../crypto/identity.js';
import { safetyCode, safetyCodeMatchesScan, type SafetyCode } from '../crypto/identity.js';
import { verifyJoinerInviteProof, type InviteTerms } from '../crypto/invite.js';
import { openProfile, profileScope, sealProfile } from '../crypto/profile.js';
import type { CryptoResult } from '../crypto/result.js';
import {
  appendRosterEntry,
  createGenesisEntry,
  decodeRosterEntry,
  hashRosterEntry,
  encodeRosterEntry,
  nextChildren,
  openEntrySettings,
  scopeKeyOf,
  verifyRoster,
  wrapsNeededBy,
  type ScopeKey,
  type FamilySettings,
  type Member,
  type RosterAnchor,
  type RosterEntry,
  type Toy,
  type VerifiedRoster,
} from '../crypto/roster.js';
import {
  FamilyCreated,
  FamilyList,
  FamilyView,
  GuardianInviteList,
  MemberProfileView,
  RosterAppended,
} from '../protocol/families.js';
import { decodePublicIdentity, samePublicKeys, type Me } from './account.js';
import { ApiError, type BurrowApi } from './api.js';
import { ClientError } from './client-error.js';
import { keptMessageDigests } from './kept-history.js';
import { acceptWraps, keyAt, scopeKeyId, wrapToWire, type ScopeKeys } from './key-ring.js';
import type { FamilyState, KeyStore } from './key-store.js';
import { reportRefusal } from './refusal-report.js';
import { recordAnchors, vaultAnchorOf } from './vault.js';

/** What every family call needs: the API client, who is acting, and where trust is kept. */
export interface ClientContext {
  api: BurrowApi;
  me: Me;
  store: KeyStore;
}

/** A child as a member sees them, opened. `name` is undefined when the profile did not open. */
export interface ChildProfile {
  childId: string;
  name: string | undefined;
  emoji: string | undefined;
  updatedAt: number;
}

/**
 * A member at the head as this client sees them: the display name from the member's own signed,
 * sealed profile. `name` is undefined when they set none, or when the stored record was refused
 * (`refused`): signed by someone else (a server moving another member's record here), not opening,
 * or `profile/stale` — older than one this device already opened for them (a server rolling a
 * name back).
 */
export interface MemberProfile {
  accountId: string;
  role: 'guardian' | 'relative';
  name: string | undefined;
  /** A small photo (JPEG, PNG or WebP, checked by its magic bytes), when they set one. */
  photo?: { type: MemberPhotoType; bytes: Uint8Array };
  refused?: string;
}

/** A family loaded and verified from this client's trust anchor. */
export interface OpenedFamily {
  familyId: string;
  roster: VerifiedRoster;
  /** This account's member record at the head. */
  self: Member;
  /** The family's name; undefined when the sealed name did not open. */
  name: string | undefined;
  children: ChildProfile[];
  retentionDays: number;
  /** The head's signed settings, its quiet hours opened under the family-wide key (the server sees them sealed). */
  settings: FamilySettings;
  /** This account's key of `scope` as the entry of `epoch` names it, when it holds that one. */
  keyFor(epoch: number, scope: string): Uint8Array | undefined;
  /** This account's key of `scope` at the head: the family-wide scope always, a child's when the head lets it talk with them. */
  headKeyOf(scope: string): Uint8Array | undefined;
  /** Members at the head whose account was deleted (as the server says): a guardian should remove them. */
  deletedAccounts: string[];
  /** Every member at the head, in roster order, with their display name where it opened. */
  members: MemberProfile[];
}

/** The photo types a member profile may carry, told apart by their magic bytes. */
export type MemberPhotoType = 'image/jpeg' | 'image/png' | 'image/webp';
/** Bytes of a member's photo at most. */
export const MAX_MEMBER_PHOTO_BYTES = 64 * 1024;

/** The type of a photo by its magic bytes (JPEG FF D8 FF, PNG's 8-byte signature, RIFF….WEBP), or undefined. */
export function memberPhotoType(bytes: Uint8Array): MemberPhotoType | undefined {
  const starts = (offset: number, magic: number[]) => magic.every((b, i) => bytes[offset + i] === b);
  if (starts(0, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (starts(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (starts(0, [0x52, 0x49, 0x46, 0x46]) && starts(8, [0x57, 0x45, 0x42, 0x50])) return 'image/webp';
  return undefined;
}

/** What a member profile record holds (JSON inside the sealed, signed record). */
interface MemberProfileData {
  name?: unknown;
  /** Counts the member's own renames, so an older record served later is noticed. */
  seq?: unknown;
  /** base64url of the photo bytes. */
  photo?: unknown;
}

/** Default settings of a new family: 30 days' retention, as the issue asks. */
export const DEFAULT_FAMILY_SETTINGS: FamilySettings = { volumeLimit: 80, retentionDays: 30 };

const NAME_LIMIT = 64;
const ROSTER_RETRIES = 3;

/** A fresh 128-bit client-chosen id (family, child, invite), base64url. */
export function newClientId(): string {
  return toBase64Url(randomBytes(16));
}

/** Checks a family id before it goes into a URL. */
export function assertFamilyId(familyId: unknown, name = 'familyId'): asserts familyId is string {
  if (typeof familyId !== 'string' || !/^[A-Za-z0-9_-]{22}$/.test(familyId)) throw new TypeError(`${name} must be a 22-character id`);
}

function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || name.trim().length === 0 || name.trim().length > NAME_LIMIT) throw new TypeError(`${what} must be 1 to ${NAME_LIMIT} characters`);
  return name.trim();
}

// Each refused (family, scope, generation, account) is reported once per running client, not on every load.
const reportedKeyRefusals = new Set<string>();

/**
 * Records refused scope keys in the family security log (best effort; the generation as the
 * epoch). A hostile server can drop the report; what protects is that the key was refused here.
 */
async function reportKeyRefusals(ctx: ClientContext, familyId: string, refused: ReadonlyArray<{ scope: string; generation: number }>): Promise<void> {
  for (const { scope, generation } of refused) {
    const id = `${familyId}/${scopeKeyId(scope, generation)}/${ctx.me.accountId}`;
    if (reportedKeyRefusals.has(id)) continue;
    if (await reportRefusal(ctx.api, { familyId, code: 'scope-key/commitment-mismatch', epoch: generation })) reportedKeyRefusals.add(id);
  }
}

/** The first generation of each scope of `entry` (a genesis): fresh keys, all of generation 0. */
function genesisKeys(members: Member[]): ScopeKey[] {
  return planGenerations(undefined, scopedContentsOf({ members, toys: [], children: [] }), 0).map(({ scope, generation }) => ({ scope, generation, key: generateScopeKey() }));
}

/** Every wrap `entry` needs after `previous` (undefined for a genesis), made from `keys`. */
async function wrapsOf(familyId: string, previous: RosterEntry | undefined, entry: RosterEntry, keys: readonly ScopeKey[]): Promise<WrappedScopeKey[]> {
  const out: WrappedScopeKey[] = [];
  for (const need of wrapsNeededBy(previous, entry)) {
    const key = keys.find((k) => k.scope === need.scope && k.generation === need.generation)!.key;
    out.push(await wrapScopeKey({ familyId, scope: need.scope, generation: need.generation, key, recipient: { id: need.recipient.id, agreementKey: need.recipient.keys.agreementKey, kemKey: need.recipient.keys.kemKey } }));
  }
  return out;
}

function keyRingOf(keys: readonly ScopeKey[]): ScopeKeys {
  return Object.fromEntries(keys.map((k) => [scopeKeyId(k.scope, k.generation), k.key]));
}

function isStaleRoster(error: unknown): boolean {
  return error instanceof ApiError && error.code === 'burrow/stale-roster';
}

/**
 * Creates a family: a random family id, epoch 0 signed by the caller as its only guardian, a
 * fresh family-wide key wrapped to the caller, and the name sealed under it. The genesis entry
 * becomes this client's trust anchor.
 */
export async function createFamily(ctx: ClientContext, options: { name: string; settings?: Partial<FamilySettings>; myName?: string }): Promise<OpenedFamily> {
  const name = checkName(options.name, 'name');
  const myName = options.myName === undefined ? undefined : checkName(options.myName, 'myName');
  const familyId = newClientId();
  const settings: FamilySettings = { ...DEFAULT_FAMILY_SETTINGS, ...options.settings };
  const members: Member[] = [{ accountId: ctx.me.accountId, role: 'guardian', keys: ctx.me.identity.publicKeys }];
  const scopeKeys = genesisKeys(members);
  const key = scopeKeys.find((k) => k.scope === FAMILY_SCOPE)!.key;
  const genesis = await createGenesisEntry({ familyId, creator: ctx.me, settings, scopeKeys, createdAt: Date.now() });
  const wrapped = await wrapsOf(familyId, undefined, genesis, scopeKeys);
  const sealedName = await sealProfile({ familyId, epoch: 0, key, kind: 'family-name', objectId: familyId, data: { name }, signer: ctx.me.identity });
  await ctx.store.saveFamily({ familyId, anchor: encodeRosterEntry(genesis), keys: keyRingOf(scopeKeys) });
  try {
    await ctx.api.call('POST', '/v1/families', FamilyCreated, {
      familyId,
      genesis: toBase64Url(encodeRosterEntry(genesis)),
      wrappedKeys: wrapped.map(wrapToWire),
      sealedName: toBase64Url(sealedName),
    });
  } catch (error) {
    await ctx.store.forgetFamily(familyId);
    throw error;
  }
  if (myName !== undefined) await putMemberProfile(ctx, { familyId, epoch: 0, key, name: myName, seq: 0 });
  return loadFamily(ctx, familyId);
}

/** The families this account is in, as the server lists them, with names opened where this client holds the key. */
export async function listFamilies(ctx: ClientContext): Promise<Array<{ familyId: string; role: 'guardian' | 'relative'; epoch: number; name: string | undefined }>> {
  const { families } = await ctx.api.call('GET', '/v1/families', FamilyList);
  const out = [];
  for (const f of families) {
    const state = await ctx.store.loadFamily(f.familyId);
    // The stored anchor is the head this device last verified: the name's signer is checked against it.
    const head = state?.anchor === undefined ? undefined : decodeRosterEntry(state.anchor);
    let name: string | undefined;
    if (state !== undefined && head?.ok === true) {
      const entry = head.value;
      const single = { familyId: entry.familyId, members: entry.members, entryAt: (e: number) => (e === entry.epoch ? entry : undefined) };
      const opened = await openProfile<{ name?: unknown }>({ sealed: fromBase64Url(f.sealedName), familyId: f.familyId, kind: 'family-name', objectId: f.familyId, head: single, keyFor: (e, scope) => keyAt(single, state.keys, e, scope) });
      if (opened.ok && typeof opened.value.data.name === 'string') name = opened.value.data.name;
    }
    out.push({ familyId: f.familyId, role: f.role, epoch: f.epoch, name });
  }
  return out;
}

function decodeChain(entries: readonly string[]): RosterEntry[] {
  const chain: RosterEntry[] = [];
  for (const wire of entries) {
    const decoded = decodeRosterEntry(fromBase64Url(wire));
    if (!decoded.ok) throw new ClientError('client/roster-untrusted', `the server sent a malformed roster entry (${decoded.code})`);
    chain.push(decoded.value);
  }
  return chain;
}

/**
 * A joiner's first view of a roster: it must hold the head the inviting guardian verified when making
 * the invite (its hash is bound into the guardian's proof, which the invite secret authenticates);
 * entries after it are verified as usual. A chain forked before that head never verifies.
 */
async function verifyFromInvite(chain: RosterEntry[], state: FamilyState): Promise<CryptoResult<VerifiedRoster>> {
  return verifyRoster(chain, { headHash: state.pendingInvite!.headHash });
}

/**
 * Records in the family security log that this device refused the chain the server sent (best
 * effort: a hostile server can drop the report; refusing the chain is what protects this device).
 */
async function refusedRoster(ctx: ClientContext, familyId: string, code: string, chain: readonly RosterEntry[]): Promise<void> {
  const epoch = chain.at(-1)?.epoch;
  // Once per session and refused head: a page that reloads the family must not flood the log.
  const key = `${familyId} ${code} ${epoch ?? ''}`;
  const seen = reportedRefusals.get(ctx.api) ?? new Set<string>();
  reportedRefusals.set(ctx.api, seen);
  if (seen.has(key)) return;
  seen.add(key);
  await reportRefusal(ctx.api, { familyId, code, ...(epoch === undefined ? {} : { epoch }) });
}

const reportedRefusals = new WeakMap<BurrowApi, Set<string>>();

/** True when `roster` holds the entry `anchor` (encodeRosterEntry bytes): its head then extends that anchor. */
async function extendsAnchor(roster: VerifiedRoster, anchor: Uint8Array): Promise<boolean> {
  const entry = decodeRosterEntry(anchor);
  if (!entry.ok) return false;
  const hash = await hashRosterEntry(entry.value);
  const at = roster.entryAt(entry.value.epoch);
  return at !== undefined && bytesEqual(await hashRosterEntry(at), hash);
}

/**
 * Stores `head` (encodeRosterEntry bytes) as the family's anchor unless the anchor stored meanwhile
 * is one that `roster` does not extend (another load in this process moved it further): a stored
 * anchor only ever moves forward along one chain.
 */
async function saveAnchor(ctx: ClientContext, familyId: string, roster: VerifiedRoster, update: (state: FamilyState) => FamilyState): Promise<void> {
  const current = (await ctx.store.loadFamily(familyId)) ?? { familyId, keys: {} };
  const next = update(current);
  if (current.anchor !== undefined && !(await extendsAnchor(roster, current.anchor))) {
    await ctx.store.saveFamily({ ...next, anchor: current.anchor });
    return;
  }
  await ctx.store.saveFamily({ ...next, anchor: encodeRosterEntry(roster.head) });
}

function checkSelf(roster: VerifiedRoster, me: Me, pendingTerms: InviteTerms | undefined): Member {
  const self = roster.members.find((m) => m.accountId === me.accountId);
  if (self === undefined || !samePublicKeys(self.keys, me.identity.publicKeys)) {
    throw new ClientError('client/not-a-member', pendingTerms ? 'you are not in the family yet: waiting for a guardian to add you' : 'you are not a member of this family');
  }
  if (pendingTerms !== undefined && self.role !== pendingTerms.role) throw new ClientError('client/roster-untrusted', 'the roster gives you another role than the invite offered');
  return self;
}

/**
 * Loads a family and verifies it from this client's trust anchor: the chain, this account's
 * place in the head, its family keys and the sealed name and children. Moves the anchor to the
 * verified head, so a server can never roll this client back.
 */
export async function loadFamily(ctx: ClientContext, familyId: string): Promise<OpenedFamily> {
  assertFamilyId(familyId);
  const state = await ctx.store.loadFamily(familyId);
  let view: Static<typeof FamilyView>;
  try {
    view = await ctx.api.call('GET', `/v1/families/${familyId}`, FamilyView);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404 && state?.anchor === undefined && state?.pendingInvite !== undefined) {
      throw new ClientError('client/not-a-member', 'you are not in the family yet: waiting for a guardian to add you');
    }
    throw error;
  }
  if (view.familyId !== familyId) throw new ClientError('client/roster-untrusted', 'the server answered for another family');
  const chain = decodeChain(view.roster);
  let roster: VerifiedRoster;
  // A device that never held this family's anchor starts from the one the account's vault keeps
  // (verified by another of its devices); with none, it trusts nothing the server sends.
  const anchorBytes = state?.anchor ?? (state?.pendingInvite === undefined ? await vaultAnchorOf(ctx, familyId) : undefined);
  if (anchorBytes !== undefined) {
    const anchorEntry = decodeRosterEntry(anchorBytes);
    if (!anchorEntry.ok) throw new ClientError('client/no-anchor', 'the stored trust anchor is damaged');
    const anchor: RosterAnchor = { trustedEntry: anchorEntry.value };
    const verified = await verifyRoster(chain, anchor);
    if (!verified.ok) {
      await refusedRoster(ctx, familyId, verified.code, chain);
      throw new ClientError('client/roster-untrusted', `the family's roster does not verify from this device's anchor (${verified.code})`);
    }
    roster = verified.value;
  } else if (state?.pendingInvite !== undefined) {
    const verified = await verifyFromInvite(chain, state);
    if (!verified.ok) {
      await refusedRoster(ctx, familyId, verified.code, chain);
      throw new ClientError('client/roster-untrusted', `the family's roster does not hold the head the inviting guardian confirmed (${verified.code})`);
    }
    roster = verified.value;
  } else {
    throw new ClientError('client/no-anchor', 'neither this device nor the account vault holds a trust anchor for the family (create or join it first)');
  }
  if (roster.familyId !== familyId) throw new ClientError('client/roster-untrusted', 'the roster belongs to another family');
  const self = checkSelf(roster, ctx.me, state?.anchor === undefined ? state?.pendingInvite?.terms : undefined);

  // Checked against the signed entries' commitments: a key the server wrapped itself is never used,
  // and a key kept from a roster change whose entry never made it (another guardian's won the
  // epoch) is dropped.
  const { keys, refused } = await acceptWraps({ roster, held: state?.keys ?? {}, wraps: view.wrappedKeys, recipientId: ctx.me.accountId, identity: ctx.me.identity });
  if (refused.length > 0) await reportKeyRefusals(ctx, familyId, refused);
  const keyFor = (epoch: number, scope: string): Uint8Array | undefined => keyAt(roster, keys, epoch, scope);
  const headKeyOf = (scope: string): Uint8Array | undefined => keyFor(roster.epoch, scope);
  const headKey = headKeyOf(FAMILY_SCOPE);
  const headGeneration = scopeKeyOf(roster.head, FAMILY_SCOPE)!.generation;
  if (headKey === undefined && refused.some((r) => r.scope === FAMILY_SCOPE && r.generation === headGeneration)) {
    throw new ClientError('client/key-refused', `the family key the server offered for epoch ${roster.epoch} is not the one the family's roster commits to: it was refused and nothing was opened or sealed with it`);
  }
  if (headKey === undefined) throw new ClientError('client/no-key', `no family key for the current epoch ${roster.epoch} was wrapped to you`);
  const settings = await openEntrySettings(roster.head, FAMILY_SCOPE, headKey);
  if (!settings.ok) throw new ClientError('client/roster-untrusted', `the family's signed settings do not open (${settings.code})`);

  // A profile signed by someone the head does not allow is a forgery in transit or at rest: it is
  // shown unnamed, and the family's security log hears of it (best effort; the refusal protects).
  const forged = new Set<string>();
  const noteForgery = (result: { ok: boolean; code?: string }): void => {
    if (!result.ok && (result.code === 'profile/signer-not-allowed' || result.code === 'profile/bad-signature')) forged.add(result.code);
  };
  const nameOpened = await openProfile<{ name?: unknown }>({ sealed: fromBase64Url(view.sealedName), familyId, kind: 'family-name', objectId: familyId, head: roster, keyFor });
  noteForgery(nameOpened);
  const name = nameOpened.ok && typeof nameOpened.value.data.name === 'string' ? nameOpened.value.data.name : undefined;
  const children: ChildProfile[] = [];
  for (const child of view.children) {
    const opened = await openProfile<{ name?: unknown; emoji?: unknown }>({ sealed: fromBase64Url(child.sealedProfile), familyId, kind: 'child', objectId: child.childId, head: roster, keyFor });
    noteForgery(opened);
    const data = opened.ok ? opened.value.data : {};
    children.push({
      childId: child.childId,
      name: typeof data.name === 'string' ? data.name : undefined,
      emoji: typeof data.emoji === 'string' ? data.emoji : undefined,
      updatedAt: child.updatedAt,
    });
  }
  const marks = { ...(state?.memberProfiles ?? {}) };
  const { members, mine } = await openMemberProfiles({ familyId, roster, view, keyFor, marks, noteForgery: (code) => forged.add(code), me: ctx.me.accountId });
  for (const code of forged) await reportRefusal(ctx.api, { familyId, code, epoch: roster.epoch });
  // This member's own name follows the family into each new epoch (so members who join later can
  // read it), and a joiner's chosen name becomes their profile once they are let in.
  const wanted = mine?.name ?? (state?.anchor === undefined ? state?.pendingInvite?.displayName : undefined);
  if (wanted !== undefined && (mine === undefined || mine.epoch < roster.epoch)) {
    const written = await putMemberProfile(ctx, { familyId, epoch: roster.epoch, key: headKey, name: wanted, seq: mine?.seq ?? 0, ...(mine?.photo === undefined ? {} : { photo: mine.photo }) }).catch(() => undefined);
    if (written !== undefined) {
      marks[ctx.me.accountId] = { seq: written.seq, epoch: roster.epoch };
      const self = members.find((m) => m.accountId === ctx.me.accountId);
      if (self !== undefined) self.name = wanted;
    }
  }
  // Saved at once, and only forward: a head that does not extend the stored anchor never replaces it.
  await saveAnchor(ctx, familyId, roster, (current) => {
    const next: FamilyState = { familyId, keys: { ...current.keys, ...keys } };
    if (current.createdInvites !== undefined) next.createdInvites = current.createdInvites;
    if (current.securityLog !== undefined) next.securityLog = current.securityLog;
    if (current.verified !== undefined) next.verified = current.verified;
    next.memberProfiles = { ...current.memberProfiles, ...marks };
    return next;
  });
  // The account's other devices learn the new head through the vault; a failed write is retried on the next load.
  const created = roster.entries[0]?.epoch === 0 && roster.entries[0].signerId === ctx.me.accountId;
  const joinedVia = state?.pendingInvite !== undefined ? `invite:${state.pendingInvite.inviteId}` : created ? 'created' : undefined;
  await recordAnchors(ctx, [joinedVia === undefined ? { roster } : { roster, joinedVia }]);
  const inHead = new Set(roster.members.map((m) => m.accountId));
  const deletedAccounts = (view.deletedAccounts ?? []).filter((id) => inHead.has(id) && id !== ctx.me.accountId);
  return { familyId, roster, self, name, children, retentionDays: view.retentionDays, settings: settings.value, keyFor, headKeyOf, deletedAccounts, members };
}

/**
 * Opens the member profiles the server sent, each against the verified head (signed by that very
 * member) and against `marks`, the newest profile this device opened per member: an older one is
 * refused as `profile/stale`. Updates `marks` with what opened.
 */
async function openMemberProfiles(options: {
  familyId: string;
  roster: VerifiedRoster;
  view: Static<typeof FamilyView>;
  keyFor: (epoch: number, scope: string) => Uint8Array | undefined;
  marks: Record<string, { seq: number; epoch: number }>;
  noteForgery: (code: string) => void;
  /** This account's id: its own profile comes back as `mine`. */
  me: string;
}): Promise<{ members: MemberProfile[]; mine: { name: string; seq: number; epoch: number; photo?: Uint8Array } | undefined }> {
  const { familyId, roster, view, keyFor, marks } = options;
  const sent = new Map((view.memberProfiles ?? []).map((p) => [p.accountId, p.sealedProfile]));
  const members: MemberProfile[] = [];
  let mine: { name: string; seq: number; epoch: number; photo?: Uint8Array } | undefined;
  for (const m of roster.members) {
    const member: MemberProfile = { accountId: m.accountId, role: m.role, name: undefined };
    members.push(member);
    const sealed = sent.get(m.accountId);
    if (sealed === undefined) continue;
    const opened = await openProfile<MemberProfileData>({ sealed: fromBase64Url(sealed), familyId, kind: 'member', objectId: m.accountId, head: roster, keyFor });
    if (!opened.ok) {
      if (opened.code === 'profile/signer-not-allowed' || opened.code === 'profile/bad-signature') options.noteForgery(opened.code);
      member.refused = opened.code;
      continue;
    }
    const { data, epoch } = opened.value;
    const seq = typeof data.seq === 'number' && Number.isSafeInteger(data.seq) && data.seq >= 0 ? data.seq : 0;
    const mark = marks[m.accountId];
    if (mark !== undefined && (seq < mark.seq || (seq === mark.seq && epoch < mark.epoch))) {
      options.noteForgery('profile/stale');
      member.refused = 'profile/stale';
      continue;
    }
    marks[m.accountId] = { seq, epoch };
    if (typeof data.name === 'string') member.name = data.name;
    let photoBytes: Uint8Array | undefined;
    if (typeof data.photo === 'string') {
      try {
        photoBytes = fromBase64Url(data.photo);
      } catch {
        photoBytes = undefined;
      }
      const type = photoBytes === undefined || photoBytes.length > MAX_MEMBER_PHOTO_BYTES ? undefined : memberPhotoType(photoBytes);
      if (type !== undefined) member.photo = { type, bytes: photoBytes! };
    }
    if (m.accountId === options.me && typeof data.name === 'string') mine = { name: data.name, seq, epoch, ...(member.photo === undefined ? {} : { photo: member.photo.bytes }) };
  }
  return { members, mine };
}

/** Seals and stores this account's member profile at `epoch`, as rename number `seq`. */
async function putMemberProfile(ctx: ClientContext, options: { familyId: string; epoch: number; key: Uint8Array; name: string; seq: number; photo?: Uint8Array }): Promise<{ seq: number }> {
  const data: MemberProfileData = { name: options.name, seq: options.seq, ...(options.photo === undefined ? {} : { photo: toBase64Url(options.photo) }) };
  const sealed = await sealProfile({ familyId: options.familyId, epoch: options.epoch, key: options.key, kind: 'member', objectId: ctx.me.accountId, data, signer: ctx.me.identity });
  await ctx.api.call('PUT', `/v1/families/${options.familyId}/profile`, MemberProfileView, { sealedProfile: toBase64Url(sealed) });
  return { seq: options.seq };
}

/**
 * Sets this account's display name (and optionally a small photo: JPEG, PNG or WebP by its magic
 * bytes, at most 64 KiB) in one family: sealed under the head's key and signed by this account,
 * so neither the server nor another member can write or swap it.
 */
export async function setMyProfile(ctx: ClientContext, options: { familyId: string; name: string; photo?: Uint8Array | null }): Promise<OpenedFamily> {
  const name = checkName(options.name, 'name');
  let photo: Uint8Array | undefined;
  if (options.photo instanceof Uint8Array) {
    if (options.photo.length > MAX_MEMBER_PHOTO_BYTES) throw new ClientError('client/photo-too-large', `a photo may be at most ${MAX_MEMBER_PHOTO_BYTES / 1024} KB`);
    if (memberPhotoType(options.photo) === undefined) throw new ClientError('client/photo-type', 'a photo must be a JPEG, PNG or WebP image');
    photo = options.photo;
  }
  const family = await loadFamily(ctx, options.familyId);
  const current = family.members.find((m) => m.accountId === ctx.me.accountId);
  if (options.photo === undefined && current?.photo !== undefined) photo = current.photo.bytes;
  const state = await ctx.store.loadFamily(options.familyId);
  const seq = (state?.memberProfiles?.[ctx.me.accountId]?.seq ?? 0) + 1;
  await putMemberProfile(ctx, { familyId: options.familyId, epoch: family.roster.epoch, key: family.headKeyOf(FAMILY_SCOPE)!, name, seq, ...(photo === undefined ? {} : { photo }) });
  return loadFamily(ctx, options.familyId);
}

/** The safety code this account shares with a member of the family (from the verified head's keys). */
export async function safetyCodeWith(ctx: ClientContext, family: OpenedFamily, accountId: string): Promise<SafetyCode> {
  const member = family.roster.members.find((m) => m.accountId === accountId);
  if (member === undefined) throw new ClientError('client/unknown-member', 'that account is not a member of the family');
  return safetyCode(ctx.me.identity.publicKeys, member.keys);
}

/**
 * Records that this account verified a member: either `scanned`, the text of the QR code on their
 * screen, which must match the whole safety code, or `digitsConfirmed` when the two people read
 * the same digits to each other. Answers false (and records nothing) when a scan does not match.
 */
export async function verifyMember(ctx: ClientContext, options: { family: OpenedFamily; accountId: string; scanned?: string; digitsConfirmed?: boolean }): Promise<boolean> {
  const code = await safetyCodeWith(ctx, options.family, options.accountId);
  const ok = options.scanned !== undefined ? safetyCodeMatchesScan(code, options.scanned) : options.digitsConfirmed === true;
  if (!ok) return false;
  const state = (await ctx.store.loadFamily(options.family.familyId)) ?? { familyId: options.family.familyId, keys: {} };
  await ctx.store.saveFamily({ ...state, verified: { ...state.verified, [options.accountId]: code.qr } });
  return true;
}

/** The members this account has verified and whose keys have not changed since (their safety code is the one confirmed). */
export async function verifiedMembers(ctx: ClientContext, family: OpenedFamily): Promise<Set<string>> {
  const state = await ctx.store.loadFamily(family.familyId);
  const out = new Set<string>();
  for (const [accountId, qr] of Object.entries(state?.verified ?? {})) {
    if (!family.roster.members.some((m) => m.accountId === accountId)) continue;
    if ((await safetyCodeWith(ctx, family, accountId)).qr === qr) out.add(accountId);
  }
  return out;
}

/** The contents of a new roster entry, computed from the verified family. */
export interface RosterChange {
  members: Member[];
  toys: Toy[];
  /** The family's children after the change; default: the head's, and any a relative or toy of the change names. */
  children?: string[];
  settings: FamilySettings;
  completesInvites?: string[];
  /** Confirmed pairing runs whose toys this entry adds (src/protocol/toys.ts). */
  completesPairings?: string[];
  /** Earlier generations of a child's scope key wrapped to a toy this entry adds (src/client/toys.ts `earlierKeysForNewToy`). */
  earlierKeys?: WrappedScopeKey[];
}

/**
 * Appends a roster entry computed by `change` from the current head: signs it as this guardian,
 * with a fresh key for every scope that loses a holder and the current key for every other,
 * wraps each to those who need it (crypto/key-scopes.ts `wrapsForChange`), re-seals the family
 * name and the children's profiles under the new epoch (so holders added now can read them), and
 * retries when another guardian moved the head first.
 */
export async function changeRoster(ctx: ClientContext, familyId: string, change: (family: OpenedFamily) => RosterChange | Promise<RosterChange>): Promise<OpenedFamily> {
  for (let attempt = 0; attempt < ROSTER_RETRIES; attempt++) {
    const family = await loadFamily(ctx, familyId);
    if (family.self.role !== 'guardian') throw new ClientError('client/not-a-guardian', 'only a guardian can change the roster');
    const next = await change(family);
    // Messages from anyone this entry removes stay in history only if the entry keeps them.
    const staying = new Set([...next.members.map((m) => m.accountId), ...next.toys.map((t) => t.toyId)]);
    const removedIds = new Set([...family.roster.members.map((m) => m.accountId), ...family.roster.toys.map((t) => t.toyId)].filter((id) => !staying.has(id)));
    const kept = await keptMessageDigests({ api: ctx.api, roster: family.roster, keyFor: family.keyFor, removedIds, now: Date.now() });
    // The entry commits to its scopes' keys, so fresh keys exist before the entry is signed.
    const head = family.roster.head;
    const children = nextChildren(head, next);
    const plan = planGenerations({ contents: scopedContentsOf(head), generationOf: (scope) => scopeKeyOf(head, scope)?.generation }, scopedContentsOf({ ...next, children }), head.epoch + 1);
    const scopeKeys: ScopeKey[] = plan.map(({ scope, generation, fresh }) => {
      const key = fresh ? generateScopeKey() : family.headKeyOf(scope);
      if (key === undefined) throw new ClientError('client/no-key', `this device does not hold the key of a conversation the change keeps (scope ${JSON.stringify(scope)}); reload the family and try again`);
      return { scope, generation, key };
    });
    const entry = await appendRosterEntry(family.roster.entries, { signer: ctx.me, members: next.members, toys: next.toys, children, settings: next.settings, scopeKeys, kept, createdAt: Date.now() });
    const wrapped = await wrapsOf(familyId, head, entry, scopeKeys);
    const keyOf = (scope: string): Uint8Array => scopeKeys.find((k) => k.scope === scope)!.key;
    const sealedName = family.name === undefined ? undefined : await sealProfile({ familyId, epoch: entry.epoch, key: keyOf(FAMILY_SCOPE), kind: 'family-name', objectId: familyId, data: { name: family.name }, signer: ctx.me.identity });
    const state = (await ctx.store.loadFamily(familyId)) ?? { familyId, keys: {} };
    // Keep the new keys before the server has them: if the answer is lost, the next load still opens the epoch.
    await ctx.store.saveFamily({ ...state, keys: { ...state.keys, ...keyRingOf(scopeKeys) } });
    try {
      await ctx.api.call('POST', `/v1/families/${familyId}/roster`, RosterAppended, {
        entry: toBase64Url(encodeRosterEntry(entry)),
        wrappedKeys: wrapped.map(wrapToWire),
        ...(next.completesInvites !== undefined && next.completesInvites.length > 0 ? { completesInvites: next.completesInvites } : {}),
        ...(next.completesPairings !== undefined && next.completesPairings.length > 0 ? { completesPairings: next.completesPairings } : {}),
        ...(next.earlierKeys !== undefined && next.earlierKeys.length > 0 ? { earlierKeys: next.earlierKeys.map(wrapToWire) } : {}),
        ...(sealedName === undefined ? {} : { sealedName: toBase64Url(sealedName) }),
      });
    } catch (error) {
      if (isStaleRoster(error)) continue;
      throw error;
    }
    // The new entry extends the head it was signed on, so it may replace any anchor that head extends.
    const latest = (await ctx.store.loadFamily(familyId)) ?? state;
    const forward = latest.anchor === undefined || (await extendsAnchor(family.roster, latest.anchor));
    await ctx.store.saveFamily({ ...latest, ...(forward ? { anchor: encodeRosterEntry(entry) } : {}), keys: { ...latest.keys, ...keyRingOf(scopeKeys) } });
    for (const child of family.children) {
      if (child.name === undefined) continue;
      const sealedProfile = await sealProfile({ familyId, epoch: entry.epoch, key: keyOf(profileScope(entry, 'child', child.childId)), kind: 'child', objectId: child.childId, data: { name: child.name, emoji: child.emoji ?? '' }, signer: ctx.me.identity });
      await ctx.api.call('PUT', `/v1/families/${familyId}/children/${child.childId}`, undefined, { sealedProfile: toBase64Url(sealedProfile) });
    }
    return loadFamily(ctx, familyId);
  }
  throw new ClientError('client/roster-busy', 'the roster kept changing while this change was being made; try again');
}

function sameMembers(family: OpenedFamily): Member[] {
  return family.roster.members.map((m) => ({ ...m, children: [...(m.children ?? [])] }));
}

/** Removes a member: a new epoch whose key is wrapped only to those who remain. */
export async function removeMember(ctx: ClientContext, options: { familyId: string; accountId: string }): Promise<OpenedFamily> {
  return changeRoster(ctx, options.familyId, (family) => {
    if (!family.roster.members.some((m) => m.accountId === options.accountId)) throw new ClientError('client/unknown-member', 'that account is not a member of the family');
    return { members: sameMembers(family).filter((m) => m.accountId !== options.accountId), toys: [...family.roster.toys], settings: family.settings };
  });
}

/** Changes a member's role (and, for a relative, their children and whether they need approval). */
export async function changeRole(
  ctx: ClientContext,
  options: { familyId: string; accountId: string; role: 'guardian' | 'relative'; children?: string[]; needsApproval?: boolean },
): Promise<OpenedFamily> {
  return changeRoster(ctx, options.familyId, (family) => {
    const members = sameMembers(family);
    const member = members.find((m) => m.accountId === options.accountId);
    if (member === undefined) throw new ClientError('client/unknown-member', 'that account is not a member of the family');
    member.role = options.role;
    if (options.role === 'guardian') {
      member.children = [];
      delete member.needsApproval;
    } else {
      if (options.children !== undefined) member.children = [...options.children];
      if (options.needsApproval !== undefined) {
        if (options.needsApproval) member.needsApproval = true;
        else delete member.needsApproval;
      }
    }
    return { members, toys: [...family.roster.toys], settings: family.settings };
  });
}

/** Changes the signed settings (retention, volume limit, quiet hours, toy-to-toy). */
export async function setSettings(ctx: ClientContext, options: { familyId: string; settings: Omit<Partial<FamilySettings>, 'quietHours'> & { quietHours?: FamilySettings['quietHours'] | null } }): Promise<OpenedFamily> {
  return changeRoster(ctx, options.familyId, (family) => {
    const { quietHours, ...rest } = options.settings;
    const settings: FamilySettings = { ...family.settings, ...rest };
    if (quietHours === null) delete settings.quietHours;
    else if (quietHours !== undefined) settings.quietHours = quietHours;
    return { members: sameMembers(family), toys: [...family.roster.toys], settings };
  });
}

/** A joiner a guardian's client signed in, or refused. */
export interface AdmissionResult {
  admitted: Array<{ inviteId: string; accountId: string; role: 'guardian' | 'relative' }>;
  /** Invites whose joiner did not prove they hold the link, or that this client did not create. */
  refused: Array<{ inviteId: string; accountId: string; reason: string }>;
}

/**
 * Signs in the joiners of accepted invites that this client created: checks each joiner's proof
 * under the invite secret kept at creation, then appends one roster entry adding them with the
 * terms this client offered (a new epoch and key).
 */
export async function admitJoiners(ctx: ClientContext, options: { familyId: string }): Promise<AdmissionResult> {
  const { familyId } = options;
  assertFamilyId(familyId);
  const { invites } = await ctx.api.call('GET', `/v1/families/${familyId}/invites`, GuardianInviteList);
  const state = await ctx.store.loadFamily(familyId);
  const created = state?.createdInvites ?? {};
  const result: AdmissionResult = { admitted: [], refused: [] };
  const joiners: Array<{ inviteId: string; member: Member }> = [];
  for (const invite of invites) {
    if (invite.status !== 'accepted' || invite.joiner === undefined) continue;
    const mine = created[invite.inviteId];
    if (mine === undefined) {
      result.refused.push({ inviteId: invite.inviteId, accountId: invite.joiner.accountId, reason: 'this device did not create the invite (the guardian who did must admit the joiner)' });
      continue;
    }
    const joinerKeys: PublicIdentityKeys = decodePublicIdentity(invite.joiner.identity);
    const proof = await verifyJoinerInviteProof({ secret: mine.secret, inviteId: invite.inviteId, joinerId: invite.joiner.accountId, joinerKeys, proof: fromBase64Url(invite.joiner.joinerProof) });
    if (!proof.ok) {
      result.refused.push({ inviteId: invite.inviteId, accountId: invite.joiner.accountId, reason: 'the joiner did not prove they hold the invite link' });
      continue;
    }
    const member: Member = { accountId: invite.joiner.accountId, role: mine.terms.role, keys: joinerKeys };
    if (mine.terms.role === 'relative') {
      member.children = [...mine.terms.children];
      if (mine.terms.needsApproval) member.needsApproval = true;
    }
    joiners.push({ inviteId: invite.inviteId, member });
  }
  if (joiners.length === 0) return result;
  await changeRoster(ctx, familyId, (family) => {
    const members = sameMembers(family);
    const adding = joiners.filter((j) => !members.some((m) => m.accountId === j.member.accountId));
    return { members: [...members, ...adding.map((j) => j.member)], toys: [...family.roster.toys], settings: family.settings, completesInvites: adding.map((j) => j.inviteId) };
  });
  const after = (await ctx.store.loadFamily(familyId))!;
  const remaining = { ...(after.createdInvites ?? {}) };
  for (const j of joiners) {
    delete remaining[j.inviteId];
    result.admitted.push({ inviteId: j.inviteId, accountId: j.member.accountId, role: j.member.role });
  }
  await ctx.store.saveFamily({ ...after, createdInvites: remaining });
  return result;
}

/** Deletes the family and everything in it on the server, then forgets it here. */
export async function deleteFamily(ctx: ClientContext, options: { familyId: string }): Promise<void> {
  assertFamilyId(options.familyId);
  await ctx.api.call('DELETE', `/v1/families/${options.familyId}`, undefined, { confirm: 'delete this family' });
  await ctx.store.forgetFamily(options.familyId);
}

/** A member as `burrow family show` lists them: role, display name and the safety code with me. */
export async function describeMembers(ctx: ClientContext, family: OpenedFamily): Promise<Array<{ accountId: string; role: string; name: string | undefined; children: string[]; needsApproval: boolean; safetyCode: string; me: boolean }>> {
  return Promise.all(
    family.roster.members.map(async (m) => ({
      accountId: m.accountId,
      role: m.role,
      name: family.members.find((p) => p.accountId === m.accountId)?.name,
      children: [...(m.children ?? [])],
      needsApproval: m.needsApproval === true,
      safetyCode: (await safetyCode(ctx.me.identity.publicKeys, m.keys)).digits,
      me: m.accountId === ctx.me.accountId,
    })),
  );
}
