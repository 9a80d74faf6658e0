/** Per-object authorisation shared by the families, children and invites features. */
import { BurrowError } from '../../protocol/errors.js';
import type { FamilyAccess, FamilyMembership } from './access.js';

/** The caller's membership at the head, or 404 `burrow/not-found`: a family they are not in does not exist for them. */
export async function requireMember(access: FamilyAccess, familyId: string, accountId: string): Promise<FamilyMembership> {
  const membership = await access.membership(familyId, accountId);
  if (membership === undefined || membership.kind !== 'member') throw new BurrowError('burrow/not-found', 'No such family');
  return membership;
}

/** The caller's membership as a guardian: 404 for non-members, 403 `burrow/forbidden` for relatives. */
export async function requireGuardian(access: FamilyAccess, familyId: string, accountId: string): Promise<FamilyMembership> {
  const membership = await requireMember(access, familyId, accountId);
  if (membership.role !== 'guardian') throw new BurrowError('burrow/forbidden', 'Only a guardian of this family may do this');
  return membership;
}

/** Whether the member may see `childId` (guardians see every child; a relative their own). */
export function canSeeChild(membership: FamilyMembership, childId: string): boolean {
  return membership.conversations === 'all' || membership.conversations.has(childId);
}

/** Family events go nowhere until the live feature provides them. */
export const noFamilyEvents = { publish: async () => {} };
/** Nothing to purge until the messages feature provides it. */
export const noFamilyPurger = { purgeFamily: async () => {} };
