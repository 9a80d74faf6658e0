/** Who calls the server, for every feature: an account (member) or a toy (device token). */
import type { FamilyMembership } from './families/access.js';

/** The two kinds of caller. */
export type PrincipalKind = 'member' | 'toy';

/** Who calls an authenticated route: an account id with kind 'member', or a toy id with kind 'toy'. */
export interface Principal {
  readonly id: string;
  readonly kind: PrincipalKind;
  /** The caller's membership as read while authenticating this request (a toy's, in its family), so a service need not read it again. */
  readonly membership?: FamilyMembership;
}
