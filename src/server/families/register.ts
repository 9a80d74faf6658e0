/**
 * Wires the families, children and invites features onto the app. The seams come from createServer:
 * `access` (default: `createFamilyAccess` on the same store), `events` (the live feature) and
 * `purger` (the messages feature); without them, events and purges are no-ops.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../storage/database.js';
import { createChildrenService } from '../children/service.js';
import { registerChildRoutes } from '../children/routes.js';
import type { RateWindow } from '../config.js';
import type { Clock } from '../deps.js';
import type { RateLimiter } from '../http/rate-limit.js';
import type { BurrowApp } from '../http/types.js';
import type { SecurityLog } from '../security-log/service.js';
import type { PushNotifier } from '../push/service.js';
import { createInvitesService } from '../invites/service.js';
import { registerInviteRoutes } from '../invites/routes.js';
import type { LiveEventPayload, LiveEventType } from '../../protocol/live.js';
import type { FamilyAccess, FamilyEvents, FamilyPurger } from './access.js';
import { createFamilyAccess } from './access-repository.js';
import { createFamiliesRepository } from './repository.js';
import { registerFamilyRoutes } from './routes.js';
import { createFamiliesService } from './service.js';

export interface FamilyFeaturesOptions {
  db: Kysely<Database>;
  clock: Clock;
  limiter: RateLimiter;
  /** Invite look-ups and accepts per account. */
  inviteLookupLimit: RateWindow;
  access?: FamilyAccess;
  events?: FamilyEvents;
  purger?: FamilyPurger;
  securityLog?: SecurityLog;
  /** Tells the guardians, by Web Push, that someone asked to join. */
  push?: Pick<PushNotifier, 'joinRequested'>;
  /** Opens an account's sealed email (the server's email key), for the guardian letting that account in. */
  openAccountEmail?: (accountId: string, sealedEmail: string) => string;
}

/** Registers `/v1/families*` and `/v1/invites*`; returns the `FamilyAccess` it uses. */
export function registerFamilyFeatures(app: BurrowApp, options: FamilyFeaturesOptions): FamilyAccess {
  const { db, clock } = options;
  const access = options.access ?? createFamilyAccess(db);
  const repository = createFamiliesRepository(db);
  const events = options.events;
  // A change is committed before its event goes out: a failed publish is logged, never turned into
  // an error answer that would make the client retry a change that already happened.
  const seams = events === undefined ? {} : {
    events: {
      async publish<K extends LiveEventType>(familyId: string, type: K, data: LiveEventPayload<K>) {
        try {
          await events.publish(familyId, type, data);
        } catch (error) {
          app.log.warn({ err: error, event: type }, 'a live family event was not published');
        }
      },
    } satisfies FamilyEvents,
  };
  registerFamilyRoutes(app, { families: createFamiliesService({ repository, access, clock, ...seams, ...(options.securityLog === undefined ? {} : { securityLog: options.securityLog }), ...(options.purger === undefined ? {} : { purger: options.purger }) }) });
  registerChildRoutes(app, { children: createChildrenService({ repository, access, clock, ...seams }) });
  registerInviteRoutes(app, { invites: createInvitesService({ repository, access, clock, limiter: options.limiter, lookupLimit: options.inviteLookupLimit, ...(options.push === undefined ? {} : { push: options.push }), ...(options.openAccountEmail === undefined ? {} : { openAccountEmail: options.openAccountEmail }) }) });
  return access;
}
