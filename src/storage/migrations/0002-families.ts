/**
 * Families: the head of each family's signed roster and its chain, the head's members and toys (for
 * cheap authorisation), wrapped family keys, children and invites. Every table references
 * `families.id` with ON DELETE CASCADE, so deleting a family removes all of its rows in one
 * statement. Portable schema builder only (SQLite and PostgreSQL); booleans are 0/1 integers.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('families')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('epoch', 'integer', (c) => c.notNull())
    .addColumn('head_hash', 'text', (c) => c.notNull())
    .addColumn('retention_days', 'integer', (c) => c.notNull())
    .addColumn('sealed_name', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('roster_entries')
    .addColumn('family_id', 'text', (c) => c.notNull().references('families.id').onDelete('cascade'))
    .addColumn('epoch', 'integer', (c) => c.notNull())
    .addColumn('entry', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('roster_entries_pk', ['family_id', 'epoch'])
    .execute();

  await db.schema
    .createTable('family_members')
    .addColumn('family_id', 'text', (c) => c.notNull().references('families.id').onDelete('cascade'))
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('children', 'text', (c) => c.notNull())
    .addColumn('needs_approval', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('family_members_pk', ['family_id', 'account_id'])
    .execute();
  await db.schema.createIndex('family_members_account_id').on('family_members').column('account_id').execute();

  await db.schema
    .createTable('family_toys')
    .addColumn('family_id', 'text', (c) => c.notNull().references('families.id').onDelete('cascade'))
    .addColumn('toy_id', 'text', (c) => c.notNull())
    .addColumn('child_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('family_toys_pk', ['family_id', 'toy_id'])
    .execute();
  await db.schema.createIndex('family_toys_toy_id').on('family_toys').column('toy_id').execute();
  await db.schema.createIndex('family_toys_child').on('family_toys').columns(['family_id', 'child_id']).execute();

  await db.schema
    .createTable('wrapped_keys')
    .addColumn('family_id', 'text', (c) => c.notNull().references('families.id').onDelete('cascade'))
    .addColumn('epoch', 'integer', (c) => c.notNull())
    .addColumn('recipient_id', 'text', (c) => c.notNull())
    .addColumn('suite', 'text', (c) => c.notNull())
    .addColumn('enc', 'text', (c) => c.notNull())
    .addColumn('ciphertext', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('wrapped_keys_pk', ['family_id', 'epoch', 'recipient_id'])
    .execute();
  await db.schema.createIndex('wrapped_keys_recipient').on('wrapped_keys').columns(['family_id', 'recipient_id']).execute();

  await db.schema
    .createTable('children')
    .addColumn('family_id', 'text', (c) => c.notNull().references('families.id').onDelete('cascade'))
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('sealed_profile', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('children_pk', ['family_id', 'id'])
    .execute();

  await db.schema
    .createTable('invites')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('family_id', 'text', (c) => c.notNull().references('families.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('children', 'text', (c) => c.notNull())
    .addColumn('needs_approval', 'integer', (c) => c.notNull())
    .addColumn('guardian_proof', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('joiner_account_id', 'text')
    .addColumn('joiner_proof', 'text')
    .addColumn('accepted_at', 'bigint')
    .execute();
  await db.schema.createIndex('invites_family_id').on('invites').columns(['family_id', 'created_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['invites', 'children', 'wrapped_keys', 'family_toys', 'family_members', 'roster_entries', 'families']) {
    await db.schema.dropTable(table).execute();
  }
}
