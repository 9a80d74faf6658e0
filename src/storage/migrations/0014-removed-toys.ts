/**
 * History after a removal (issue #21 item 2): a removed toy keeps its device row, with its token
 * gone and `removed_at` set, so the family can still read the toy's sealed name beside its past
 * replies.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('toy_devices').addColumn('removed_at', 'bigint').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('toy_devices').dropColumn('removed_at').execute();
}
