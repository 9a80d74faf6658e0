/**
 * `FamilyEvents` on the bus port: every family event goes to the topic `family:<id>`, whose
 * cursor is what clients resume from. A roster change is also announced on `account:<id>` of each
 * principal now in the family, so a connection of a newly added member starts following it.
 */
import type { LiveEventPayload, LiveEventType } from '../../protocol/live.js';
import type { EventBus } from '../../storage/bus/event-bus.js';
import type { FamilyEvents } from '../families/access.js';

export function familyTopic(familyId: string): string {
  return `family:${familyId}`;
}

export function accountTopic(principalId: string): string {
  return `account:${principalId}`;
}

/** Builds `FamilyEvents`; `principalsOf` lists the account and toy ids in a family's current roster. */
export function createFamilyEvents(deps: { bus: EventBus; principalsOf(familyId: string): Promise<string[]> }): FamilyEvents {
  return {
    async publish<K extends LiveEventType>(familyId: string, type: K, data: LiveEventPayload<K>) {
      await deps.bus.publish(familyTopic(familyId), type, data);
      if (type === 'roster') {
        for (const principal of await deps.principalsOf(familyId)) {
          await deps.bus.publish(accountTopic(principal), 'families-changed', { familyId });
        }
      }
    },
  };
}
