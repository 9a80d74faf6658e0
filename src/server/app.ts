/**
 * The one composition root: builds the Fastify app from its dependencies. Plain factories, no
 * container. The caller owns the store (opens, migrates and closes it) and calls `app.listen`.
 */
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { DestinationStream } from 'pino';
import Fastify, { type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { toBase64Url } from '../crypto/bytes.js';
import { BurrowError } from '../protocol/errors.js';
import type { BlobStore } from '../storage/blobs/blob-store.js';
import type { EventBus } from '../storage/bus/event-bus.js';
import type { SqlStore } from '../storage/database.js';
import type { LoginStateStore } from './accounts/login-states.js';
import { registerAccountRoutes } from './accounts/routes.js';
import type { Config } from './config.js';
import { systemClock, systemRandom, type Clock, type Random } from './deps.js';
import { registerFamilyFeatures } from './families/register.js';
import './http/fastify-types.js';
import { isTrustedProxy, parseTrustedProxies } from './http/addresses.js';
import { registerHealthRoutes } from './http/health.js';
import { buildOpenApiDocument } from './http/openapi.js';
import { installProblemHandlers, problemContentType } from './http/problems.js';
import { lazySchemaController } from './http/lazy-schemas.js';
import type { LoginThrottle, RateLimiter } from './http/rate-limit.js';
import { recordRoutes, type RouteInfo } from './http/route-registry.js';
import { applySecurityHeaders, installSecurityHeaders } from './http/security-headers.js';
import type { BurrowApp } from './http/types.js';
import { buildAsyncApiDocument } from './live/asyncapi.js';
import { liveHubOf, registerLiveRoutes } from './live/routes.js';
import { registerMessageRoutes } from './messages/routes.js';
import { installHttpMetrics } from './metrics/http-metrics.js';
import type { Metrics } from './metrics/metrics.js';
import { registerPushRoutes } from './push/routes.js';
import { openEmail, type Secrets } from './secrets.js';
import { registerSecurityLogRoutes } from './security-log/routes.js';
import { registerSecurityFeatures } from './security/register.js';
import { createServices, type Services } from './services.js';
import { registerSessionRoutes } from './sessions/routes.js';
import { registerToyRoutes } from './toys/routes.js';
import { createVaultRepository } from './vault/repository.js';
import { registerVaultRoutes } from './vault/routes.js';

export const API_VERSION = '0.1.0';

/**
 * Everything the server is built from. The caller chooses and owns the storage (`store`, `blobs`,
 * `bus`: src/storage/open-store.ts for `burrow serve`); the rest has defaults.
 */
export interface ServerDeps {
  config: Config;
  store: SqlStore;
  secrets: Secrets;
  clock?: Clock;
  random?: Random;
  /** `false` for silence, or a stream that receives the JSON log lines (default: stdout). */
  log?: false | { stream?: DestinationStream; level?: Config['logLevel'] };
  /** Rate-limit state; by default in memory, or in the store on PostgreSQL (shared by every node). */
  limiter?: RateLimiter;
  throttle?: LoginThrottle;
  loginStates?: LoginStateStore;
  /** Where envelopes live: chosen with the store (src/storage/open-store.ts); the caller closes it. */
  blobs: BlobStore;
  /** The event bus: chosen with the store (src/storage/open-store.ts); the caller closes it. */
  bus: EventBus;
  /** Prometheus metrics to feed (src/server/metrics); none: nothing is measured. */
  metrics?: Metrics;
}

/** Log paths that are never written: credentials, tokens and personal data. */
export const REDACTED_LOG_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["sec-websocket-protocol"]',
  '*.password',
  '*.email',
  '*.token',
  '*.recoveryProof',
  '*.registrationRecord',
  '*.serverSetup',
  '*.cookieKey',
  '*.emailKey',
  '*.vapidPrivateKey',
  '*.endpoint',
  '*.p256dh',
  '*.auth',
];

/**
 * What a request log line says about the request. The client's address and port are personal data
 * (they locate a household and, with the times, tell when a child's toy is in use), so they are
 * left out unless the operator opts in (BURROW_LOG_CLIENT_ADDRESSES=true), e.g. to trace abuse.
 */
export function requestLogSerializer(logClientAddresses: boolean): (request: FastifyRequest) => Record<string, unknown> {
  return (request) => ({
    method: request.method,
    url: request.url,
    host: request.host,
    ...(logClientAddresses ? { remoteAddress: request.ip, remotePort: request.socket?.remotePort } : {}),
  });
}

function loggerOptions(deps: ServerDeps): FastifyServerOptions['logger'] {
  if (deps.log === false) return false;
  return {
    level: deps.log?.level ?? deps.config.logLevel,
    redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
    serializers: { req: requestLogSerializer(deps.config.logClientAddresses) },
    ...(deps.log?.stream === undefined ? {} : { stream: deps.log.stream }),
  };
}

/** One feature of the server: its routes (and hooks) on the app, built from the services it needs. */
export interface Feature {
  readonly name: string;
  register(app: BurrowApp): void;
}

/**
 * Builds the app: the HTTP conventions, the services the features share, then every feature in
 * `serverFeatures`' order. Call `await app.ready()` or `listen`.
 */
export function createServer(deps: ServerDeps): BurrowApp {
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? systemRandom;
  const { app, routes } = createHttpApp(deps, random);
  const services = createServices(app, { ...deps, clock, random });
  for (const feature of serverFeatures(services, routes)) feature.register(app);
  return app;
}

/** The Fastify app with Burrow's HTTP conventions: limits, request ids, problems, security headers, shutdown. */
function createHttpApp(deps: ServerDeps, random: Random): { app: BurrowApp; routes: RouteInfo[] } {
  const { config } = deps;
  const tls = config.tls !== undefined;
  const proxies = parseTrustedProxies(config.trustProxy);
  if (typeof proxies === 'string') throw new TypeError(`config.trustProxy: ${proxies}`);

  // Slow clients (slowloris): headers must arrive within headersTimeoutMs and the whole request
  // within requestTimeoutMs, checked every second, so a trickle cannot hold a connection for ever.
  const timeouts = { headersTimeout: config.limits.headersTimeoutMs, connectionsCheckingInterval: Math.min(1_000, config.limits.headersTimeoutMs) };
  const options: FastifyServerOptions & { https?: { key: Buffer; cert: Buffer } & typeof timeouts; http?: typeof timeouts } = {
    logger: loggerOptions(deps),
    bodyLimit: config.limits.maxBodyBytes,
    requestTimeout: config.limits.requestTimeoutMs,
    http: timeouts,
    // Only listed proxies speak for a client (X-Forwarded-For, -Proto): proxy-addr walks the chain
    // from the peer leftwards while each hop is trusted, so the client address is the rightmost
    // one that is not a trusted proxy, and an untrusted peer is its own client address.
    trustProxy: proxies.length === 0 ? false : (address: string) => isTrustedProxy(proxies, address),
    // Request ids are ours, never the client's, so a log line cannot be forged into another request.
    requestIdHeader: false,
    genReqId: () => toBase64Url(random.bytes(12)),
    // Unknown fields are refused (additionalProperties: false), never silently dropped; no type coercion.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    // Each route's schemas are compiled on its first request, not all before listening (start-up).
    schemaController: lazySchemaController(),
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // While closing, requests still arriving on open connections get a 503 problem (the hook below),
    // not Fastify's own JSON.
    return503OnClosing: false,
    // Errors the router raises before any route or hook runs (bad URL encoding, overlong parameters).
    frameworkErrors: (_error, request, reply) => {
      applySecurityHeaders(request, reply);
      const problem = new BurrowError('burrow/bad-request', 'The path is malformed or too long').toProblem();
      void (reply as FastifyReply).code(400).type(problemContentType).send(problem);
    },
  };
  if (config.tls !== undefined) {
    options.https = { key: readFileSync(config.tls.keyFile), cert: readFileSync(config.tls.certFile), ...timeouts };
  }
  const app = Fastify(options).withTypeProvider<TypeBoxTypeProvider>() as unknown as BurrowApp;

  const routes: RouteInfo[] = [];
  recordRoutes(app, routes);
  app.decorate('burrowRoutes', routes);
  const metrics = deps.metrics;
  // First of the onRequest hooks, so requests refused by a later one (a rate limit) are counted too.
  if (metrics !== undefined) installHttpMetrics(app, metrics);
  app.decorateRequest('auth', null);
  app.decorateRequest('toy', null);
  // JSON only: anything else is a 415, not a string body that fails later.
  app.removeContentTypeParser(['text/plain']);

  installProblemHandlers(app, routes, { objectStoreUnavailable: () => metrics?.objectStoreUnavailable.inc() });
  const publicOriginHttps = config.live.publicOrigin?.startsWith('https://') === true;
  app.decorateRequest('secureTransport', {
    getter(this: FastifyRequest): boolean {
      // request.protocol reads X-Forwarded-Proto only when the peer is a trusted proxy.
      return tls || publicOriginHttps || this.protocol === 'https';
    },
  });
  installSecurityHeaders(app);
  // While shutting down, answers to requests in flight close their connection, so a keep-alive
  // client does not hold the process open until its idle timeout.
  let closing = false;
  app.addHook('preClose', async () => { closing = true; });
  app.addHook('onRequest', async () => {
    if (closing) throw new BurrowError('burrow/unavailable', 'The server is shutting down; try again shortly', { retryAfter: 1 });
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });
  return { app, routes };
}

/** Every feature of the server, in the order its routes are registered, each built from what it needs. */
export function serverFeatures(services: Services, routes: readonly RouteInfo[]): Feature[] {
  const { config, store, secrets, clock, random, metrics, limiter, blobs, bus, sessions, toys, accounts, familyAccess, familyEvents, purger, push, securityLog, messages } = services;
  return [
    { name: 'health', register: (app) => registerHealthRoutes(app, { store, blobs }) },
    { name: 'accounts', register: (app) => registerAccountRoutes(app, { accounts, sessions, sessionTtlMs: config.sessions.ttlMs, registrationMode: config.registration }) },
    { name: 'sessions', register: (app) => registerSessionRoutes(app, { sessions }) },
    { name: 'vault', register: (app) => registerVaultRoutes(app, { vaults: createVaultRepository(store.db), clock }) },
    {
      name: 'families',
      register: (app) => registerFamilyFeatures(app, { db: store.db, clock, limiter, inviteLookupLimit: config.rateLimits.perAccount, access: familyAccess, events: familyEvents, purger, securityLog, push, openAccountEmail: (accountId, sealed) => openEmail(secrets, accountId, sealed) }),
    },
    { name: 'security log', register: (app) => registerSecurityLogRoutes(app, { log: securityLog }) },
    { name: 'messages', register: (app) => registerMessageRoutes(app, { messages, maxMessageBytes: config.limits.maxMessageBytes }) },
    { name: 'live', register: (app) => registerLiveRoutes(app, { access: familyAccess, bus, sessions, toys, messages, limiter, clock, config }) },
    { name: 'toys', register: (app) => registerToyRoutes(app, { toys }) },
    { name: 'push', register: (app) => registerPushRoutes(app, { push, secrets, limiter, perAccount: config.rateLimits.perAccount }) },
    { name: 'security', register: (app) => registerSecurityFeatures(app, { db: store.db, config, secrets, clock, random, limiter }) },
    { name: 'metrics', register: (app) => registerGauges(app, { config, metrics }) },
    { name: 'api documents', register: (app) => registerApiDocuments(app, routes) },
  ];
}

/** The gauges beside the HTTP metrics: live connections and mail waiting in the outbox. */
function registerGauges(app: BurrowApp, deps: { config: Config; metrics: Metrics | undefined }): void {
  const { config, metrics } = deps;
  if (metrics === undefined) return;
  metrics.addGauge('burrow_live_connections', 'Open live WebSocket connections (members and toys)', () => liveHubOf(app).size);
  // Mail waiting in <data>/outbox for the operator to read or forward (no SMTP configured).
  const outbox = join(config.dataDir, 'outbox');
  metrics.addGauge('burrow_mail_outbox_files', 'Mails written to the outbox directory (no SMTP configured) and not yet removed', async () => {
    const names = await readdir(outbox).catch(() => [] as string[]);
    return names.filter((name) => name.endsWith('.eml')).length;
  });
}

/** GET /v1/openapi.json and /v1/asyncapi.json, built once from the registered routes. */
function registerApiDocuments(app: BurrowApp, routes: readonly RouteInfo[]): void {
  let openApi: unknown;
  app.get('/v1/openapi.json', {
    config: { summary: 'The OpenAPI document of this API', docs: { success: { status: 200, description: 'The OpenAPI 3.1 document of this API', contentType: 'application/json', schema: documentSchema('openapi', '^3\\.1\\.') } } },
  }, async () => {
    openApi ??= buildOpenApiDocument(routes, { version: API_VERSION });
    return openApi;
  });
  let asyncApi: unknown;
  app.get('/v1/asyncapi.json', {
    config: { summary: 'The AsyncAPI document of the live channel', docs: { success: { status: 200, description: 'The AsyncAPI 3.0 document of GET /v1/live', contentType: 'application/json', schema: documentSchema('asyncapi', '^3\\.0\\.') } } },
  }, async () => {
    asyncApi ??= buildAsyncApiDocument({ version: API_VERSION });
    return asyncApi;
  });
}

/** The response schema of an API document: an object naming its specification's version. */
function documentSchema(field: 'openapi' | 'asyncapi', version: string): object {
  return { type: 'object', required: [field, 'info'], properties: { [field]: { type: 'string', pattern: version }, info: { type: 'object' } } };
}

/** The routes of a built app, for the OpenAPI document and for tests that visit every route. */
export function routesOf(app: BurrowApp): readonly RouteInfo[] {
  return app.burrowRoutes;
}
