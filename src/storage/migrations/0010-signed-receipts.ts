/**
 * Receipts are signed by whoever sends them, and approvals and receipts commit to their author's
 * verified roster head (issue #15). Receipts and approvals stored before this carry no head and no
 * receipt signature, so no client could verify them: both tables are made anew without them (one
 * protocol version until 1.0) rather than keeping rows every reader would flag. Messages that were
 * approved wait for a guardian's approval again.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('message_receipts').execute();
  await db.schema.dropTable('message_approvals').execute();
  await db.schema
    .createTable('message_receipts')
    .addColumn('message_id', 'text', (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('by_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('signed_at', 'bigint', (c) => c.notNull())
    .addColumn('roster_epoch', 'bigint', (c) => c.notNull())
    .addColumn('roster_head', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('message_receipts_pk', ['message_id', 'by_id', 'kind'])
    .execute();
  await db.schema
    .createTable('message_approvals')
    .addColumn('message_id', 'text', (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('guardian_id', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('roster_epoch', 'bigint', (c) => c.notNull())
    .addColumn('roster_head', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('message_approvals_pk', ['message_id', 'guardian_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('message_receipts').execute();
  await db.schema.dropTable('message_approvals').execute();
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
