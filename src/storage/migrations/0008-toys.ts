/**
 * Toys: pairing attempts and their runs (the relay of src/server/toys/), and one row per paired toy
 * (its device token's hash, its sealed name, when it was last seen). An attempt holds its slot in
 * `held_slot` (unique; NULL once the attempt ended or expired, which frees the slot). Runs and
 * toys reference `families.id` with ON DELETE CASCADE, so deleting a family removes them too.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('pairing_attempts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('slot', 'text', (c) => c.notNull())
    .addColumn('held_slot', 'text', (c) => c.unique())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('runs_started', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('family_id', 'text')
    .addColumn('guardian_confirm', 'text')
    .execute();
  await db.schema.createIndex('pairing_attempts_expires').on('pairing_attempts').column('expires_at').execute();

  await db.schema
    .createTable('pairing_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('pairing_id', 'text', (c) => c.notNull().references('pairing_attempts.id').onDelete('cascade'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('family_id', 'text', (c) => c.notNull().references('families.id').onDelete('cascade'))
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('child_id', 'text', (c) => c.notNull())
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('guardian_share', 'text', (c) => c.notNull())
    .addColumn('toy_share', 'text')
    .addColumn('toy_confirm', 'text')
    .addColumn('guardian_confirm', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('pairing_runs_seq', ['pairing_id', 'seq'])
    .execute();
  await db.schema.createIndex('pairing_runs_family').on('pairing_runs').columns(['family_id', 'id']).execute();

  await db.schema
    .createTable('toy_devices')
    .addColumn('family_id', 'text', (c) => c.notNull().references('families.id').onDelete('cascade'))
    .addColumn('toy_id', 'text', (c) => c.notNull())
    .addColumn('child_id', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.unique())
    .addColumn('token_used', 'integer', (c) => c.notNull())
    .addColumn('sealed_profile', 'text')
    .addColumn('paired_at', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_at', 'bigint')
    .addPrimaryKeyConstraint('toy_devices_pk', ['family_id', 'toy_id'])
    .execute();
  await db.schema.createIndex('toy_devices_toy_id').on('toy_devices').column('toy_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['toy_devices', 'pairing_runs', 'pairing_attempts']) await db.schema.dropTable(table).execute();
}
