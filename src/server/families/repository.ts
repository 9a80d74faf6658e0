/** The families tables, as the families, children and invites features need them. */
import type { Kysely } from 'kysely';
import type { ChildrenTable, Database, FamiliesTable, FamilyMembersTable, FamilyToysTable, InvitesTable, MemberProfilesTable, PairingRunsTable, RosterEntriesTable, WrappedKeysTable } from '../../storage/database.js';
import { PAIRING_LIMITS } from '../../protocol/toys.js';

export type FamilyRow = FamiliesTable;
export type MemberRow = FamilyMembersTable;
export type ToyRow = FamilyToysTable;
export type WrappedKeyRow = WrappedKeysTable;
export type RosterRow = RosterEntriesTable;
export type ChildRow = ChildrenTable;
export type InviteRow = InvitesTable;
export type MemberProfileRow = MemberProfilesTable;
export type PairingRunRow = PairingRunsTable;

/** A pairing run an entry completes: the toy it adds. */
export interface CompletedPairing {
  runId: string;
  pairingId: string;
  childId: string;
  /** The guardian's confirmation the toy reads once paired. */
  guardianConfirm: string;
}

/** A family's head as stored, for checking and appending the next entry. */
export interface RosterHead {
  epoch: number;
  hash: string;
  entry: string;
}

/** Everything that changes when an entry is appended. */
export interface AppendedHead {
  familyId: string;
  previousEpoch: number;
  entry: RosterRow;
  retentionDays: number;
  sealedName?: string;
  members: MemberRow[];
  toys: ToyRow[];
  wrappedKeys: WrappedKeyRow[];
  /** Invites (status 'accepted') that become 'used'. */
  completesInvites: string[];
  /** Children the entry refers to; checked again inside the transaction, against a concurrent deletion. */
  requiredChildren?: string[];
  /** Confirmed runs (unexpired at `now`) that become 'paired'; their attempts become 'paired' and their toys get a device row. */
  completesPairings?: CompletedPairing[];
  /** Toys of the head the entry leaves out: their device tokens go; the rows stay, marked removed, for the sealed name. */
  removedToys?: string[];
  now?: number;
}

export interface FamiliesRepository {
  /** Runs `work` in one transaction with a repository bound to it. */
  transaction<T>(work: (repository: FamiliesRepository) => Promise<T>): Promise<T>;
  insertFamily(family: FamilyRow, genesis: RosterRow, members: MemberRow[], wrappedKeys: WrappedKeyRow[]): Promise<void>;
  family(familyId: string): Promise<FamilyRow | undefined>;
  head(familyId: string): Promise<RosterHead | undefined>;
  /** Writes a new head; false when the head moved on meanwhile (nothing is written then). */
  appendHead(appended: AppendedHead): Promise<boolean>;
  rosterAfter(familyId: string, afterEpoch: number): Promise<RosterRow[]>;
  membershipsOf(accountId: string): Promise<Array<{ family: FamilyRow; role: MemberRow['role'] }>>;
  members(familyId: string): Promise<MemberRow[]>;
  toys(familyId: string): Promise<ToyRow[]>;
  wrappedKeysFor(familyId: string, recipientId: string): Promise<WrappedKeyRow[]>;
  deleteFamily(familyId: string): Promise<boolean>;
  /** Takes the family row's write lock for the rest of the transaction (appends take it too); false for an unknown family. */
  lockFamily(familyId: string): Promise<boolean>;
  accountKeys(accountId: string): Promise<{ signingKey: string; agreementKey: string; kemKey?: string } | undefined>;
  /** Members at the head whose account no longer exists (they deleted it). */
  deletedMembers(familyId: string): Promise<string[]>;
  /** Revokes the open invites `accountId` created and those it accepted but was not yet added by; returns how many. */
  revokeInvitesOfAccount(accountId: string): Promise<number>;

  children(familyId: string): Promise<ChildRow[]>;
  insertChild(child: ChildRow): Promise<void>;
  updateChild(familyId: string, childId: string, sealedProfile: string, updatedAt: number): Promise<ChildRow | undefined>;
  deleteChild(familyId: string, childId: string): Promise<boolean>;

  insertInvite(invite: InviteRow): Promise<void>;
  invite(inviteId: string): Promise<InviteRow | undefined>;
  invitesOf(familyId: string): Promise<InviteRow[]>;
  invitesByIds(familyId: string, inviteIds: readonly string[]): Promise<InviteRow[]>;
  /** The pairing runs of a family named by `runIds`. */
  pairingRunsByIds(familyId: string, runIds: readonly string[]): Promise<PairingRunRow[]>;
  /** open or accepted → revoked; false when the invite is in no such state. */
  revokeInvite(familyId: string, inviteId: string): Promise<boolean>;
  /** open and unexpired → accepted by `joinerAccountId`; false otherwise (atomic: works once). */
  acceptInvite(accepted: { inviteId: string; joinerAccountId: string; joinerProof: string; joinerSealedName: string | null; now: number }): Promise<boolean>;
  /** The sealed email of an account (the server's secrets open it), if the account exists. */
  accountSealedEmail(accountId: string): Promise<string | undefined>;

  /** The stored member profiles of a family whose account is a member at the head. */
  memberProfiles(familyId: string): Promise<MemberProfileRow[]>;
  /** Writes (or replaces) one member's sealed profile. */
  putMemberProfile(row: MemberProfileRow): Promise<void>;
}

export function createFamiliesRepository(db: Kysely<Database>): FamiliesRepository {
  const repository: FamiliesRepository = {
    transaction(work) {
      return db.transaction().execute((trx) => work(createFamiliesRepository(trx)));
    },

    async insertFamily(family, genesis, members, wrappedKeys) {
      await db.insertInto('families').values(family).execute();
      await db.insertInto('roster_entries').values(genesis).execute();
      await db.insertInto('family_members').values(members).execute();
      await db.insertInto('wrapped_keys').values(wrappedKeys).execute();
    },

    family(familyId) {
      return db.selectFrom('families').selectAll().where('id', '=', familyId).executeTakeFirst();
    },

    async head(familyId) {
      const row = await db
        .selectFrom('families')
        .innerJoin('roster_entries', (join) => join.onRef('roster_entries.family_id', '=', 'families.id').onRef('roster_entries.epoch', '=', 'families.epoch'))
        .select(['families.epoch', 'families.head_hash', 'roster_entries.entry'])
        .where('families.id', '=', familyId)
        .executeTakeFirst();
      return row === undefined ? undefined : { epoch: Number(row.epoch), hash: row.head_hash, entry: row.entry };
    },

    async appendHead(a) {
      const updated = await db
        .updateTable('families')
        .set({ epoch: a.entry.epoch, head_hash: a.entry.hash, retention_days: a.retentionDays, ...(a.sealedName === undefined ? {} : { sealed_name: a.sealedName }) })
        .where('id', '=', a.familyId)
        .where('epoch', '=', a.previousEpoch)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1) return false;
      const required = [...new Set(a.requiredChildren ?? [])];
      if (required.length > 0) {
        const found = await db.selectFrom('children').select('id').where('family_id', '=', a.familyId).where('id', 'in', required).execute();
        if (found.length !== required.length) throw new ChildGoneError();
      }
      await db.insertInto('roster_entries').values(a.entry).execute();
      await db.deleteFrom('family_members').where('family_id', '=', a.familyId).execute();
      await db.insertInto('family_members').values(a.members).execute();
      await db.deleteFrom('family_toys').where('family_id', '=', a.familyId).execute();
      if (a.toys.length > 0) await db.insertInto('family_toys').values(a.toys).execute();
      // A change that rotates no scope and adds no holder needs no wrap at all.
      if (a.wrappedKeys.length > 0) await db.insertInto('wrapped_keys').values(a.wrappedKeys).execute();
      if (a.completesInvites.length > 0) {
        const used = await db
          .updateTable('invites')
          .set({ status: 'used' })
          .where('family_id', '=', a.familyId)
          .where('id', 'in', a.completesInvites)
          .where('status', '=', 'accepted')
          .executeTakeFirst();
        if (Number(used.numUpdatedRows) !== a.completesInvites.length) throw new InviteRaceError();
      }
      const now = a.now ?? Date.now();
      for (const pairing of a.completesPairings ?? []) {
        const run = await db
          .updateTable('pairing_runs')
          .set({ state: 'paired' })
          .where('id', '=', pairing.runId)
          .where('family_id', '=', a.familyId)
          .where('state', '=', 'confirmed')
          .where('expires_at', '>', now)
          .executeTakeFirst();
        // The toy has a while to fetch its device token from now on.
        const attempt = await db
          .updateTable('pairing_attempts')
          .set({ state: 'paired', held_slot: null, family_id: a.familyId, guardian_confirm: pairing.guardianConfirm, expires_at: now + PAIRING_LIMITS.attemptTtlMs })
          .where('id', '=', pairing.pairingId)
          .where('state', '=', 'waiting')
          .executeTakeFirst();
        if (Number(run.numUpdatedRows) !== 1 || Number(attempt.numUpdatedRows) !== 1) throw new PairingRaceError();
        await db.insertInto('toy_devices').values({ family_id: a.familyId, toy_id: pairing.pairingId, child_id: pairing.childId, token_hash: null, token_used: 0, sealed_profile: null, paired_at: now, last_seen_at: null, removed_at: null }).execute();
      }
      if (a.removedToys !== undefined && a.removedToys.length > 0) {
        await db.updateTable('toy_devices').set({ token_hash: null, token_used: 1, removed_at: now }).where('family_id', '=', a.familyId).where('toy_id', 'in', a.removedToys).execute();
      }
      return true;
    },

    rosterAfter(familyId, afterEpoch) {
      return db.selectFrom('roster_entries').selectAll().where('family_id', '=', familyId).where('epoch', '>', afterEpoch).orderBy('epoch', 'asc').execute();
    },

    async membershipsOf(accountId) {
      const rows = await db
        .selectFrom('family_members')
        .innerJoin('families', 'families.id', 'family_members.family_id')
        .selectAll('families')
        .select('family_members.role')
        .where('family_members.account_id', '=', accountId)
        .orderBy('families.created_at', 'asc')
        .execute();
      return rows.map(({ role, ...family }) => ({ family, role }));
    },

    members(familyId) {
      return db.selectFrom('family_members').selectAll().where('family_id', '=', familyId).execute();
    },

    toys(familyId) {
      return db.selectFrom('family_toys').selectAll().where('family_id', '=', familyId).execute();
    },

    wrappedKeysFor(familyId, recipientId) {
      return db.selectFrom('wrapped_keys').selectAll().where('family_id', '=', familyId).where('recipient_id', '=', recipientId).orderBy('generation', 'asc').orderBy('scope', 'asc').execute();
    },

    async deleteFamily(familyId) {
      const result = await db.deleteFrom('families').where('id', '=', familyId).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async lockFamily(familyId) {
      // A no-op write: on PostgreSQL it locks the row until commit; SQLite has one writer anyway.
      const result = await db.updateTable('families').set((eb) => ({ epoch: eb.ref('epoch') })).where('id', '=', familyId).executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async accountKeys(accountId) {
      const row = await db.selectFrom('accounts').select(['signing_key', 'agreement_key', 'kem_key']).where('id', '=', accountId).executeTakeFirst();
      if (row === undefined) return undefined;
      return typeof row.kem_key === 'string' ? { signingKey: row.signing_key, agreementKey: row.agreement_key, kemKey: row.kem_key } : { signingKey: row.signing_key, agreementKey: row.agreement_key };
    },

    async deletedMembers(familyId) {
      const rows = await db
        .selectFrom('family_members')
        .leftJoin('accounts', 'accounts.id', 'family_members.account_id')
        .select('family_members.account_id')
        .where('family_members.family_id', '=', familyId)
        .where('accounts.id', 'is', null)
        .orderBy('family_members.account_id', 'asc')
        .execute();
      return rows.map((r) => r.account_id);
    },

    async revokeInvitesOfAccount(accountId) {
      const result = await db
        .updateTable('invites')
        .set({ status: 'revoked' })
        .where((eb) => eb.or([
          eb.and([eb('created_by', '=', accountId), eb('status', '=', 'open')]),
          eb.and([eb('joiner_account_id', '=', accountId), eb('status', 'in', ['open', 'accepted'])]),
        ]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    children(familyId) {
      return db.selectFrom('children').selectAll().where('family_id', '=', familyId).orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
    },

    async insertChild(child) {
      await db.insertInto('children').values(child).execute();
    },

    async updateChild(familyId, childId, sealedProfile, updatedAt) {
      const result = await db.updateTable('children').set({ sealed_profile: sealedProfile, updated_at: updatedAt }).where('family_id', '=', familyId).where('id', '=', childId).executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return undefined;
      return db.selectFrom('children').selectAll().where('family_id', '=', familyId).where('id', '=', childId).executeTakeFirst();
    },

    async deleteChild(familyId, childId) {
      const result = await db.deleteFrom('children').where('family_id', '=', familyId).where('id', '=', childId).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async insertInvite(invite) {
      await db.insertInto('invites').values(invite).execute();
    },

    invite(inviteId) {
      return db.selectFrom('invites').selectAll().where('id', '=', inviteId).executeTakeFirst();
    },

    invitesOf(familyId) {
      return db.selectFrom('invites').selectAll().where('family_id', '=', familyId).orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
    },

    async invitesByIds(familyId, inviteIds) {
      if (inviteIds.length === 0) return [];
      return db.selectFrom('invites').selectAll().where('family_id', '=', familyId).where('id', 'in', [...inviteIds]).execute();
    },

    async pairingRunsByIds(familyId, runIds) {
      if (runIds.length === 0) return [];
      return db.selectFrom('pairing_runs').selectAll().where('family_id', '=', familyId).where('id', 'in', [...runIds]).execute();
    },

    async revokeInvite(familyId, inviteId) {
      const result = await db.updateTable('invites').set({ status: 'revoked' }).where('family_id', '=', familyId).where('id', '=', inviteId).where('status', 'in', ['open', 'accepted']).executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async acceptInvite({ inviteId, joinerAccountId, joinerProof, joinerSealedName, now }) {
      const result = await db
        .updateTable('invites')
        .set({ status: 'accepted', joiner_account_id: joinerAccountId, joiner_proof: joinerProof, joiner_sealed_name: joinerSealedName, accepted_at: now })
        .where('id', '=', inviteId)
        .where('status', '=', 'open')
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async accountSealedEmail(accountId) {
      return (await db.selectFrom('accounts').select('email_sealed').where('id', '=', accountId).executeTakeFirst())?.email_sealed;
    },

    async memberProfiles(familyId) {
      return db
        .selectFrom('member_profiles')
        .innerJoin('family_members', (join) => join.onRef('family_members.family_id', '=', 'member_profiles.family_id').onRef('family_members.account_id', '=', 'member_profiles.account_id'))
        .select(['member_profiles.family_id', 'member_profiles.account_id', 'member_profiles.sealed_profile', 'member_profiles.updated_at'])
        .where('member_profiles.family_id', '=', familyId)
        .orderBy('member_profiles.account_id')
        .execute();
    },

    async putMemberProfile(row) {
      await db
        .insertInto('member_profiles')
        .values(row)
        .onConflict((oc) => oc.columns(['family_id', 'account_id']).doUpdateSet({ sealed_profile: row.sealed_profile, updated_at: row.updated_at }))
        .execute();
    },
  };
  return repository;
}

/** Thrown inside an append transaction when a listed invite stopped being 'accepted' (revoked meanwhile); rolls it back. */
export class InviteRaceError extends Error {
  constructor() {
    super('an invite listed in completesInvites is no longer accepted');
    this.name = 'InviteRaceError';
  }
}

/** Thrown inside an append transaction when a child the entry refers to was deleted meanwhile; rolls it back. */
export class ChildGoneError extends Error {
  constructor() {
    super('a child the roster entry refers to was deleted');
    this.name = 'ChildGoneError';
  }
}

/** Thrown inside an append transaction when a run in completesPairings stopped being confirmed (expired, used) meanwhile; rolls it back. */
export class PairingRaceError extends Error {
  constructor() {
    super('a run listed in completesPairings is no longer confirmed');
    this.name = 'PairingRaceError';
  }
}
