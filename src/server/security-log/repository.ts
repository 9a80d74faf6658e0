/** The `family_log` table: append one event after the last, read a page, list an account's families. */
import type { Kysely } from 'kysely';
import type { Database } from '../../storage/database.js';

export interface FamilyLogTable {
  family_id: string;
  seq: number;
  at: number;
  kind: string;
  actor_id: string;
  subject_id: string | null;
  /** JSON object of ids and numbers. */
  details: string;
  prev_hash: string;
  hash: string;
  signature: string;
}

type LogDatabase = Database & { family_log: FamilyLogTable };

export interface FamilyLogRepository {
  /** Runs `work` in one transaction with a repository bound to it. */
  transaction<T>(work: (repository: FamilyLogRepository) => Promise<T>): Promise<T>;
  /** Takes the family row's write lock until commit (appends queue behind each other); false for a family that is gone. */
  lockFamily(familyId: string): Promise<boolean>;
  last(familyId: string): Promise<{ seq: number; hash: string } | undefined>;
  insert(row: FamilyLogTable): Promise<void>;
  page(familyId: string, after: number, limit: number): Promise<FamilyLogTable[]>;
  familiesOf(accountId: string): Promise<string[]>;
  deleteFamily(familyId: string): Promise<void>;
}

export function createFamilyLogRepository(database: Kysely<Database>): FamilyLogRepository {
  const db = database.withTables<{ family_log: FamilyLogTable }>() as unknown as Kysely<LogDatabase>;
  return {
    transaction(work) {
      return db.transaction().execute((trx) => work(createFamilyLogRepository(trx as unknown as Kysely<Database>)));
    },
    async lockFamily(familyId) {
      // A no-op write: on PostgreSQL it locks the row until commit; SQLite has one writer anyway.
      const result = await db.updateTable('families').set((eb) => ({ epoch: eb.ref('epoch') })).where('id', '=', familyId).executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async last(familyId) {
      const row = await db.selectFrom('family_log').select(['seq', 'hash']).where('family_id', '=', familyId).orderBy('seq', 'desc').limit(1).executeTakeFirst();
      return row === undefined ? undefined : { seq: Number(row.seq), hash: row.hash };
    },
    async insert(row) {
      await db.insertInto('family_log').values(row).execute();
    },
    async page(familyId, after, limit) {
      const rows = await db.selectFrom('family_log').selectAll().where('family_id', '=', familyId).where('seq', '>', after).orderBy('seq', 'asc').limit(limit).execute();
      return rows.map((r) => ({ ...r, seq: Number(r.seq), at: Number(r.at) }));
    },
    async familiesOf(accountId) {
      const rows = await db.selectFrom('family_members').select('family_id').where('account_id', '=', accountId).execute();
      return rows.map((r) => r.family_id);
    },
    async deleteFamily(familyId) {
      await db.deleteFrom('family_log').where('family_id', '=', familyId).execute();
    },
  };
}
