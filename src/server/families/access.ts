/**
 * The narrow seams between the family feature and the features that depend on it (messages, live
 * events, toys). The families feature implements `FamilyAccess` from its tables (kept in step with
 * the head of each family's roster); the messages feature implements `FamilyPurger`; the live
 * feature implements `FamilyEvents`. createServer wires them together.
 */
import type { LiveEventPayload, LiveEventType } from '../../protocol/live.js';
import type { FamilyMembership } from '../principal.js';

/** Who a principal is in a family at its current epoch (src/server/principal.ts, beside the principal). */
export type { FamilyMembership } from '../principal.js';

/** A toy's membership, from its row in the family's toys and the family's epoch and retention. */
export function toyMembership(row: { familyId: string; toyId: string; childId: string; epoch: number; retentionDays: number }): FamilyMembership {
  return {
    familyId: row.familyId,
    principalId: row.toyId,
    kind: 'toy',
    role: 'toy',
    epoch: row.epoch,
    conversations: new Set([row.childId, row.toyId]),
    needsApproval: false,
    retentionDays: row.retentionDays,
  };
}

export interface FamilyAccess {
  /** The principal's membership at the current epoch; undefined when they are not in it (answer 404, never 403). */
  membership(familyId: string, principalId: string): Promise<FamilyMembership | undefined>;
  /** The ids of the families the principal is currently in. */
  familiesOf(principalId: string): Promise<string[]>;
  /** The family's retention from the head of its roster (1–365 days), or undefined for an unknown family. */
  retentionDays(familyId: string): Promise<number | undefined>;
}

/** Removes every message and blob of a family; called when the family is deleted. */
export interface FamilyPurger {
  purgeFamily(familyId: string): Promise<void>;
}

/** Publishes a live event to a family's members and toys (through the bus port), with the payload its kind has in `LiveEventData`. */
export interface FamilyEvents {
  publish<K extends LiveEventType>(familyId: string, type: K, data: LiveEventPayload<K>): Promise<void>;
}
