/** The `family_log` table: append one event after the last, read a page, list an account's families. */
import type { Expression, ExpressionBuilder, Kysely, SqlBool } from 'kysely';
import { compiledOnce } from '../../storage/compiled-once.js';
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
  /**
   * Inserts `row` only while its family exists and its log ends where the row says it follows on
   * (seq − 1 with hash `prev_hash`; an empty log for seq 1), in one statement; false when it did
   * not. A unique violation means another append took the seq first.
   */
  appendAfter(row: FamilyLogTable): Promise<boolean>;
  page(familyId: string, after: number, limit: number): Promise<FamilyLogTable[]>;
  familiesOf(accountId: string): Promise<string[]>;
  deleteFamily(familyId: string): Promise<void>;
}

const LOG_COLUMNS = ['family_id', 'seq', 'at', 'kind', 'actor_id', 'subject_id', 'details', 'prev_hash', 'hash', 'signature'] as const;

type LogArguments = FamilyLogTable & Record<string, string | number | null>;

/** `INSERT … SELECT` of the row's values from its family's row, where `after` holds: compiled once (src/storage/compiled-once.ts). */
function insertWhere(q: Kysely<LogDatabase>, row: LogArguments, after: (eb: ExpressionBuilder<LogDatabase, 'families'>) => Expression<SqlBool>) {
  return q.insertInto('family_log').columns([...LOG_COLUMNS])
    .expression((eb) => eb.selectFrom('families').where('families.id', '=', row.family_id).where(after)
      .select(LOG_COLUMNS.map((column) => eb.val(row[column]).as(column))));
}

const insertFirst = compiledOnce((q: Kysely<LogDatabase>, row: LogArguments) => insertWhere(q, row, (eb) =>
  eb.not(eb.exists(eb.selectFrom('family_log').select('family_log.seq').where('family_log.family_id', '=', row.family_id)))));
const insertNext = compiledOnce((q: Kysely<LogDatabase>, row: LogArguments & { prevSeq: number }) => insertWhere(q, row, (eb) =>
  eb.exists(eb.selectFrom('family_log').select('family_log.seq').where('family_log.family_id', '=', row.family_id).where('family_log.seq', '=', row.prevSeq).where('family_log.hash', '=', row.prev_hash))));

/** Every login and new session lists the account's families (for their logs): compiled once. */
const familiesOfQuery = compiledOnce((q: Kysely<LogDatabase>, a: { accountId: string }) => q.selectFrom('family_members').select('family_id').where('account_id', '=', a.accountId));

/**
 * `options.singleWriter`: the store has one writer that runs each statement alone (the embedded
 * SQLite file), so `appendAfter` needs no lock on the family row; elsewhere (PostgreSQL) it takes
 * that lock in a transaction, as `lockFamily` does, so a family deleted meanwhile gets no row.
 */
export function createFamilyLogRepository(database: Kysely<Database>, options: { singleWriter?: boolean } = {}): FamilyLogRepository {
  const db = database.withTables<{ family_log: FamilyLogTable }>() as unknown as Kysely<LogDatabase>;

  async function insertAfter(q: Kysely<LogDatabase>, row: FamilyLogTable): Promise<boolean> {
    const result = row.seq === 1 ? await insertFirst(q, { ...row }) : await insertNext(q, { ...row, prevSeq: row.seq - 1 });
    return Number(result.numAffectedRows ?? 0n) === 1;
  }

  return {
    transaction(work) {
      return db.transaction().execute((trx) => work(createFamilyLogRepository(trx as unknown as Kysely<Database>, options)));
    },
    async appendAfter(row) {
      if (options.singleWriter === true) return insertAfter(db, row);
      return db.transaction().execute(async (trx) => {
        const locked = await trx.updateTable('families').set((eb) => ({ epoch: eb.ref('epoch') })).where('id', '=', row.family_id).executeTakeFirst();
        return Number(locked.numUpdatedRows) === 1 && insertAfter(trx, row);
      });
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
      const { rows } = await familiesOfQuery(db, { accountId });
      return rows.map((r) => r.family_id);
    },
    async deleteFamily(familyId) {
      await db.deleteFrom('family_log').where('family_id', '=', familyId).execute();
    },
  };
}
