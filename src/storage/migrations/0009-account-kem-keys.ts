/**
 * Accounts publish an X-Wing (X25519 + ML-KEM-768) public key beside their Ed25519 and X25519 keys
 * (issue #11). Null for accounts registered before it, whose family keys stay classically wrapped.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('accounts').addColumn('kem_key', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('accounts').dropColumn('kem_key').execute();
}
