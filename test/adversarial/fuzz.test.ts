/**
 * Property-based fuzzing of every route in the app's own registry (fast-check): requests generated
 * from each route's schema (body, path parameters, query) and mutated beyond it — wrong types,
 * huge and empty values, unicode edge cases, unknown and duplicated fields, deep nesting,
 * `__proto__`/`constructor` keys, broken JSON, wrong content types, odd path parameters and query
 * strings, missing or forged credentials. At least 3,000 requests per run in npm test (a new seed
 * each run), 10,000 or more on request. Every answer is below 500 (an error answer is an RFC 9457
 * problem); a refused request (4xx) changes no row of any table and no blob; the server is healthy
 * afterwards and the fuzzer's session still works.
 *
 * BURROW_FUZZ_SEED=<n> replays a run (the seed is in the figures and in any failure message);
 * BURROW_FUZZ_REQUESTS=<n> sets its size (a longer run: BURROW_FUZZ_REQUESTS=10000 or more).
 */
import type { HTTPMethods } from 'fastify';
import fc from 'fast-check';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { routesOf } from '../../src/server/app.js';
import { systemRandom } from '../../src/server/deps.js';
import { hashSessionToken, newSessionToken } from '../../src/server/sessions/tokens.js';
import type { RouteInfo } from '../../src/server/http/route-registry.js';
import { addChild, createFamily, createInvite, newPerson, scopeKey, type Person, type TestFamily } from '../server/families/fixtures.js';
import { bearer, manualClock, startTestServer, type TestServer } from '../server/helpers.js';
import { registerCheaply, type CheapAccount } from './cheap-accounts.js';
import { recordFigures } from './figures.js';
import { encodeLoosely, mutatedBody, queryString, valueOf, wrongParam, type Body, type Schema } from './schema-arbitraries.js';
import { blobListing, changeCounter, changedTables, stateDigest } from './state-digest.js';
import { sealMessage } from '../../src/crypto/envelope.js';
import { hashRosterEntry } from '../../src/crypto/roster.js';
import { FAMILY_SCOPE } from '../../src/crypto/key-scopes.js';

const TARGET_REQUESTS = Number(process.env.BURROW_FUZZ_REQUESTS ?? 3_000);
const SEED = process.env.BURROW_FUZZ_SEED === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.BURROW_FUZZ_SEED);

/** Routes whose success would end the fuzzer's own session or account: sent as a throwaway account, replaced when it is gone. */
const DESTRUCTIVE = new Set([
  'POST /v1/accounts/logout', 'DELETE /v1/accounts/me', 'POST /v1/sessions/revoke-all', 'DELETE /v1/sessions/:sessionId', 'POST /v1/toy/reset',
]);

let server: TestServer;
let user: Person;
let throwaway: CheapAccount;
let family: TestFamily;
const ids: Record<string, string[]> = {};
const unhandled: unknown[] = [];
const onUnhandled = (error: unknown): void => { unhandled.push(error); };

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
  // The clock stands still: no session's last-seen time is touched, so any changed row is a request's doing.
  server = await startTestServer({ clock: manualClock() });
  expect(server.store.dialect, 'the fuzz test reads the SQLite state digest').toBe('sqlite');
  [user, throwaway] = await Promise.all([newPerson(server.app), registerCheaply(server.app)]);
  family = await createFamily(server.app, user);
  const childId = await addChild(server.app, family, user);
  const inviteId = await createInvite(server.app, family, user, { role: 'relative', children: [childId], needsApproval: false });
  // The invited relative has not joined, so Mia has no conversation key yet: the family-wide key,
  // which the server cannot tell apart from hers (the fuzz is about the server).
  const sealed = await sealMessage({
    familyId: family.familyId, epoch: family.chain.length - 1, rosterHead: await hashRosterEntry(family.chain.at(-1)!), scope: FAMILY_SCOPE, key: scopeKey(family, FAMILY_SCOPE),
    sender: { accountId: user.accountId, identity: user.identity }, recipients: [childId],
    audio: randomBytes(300), audioType: 'audio/webm', durationMs: 900, createdAt: 1_700_000_000_000,
  });
  const upload = await server.app.inject({ method: 'POST', url: `/v1/families/${family.familyId}/messages`, headers: { ...bearer(user.token), 'content-type': 'application/octet-stream' }, payload: Buffer.from(sealed.bytes) });
  expect(upload.statusCode, upload.body).toBe(201);
  Object.assign(ids, {
    familyId: [family.familyId], childId: [childId], inviteId: [inviteId], messageId: [upload.json<{ messageId: string }>().messageId],
    sessionId: [throwaway.sessionId], toyId: [], pairingId: [], runId: [],
  });
}, 60_000);
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
  await server.close();
});

/** A new session for the throwaway account, made as the sessions service makes them (no OPAQUE round trip). */
async function mintSession(account: CheapAccount): Promise<CheapAccount> {
  const token = newSessionToken(systemRandom);
  const sessionId = toBase64Url(randomBytes(16));
  await server.store.db.insertInto('sessions').values({ id: sessionId, account_id: account.accountId, token_hash: hashSessionToken(token)!, label: 'fuzz', created_at: 0, last_seen_at: 1_700_000_000_000, expires_at: 1_700_000_000_000 + 86_400_000 }).execute();
  return { ...account, sessionId, token };
}

interface FuzzRequest {
  url: string;
  headers: Record<string, string>;
  body: Body | undefined;
  auth: string;
}

function paramArbitrary(name: string): fc.Arbitrary<string> {
  const known = ids[name] ?? [];
  const valid = known.length > 0 ? fc.oneof(fc.constantFrom(...known), fc.constant(null).map(() => toBase64Url(randomBytes(16)))) : fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => toBase64Url(b));
  return fc.oneof({ arbitrary: valid, weight: 5 }, { arbitrary: wrongParam, weight: 1 });
}

function authArbitrary(): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.constant('user'), weight: 8 },
    { arbitrary: fc.constantFrom('none', 'garbage bearer', 'forged toy token', 'forged pairing token', 'basic', 'token without scheme', 'token with suffix', 'cookie'), weight: 2 },
  );
}

function headersFor(auth: string, token: string): Record<string, string> {
  switch (auth) {
    case 'user': return bearer(token);
    case 'none': return {};
    case 'garbage bearer': return { authorization: 'Bearer \u0000\u00ff garbage' };
    case 'forged toy token': return { authorization: `Bearer toy.${toBase64Url(randomBytes(32))}` };
    case 'forged pairing token': return { authorization: `Bearer pair.${toBase64Url(randomBytes(32))}` };
    case 'basic': return { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` };
    case 'token without scheme': return { authorization: token };
    case 'token with suffix': return { authorization: `Bearer ${token}x` };
    case 'cookie': return { cookie: `burrow_session=${token}; burrow_session=${'x'.repeat(5_000)}` };
    default: throw new Error(auth);
  }
}

function requestArbitrary(route: RouteInfo): fc.Arbitrary<FuzzRequest> {
  const paramNames = [...route.url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  const params = fc.tuple(...paramNames.map(paramArbitrary));
  const querySchema = route.schema?.querystring as Schema | undefined;
  const query = querySchema === undefined
    ? queryString
    : fc.oneof(valueOf(querySchema).map((q) => {
      const entries = Object.entries(q as Record<string, unknown>);
      return entries.length === 0 ? '' : `?${entries.map(([k, v]) => `${encodeLoosely(k)}=${encodeLoosely(String(v))}`).join('&')}`;
    }), queryString);
  const hasBody = route.method !== 'GET' && route.method !== 'HEAD';
  const bodySchema = route.schema?.body as Schema | undefined;
  const consumes = (route.schema as { consumes?: string[] } | undefined)?.consumes;
  let body: fc.Arbitrary<Body | undefined>;
  if (!hasBody) {
    body = fc.constant(undefined);
  } else if (consumes !== undefined && !consumes.includes('application/json')) {
    // A binary upload: random bytes under every content type, and JSON where bytes are expected.
    body = fc.oneof(
      fc.tuple(fc.uint8Array({ maxLength: 2_000 }), fc.constantFrom(...consumes, 'application/json', 'text/plain', 'application/octet-stream; charset=utf-8')).map(([bytes, contentType]) => ({ mutation: `bytes as ${contentType}`, contentType, payload: Buffer.from(bytes) })),
      mutatedBody({}),
    );
  } else {
    const valid = valueOf(bodySchema ?? { type: 'object', properties: {}, additionalProperties: false }, Object.values(ids).flat());
    body = fc.oneof(
      { arbitrary: valid.map((v): Body => ({ mutation: 'from the schema', contentType: 'application/json', payload: JSON.stringify(v) })), weight: 1 },
      { arbitrary: valid.chain(mutatedBody), weight: 3 },
      { arbitrary: fc.constant({ mutation: 'no body', contentType: undefined, payload: undefined }), weight: 1 },
    );
  }
  return fc.record({ params, query: route.method === 'GET' ? query : fc.oneof({ arbitrary: fc.constant(''), weight: 4 }, { arbitrary: queryString, weight: 1 }), body, auth: authArbitrary() })
    .map(({ params, query, body, auth }) => {
      let i = 0;
      const url = `${route.url.replace(/:[A-Za-z0-9_]+/g, () => params[i++]!)}${query}`;
      return { url, body, auth, headers: {} };
    });
}

describe('fuzzing every route', () => {
  it(`answers ${TARGET_REQUESTS}+ generated and mutated requests without a 5xx, and refusals change nothing`, async () => {
    // Deletions last (the family itself at the very end), so the other routes meet the seeded objects.
    const rank = (r: RouteInfo): number => (r.method !== 'DELETE' ? 0 : r.url === '/v1/families/:familyId' ? 2 : 1);
    const routes = routesOf(server.app).filter((r) => r.method !== 'HEAD').sort((a, b) => rank(a) - rank(b));
    const perRoute = Math.ceil(TARGET_REQUESTS / routes.length);
    const statuses: Record<string, number> = {};
    const mutations: Record<string, number> = {};
    const failures: string[] = [];
    let sent = 0;
    let refused = 0;
    let throwawaysReplaced = 0;
    const timings: Record<string, number> = {};
    let counter = await changeCounter(server.store);
    const blobDir = join(server.dataDir, 'blobs');
    let blobs = blobListing(blobDir);
    let digest = await stateDigest(server.store, blobDir);

    for (const [index, route] of routes.entries()) {
      const key = `${route.method} ${route.url}`;
      const destructive = DESTRUCTIVE.has(key);
      const started = Date.now();
      await fc.assert(fc.asyncProperty(requestArbitrary(route), async (request) => {
        const token = destructive ? throwaway.token : user.token;
        const headers = { ...headersFor(request.auth, token) };
        if (request.body?.contentType !== undefined) headers['content-type'] = request.body.contentType;
        const answer = await server.app.inject({
          method: route.method as HTTPMethods, url: request.url, headers,
          ...(request.body?.payload === undefined ? {} : { payload: request.body.payload }),
        });
        sent++;
        statuses[answer.statusCode] = (statuses[answer.statusCode] ?? 0) + 1;
        const mutation = (request.body?.mutation ?? 'no body').split(/ \/| at | "|\s\d| as /)[0]!;
        mutations[mutation] = (mutations[mutation] ?? 0) + 1;
        const label = `${key} ${request.url.slice(0, 120)} [${request.auth}; ${request.body?.mutation ?? 'no body'}] → ${answer.statusCode} ${answer.body.slice(0, 200)}`;
        expect(answer.statusCode, label).toBeLessThan(500);
        if (answer.statusCode >= 400 && answer.statusCode !== 404 || answer.headers['content-type']?.toString().includes('problem')) {
          expect(answer.headers['content-type'], label).toMatch(/^application\/problem\+json/);
        }
        // Did anything change? SQLite's count of changed rows first (the clock stands still, so no
        // session's last-seen time is touched); when it moved on a refusal (a rolled-back transaction
        // counts too), every table's digest against the one from before; and the blob files.
        const nowCounter = await changeCounter(server.store);
        const nowBlobs = blobListing(blobDir);
        if (answer.statusCode >= 400) {
          refused++;
          if (nowCounter !== counter) {
            const next = await stateDigest(server.store, blobDir);
            const changed = changedTables(digest, next);
            if (changed.length > 0) failures.push(`${label}: a refused request changed ${changed.join(', ')}`);
            digest = next;
          }
          if (nowBlobs !== blobs) failures.push(`${label}: a refused request changed the blob files`);
        } else if (nowCounter !== counter || nowBlobs !== blobs) {
          digest = await stateDigest(server.store, blobDir);
        }
        counter = nowCounter;
        blobs = nowBlobs;
        // The throwaway account was logged out or deleted: use a fresh one.
        if (destructive && answer.statusCode < 300 && request.auth === 'user') {
          throwaway = key === 'DELETE /v1/accounts/me' ? await registerCheaply(server.app) : await mintSession(throwaway);
          ids.sessionId = [throwaway.sessionId];
          throwawaysReplaced++;
          digest = await stateDigest(server.store, blobDir);
          counter = await changeCounter(server.store);
        }
      }), { numRuns: perRoute, seed: SEED + index, endOnFailure: true });
      timings[key] = Date.now() - started;
    }

    if (process.env.BURROW_FUZZ_TRACE !== undefined) process.stderr.write(`${JSON.stringify(Object.entries(timings).sort((a, b) => b[1] - a[1]).slice(0, 15))}\n`);
    expect(failures, failures.join('\n')).toEqual([]);
    expect(unhandled.map(String)).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(TARGET_REQUESTS);
    // Healthy after: health and readiness, and the fuzzer's session still works.
    expect((await server.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await server.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    expect((await server.app.inject({ method: 'GET', url: '/v1/accounts/me', headers: bearer(user.token) })).statusCode).toBe(200);
    const fivexx = Object.entries(statuses).filter(([s]) => Number(s) >= 500).reduce((n, [, c]) => n + c, 0);
    recordFigures('fuzz', {
      seed: SEED, routes: routes.length, requestsPerRoute: perRoute, requests: sent, refused, answers5xx: fivexx,
      refusedThatChangedState: failures.length, unhandledErrors: unhandled.length, throwawayAccountsReplaced: throwawaysReplaced,
      statuses, mutations,
    });
  }, 600_000);
});
