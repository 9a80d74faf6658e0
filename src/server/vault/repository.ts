/** The account_vaults table: one sealed vault per account, written only over the revision before it. */
import type { Kysely } from 'kysely';
import type { Database } from '../../storage/database.js';

export interface StoredVault {
  revision: number;
  sealed: string;
}

export interface VaultRepository {
  find(accountId: string): Promise<StoredVault | undefined>;
  /**
   * Stores `vault` if the stored revision is `vault.revision − 1` (none stored for revision 1), in one
   * statement, so two devices writing at once cannot both win. False when the revision did not follow.
   */
  writeNext(accountId: string, vault: StoredVault, now: number): Promise<boolean>;
}

export function createVaultRepository(db: Kysely<Database>): VaultRepository {
  return {
    async find(accountId) {
      const row = await db.selectFrom('account_vaults').select(['revision', 'sealed']).where('account_id', '=', accountId).executeTakeFirst();
      return row === undefined ? undefined : { revision: Number(row.revision), sealed: row.sealed };
    },
    async writeNext(accountId, vault, now) {
      if (vault.revision === 1) {
        const inserted = await db
          .insertInto('account_vaults')
          .values({ account_id: accountId, revision: 1, sealed: vault.sealed, updated_at: now })
          .onConflict((oc) => oc.column('account_id').doNothing())
          .executeTakeFirst();
        return Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1;
      }
      const updated = await db
        .updateTable('account_vaults')
        .set({ revision: vault.revision, sealed: vault.sealed, updated_at: now })
        .where('account_id', '=', accountId)
        .where('revision', '=', vault.revision - 1)
        .executeTakeFirst();
      return Number(updated.numUpdatedRows) === 1;
    },
  };
}
