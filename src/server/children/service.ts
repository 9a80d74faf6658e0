/**
 * Children of a family: a client-chosen id and a sealed profile (a name and an emoji avatar; the
 * server cannot read it and asks for nothing else). Guardians add, update and delete them; a
 * relative sees only the children they were given, and any other child does not exist for them.
 */
import type { Static } from '@sinclair/typebox';
import { BurrowError } from '../../protocol/errors.js';
import type { ChildView } from '../../protocol/families.js';
import { isUniqueViolation } from '../../storage/errors.js';
import type { Clock } from '../deps.js';
import type { FamilyAccess, FamilyEvents, FamilyMembership } from '../families/access.js';
import { parseIdList } from '../families/access-repository.js';
import { canSeeChild, noFamilyEvents, requireMember } from '../families/authorize.js';
import type { ChildRow, FamiliesRepository } from '../families/repository.js';
import { checkSealedProfile, decodeStoredEntry } from '../families/roster-checks.js';

export interface ChildrenServiceDeps {
  repository: FamiliesRepository;
  access: FamilyAccess;
  clock: Clock;
  events?: FamilyEvents;
}

export type ChildrenService = ReturnType<typeof createChildrenService>;

type ChildViewWire = Static<typeof ChildView>;

function viewOf(row: ChildRow): ChildViewWire {
  return { childId: row.id, sealedProfile: row.sealed_profile, updatedAt: Number(row.updated_at) };
}

export function createChildrenService(deps: ChildrenServiceDeps) {
  const { repository, access, clock } = deps;
  const events = deps.events ?? noFamilyEvents;

  /** A guardian, for a guardian-only change to `childId`: a relative who cannot see the child gets 404, one who can gets 403. */
  async function guardianFor(familyId: string, accountId: string, childId?: string): Promise<FamilyMembership> {
    const membership = await requireMember(access, familyId, accountId);
    if (membership.role === 'guardian') return membership;
    if (childId !== undefined && !canSeeChild(membership, childId)) throw new BurrowError('burrow/not-found', 'No such child');
    throw new BurrowError('burrow/forbidden', 'Only a guardian may change children');
  }

  async function list(accountId: string, familyId: string): Promise<{ children: ChildViewWire[] }> {
    const membership = await requireMember(access, familyId, accountId);
    const rows = await repository.children(familyId);
    return { children: rows.filter((c) => canSeeChild(membership, c.id)).map(viewOf) };
  }

  async function add(accountId: string, familyId: string, childId: string, sealedProfile: string): Promise<ChildViewWire> {
    const membership = await guardianFor(familyId, accountId);
    checkSealedProfile(sealedProfile, membership.epoch, 'sealedProfile');
    const now = clock.now();
    const row: ChildRow = { family_id: familyId, id: childId, sealed_profile: sealedProfile, created_at: now, updated_at: now };
    try {
      await repository.insertChild(row);
    } catch (error) {
      if (isUniqueViolation(error)) throw new BurrowError('burrow/conflict', 'This family already has a child with that id');
      throw error;
    }
    await events.publish(familyId, 'child', { childId });
    return viewOf(row);
  }

  async function update(accountId: string, familyId: string, childId: string, sealedProfile: string): Promise<ChildViewWire> {
    const membership = await guardianFor(familyId, accountId, childId);
    checkSealedProfile(sealedProfile, membership.epoch, 'sealedProfile');
    const row = await repository.updateChild(familyId, childId, sealedProfile, clock.now());
    if (row === undefined) throw new BurrowError('burrow/not-found', 'No such child');
    await events.publish(familyId, 'child', { childId });
    return viewOf(row);
  }

  async function remove(accountId: string, familyId: string, childId: string): Promise<void> {
    await guardianFor(familyId, accountId, childId);
    // Under the family row's lock, so a roster append cannot give this child to someone meanwhile.
    await repository.transaction(async (trx) => {
      if (!(await trx.lockFamily(familyId))) throw new BurrowError('burrow/not-found', 'No such family');
      const [members, toys, children, head] = await Promise.all([trx.members(familyId), trx.toys(familyId), trx.children(familyId), trx.head(familyId)]);
      if (!children.some((c) => c.id === childId)) throw new BurrowError('burrow/not-found', 'No such child');
      const referenced = members.some((m) => m.role === 'relative' && parseIdList(m.children).includes(childId)) || toys.some((t) => t.child_id === childId);
      const listed = head !== undefined && decodeStoredEntry(head.entry).children.includes(childId);
      if (referenced || listed) throw new BurrowError('burrow/conflict', 'The roster still lists this child (or gives them to a relative or a toy); update the roster first');
      await trx.deleteChild(familyId, childId);
    });
    await events.publish(familyId, 'child', { childId, deleted: true });
  }

  return { list, add, update, remove };
}
