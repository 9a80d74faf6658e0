/** The accounts table (and the session rows created or removed with an account). */
import { sql, type Kysely } from 'kysely';
import { compiledOnce } from '../../storage/compiled-once.js';
import type { AccountRow, Database, SessionRow } from '../../storage/database.js';
import { createFamiliesRepository, type FamiliesRepository } from '../families/repository.js';

/** The credentials a recovery replaces. */
export interface ReplacedCredentials {
  opaque_record: string;
  sealed_identity: string;
  recovery_sealed_identity: string;
  recovery_verifier: string;
}

export interface AccountsRepository {
  findByLookup(emailLookup: string): Promise<AccountRow | undefined>;
  findById(accountId: string): Promise<AccountRow | undefined>;
  /** Inserts the account and its first session in one transaction; throws a unique violation if the email is taken. */
  createWithSession(account: AccountRow, session: SessionRow): Promise<void>;
  /**
   * Inserts `session` in one statement if its account exists, is not disabled and still has the
   * OPAQUE record `record` (a login started before a recovery replaced it does not finish); false
   * otherwise, with nothing written.
   */
  insertSessionIfCurrent(session: SessionRow, record: string): Promise<boolean>;
  /** Replaces the credentials, ends every session and inserts `session`, in one transaction. False if the account is gone. */
  replaceCredentials(accountId: string, credentials: ReplacedCredentials, session: SessionRow): Promise<boolean>;
  /**
   * In one transaction, with each of the account's families locked: refuses when the account is the
   * only guardian of a family someone else (a living account or a toy) is in; otherwise revokes the
   * invites it created that are open and those it accepted, and deletes its sessions and the account.
   * The families it was the only member of are returned for the caller to purge.
   */
  deleteAccount(accountId: string): Promise<AccountDeletion>;
  count(): Promise<number>;
}

/** What deleting an account did: nothing (it is the only guardian of `soleGuardianOf`), or the deletion. */
export type AccountDeletion =
  | { deleted: false; soleGuardianOf: string[] }
  | { deleted: true; abandonedFamilies: string[] };

/** How a family fares when `accountId` goes: nobody else left, stranded without a guardian, or fine. */
async function fateOfFamily(families: FamiliesRepository, familyId: string, accountId: string): Promise<'abandoned' | 'stranded' | 'continues'> {
  const [members, toys, deleted] = await Promise.all([families.members(familyId), families.toys(familyId), families.deletedMembers(familyId)]);
  const gone = new Set(deleted);
  const others = members.filter((m) => m.account_id !== accountId && !gone.has(m.account_id));
  if (others.length === 0 && toys.length === 0) return 'abandoned';
  const self = members.find((m) => m.account_id === accountId);
  if (self?.role === 'guardian' && !others.some((m) => m.role === 'guardian')) return 'stranded';
  return 'continues';
}

// Every login runs these two: compiled once (src/storage/compiled-once.ts).
const accountByLookupQuery = compiledOnce((q: Kysely<Database>, a: { emailLookup: string }) => q.selectFrom('accounts').selectAll().where('email_lookup', '=', a.emailLookup));

/**
 * INSERT … SELECT: the values come from parameters, the condition from the account's row. The
 * numbers are cast so PostgreSQL does not take the untyped parameters for text.
 */
const insertSessionIfCurrentQuery = compiledOnce((q: Kysely<Database>, a: SessionRow & { record: string }) => q
  .insertInto('sessions')
  .columns(['id', 'account_id', 'token_hash', 'label', 'created_at', 'last_seen_at', 'expires_at'])
  .expression((eb) =>
    eb
      .selectFrom('accounts')
      .select([
        eb.val(a.id).as('id'),
        eb.val(a.account_id).as('account_id'),
        eb.val(a.token_hash).as('token_hash'),
        eb.val(a.label).as('label'),
        sql<number>`cast(${a.created_at} as bigint)`.as('created_at'),
        sql<number>`cast(${a.last_seen_at} as bigint)`.as('last_seen_at'),
        sql<number>`cast(${a.expires_at} as bigint)`.as('expires_at'),
      ])
      .where('id', '=', a.account_id)
      .where('disabled_at', 'is', null)
      .where('opaque_record', '=', a.record),
  ));

export function createAccountsRepository(db: Kysely<Database>): AccountsRepository {
  return {
    async findByLookup(emailLookup) {
      return (await accountByLookupQuery(db, { emailLookup })).rows[0];
    },
    async findById(accountId) {
      return db.selectFrom('accounts').selectAll().where('id', '=', accountId).executeTakeFirst();
    },
    async insertSessionIfCurrent(session, record) {
      const result = await insertSessionIfCurrentQuery(db, { ...session, record });
      return Number(result.numAffectedRows ?? 0) === 1;
    },
    async createWithSession(account, session) {
      await db.transaction().execute(async (tx) => {
        await tx.insertInto('accounts').values(account).execute();
        await tx.insertInto('sessions').values(session).execute();
      });
    },
    async replaceCredentials(accountId, credentials, session) {
      return db.transaction().execute(async (tx) => {
        const updated = await tx.updateTable('accounts').set(credentials).where('id', '=', accountId).executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 0) return false;
        await tx.deleteFrom('sessions').where('account_id', '=', accountId).execute();
        await tx.insertInto('sessions').values(session).execute();
        return true;
      });
    },
    async deleteAccount(accountId) {
      return db.transaction().execute(async (tx): Promise<AccountDeletion> => {
        const families = createFamiliesRepository(tx);
        const familyIds = [...new Set((await families.membershipsOf(accountId)).map((m) => m.family.id))].sort();
        // Locked in a fixed order (no deadlock between two deletions), so no roster append changes who is in them meanwhile.
        for (const familyId of familyIds) await families.lockFamily(familyId);
        const soleGuardianOf: string[] = [];
        const abandonedFamilies: string[] = [];
        for (const familyId of familyIds) {
          const fate = await fateOfFamily(families, familyId, accountId);
          if (fate === 'stranded') soleGuardianOf.push(familyId);
          else if (fate === 'abandoned') abandonedFamilies.push(familyId);
        }
        if (soleGuardianOf.length > 0) return { deleted: false, soleGuardianOf };
        await families.revokeInvitesOfAccount(accountId);
        // Sessions first, so the delete does not depend on ON DELETE CASCADE being enforced.
        await tx.deleteFrom('sessions').where('account_id', '=', accountId).execute();
        await tx.deleteFrom('accounts').where('id', '=', accountId).execute();
        return { deleted: true, abandonedFamilies };
      });
    },
    async count() {
      const row = await db.selectFrom('accounts').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}
