/**
 * State that several server nodes must share once they sit behind one load balancer: rate-limit
 * windows, per-account login failures, and started OPAQUE logins (sealed; a login may start on one
 * node and finish on another). Keys are keyed hashes, never addresses or emails. Portable schema builder only.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('rate_windows')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addColumn('reset_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('rate_windows_reset_at').on('rate_windows').column('reset_at').execute();

  await db.schema
    .createTable('login_failures')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addColumn('last_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('login_failures_last_at').on('login_failures').column('last_at').execute();

  await db.schema
    .createTable('login_states')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('sealed', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('login_states_expires_at').on('login_states').column('expires_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['login_states', 'login_failures', 'rate_windows']) await db.schema.dropTable(table).execute();
}
