/**
 * Families and their roster: create (genesis signed by the creator), read, append entries signed by
 * a guardian, delete. The server checks every entry it stores as a client would (decode, link,
 * signature, authority) plus what only it can check: members' keys are their accounts' keys, a new
 * member accepted an invite with exactly these terms, referenced children exist, wrapped keys cover
 * the epoch. The tables `family_members` and `family_toys` mirror the head for `FamilyAccess`.
 */
import type { Static } from '@sinclair/typebox';
import { fromBase64Url, toBase64Url } from '../../crypto/bytes.js';
import { toyKeysOfConfirmation } from '../../crypto/pairing.js';
import { hashRosterEntry, verifyRoster, type RosterEntry } from '../../crypto/roster.js';
import { BurrowError } from '../../protocol/errors.js';
import type { AppendRosterRequest, CreateFamilyRequest, FamilyList, FamilyView, MemberProfileView, WrappedKeyWire } from '../../protocol/families.js';
import { isUniqueViolation } from '../../storage/errors.js';
import type { Clock } from '../deps.js';
import type { Principal } from '../principal.js';
import type { SecurityLog } from '../security-log/service.js';
import type { FamilyAccess, FamilyEvents, FamilyPurger } from './access.js';
import { parseIdList } from './access-repository.js';
import { canSeeChild, noFamilyEvents, noFamilyPurger, requireGuardian, requireMember } from './authorize.js';
import { ChildGoneError, InviteRaceError, PairingRaceError, type CompletedPairing, type FamiliesRepository, type MemberRow, type WrappedKeyRow } from './repository.js';
import { checkEarlierKeys, checkSealedProfile, checkWrappedKeys, decodeEntryWire, decodeStoredEntry, invalidRoster, keysEqual, storedKeys } from './roster-checks.js';

export interface FamiliesServiceDeps {
  repository: FamiliesRepository;
  access: FamilyAccess;
  clock: Clock;
  purger?: FamilyPurger;
  events?: FamilyEvents;
  /** Records creations and roster changes in the family's security log. */
  securityLog?: Pick<SecurityLog, 'familyCreated' | 'rosterChanged'>;
}

export type FamiliesService = ReturnType<typeof createFamiliesService>;

function memberRows(familyId: string, entry: RosterEntry): MemberRow[] {
  return entry.members.map((m) => ({
    family_id: familyId,
    account_id: m.accountId,
    role: m.role,
    children: JSON.stringify(m.role === 'guardian' ? [] : (m.children ?? [])),
    needs_approval: m.needsApproval === true ? 1 : 0,
  }));
}

function wrappedKeyRows(familyId: string, keys: readonly WrappedKeyWire[]): WrappedKeyRow[] {
  return keys.map((k) => ({ family_id: familyId, scope: k.scope, generation: k.generation, recipient_id: k.recipientId, suite: k.suite, enc: k.enc, ciphertext: k.ciphertext }));
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((id) => set.has(id));
}

export function createFamiliesService(deps: FamiliesServiceDeps) {
  const { repository, access, clock } = deps;
  const purger = deps.purger ?? noFamilyPurger;
  const events = deps.events ?? noFamilyEvents;

  async function create(accountId: string, body: Static<typeof CreateFamilyRequest>): Promise<{ familyId: string; epoch: number }> {
    const genesis = decodeEntryWire(body.genesis);
    if (genesis.epoch !== 0) throw invalidRoster('A new family starts at epoch 0');
    if (genesis.familyId !== body.familyId) throw invalidRoster('The entry names another family id');
    if (genesis.signerId !== accountId) throw invalidRoster('The creator must sign epoch 0');
    const creator = genesis.members[0];
    if (genesis.members.length !== 1 || creator === undefined || creator.accountId !== accountId || creator.role !== 'guardian') {
      throw invalidRoster('Epoch 0 names exactly one member: the creator, as guardian');
    }
    if (genesis.toys.length !== 0) throw invalidRoster('Epoch 0 has no toys; pair toys once the family exists');
    const keys = await repository.accountKeys(accountId);
    if (keys === undefined || !keysEqual(creator.keys, keys)) throw invalidRoster("The creator's keys in the entry are not the keys of the account");
    const genesisHash = await hashRosterEntry(genesis);
    const verified = await verifyRoster([genesis], { genesisHash });
    if (!verified.ok) throw invalidRoster(`Epoch 0 does not verify (${verified.code})`);
    checkWrappedKeys(undefined, genesis, body.wrappedKeys);
    checkSealedProfile(body.sealedName, 0, 'sealedName');

    const hash = toBase64Url(genesisHash);
    try {
      await repository.transaction((trx) =>
        trx.insertFamily(
          { id: body.familyId, created_at: clock.now(), created_by: accountId, epoch: 0, head_hash: hash, retention_days: genesis.settings.retentionDays, sealed_name: body.sealedName },
          { family_id: body.familyId, epoch: 0, entry: body.genesis, hash },
          memberRows(body.familyId, genesis),
          wrappedKeyRows(body.familyId, body.wrappedKeys),
        ),
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw new BurrowError('burrow/conflict', 'That family id is taken; choose another');
      throw error;
    }
    await deps.securityLog?.familyCreated(body.familyId, accountId);
    return { familyId: body.familyId, epoch: 0 };
  }

  async function list(accountId: string): Promise<Static<typeof FamilyList>> {
    const rows = await repository.membershipsOf(accountId);
    return { families: rows.map(({ family, role }) => ({ familyId: family.id, role, epoch: Number(family.epoch), sealedName: family.sealed_name })) };
  }

  /** The reader's membership: a member's (requireMember) or a toy's; 404 when they are not in the family as that kind. */
  async function readerMembership(reader: Principal, familyId: string) {
    if (reader.kind === 'member') return requireMember(access, familyId, reader.id);
    const membership = await access.membership(familyId, reader.id);
    if (membership === undefined || membership.kind !== 'toy') throw new BurrowError('burrow/not-found', 'No such family');
    return membership;
  }

  async function view(reader: Principal, familyId: string): Promise<Static<typeof FamilyView>> {
    const membership = await readerMembership(reader, familyId);
    const accountId = reader.id;
    const [family, roster, keys, children, deletedAccounts, profiles] = await Promise.all([
      repository.family(familyId),
      repository.rosterAfter(familyId, -1),
      repository.wrappedKeysFor(familyId, accountId),
      repository.children(familyId),
      repository.deletedMembers(familyId),
      // A toy needs no one's name; members see every member's (sealed) profile.
      reader.kind === 'member' ? repository.memberProfiles(familyId) : Promise.resolve([]),
    ]);
    if (family === undefined) throw new BurrowError('burrow/not-found', 'No such family');
    return {
      familyId,
      role: membership.role,
      epoch: Number(family.epoch),
      roster: roster.map((r) => r.entry),
      wrappedKeys: keys.map((k) => ({ suite: k.suite, recipientId: k.recipient_id, scope: k.scope, generation: Number(k.generation), enc: k.enc, ciphertext: k.ciphertext })),
      sealedName: family.sealed_name,
      children: children.filter((c) => canSeeChild(membership, c.id)).map((c) => ({ childId: c.id, sealedProfile: c.sealed_profile, updatedAt: Number(c.updated_at) })),
      retentionDays: Number(family.retention_days),
      ...(deletedAccounts.length === 0 ? {} : { deletedAccounts }),
      ...(reader.kind === 'member' ? { memberProfiles: profiles.map((p) => ({ accountId: p.account_id, sealedProfile: p.sealed_profile, updatedAt: Number(p.updated_at) })) } : {}),
    };
  }

  /**
   * Stores the caller's own sealed member profile (their display name in this family). Only the
   * caller's own slot can be written; readers check that the record is signed by that member.
   */
  async function setMemberProfile(accountId: string, familyId: string, sealedProfile: string): Promise<Static<typeof MemberProfileView>> {
    const membership = await requireMember(access, familyId, accountId);
    checkSealedProfile(sealedProfile, membership.epoch, 'sealedProfile');
    const row = { family_id: familyId, account_id: accountId, sealed_profile: sealedProfile, updated_at: clock.now() };
    await repository.putMemberProfile(row);
    return { accountId, sealedProfile, updatedAt: row.updated_at };
  }

  async function roster(reader: Principal, familyId: string, afterEpoch: number | undefined): Promise<{ familyId: string; entries: string[] }> {
    await readerMembership(reader, familyId);
    const rows = await repository.rosterAfter(familyId, afterEpoch ?? -1);
    return { familyId, entries: rows.map((r) => r.entry) };
  }

  /** Checks the members of `entry` against the head and the invites it completes; returns nothing or throws. */
  async function checkMembers(familyId: string, head: RosterEntry, entry: RosterEntry, completesInvites: readonly string[]): Promise<void> {
    const invites = await repository.invitesByIds(familyId, completesInvites);
    if (invites.length !== new Set(completesInvites).size || invites.length !== completesInvites.length) {
      throw invalidRoster('completesInvites names an invite this family does not have, or names one twice');
    }
    const byJoiner = new Map<string, (typeof invites)[number]>();
    for (const invite of invites) {
      if (invite.status !== 'accepted' || invite.joiner_account_id === null) throw invalidRoster('Every invite in completesInvites must have been accepted and not used');
      if (byJoiner.has(invite.joiner_account_id)) throw invalidRoster('Two invites in completesInvites were accepted by the same account; complete one');
      byJoiner.set(invite.joiner_account_id, invite);
    }
    const previous = new Map(head.members.map((m) => [m.accountId, m]));
    for (const member of entry.members) {
      const before = previous.get(member.accountId);
      const invite = byJoiner.get(member.accountId);
      if (before !== undefined) {
        if (invite !== undefined) throw invalidRoster('An invite in completesInvites names someone who is already a member');
        if (!keysEqual(member.keys, storedKeys(before.keys))) {
          throw invalidRoster("A member's keys may not change in the roster");
        }
        continue;
      }
      if (invite === undefined) throw invalidRoster('A member new to the roster must be the joiner of an accepted invite listed in completesInvites');
      const keys = await repository.accountKeys(member.accountId);
      if (keys === undefined || !keysEqual(member.keys, keys)) throw invalidRoster("A new member's keys are not the keys of their account");
      if (member.role !== invite.role) throw invalidRoster("A new member's role differs from the invite's");
      if (member.role === 'relative') {
        if (!sameIds(member.children ?? [], parseIdList(invite.children))) throw invalidRoster("A new member's children differ from the invite's");
        if ((member.needsApproval === true) !== (invite.needs_approval === 1)) throw invalidRoster("A new member's approval setting differs from the invite's");
      }
      byJoiner.delete(member.accountId);
    }
    if (byJoiner.size > 0) throw invalidRoster('An invite in completesInvites names a joiner the entry does not add');
  }

  /**
   * A toy joins only as the completion of a pairing run of this family that its guardian confirmed,
   * unexpired and unused: the toy's id is the run's pairing id, its keys those the run relayed, its
   * child the run's. Returns what the append transaction completes.
   */
  async function checkNewToys(familyId: string, headToys: ReadonlyMap<string, unknown>, entry: RosterEntry, runIds: readonly string[]): Promise<CompletedPairing[]> {
    const runs = await repository.pairingRunsByIds(familyId, runIds);
    if (runs.length !== new Set(runIds).size || runs.length !== runIds.length) {
      throw invalidRoster('completesPairings names a pairing run this family does not have, or names one twice');
    }
    const now = clock.now();
    const byToy = new Map<string, (typeof runs)[number]>();
    for (const run of runs) {
      if (run.state !== 'confirmed' || Number(run.expires_at) <= now || run.toy_confirm === null || run.guardian_confirm === null) {
        throw invalidRoster('Every run in completesPairings must be confirmed by a guardian, unexpired and not used');
      }
      if (byToy.has(run.pairing_id)) throw invalidRoster('Two runs in completesPairings pair the same toy');
      byToy.set(run.pairing_id, run);
    }
    const completed: CompletedPairing[] = [];
    for (const toy of entry.toys) {
      if (headToys.has(toy.toyId)) continue;
      const run = byToy.get(toy.toyId);
      if (run === undefined) throw invalidRoster('A toy new to the roster must complete a confirmed pairing run listed in completesPairings');
      const relayed = toyKeysOfConfirmation(fromBase64Url(run.toy_confirm!));
      if (relayed === undefined || !keysEqual(toy.keys, storedKeys(relayed))) {
        throw invalidRoster("A new toy's keys are not the keys its pairing run relayed");
      }
      if (toy.childId !== run.child_id) throw invalidRoster("A new toy's child is not the child its pairing run was started for");
      completed.push({ runId: run.id, pairingId: run.pairing_id, childId: run.child_id, guardianConfirm: run.guardian_confirm! });
      byToy.delete(toy.toyId);
    }
    if (byToy.size > 0) throw invalidRoster('A run in completesPairings names a toy the entry does not add');
    return completed;
  }

  async function append(accountId: string, familyId: string, body: Static<typeof AppendRosterRequest>): Promise<{ familyId: string; epoch: number }> {
    await requireGuardian(access, familyId, accountId);
    const entry = decodeEntryWire(body.entry);
    if (entry.familyId !== familyId) throw invalidRoster('The entry names another family id');
    const stored = await repository.head(familyId);
    if (stored === undefined) throw new BurrowError('burrow/not-found', 'No such family');
    if (entry.epoch !== stored.epoch + 1 || toBase64Url(entry.previousHash) !== stored.hash) {
      throw new BurrowError('burrow/stale-roster', `The roster's head is epoch ${stored.epoch}; read it again and sign the next entry`);
    }
    if (entry.signerId !== accountId) throw invalidRoster('The caller must sign the entry they append');
    const head = decodeStoredEntry(stored.entry);
    const verified = await verifyRoster([head, entry], { trustedEntry: head });
    if (!verified.ok) throw invalidRoster(`The entry does not verify against the head (${verified.code})`);

    const headToys = new Map(head.toys.map((t) => [t.toyId, t]));
    const pairings = await checkNewToys(familyId, headToys, entry, body.completesPairings ?? []);
    for (const toy of entry.toys) {
      const before = headToys.get(toy.toyId);
      if (before === undefined) continue;
      if (!keysEqual(toy.keys, storedKeys(before.keys)) || toy.childId !== before.childId) {
        throw invalidRoster("A toy's keys and child may not change in the roster");
      }
    }
    const completes = body.completesInvites ?? [];
    await checkMembers(familyId, head, entry, completes);
    const childIds = new Set((await repository.children(familyId)).map((c) => c.id));
    // The entry's children include every relative's and toy's (the roster checks that); each must be a child of the family.
    const requiredChildren = [...entry.children];
    for (const child of entry.children) if (!childIds.has(child)) throw invalidRoster('The entry lists a child this family does not have: add the child first');
    checkWrappedKeys(head, entry, body.wrappedKeys);
    const earlierKeys = body.earlierKeys ?? [];
    checkEarlierKeys(entry, new Set(pairings.map((p) => p.pairingId)), earlierKeys);
    if (body.sealedName !== undefined) checkSealedProfile(body.sealedName, entry.epoch, 'sealedName');

    const hash = toBase64Url(verified.value.headHash);
    let appended: boolean;
    try {
      appended = await repository.transaction((trx) =>
        trx.appendHead({
          familyId,
          previousEpoch: stored.epoch,
          entry: { family_id: familyId, epoch: entry.epoch, entry: body.entry, hash },
          retentionDays: entry.settings.retentionDays,
          ...(body.sealedName === undefined ? {} : { sealedName: body.sealedName }),
          members: memberRows(familyId, entry),
          toys: entry.toys.map((t) => ({ family_id: familyId, toy_id: t.toyId, child_id: t.childId })),
          wrappedKeys: wrappedKeyRows(familyId, [...body.wrappedKeys, ...earlierKeys]),
          completesInvites: completes,
          requiredChildren,
          completesPairings: pairings,
          removedToys: head.toys.filter((t) => !entry.toys.some((n) => n.toyId === t.toyId)).map((t) => t.toyId),
          now: clock.now(),
        }),
      );
    } catch (error) {
      if (isUniqueViolation(error)) appended = false;
      else if (error instanceof InviteRaceError) throw new BurrowError('burrow/conflict', 'An invite in completesInvites was revoked or used meanwhile');
      else if (error instanceof ChildGoneError) throw invalidRoster('A child the entry refers to was deleted meanwhile');
      else if (error instanceof PairingRaceError) throw new BurrowError('burrow/conflict', 'A run in completesPairings expired or was used meanwhile');
      else throw error;
    }
    if (!appended) throw new BurrowError('burrow/stale-roster', 'The roster changed meanwhile; read it again and retry');
    await deps.securityLog?.rosterChanged(familyId, accountId, { before: head, after: entry });
    await events.publish(familyId, 'roster', { epoch: entry.epoch });
    return { familyId, epoch: entry.epoch };
  }

  async function remove(accountId: string, familyId: string): Promise<void> {
    await requireGuardian(access, familyId, accountId);
    await purgeFamily({ repository, purger, events }, familyId);
  }

  return { create, list, view, setMemberProfile, roster, append, remove };
}

/**
 * Deletes a family completely: its messages and their blobs, then its rows, then a `family-deleted`
 * event. Used when a guardian deletes the family and when its only member deletes their account.
 */
export async function purgeFamily(deps: { repository: FamiliesRepository; purger: FamilyPurger; events: FamilyEvents }, familyId: string): Promise<void> {
  // Blobs first: once the rows are gone nothing would name them.
  await deps.purger.purgeFamily(familyId);
  await deps.repository.transaction((trx) => trx.deleteFamily(familyId));
  // The event says what is already true: a member who reacts by listing their families no longer
  // sees this one. Open connections still follow the family's topic, so they hear it; a connection
  // made later never follows a family that is gone.
  await deps.events.publish(familyId, 'family-deleted', {});
}

/** Parses `?afterEpoch=` (digits only, by schema). */
export function parseAfterEpoch(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}

