/**
 * Operator safety: security reports from researchers (the intake behind `/.well-known/security.txt`)
 * and breach notices sent to members. Neither is family data; a reporter's contact is personal, so it
 * is sealed with the server's email key like account emails. Portable schema builder only.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('security_reports')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('details', 'text', (c) => c.notNull())
    .addColumn('contact_sealed', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('acked_at', 'bigint')
    .execute();
  await db.schema.createIndex('security_reports_received').on('security_reports').columns(['received_at', 'id']).execute();

  await db.schema
    .createTable('notices')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('template_sha256', 'text', (c) => c.notNull())
    .addColumn('recipient_account_id', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'bigint', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('notices_recipient').on('notices').column('recipient_account_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('notices').execute();
  await db.schema.dropTable('security_reports').execute();
}
