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
import { fromBase64Url, toBase64Url } from '../crypto/bytes.js';
import type { BlobStore } from '../storage/blobs/blob-store.js';
import type { EventBus } from '../storage/bus/event-bus.js';
import { LocalEventBus } from '../storage/bus/local-event-bus.js';
import { FsBlobStore } from '../storage/blobs/fs-blob-store.js';
import type { SqlStore } from '../storage/database.js';
import type { FamilyAccess, FamilyEvents, FamilyPurger } from './families/access.js';
import { createFamilyAccess } from './families/access-repository.js';
import { createFamiliesRepository } from './families/repository.js';
import { createFamilyEvents } from './live/family-events.js';
import { createPrincipalsOf } from './live/principals.js';
import { buildAsyncApiDocument } from './live/asyncapi.js';
import { registerLiveRoutes } from './live/routes.js';
import { createMessagesRepository } from './messages/repository.js';
import { registerMessageRoutes } from './messages/routes.js';
import { createMessagesService, type MessagesService } from './messages/service.js';
import { createAccountsRepository } from './accounts/repository.js';
import { registerAccountRoutes } from './accounts/routes.js';
import { createAccountsService, type AccountsService } from './accounts/service.js';
import { createMemoryLoginStateStore, type LoginStateStore } from './accounts/login-states.js';
import { createSqlLoginStateStore } from './accounts/sql-login-states.js';
import type { Config } from './config.js';
import { registerFamilyFeatures } from './families/register.js';
import { registerSecurityFeatures } from './security/register.js';
import { systemClock, systemRandom, type Clock, type Random } from './deps.js';
import './http/fastify-types.js';
import { isTrustedProxy, parseTrustedProxies } from './http/addresses.js';
import { registerHealthRoutes } from './http/health.js';
import { installHttpMetrics } from './metrics/http-metrics.js';
import type { Metrics } from './metrics/metrics.js';
import { buildOpenApiDocument } from './http/openapi.js';
import { installProblemHandlers, problemContentType } from './http/problems.js';
import { BurrowError } from '../protocol/errors.js';
import { createMemoryFailureBudget, createMemoryLoginThrottle, createMemoryRateLimiter, installAddressRateLimits, type LoginThrottle, type RateLimiter } from './http/rate-limit.js';
import { recordRoutes, type RouteInfo } from './http/route-registry.js';
import { createSqlFailureBudget, createSqlLoginThrottle, createSqlRateLimiter } from './http/sql-rate-limit.js';
import { applySecurityHeaders, installSecurityHeaders } from './http/security-headers.js';
import type { BurrowApp } from './http/types.js';
import { openEmail, type Secrets } from './secrets.js';
import { createAuthenticateHook } from './sessions/authenticate.js';
import { createSessionsRepository } from './sessions/repository.js';
import { registerSessionRoutes } from './sessions/routes.js';
import { createSessionsService, type SessionsService } from './sessions/service.js';
import { createLogSigner } from './security-log/log-signer.js';
import { createFamilyLogRepository } from './security-log/repository.js';
import { registerSecurityLogRoutes } from './security-log/routes.js';
import { createSecurityLog, type SecurityLogService } from './security-log/service.js';
import { createRegistrationGate } from './accounts/registration.js';
import { createVaultRepository } from './vault/repository.js';
import { registerVaultRoutes } from './vault/routes.js';
import { accountTopic } from './live/family-events.js';
import { createToysRepository } from './toys/repository.js';
import { registerToyRoutes } from './toys/routes.js';
import { createToysService, PER_ATTEMPT_LIMIT, type ToysService } from './toys/service.js';
import { createPushRepository } from './push/repository.js';
import { registerPushRoutes } from './push/routes.js';
import { createWebPushSender, vapidSubject } from './push/sender.js';
import { createPushService, type PushService } from './push/service.js';

export const API_VERSION = '0.1.0';
const SESSION_SWEEP_INTERVAL_MS = 60 * 60_000;

/** Everything the server is built from. Only `config`, `store` and `secrets` are required. */
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
  /** Where envelopes live; by default a directory `<dataDir>/blobs`, closed with the app. */
  blobs?: BlobStore;
  /** The event bus; by default an in-process bus whose resume log is in memory, closed with the app. */
  bus?: EventBus;
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

/** What the features are built from: the dependencies, and the services several of them share. */
export interface Services {
  config: Config;
  store: SqlStore;
  secrets: Secrets;
  clock: Clock;
  random: Random;
  metrics: Metrics | undefined;
  limiter: RateLimiter;
  blobs: BlobStore;
  bus: EventBus;
  sessions: SessionsService;
  toys: ToysService;
  accounts: AccountsService;
  familyAccess: FamilyAccess;
  familyEvents: FamilyEvents;
  purger: FamilyPurger;
  push: PushService;
  securityLog: SecurityLogService;
  messages: MessagesService;
}

/**
 * The services the features share, and what every request passes first: the per-address rate
 * limits and authentication. On PostgreSQL several nodes may share the work, so limits and started
 * logins live in the store.
 */
function createServices(app: BurrowApp, deps: ServerDeps & { clock: Clock; random: Random }): Services {
  const { config, store, secrets, clock, random } = deps;
  const metrics = deps.metrics;
  const shared = store.dialect === 'postgres';
  const limiter = deps.limiter ?? (shared ? createSqlRateLimiter(store.db, { clock, cookieKey: secrets.cookieKey }) : createMemoryRateLimiter(clock));
  const throttle = deps.throttle ?? (shared
    ? createSqlLoginThrottle(store.db, { clock, cookieKey: secrets.cookieKey, ...config.rateLimits.loginSlowdown })
    : createMemoryLoginThrottle(clock, config.rateLimits.loginSlowdown));
  const failures = shared ? createSqlFailureBudget(store.db, { clock, cookieKey: secrets.cookieKey }) : createMemoryFailureBudget(clock);
  installAddressRateLimits(app, { limiter, globalPerIp: config.rateLimits.globalPerIp, anonymousPerIp: config.rateLimits.anonymousPerIp });

  const sessions = createSessionsService({
    repository: createSessionsRepository(store.db),
    clock,
    random,
    ttlMs: config.sessions.ttlMs,
    touchIntervalMs: config.sessions.touchIntervalMs,
    // An ended session's live connections re-check at once (the bus is made below, before any request).
    announceEnded: (accountId) => bus.publish(accountTopic(accountId), 'sessions-ended', {}).then(() => undefined),
    warn: (message, error) => app.log.warn({ err: error }, message),
  });
  // Expired sessions are metadata nobody needs: delete them hourly, not only when presented.
  let sweeper: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    sweeper = setInterval(() => {
      sessions.sweepExpired().then(
        () => metrics?.sweeperPass('sessions', 'ok'),
        (error: unknown) => {
          metrics?.sweeperPass('sessions', undefined);
          app.log.warn({ err: error }, 'session sweep failed');
        },
      );
      toys.sweepExpired().then(
        () => metrics?.sweeperPass('pairings', 'ok'),
        (error: unknown) => {
          metrics?.sweeperPass('pairings', undefined);
          app.log.warn({ err: error }, 'pairing sweep failed');
        },
      );
    }, SESSION_SWEEP_INTERVAL_MS);
    sweeper.unref();
  });
  app.addHook('onClose', async () => { clearInterval(sweeper); });
  // Tests and `burrow admin` may leave these out: a directory and an in-memory bus, closed with the
  // app. `burrow serve` chooses them in src/storage/open-store.ts.
  const blobs = deps.blobs ?? new FsBlobStore({ dir: join(config.dataDir, 'blobs') });
  const bus = deps.bus ?? new LocalEventBus({ database: ':memory:', now: () => clock.now() });
  const familyAccess = createFamilyAccess(store.db);
  const toys = createToysService({
    repository: createToysRepository(store.db),
    access: familyAccess,
    clock,
    random,
    limiter,
    limits: {
      startsPerIp: config.rateLimits.pairingStartsPerIp,
      runsPerIp: config.rateLimits.perAccount,
      runsPerAccount: config.rateLimits.perAccount,
      perAttempt: PER_ATTEMPT_LIMIT,
    },
    // A reset toy's live connections re-check their device token at once.
    async deviceRevoked(toyId) { await bus.publish(accountTopic(toyId), 'families-changed', {}); },
    warn: (message, error) => app.log.warn({ err: error }, message),
  });
  const authenticate = createAuthenticateHook(sessions, toys);
  app.decorate('authenticate', authenticate);
  app.addHook('onRequest', async function authenticateMarkedRoutes(request, reply) {
    if (request.routeOptions.config.authenticated === true) await authenticate.call(this, request, reply);
  });

  app.addHook('onClose', async () => {
    if (deps.blobs === undefined) await blobs.close();
    if (deps.bus === undefined) await bus.close();
  });
  const familyEvents = createFamilyEvents({ bus, principalsOf: createPrincipalsOf(store.db) });
  const push = createPushService({
    repository: createPushRepository(store.db),
    sender: createWebPushSender({ secrets, subject: vapidSubject({ publicOrigin: config.live.publicOrigin, contact: config.security.contact }), timeoutMs: config.push.sendTimeoutMs }),
    clock,
    random,
    maxSubscriptionsPerAccount: config.push.maxSubscriptionsPerAccount,
    allowLoopbackEndpoints: config.push.allowLoopbackEndpoints,
    warn: (message, details) => app.log.warn(details, message),
  });
  // Pushes still on their way are handed over (each bounded by its timeout) before the app closes.
  app.addHook('onClose', async () => { await push.settled(); });
  app.decorate('pushesSettled', () => push.settled());
  const accountsRepository = createAccountsRepository(store.db);
  const securityLog = createSecurityLog({
    repository: createFamilyLogRepository(store.db),
    access: familyAccess,
    signer: createLogSigner(secrets.logSigningKey),
    clock,
    limiter,
    warn: (message, error) => app.log.warn({ err: error }, message),
  });
  const messages = createMessagesService({
    repository: createMessagesRepository(store.db),
    access: familyAccess,
    events: familyEvents,
    blobs,
    clock,
    maxMessageBytes: config.limits.maxMessageBytes,
    async signingKeyOf(accountId) {
      const account = await accountsRepository.findById(accountId);
      return account === undefined ? undefined : fromBase64Url(account.signing_key);
    },
    warn: (message, error) => app.log.warn({ err: error }, message),
    securityLog,
    push,
  });
  // A deleted family's security log goes with it.
  const purger = {
    async purgeFamily(familyId: string) {
      await messages.purgeFamily(familyId);
      await securityLog.forgetFamily(familyId);
    },
  };

  const accounts = createAccountsService({
    repository: createAccountsRepository(store.db),
    sessions,
    loginStates: deps.loginStates ?? (shared ? createSqlLoginStateStore(store.db, { clock, random, cookieKey: secrets.cookieKey }) : createMemoryLoginStateStore(clock)),
    limiter,
    throttle,
    failures,
    secrets,
    config,
    clock,
    random,
    families: {
      repository: createFamiliesRepository(store.db),
      purger,
      events: familyEvents,
      warn: (message, error) => app.log.warn({ err: error }, message),
    },
    securityLog,
    registration: createRegistrationGate({ mode: config.registration, db: store.db, clock }),
  });

  app.decorate('operator', { deleteAccount: (accountId: string) => accounts.delete(accountId) });
  return { config, store, secrets, clock, random, metrics, limiter, blobs, bus, sessions, toys, accounts, familyAccess, familyEvents, purger, push, securityLog, messages };
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
    { name: 'live', register: (app) => registerLiveRoutes(app, { access: familyAccess, bus, sessions, toys, clock, config }) },
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
  metrics.addGauge('burrow_live_connections', 'Open live WebSocket connections (members and toys)', () => app.websocketServer.clients.size);
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
