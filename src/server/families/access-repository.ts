/**
 * `FamilyAccess` from the families tables, which mirror the head of each family's roster. Cheap on
 * purpose (the messages hot path asks on every request): indexed lookups by primary key, no roster
 * decoding.
 */
import { sql, type Kysely } from 'kysely';
import { compiledOnce } from '../../storage/compiled-once.js';
import type { Database } from '../../storage/database.js';
import { toyMembership, type FamilyAccess, type FamilyMembership } from './access.js';

/** Parses a JSON array of ids stored in a text column; anything else reads as empty. */
export function parseIdList(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

/** A member's or a toy's row in a family, with the family's epoch: members and toys in one statement. */
const membershipQuery = compiledOnce((db: Kysely<Database>, a: { familyId: string; principalId: string }) => db
  .selectFrom('family_members')
  .innerJoin('families', 'families.id', 'family_members.family_id')
  .select([sql<string>`'member'`.as('kind'), 'families.epoch', 'families.retention_days', 'family_members.role', 'family_members.children', 'family_members.needs_approval', sql<string | null>`null`.as('child_id')])
  .where('family_members.family_id', '=', a.familyId)
  .where('family_members.account_id', '=', a.principalId)
  .unionAll(db
    .selectFrom('family_toys')
    .innerJoin('families', 'families.id', 'family_toys.family_id')
    .select([sql<string>`'toy'`.as('kind'), 'families.epoch', 'families.retention_days', sql<'guardian' | 'relative'>`null`.as('role'), sql<string>`null`.as('children'), sql<number>`0`.as('needs_approval'), 'family_toys.child_id'])
    .where('family_toys.family_id', '=', a.familyId)
    .where('family_toys.toy_id', '=', a.principalId))
  .orderBy('kind'));

const retentionQuery = compiledOnce((db: Kysely<Database>, a: { familyId: string }) => db.selectFrom('families').select('retention_days').where('id', '=', a.familyId));

/** Builds the families feature's `FamilyAccess` on the SQL store. */
export function createFamilyAccess(db: Kysely<Database>): FamilyAccess {
  return {
    async membership(familyId, principalId): Promise<FamilyMembership | undefined> {
      // Members and toys in one statement, compiled once: the messages hot path asks this on every
      // request (a toy's check used to miss in family_members first).
      const found = (await membershipQuery(db, { familyId, principalId })).rows[0];
      if (found === undefined) return undefined;
      if (found.kind === 'toy') {
        return toyMembership({ familyId, toyId: principalId, childId: found.child_id!, epoch: Number(found.epoch), retentionDays: Number(found.retention_days) });
      }
      const base = { familyId, principalId, kind: 'member' as const, epoch: Number(found.epoch), needsApproval: Number(found.needs_approval) === 1, retentionDays: Number(found.retention_days) };
      if (found.role === 'guardian') return { ...base, role: 'guardian', conversations: 'all' };
      const children = parseIdList(found.children);
      const conversations = new Set(children);
      if (children.length > 0) {
        const toys = await db.selectFrom('family_toys').select('toy_id').where('family_id', '=', familyId).where('child_id', 'in', children).execute();
        for (const toy of toys) conversations.add(toy.toy_id);
      }
      return { ...base, role: 'relative', conversations };
    },

    async familiesOf(principalId) {
      const [members, toys] = await Promise.all([
        db.selectFrom('family_members').select('family_id').where('account_id', '=', principalId).execute(),
        db.selectFrom('family_toys').select('family_id').where('toy_id', '=', principalId).execute(),
      ]);
      return [...new Set([...members, ...toys].map((r) => r.family_id))];
    },

    async retentionDays(familyId) {
      const row = (await retentionQuery(db, { familyId })).rows[0];
      return row === undefined ? undefined : Number(row.retention_days);
    },
  };
}
