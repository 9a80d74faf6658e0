/** The `security_reports` table. */
import type { Kysely, Selectable } from 'kysely';
import type { Database, SecurityReportsTable } from '../../storage/database.js';

export type SecurityReportRow = Selectable<SecurityReportsTable>;

export interface SecurityReportsRepository {
  insert(row: SecurityReportRow): Promise<void>;
  /** Newest first. */
  list(options: { status?: 'open' | 'acked'; limit: number }): Promise<SecurityReportRow[]>;
  find(id: string): Promise<SecurityReportRow | undefined>;
  /** Marks a report acknowledged; false when no report has that id. */
  ack(id: string, at: number): Promise<boolean>;
}

export function createSecurityReportsRepository(db: Kysely<Database>): SecurityReportsRepository {
  return {
    async insert(row) {
      await db.insertInto('security_reports').values(row).execute();
    },
    async list({ status, limit }) {
      let query = db.selectFrom('security_reports').selectAll().orderBy('received_at', 'desc').orderBy('id').limit(limit);
      if (status !== undefined) query = query.where('status', '=', status);
      return (await query.execute()).map((r) => ({ ...r, received_at: Number(r.received_at), acked_at: r.acked_at === null ? null : Number(r.acked_at) }));
    },
    async find(id) {
      const row = await db.selectFrom('security_reports').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : { ...row, received_at: Number(row.received_at), acked_at: row.acked_at === null ? null : Number(row.acked_at) };
    },
    async ack(id, at) {
      const result = await db.updateTable('security_reports').set({ status: 'acked', acked_at: at }).where('id', '=', id).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
  };
}
