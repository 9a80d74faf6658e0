/**
 * Member display names (issue #21): each member's own sealed, signed profile per family
 * (src/crypto/profile.ts, kind `member`), and the name a joiner chose, sealed for the inviting
 * guardian under a key from the invite link's secret. Ciphertext only.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('member_profiles')
    .addColumn('family_id', 'text', (c) => c.notNull().references('families.id').onDelete('cascade'))
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('sealed_profile', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('member_profiles_pk', ['family_id', 'account_id'])
    .execute();
  await db.schema.alterTable('invites').addColumn('joiner_sealed_name', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('invites').dropColumn('joiner_sealed_name').execute();
  await db.schema.dropTable('member_profiles').execute();
}
