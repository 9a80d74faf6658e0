/**
 * Where a client keeps what it trusts about each family: the roster entry it last verified (its
 * trust anchor, so a server cannot roll it back or swap the chain), the scope keys it unwrapped
 * by epoch, a pending invite while it waits to be admitted, and the live cursors it processed.
 * The client library never touches storage itself: the CLI keeps 0600 files in its profile
 * directory, the web app IndexedDB, tests memory. Treat everything here as secret.
 */
import { fromBase64Url, toBase64Url } from '../crypto/bytes.js';
import type { PublicIdentityKeys } from '../crypto/identity.js';
import type { InviteTerms } from '../crypto/invite.js';
import type { ScopeKeys } from './key-ring.js';

/** An invite this client accepted and is waiting on: what anchors its first view of the roster. */
export interface PendingInvite {
  inviteId: string;
  /** The inviting guardian, authenticated by the invite secret. */
  guardianId: string;
  guardianKeys: PublicIdentityKeys;
  terms: InviteTerms;
  /** The inviting guardian's verified roster head hash, bound by the invite proof: the joiner's first anchor. */
  headHash: Uint8Array;
  /** The name the joiner chose, sealed as their member profile once they are let in. */
  displayName?: string;
}

/** The newest member profile this client has opened for one member: an older one served later is stale. */
export interface ProfileMark {
  seq: number;
  epoch: number;
}

/** What one client remembers about one family. */
export interface FamilyState {
  familyId: string;
  /** The last verified roster entry (encodeRosterEntry bytes); absent until the first verification. */
  anchor?: Uint8Array;
  /** Unwrapped scope keys by scope and generation (key-ring.ts `scopeKeyId`). Secret. */
  keys: ScopeKeys;
  /** Set by `acceptInvite`, cleared once the roster admits this account. */
  pendingInvite?: PendingInvite;
  /** Invites this client created (as a guardian): their secrets, to verify joiners, and the terms offered. */
  createdInvites?: Record<string, CreatedInvite>;
  /** The family security log: the server's log key pinned on first use and the last verified event. */
  securityLog?: SecurityLogCheckpoint;
  /** Per member account id, the newest member profile opened here (a server cannot roll a name back unnoticed). */
  memberProfiles?: Record<string, ProfileMark>;
  /** Per member account id, the safety code's QR text this account confirmed with them (by scan or by reading the digits). */
  verified?: Record<string, string>;
}

/** What a client remembers of a family's security log, so that a rewritten or shortened log is noticed. */
export interface SecurityLogCheckpoint {
  logKey: Uint8Array;
  seq: number;
  hash: Uint8Array;
}

/** An invite a guardian's client created; kept until its joiner is admitted or it is revoked. */
export interface CreatedInvite {
  secret: Uint8Array;
  terms: InviteTerms;
}

/** A place to keep family state and live cursors. */
export interface KeyStore {
  loadFamily(familyId: string): Promise<FamilyState | undefined>;
  saveFamily(state: FamilyState): Promise<void>;
  /** Forgets a family (deleted, or this account was removed). */
  forgetFamily(familyId: string): Promise<void>;
  /** The ids of every family with stored state. */
  listFamilies(): Promise<string[]>;
  /** The last live cursor processed per family. */
  loadCursors(): Promise<Record<string, string>>;
  saveCursors(cursors: Record<string, string>): Promise<void>;
}

function copyState(state: FamilyState): FamilyState {
  const keys: ScopeKeys = {};
  for (const [id, key] of Object.entries(state.keys)) keys[id] = key.slice();
  return {
    familyId: state.familyId,
    keys,
    ...(state.anchor === undefined ? {} : { anchor: state.anchor.slice() }),
    ...(state.pendingInvite === undefined ? {} : { pendingInvite: structuredClone(state.pendingInvite) }),
    ...(state.createdInvites === undefined ? {} : { createdInvites: structuredClone(state.createdInvites) }),
    ...(state.securityLog === undefined ? {} : { securityLog: { logKey: state.securityLog.logKey.slice(), seq: state.securityLog.seq, hash: state.securityLog.hash.slice() } }),
    ...(state.memberProfiles === undefined ? {} : { memberProfiles: structuredClone(state.memberProfiles) }),
    ...(state.verified === undefined ? {} : { verified: { ...state.verified } }),
  };
}

/** A key store that lives only as long as the process or page. */
export class MemoryKeyStore implements KeyStore {
  readonly #families = new Map<string, FamilyState>();
  #cursors: Record<string, string> = {};

  loadFamily(familyId: string): Promise<FamilyState | undefined> {
    const state = this.#families.get(familyId);
    return Promise.resolve(state === undefined ? undefined : copyState(state));
  }

  saveFamily(state: FamilyState): Promise<void> {
    this.#families.set(state.familyId, copyState(state));
    return Promise.resolve();
  }

  forgetFamily(familyId: string): Promise<void> {
    const state = this.#families.get(familyId);
    if (state) for (const key of Object.values(state.keys)) key.fill(0);
    this.#families.delete(familyId);
    return Promise.resolve();
  }

  listFamilies(): Promise<string[]> {
    return Promise.resolve([...this.#families.keys()]);
  }

  loadCursors(): Promise<Record<string, string>> {
    return Promise.resolve({ ...this.#cursors });
  }

  saveCursors(cursors: Record<string, string>): Promise<void> {
    this.#cursors = { ...cursors };
    return Promise.resolve();
  }
}

/** The JSON form of a family state (bytes as base64url), for stores that keep text. */
export interface FamilyStateJson {
  familyId: string;
  anchor?: string;
  keys: Record<string, string>;
  pendingInvite?: { inviteId: string; guardianId: string; guardianKeys: { signingKey: string; agreementKey: string }; terms: InviteTerms; headHash: string; displayName?: string };
  createdInvites?: Record<string, { secret: string; terms: InviteTerms }>;
  securityLog?: { logKey: string; seq: number; hash: string };
  memberProfiles?: Record<string, ProfileMark>;
  verified?: Record<string, string>;
}

/** Serialises a family state to JSON-safe values. */
export function familyStateToJson(state: FamilyState): FamilyStateJson {
  const keys: Record<string, string> = {};
  for (const [id, key] of Object.entries(state.keys)) keys[id] = toBase64Url(key);
  const out: FamilyStateJson = { familyId: state.familyId, keys };
  if (state.anchor !== undefined) out.anchor = toBase64Url(state.anchor);
  if (state.pendingInvite !== undefined) {
    const p = state.pendingInvite;
    out.pendingInvite = { inviteId: p.inviteId, guardianId: p.guardianId, guardianKeys: { signingKey: toBase64Url(p.guardianKeys.signingKey), agreementKey: toBase64Url(p.guardianKeys.agreementKey) }, terms: p.terms, headHash: toBase64Url(p.headHash) };
    if (p.displayName !== undefined) out.pendingInvite.displayName = p.displayName;
  }
  if (state.memberProfiles !== undefined) out.memberProfiles = structuredClone(state.memberProfiles);
  if (state.verified !== undefined) out.verified = { ...state.verified };
  if (state.securityLog !== undefined) out.securityLog = { logKey: toBase64Url(state.securityLog.logKey), seq: state.securityLog.seq, hash: toBase64Url(state.securityLog.hash) };
  if (state.createdInvites !== undefined) {
    out.createdInvites = {};
    for (const [inviteId, invite] of Object.entries(state.createdInvites)) out.createdInvites[inviteId] = { secret: toBase64Url(invite.secret), terms: invite.terms };
  }
  return out;
}

/** Parses `familyStateToJson` output; throws a TypeError on a damaged record. */
export function familyStateFromJson(json: FamilyStateJson): FamilyState {
  if (typeof json !== 'object' || json === null || typeof json.familyId !== 'string' || typeof json.keys !== 'object' || json.keys === null) throw new TypeError('family state is damaged');
  const keys: ScopeKeys = {};
  for (const [id, key] of Object.entries(json.keys)) {
    if (!/^[0-9]+\/[A-Za-z0-9_-]*$/.test(id)) throw new TypeError('family state is damaged (key id)');
    const bytes = fromBase64Url(key);
    if (bytes.length !== 32) throw new TypeError('family state is damaged (key)');
    keys[id] = bytes;
  }
  const state: FamilyState = { familyId: json.familyId, keys };
  if (json.anchor !== undefined) state.anchor = fromBase64Url(json.anchor);
  if (json.pendingInvite !== undefined) {
    const p = json.pendingInvite;
    if (typeof p.headHash !== 'string') throw new TypeError('family state is damaged (pending invite)');
    const headHash = fromBase64Url(p.headHash);
    if (headHash.length !== 32) throw new TypeError('family state is damaged (pending invite)');
    state.pendingInvite = { inviteId: p.inviteId, guardianId: p.guardianId, guardianKeys: { signingKey: fromBase64Url(p.guardianKeys.signingKey), agreementKey: fromBase64Url(p.guardianKeys.agreementKey) }, terms: p.terms, headHash };
    if (typeof p.displayName === 'string') state.pendingInvite.displayName = p.displayName;
  }
  if (json.memberProfiles !== undefined) {
    if (typeof json.memberProfiles !== 'object' || json.memberProfiles === null) throw new TypeError('family state is damaged (member profiles)');
    state.memberProfiles = {};
    for (const [accountId, mark] of Object.entries(json.memberProfiles)) {
      if (!Number.isSafeInteger(mark?.seq) || !Number.isSafeInteger(mark?.epoch)) throw new TypeError('family state is damaged (member profiles)');
      state.memberProfiles[accountId] = { seq: mark.seq, epoch: mark.epoch };
    }
  }
  if (json.verified !== undefined) {
    if (typeof json.verified !== 'object' || json.verified === null || !Object.values(json.verified).every((v) => typeof v === 'string')) throw new TypeError('family state is damaged (verified)');
    state.verified = { ...json.verified };
  }
  if (json.createdInvites !== undefined) {
    state.createdInvites = {};
    for (const [inviteId, invite] of Object.entries(json.createdInvites)) state.createdInvites[inviteId] = { secret: fromBase64Url(invite.secret), terms: invite.terms };
  }
  if (json.securityLog !== undefined) {
    const log = json.securityLog;
    if (typeof log !== 'object' || log === null || !Number.isSafeInteger(log.seq) || log.seq < 0) throw new TypeError('family state is damaged (security log)');
    state.securityLog = { logKey: fromBase64Url(log.logKey), seq: log.seq, hash: fromBase64Url(log.hash) };
  }
  return state;
}
