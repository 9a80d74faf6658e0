/**
 * Voice messages: one row per committed envelope (the envelope itself is a blob under a random
 * name), its recipients (for visibility filters in SQL), receipts and guardian approvals. Every
 * table cascades from `families`, and the message tables from `messages`, so deleting a family or a
 * message removes its rows in one statement. Portable schema builder only; booleans are 0/1 integers.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('messages')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('family_id', 'text', (c) => c.notNull().references('families.id').onDelete('cascade'))
    .addColumn('sender_id', 'text', (c) => c.notNull())
    .addColumn('sender_kind', 'text', (c) => c.notNull())
    .addColumn('recipients', 'text', (c) => c.notNull())
    .addColumn('epoch', 'integer', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('ciphertext_hash', 'text', (c) => c.notNull())
    .addColumn('blob_name', 'text', (c) => c.notNull().unique())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('saved', 'integer', (c) => c.notNull())
    .addColumn('needs_approval', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('messages_family_received').on('messages').columns(['family_id', 'received_at', 'id']).execute();
  await db.schema.createIndex('messages_expires_at').on('messages').column('expires_at').execute();

  await db.schema
    .createTable('message_recipients')
    .addColumn('message_id', 'text', (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('recipient_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('message_recipients_pk', ['message_id', 'recipient_id'])
    .execute();
  await db.schema.createIndex('message_recipients_recipient').on('message_recipients').column('recipient_id').execute();

  await db.schema
    .createTable('message_receipts')
    .addColumn('message_id', 'text', (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('by_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('message_receipts_pk', ['message_id', 'by_id', 'kind'])
    .execute();

  await db.schema
    .createTable('message_approvals')
    .addColumn('message_id', 'text', (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('guardian_id', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('message_approvals_pk', ['message_id', 'guardian_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['message_approvals', 'message_receipts', 'message_recipients', 'messages']) {
    await db.schema.dropTable(table).execute();
  }
}
