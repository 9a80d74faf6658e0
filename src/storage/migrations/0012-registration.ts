/**
 * Sign-up control and operator actions (issue #20): one-time registration codes (hashed), the
 * operator's log, and a disabled flag on accounts.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('accounts').addColumn('disabled_at', 'bigint').execute();
  await db.schema
    .createTable('registration_codes')
    .addColumn('code_hash', 'text', (c) => c.primaryKey())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema
    .createTable('operator_log')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text')
    .execute();
  await db.schema.createIndex('operator_log_at').on('operator_log').column('at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('operator_log').execute();
  await db.schema.dropTable('registration_codes').execute();
  await db.schema.alterTable('accounts').dropColumn('disabled_at').execute();
}
