/**
 * Test factories: a real server on real storage (a SQLite file in a temp dir, or PostgreSQL + S3
 * under BURROW_TEST_BACKEND=postgres-s3, see test/support/backends.ts), and OPAQUE clients that use it.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as opaque from '@serenity-kit/opaque';
import type { LightMyRequestResponse } from 'fastify';
import { randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { API_VERSION, createServer, routesOf, type ServerDeps } from '../../src/server/app.js';
import { buildOpenApiDocument } from '../../src/server/http/openapi.js';
import { loadConfig, type Config, type DeepPartial } from '../../src/server/config.js';
import type { Clock } from '../../src/server/deps.js';
import type { BurrowApp } from '../../src/server/http/types.js';
import { loadOrCreateSecrets, type Secrets } from '../../src/server/secrets.js';
import type { BlobStore } from '../../src/storage/blobs/blob-store.js';
import type { SqlStore } from '../../src/storage/database.js';
import { createOpenApiConformance, type OpenApiConformance } from '../support/api-conformance.js';
import { openTestBackends, type TestBackends } from '../support/backends.js';

export interface TestServer {
  app: BurrowApp;
  store: SqlStore;
  secrets: Secrets;
  config: Config;
  dataDir: string;
  /** The storage ports the server runs on. */
  backends: TestBackends;
  close(): Promise<void>;
}

/** A clock the test moves by hand. */
export function manualClock(start = 1_700_000_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return { now: () => now, advance: (ms) => { now += ms; } };
}

/**
 * A server with generous limits unless `overrides` tightens them; `blobs` replaces the test
 * backends' blob store (the caller closes it), `metrics` is handed to the server.
 */
export async function startTestServer(options: { overrides?: DeepPartial<Config>; clock?: Clock; log?: ServerDeps['log']; blobs?: BlobStore; metrics?: ServerDeps['metrics'] } = {}): Promise<TestServer> {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'burrow-server-')), 'data');
  const config = loadConfig({
    env: {},
    flags: { data: dataDir, port: 0 },
    overrides: {
      rateLimits: {
        globalPerIp: { max: 100_000, windowMs: 60_000 },
        anonymousPerIp: { max: 100_000, windowMs: 60_000 },
        perAccount: { max: 100_000, windowMs: 60_000 },
        pairingStartsPerIp: { max: 100_000, windowMs: 60_000 },
        loginSlowdown: { freeFailures: 1_000, baseDelayMs: 1_000, maxDelayMs: 60_000 },
        loginFailuresPerIp: { max: 100_000, windowMs: 60 * 60_000 },
      },
      ...options.overrides,
    },
  });
  const { secrets } = await loadOrCreateSecrets({ dataDir: config.dataDir });
  const clock = options.clock;
  const backends = await openTestBackends({ dataDir: config.dataDir, ...(clock === undefined ? {} : { now: () => clock.now() }) });
  const { store, bus } = backends;
  const blobs = options.blobs ?? backends.blobs;
  const app = createServer({ config, store, blobs, bus, secrets, log: options.log ?? false, ...(clock === undefined ? {} : { clock }), ...(options.metrics === undefined ? {} : { metrics: options.metrics }) });
  const undocumented = checkAnswersAgainstOpenApi(app);
  await app.ready();
  return {
    app, store, secrets, config, dataDir: config.dataDir, backends,
    async close() {
      await app.close();
      await backends.cleanup();
      if (undocumented.length > 0) {
        throw new Error(`answers the OpenAPI document does not describe (declare them on the route, src/server/http/openapi.ts):\n${[...new Set(undocumented)].slice(0, 20).join('\n')}`);
      }
    },
  };
}

/**
 * Checks every answer of a route against the app's own OpenAPI document (test/support/api-conformance.ts),
 * so every test that runs a server also proves the document true; what is wrong is collected and
 * fails the server's `close()`. Answers no route gives (404, 405, the web app's pages) are skipped.
 */
function checkAnswersAgainstOpenApi(app: BurrowApp): string[] {
  const wrong: string[] = [];
  let conformance: OpenApiConformance | undefined;
  // Built once every route is registered, before the first request, so no answer waits for it.
  app.addHook('onReady', async () => {
    conformance = createOpenApiConformance(buildOpenApiDocument(routesOf(app), { version: API_VERSION }));
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const url = request.routeOptions.url;
    if (url === undefined || request.method === 'HEAD' || reply.statusCode === 404 && request.is404) return payload;
    if (conformance === undefined) return payload;
    const headers = Object.fromEntries(Object.entries(reply.getHeaders()).map(([name, value]) => [name, typeof value === 'number' ? String(value) : value]));
    // Fastify serialises `send(null)` here and drops the body of a 204 only when writing it.
    const body = reply.statusCode === 204 ? '' : typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '';
    // A streamed body (an envelope) is not read here; its status, type and headers are.
    const streamed = payload !== null && payload !== undefined && typeof payload !== 'string' && !Buffer.isBuffer(payload);
    const problems = conformance.check({ method: request.method, url }, { statusCode: reply.statusCode, headers, body: streamed ? '' : body });
    wrong.push(...problems.filter((p) => !(streamed && / has a body | is not JSON/.test(p))));
    return payload;
  });
  return wrong;
}

export function b64(bytes: number): string {
  return toBase64Url(randomBytes(bytes));
}

export function sha256b64(value: string): string {
  return toBase64Url(new Uint8Array(createHash('sha256').update(Buffer.from(value, 'base64url')).digest()));
}

/** What a registered test user knows. */
export interface TestUser {
  email: string;
  password: string;
  recoveryProof: string;
  accountId: string;
  sessionId: string;
  token: string;
  sealedIdentity: string;
}

export function post(app: BurrowApp, url: string, payload: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url, payload: payload as Record<string, unknown>, headers });
}

/**
 * The client-side key stretching of the accounts these helpers make: OPAQUE's Argon2id at its
 * cheapest, about a millisecond instead of a second per registration or login. The server cannot
 * tell (stretching happens on the client; it stores and checks the record as any other), and the
 * production setting is exercised by every test that goes through src/client.
 */
export const TEST_KEY_STRETCHING = { 'argon2id-custom': { iterations: 1, memory: 1024, parallelism: 1 } } as const;

/** Registers through the real OPAQUE client and returns a bearer session. */
export async function registerUser(app: BurrowApp, email = `user-${b64(6)}@example.org`, password = `pw-${b64(9)}`, options: { registrationPass?: string } = {}): Promise<TestUser> {
  await opaque.ready;
  const pass = options.registrationPass === undefined ? {} : { registrationPass: options.registrationPass };
  const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({ password });
  const start = await post(app, '/v1/accounts/register/start', { email, registrationRequest, ...pass });
  if (start.statusCode !== 200) throw new Error(`register/start answered ${start.statusCode}: ${start.body}`);
  const { registrationRecord } = opaque.client.finishRegistration({ clientRegistrationState, registrationResponse: start.json<{ registrationResponse: string }>().registrationResponse, password, keyStretching: TEST_KEY_STRETCHING });
  const recoveryProof = b64(32);
  const sealedIdentity = b64(96);
  const finish = await post(app, '/v1/accounts/register/finish', {
    email,
    registrationRecord,
    identity: { signingKey: b64(32), agreementKey: b64(32) },
    sealedIdentity,
    recoverySealedIdentity: b64(96),
    recoveryVerifier: sha256b64(recoveryProof),
    tokenDelivery: 'bearer',
    sessionLabel: 'test',
    ...pass,
  });
  if (finish.statusCode !== 201) throw new Error(`register/finish answered ${finish.statusCode}: ${finish.body}`);
  const body = finish.json<{ accountId: string; sessionId: string; token: string }>();
  return { email, password, recoveryProof, sealedIdentity, accountId: body.accountId, sessionId: body.sessionId, token: body.token };
}

/** Runs both login steps with the real OPAQUE client; returns every response the server gave. */
export async function login(app: BurrowApp, email: string, password: string, tokenDelivery: 'bearer' | 'cookie' = 'bearer') {
  await opaque.ready;
  const { clientLoginState, startLoginRequest } = opaque.client.startLogin({ password });
  const start = await post(app, '/v1/accounts/login/start', { email, startLoginRequest });
  if (start.statusCode !== 200) return { start, finish: undefined };
  const { loginId, loginResponse } = start.json<{ loginId: string; loginResponse: string }>();
  const result = opaque.client.finishLogin({ clientLoginState, loginResponse, password, keyStretching: TEST_KEY_STRETCHING });
  // A wrong password: the client notices; an attacker would still send something. Send a well-formed guess.
  const finishLoginRequest = result?.finishLoginRequest ?? b64(64);
  const finish = await post(app, '/v1/accounts/login/finish', { loginId, finishLoginRequest, tokenDelivery });
  return { start, finish, clientResult: result };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export async function rowCounts(store: SqlStore): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of ['accounts', 'sessions', 'families', 'roster_entries', 'family_members', 'family_toys', 'wrapped_keys', 'children', 'invites', 'member_profiles', 'pairing_attempts', 'pairing_runs', 'toy_devices'] as const) {
    const row = await store.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    out[table] = Number(row.n);
  }
  return out;
}
