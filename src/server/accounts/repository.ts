/** The accounts table (and the session rows created or removed with an account). */
import type { Kysely } from 'kysely';
import type { AccountRow, Database, SessionRow } from '../../storage/database.js';

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
  /** Replaces the credentials, ends every session and inserts `session`, in one transaction. False if the account is gone. */
  replaceCredentials(accountId: string, credentials: ReplacedCredentials, session: SessionRow): Promise<boolean>;
  /** Deletes the account and its sessions in one transaction. */
  delete(accountId: string): Promise<void>;
  count(): Promise<number>;
}

export function createAccountsRepository(db: Kysely<Database>): AccountsRepository {
  return {
    async findByLookup(emailLookup) {
      return db.selectFrom('accounts').selectAll().where('email_lookup', '=', emailLookup).executeTakeFirst();
    },
    async findById(accountId) {
      return db.selectFrom('accounts').selectAll().where('id', '=', accountId).executeTakeFirst();
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
    async delete(accountId) {
      await db.transaction().execute(async (tx) => {
        // Sessions first, so the delete does not depend on ON DELETE CASCADE being enforced.
        await tx.deleteFrom('sessions').where('account_id', '=', accountId).execute();
        await tx.deleteFrom('accounts').where('id', '=', accountId).execute();
      });
    },
    async count() {
      const row = await db.selectFrom('accounts').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}
