/**
 * Per-child keys (issue #16): a wrapped key is one scope's key of one generation (a child's id or ''
 * for the family-wide scope; the epoch the key was made) instead of one family key per epoch. Roster
 * entries before version 6 no longer decode, so the wraps of the old format are dropped with the
 * table rather than carried (one protocol version until 1.0).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('wrapped_keys').execute();
  await db.schema
    .createTable('wrapped_keys')
    .addColumn('family_id', 'text', (c) => c.notNull().references('families.id').onDelete('cascade'))
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('generation', 'integer', (c) => c.notNull())
    .addColumn('recipient_id', 'text', (c) => c.notNull())
    .addColumn('suite', 'text', (c) => c.notNull())
    .addColumn('enc', 'text', (c) => c.notNull())
    .addColumn('ciphertext', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('wrapped_keys_pk', ['family_id', 'scope', 'generation', 'recipient_id'])
    .execute();
  await db.schema.createIndex('wrapped_keys_recipient').on('wrapped_keys').columns(['family_id', 'recipient_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('wrapped_keys').execute();
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
}
