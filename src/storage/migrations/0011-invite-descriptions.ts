/**
 * Invites carry a sealed description (issue #22): who invites and to which family, sealed under a
 * key derived from the link's secret (src/crypto/invite-description.ts). Ciphertext only.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('invites').addColumn('sealed_description', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('invites').dropColumn('sealed_description').execute();
}
