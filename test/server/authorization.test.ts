/**
 * Every authenticated route has its authorisation cases (test/server/authorization-cases.ts), and
 * they hold: no session → 401; another family's guardian → 404; a relative past their children →
 * 404 or 403; a removed member → 404. The routes come from the app's own registry, so a route
 * added without its cases fails here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routesOf } from '../../src/server/app.js';
import { authorizationCases, CALLERS, personOf, seedAuthzWorld, type AuthzWorld } from './authorization-cases.js';
import { bearer } from './helpers.js';

let world: AuthzWorld;
beforeAll(async () => { world = await seedAuthzWorld(); });
afterAll(async () => { await world.server.close(); });

function keysOfAuthenticatedRoutes(): string[] {
  return routesOf(world.server.app).filter((r) => r.authenticated && r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`);
}

describe('authorisation on every route', () => {
  it('every authenticated route has its authorisation cases, and every entry names a real route', () => {
    const routes = keysOfAuthenticatedRoutes();
    const missing = routes.filter((key) => !(key in authorizationCases));
    expect(missing, 'authenticated routes without authorisation cases in test/server/authorization-cases.ts').toEqual([]);
    const stale = Object.keys(authorizationCases).filter((key) => !routes.includes(key));
    expect(stale, 'authorisation cases for routes that do not exist (or are not authenticated)').toEqual([]);
    expect(routes.length).toBeGreaterThan(15);
  });

  it('every case answers as its table says, and refusals change nothing the guardian can see', async () => {
    let ran = 0;
    for (const key of keysOfAuthenticatedRoutes()) {
      const route = authorizationCases[key];
      if (route === undefined) continue;
      const [method] = key.split(' ') as [string];
      for (const caller of CALLERS) {
        const expectation = route.cases[caller];
        if ('notApplicable' in expectation) {
          expect(expectation.notApplicable.length, `${key} ${caller}: say why`).toBeGreaterThan(10);
          continue;
        }
        const person = personOf(world, caller);
        const request = await route.request(world, caller);
        const headers: Record<string, string> = person === undefined ? {} : bearer(person.token);
        const answer = route.send !== undefined
          ? await route.send(world, request, { headers, method, caller })
          : await world.server.app.inject({ method: method as 'GET', url: request.url, headers, ...(request.payload === undefined ? {} : { payload: request.payload as Record<string, unknown> }) });
        const label = `${key} as ${caller}: ${answer.body.slice(0, 200)}`;
        expect(answer.statusCode, label).toBe(expectation.status);
        if (expectation.status === 404) expect(answer.json<{ type: string }>().type, label).toBe('urn:burrow:problem:not-found');
        if (expectation.status === 403) expect(answer.json<{ type: string }>().type, label).toBe('urn:burrow:problem:forbidden');
        await expectation.check?.(answer, world);
        ran++;
      }
    }
    expect(ran).toBeGreaterThan(40);
    // Nothing a refused caller tried took effect: family A is as seeded.
    const view = await world.server.app.inject({ method: 'GET', url: `/v1/families/${world.family.familyId}`, headers: bearer(world.guardian.token) });
    expect(view.statusCode).toBe(200);
    const family = view.json<{ epoch: number; children: Array<{ childId: string }> }>();
    expect(family.epoch).toBe(world.family.chain.length - 1);
    expect(family.children.map((c) => c.childId).sort()).toEqual([world.relativeChild, world.otherChild].sort());
  });
});
