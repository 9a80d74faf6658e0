/**
 * Guardians' signed declines of relatives' messages that need approval (issue #21): one row per
 * message and guardian, with the signature (src/crypto/envelope.ts `declineMessage`, label
 * `burrow/decline/v1`) and the head it commits to, relayed to clients as approvals are. A declined
 * message stays for its sender and the guardians (who see who declined it) until it is deleted or
 * expires; toys and other relatives no longer see it.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('message_declines')
    .addColumn('message_id', 'text', (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('guardian_id', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('roster_epoch', 'bigint', (c) => c.notNull())
    .addColumn('roster_head', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('message_declines_pk', ['message_id', 'guardian_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('message_declines').execute();
}
