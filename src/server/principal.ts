/** Who calls the server, for every feature: an account (member) or a toy (device token). */

/** The two kinds of caller. */
export type PrincipalKind = 'member' | 'toy';

/** Who calls an authenticated route: an account id with kind 'member', or a toy id with kind 'toy'. */
export interface Principal {
  readonly id: string;
  readonly kind: PrincipalKind;
  /** The caller's membership as read while authenticating this request (a toy's, in its family), so a service need not read it again. */
  readonly membership?: FamilyMembership;
}

/** Who a principal is in a family at its current epoch. */
export interface FamilyMembership {
  readonly familyId: string;
  /** An account id, or a toy id for a toy. */
  readonly principalId: string;
  readonly kind: PrincipalKind;
  /** 'toy' for toys. */
  readonly role: 'guardian' | 'relative' | 'toy';
  /** The family's current epoch. */
  readonly epoch: number;
  /**
   * The conversations this principal may send into and see: 'all' for guardians; for a relative
   * their children's ids and the ids of those children's toys; for a toy its child's id and its own id.
   */
  readonly conversations: 'all' | ReadonlySet<string>;
  /** Whether a guardian must approve this principal's messages before toys play them. */
  readonly needsApproval: boolean;
  /** The family's retention in days (1–365), as `FamilyAccess.retentionDays` gives it. */
  readonly retentionDays: number;
}
