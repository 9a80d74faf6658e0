/** The account and toy ids in a family's current roster, for announcing roster changes to each of them. */
import type { Kysely } from 'kysely';
import type { Database } from '../../storage/database.js';

export function createPrincipalsOf(db: Kysely<Database>): (familyId: string) => Promise<string[]> {
  return async (familyId) => {
    const [members, toys] = await Promise.all([
      db.selectFrom('family_members').select('account_id').where('family_id', '=', familyId).execute(),
      db.selectFrom('family_toys').select('toy_id').where('family_id', '=', familyId).execute(),
    ]);
    return [...members.map((m) => m.account_id), ...toys.map((t) => t.toy_id)];
  };
}
