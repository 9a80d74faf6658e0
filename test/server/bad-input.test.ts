/**
 * Bad input to every route the app has: malformed JSON, wrong content types, oversized bodies,
 * unknown fields, wrong types and absurd lengths all get a 4xx problem, never a 5xx, and nothing
 * is written; each answer is one the OpenAPI document describes for that route. The routes come from the app's own registry, so a new route is covered the day it
 * is added.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routesOf } from '../../src/server/app.js';
import type { RouteInfo } from '../../src/server/http/route-registry.js';
import { createOpenApiConformance, type OpenApiConformance } from '../support/api-conformance.js';
import { addChild, createFamily, createInvite, newPerson, type Person } from './families/fixtures.js';
import { b64, bearer, rowCounts, startTestServer, type TestServer } from './helpers.js';

type Schema = Record<string, unknown>;

/** A body that satisfies `schema` in form (it may still fail later checks): the base for each mutation. */
function exampleOf(schema: Schema): unknown {
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.anyOf)) return exampleOf(schema.anyOf[0] as Schema);
  switch (schema.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      for (const name of (schema.required ?? []) as string[]) out[name] = exampleOf(properties[name]!);
      return out;
    }
    case 'string': {
      if (schema.pattern === '^\\s*[^\\s@]+@[^\\s@]+\\s*$') return `bad-input-${b64(4)}@example.org`;
      return 'A'.repeat(Math.max(1, Number(schema.minLength ?? 1)));
    }
    case 'integer':
    case 'number':
      return Number(schema.minimum ?? 0);
    case 'boolean':
      return true;
    case 'array':
      return [];
    default:
      return null;
  }
}

function wrongTypeFor(schema: Schema): unknown {
  return schema.type === 'string' || 'const' in schema || Array.isArray(schema.anyOf) ? 12345 : 'a string';
}

interface Case {
  name: string;
  contentType?: string;
  payload?: string;
  url?: string;
}

/** Path parameters that name real objects the user may act on (a family they guard, its child and invite), so bad input reaches the handlers. */
const knownIds: Record<string, string> = {};

function urlOf(route: RouteInfo, param = (name: string) => knownIds[name] ?? b64(16)): string {
  return route.url.replace(/:[A-Za-z0-9_]+/g, param);
}

function casesFor(route: RouteInfo, maxBodyBytes: number): Case[] {
  const cases: Case[] = [];
  if (route.url.includes(':')) {
    cases.push({ name: 'absurdly long path parameter', url: urlOf(route, () => 'x'.repeat(4000)) });
    cases.push({ name: 'path parameter of the wrong form', url: urlOf(route, () => '..%2F..%2Fetc') });
  }
  // Read-only routes may ignore a query string they do not take; they must still never fail with a 5xx.
  if (route.method === 'GET') cases.push({ name: 'a query string the route does not take', url: `${urlOf(route)}?${'q'.repeat(2000)}=${'v'.repeat(2000)}` });
  if (route.method === 'GET' || route.method === 'HEAD') return cases;
  const body = route.schema?.body as Schema | undefined;
  const example = body === undefined ? {} : (exampleOf(body) as Record<string, unknown>);
  const json = (value: unknown) => ({ contentType: 'application/json', payload: JSON.stringify(value) });
  cases.push(
    { name: 'malformed JSON', contentType: 'application/json', payload: '{"email": "a@b.c",' },
    { name: 'JSON with a __proto__ key', contentType: 'application/json', payload: '{"__proto__": {"isAdmin": true}}' },
    { name: 'text/plain body', contentType: 'text/plain', payload: JSON.stringify(example) },
    { name: 'form body', contentType: 'application/x-www-form-urlencoded', payload: 'email=a%40b.c' },
    { name: 'no content type with a body', payload: JSON.stringify(example) },
    { name: 'oversized body', ...json({ ...example, padding: 'p'.repeat(maxBodyBytes + 1) }) },
    { name: 'unknown field', ...json({ ...example, isAdmin: true }) },
    { name: 'an array instead of an object', ...json([example]) },
    { name: 'a string instead of an object', ...json('hello') },
    { name: 'null', ...json(null) },
  );
  if (body !== undefined) {
    const properties = (body.properties ?? {}) as Record<string, Schema>;
    for (const [name, property] of Object.entries(properties)) {
      cases.push({ name: `wrong type for ${name}`, ...json({ ...example, [name]: wrongTypeFor(property) }) });
      if (property.type === 'string') cases.push({ name: `absurd length for ${name}`, ...json({ ...example, [name]: 'A'.repeat(20_000) }) });
      const value = example[name];
      // Only for fields that are base64url (a pattern over its alphabet); free text may end in 'B'.
      const base64Field = typeof property.pattern === 'string' && property.pattern.includes('A-Za-z0-9_-');
      if (base64Field && typeof value === 'string' && /^A+$/.test(value) && value.length % 4 !== 0) {
        // Non-zero unused bits in the last character: non-canonical base64url.
        cases.push({ name: `non-canonical base64url for ${name}`, ...json({ ...example, [name]: `${value.slice(0, -1)}B` }) });
      }
      if (property.type === 'object') cases.push({ name: `unknown field inside ${name}`, ...json({ ...example, [name]: { ...(exampleOf(property) as object), extra: 'x' } }) });
      // Leaving out a required field is bad input; leaving out an optional one is not.
      const required = Array.isArray(body.required) ? (body.required as string[]) : [];
      if (required.includes(name)) cases.push({ name: `missing ${name}`, ...json(Object.fromEntries(Object.entries(example).filter(([k]) => k !== name))) });
    }
  }
  return cases;
}

let server: TestServer;
let user: Person;
let documented: OpenApiConformance;
beforeAll(async () => {
  server = await startTestServer();
  documented = createOpenApiConformance((await server.app.inject({ method: 'GET', url: '/v1/openapi.json' })).json());
  user = await newPerson(server.app);
  const family = await createFamily(server.app, user);
  knownIds[':familyId'] = family.familyId;
  knownIds[':childId'] = await addChild(server.app, family, user);
  knownIds[':inviteId'] = await createInvite(server.app, family, user, { role: 'guardian', children: [], needsApproval: false });
});
afterAll(async () => { await server.close(); });

function expectProblem(answer: LightMyRequestResponse, label: string): void {
  expect(answer.statusCode, `${label}: ${answer.body.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
  expect(answer.statusCode, `${label}: ${answer.body.slice(0, 200)}`).toBeLessThan(500);
  expect(answer.headers['content-type'], label).toMatch(/^application\/problem\+json/);
  const problem = answer.json<Record<string, unknown>>();
  expect(typeof problem.type, label).toBe('string');
  expect(problem.type as string, label).toMatch(/^urn:burrow:problem:/);
  expect(typeof problem.title, label).toBe('string');
  expect(typeof problem.detail, label).toBe('string');
  expect(problem.status, label).toBe(answer.statusCode);
}

describe('bad input to every route', () => {
  it('the registry knows the account and session routes', () => {
    const known = routesOf(server.app).map((r) => `${r.method} ${r.url}`);
    for (const route of ['POST /v1/accounts/register/start', 'POST /v1/accounts/login/finish', 'DELETE /v1/accounts/me', 'DELETE /v1/sessions/:sessionId', 'GET /v1/openapi.json']) {
      expect(known).toContain(route);
    }
  });

  it('gets a 4xx problem and writes nothing, on every route', async () => {
    const routes = routesOf(server.app).filter((r) => r.method !== 'HEAD');
    let sent = 0;
    for (const route of routes) {
      for (const c of casesFor(route, server.config.limits.maxBodyBytes)) {
        const before = await rowCounts(server.store);
        const headers: Record<string, string> = { ...bearer(user.token) };
        if (c.contentType !== undefined) headers['content-type'] = c.contentType;
        const answer = await server.app.inject({ method: route.method, url: c.url ?? urlOf(route), headers, ...(c.payload === undefined ? {} : { payload: c.payload }) });
        const label = `${route.method} ${route.url}: ${c.name}`;
        if (c.url !== undefined && answer.statusCode < 400) {
          // Harmless extras on a read-only route may be ignored, but never with a 5xx.
          expect(route.method, label).toBe('GET');
        } else {
          expectProblem(answer, label);
        }
        expect(documented.check(route, answer), label).toEqual([]);
        expect(await rowCounts(server.store), label).toEqual(before);
        sent++;
      }
    }
    expect(sent).toBeGreaterThan(100);
    // The user's session survived every bad request.
    expect((await server.app.inject({ method: 'GET', url: '/v1/accounts/me', headers: bearer(user.token) })).statusCode).toBe(200);
    // The first request to each route also compiles its schemas (src/server/http/lazy-schemas.ts),
    // work that used to happen before the server was ready: more time than the default.
  }, 90_000);
});
