/**
 * The services the server's features share, each built by its own create function from the
 * dependencies it needs, in the order they depend on each other. `createServices` only strings them
 * together; `serverFeatures` (app.ts) hands them to the routes. On PostgreSQL several nodes may share
 * the work, so rate limits and started logins live in the store there and in memory otherwise.
 */
import { fromBase64Url } from '../crypto/bytes.js';
import type { BlobStore } from '../storage/blobs/blob-store.js';
import type { EventBus } from '../storage/bus/event-bus.js';
import type { SqlStore } from '../storage/database.js';
import type { FamilyAccess, FamilyEvents, FamilyPurger } from './families/access.js';
import { createFamilyAccess } from './families/access-repository.js';
import { createFamiliesRepository } from './families/repository.js';
import { accountTopic, createFamilyEvents } from './live/family-events.js';
import { createPrincipalsOf } from './live/principals.js';
import { createMessagesRepository } from './messages/repository.js';
import { createMessagesService, type MessagesService } from './messages/service.js';
import { createAccountsRepository } from './accounts/repository.js';
import { createAccountsService, type AccountsService } from './accounts/service.js';
import { createMemoryLoginStateStore, type LoginStateStore } from './accounts/login-states.js';
import { createSqlLoginStateStore } from './accounts/sql-login-states.js';
import { createRegistrationGate } from './accounts/registration.js';
import type { Config } from './config.js';
import type { Clock, Random } from './deps.js';
import type { Metrics } from './metrics/metrics.js';
import { createMemoryFailureBudget, createMemoryLoginThrottle, createMemoryRateLimiter, installAddressRateLimits, type FailureBudget, type LoginThrottle, type RateLimiter } from './http/rate-limit.js';
import { createSqlFailureBudget, createSqlLoginThrottle, createSqlRateLimiter } from './http/sql-rate-limit.js';
import type { BurrowApp } from './http/types.js';
import type { Secrets } from './secrets.js';
import { createAuthenticateHook } from './sessions/authenticate.js';
import { createSessionsRepository } from './sessions/repository.js';
import { createSessionsService, type SessionsService } from './sessions/service.js';
import { createLogSigner } from './security-log/log-signer.js';
import { createFamilyLogRepository } from './security-log/repository.js';
import { createSecurityLog, type SecurityLogService } from './security-log/service.js';
import { createToysRepository } from './toys/repository.js';
import { createToysService, PER_ATTEMPT_LIMIT, type ToysService } from './toys/service.js';
import { createPushRepository } from './push/repository.js';
import { createWebPushSender, vapidSubject } from './push/sender.js';
import { createPushService, type PushService } from './push/service.js';

const SWEEP_INTERVAL_MS = 60 * 60_000;

/** What the services are built from. Storage is the caller's: chosen once, in src/storage/open-store.ts. */
export interface ServiceDeps {
  config: Config;
  store: SqlStore;
  secrets: Secrets;
  blobs: BlobStore;
  bus: EventBus;
  clock: Clock;
  random: Random;
  metrics?: Metrics | undefined;
  /** Rate-limit state; by default in memory, or in the store on PostgreSQL (shared by every node). */
  limiter?: RateLimiter | undefined;
  throttle?: LoginThrottle | undefined;
  loginStates?: LoginStateStore | undefined;
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

/** Builds every shared service and installs what each request passes first: the per-address limits and authentication. */
export function createServices(app: BurrowApp, deps: ServiceDeps): Services {
  const { config, store, secrets, blobs, bus, clock, random } = deps;
  const metrics = deps.metrics;
  const warn = (message: string, error: unknown): void => app.log.warn({ err: error }, message);
  const limits = createRateLimits(app, deps);
  const { limiter } = limits;
  const sessions = createSessions(deps, warn);
  const familyAccess = createFamilyAccess(store.db);
  const toys = createToys(deps, { access: familyAccess, limiter, warn });
  installAuthentication(app, sessions, toys);
  sweepHourly(app, metrics, 'sessions', () => sessions.sweepExpired());
  sweepHourly(app, metrics, 'pairings', () => toys.sweepExpired());
  const familyEvents = createFamilyEvents({ bus, principalsOf: createPrincipalsOf(store.db) });
  const push = createPush(app, deps);
  const securityLog = createSecurityLog({
    repository: createFamilyLogRepository(store.db, { singleWriter: store.dialect === 'sqlite' }),
    access: familyAccess,
    signer: createLogSigner(secrets.logSigningKey),
    clock,
    limiter,
    warn,
  });
  const messages = createMessages(deps, { access: familyAccess, events: familyEvents, securityLog, push, warn });
  const purger = createPurger(messages, securityLog);
  const accounts = createAccounts(deps, { sessions, limits, events: familyEvents, purger, securityLog, warn });
  app.decorate('operator', { deleteAccount: (accountId: string) => accounts.delete(accountId) });
  return { config, store, secrets, clock, random, metrics, limiter, blobs, bus, sessions, toys, accounts, familyAccess, familyEvents, purger, push, securityLog, messages };
}

/** The rate limits: per address on every request (installed here), per account, and the login slow-down. */
function createRateLimits(app: BurrowApp, deps: ServiceDeps): { limiter: RateLimiter; throttle: LoginThrottle; failures: FailureBudget } {
  const { config, store, secrets, clock } = deps;
  const shared = store.dialect === 'postgres';
  const keyed = { clock, cookieKey: secrets.cookieKey };
  const limiter = deps.limiter ?? (shared ? createSqlRateLimiter(store.db, keyed) : createMemoryRateLimiter(clock));
  const throttle = deps.throttle ?? (shared
    ? createSqlLoginThrottle(store.db, { ...keyed, ...config.rateLimits.loginSlowdown })
    : createMemoryLoginThrottle(clock, config.rateLimits.loginSlowdown));
  const failures = shared ? createSqlFailureBudget(store.db, keyed) : createMemoryFailureBudget(clock);
  installAddressRateLimits(app, { limiter, globalPerIp: config.rateLimits.globalPerIp, anonymousPerIp: config.rateLimits.anonymousPerIp });
  return { limiter, throttle, failures };
}

function createSessions(deps: ServiceDeps, warn: (message: string, error: unknown) => void): SessionsService {
  const { config, store, bus, clock, random } = deps;
  return createSessionsService({
    repository: createSessionsRepository(store.db),
    clock,
    random,
    ttlMs: config.sessions.ttlMs,
    touchIntervalMs: config.sessions.touchIntervalMs,
    // An ended session's live connections re-check at once, on every node.
    announceEnded: (accountId) => bus.publish(accountTopic(accountId), 'sessions-ended', {}).then(() => undefined),
    warn,
  });
}

function createToys(deps: ServiceDeps, shared: { access: FamilyAccess; limiter: RateLimiter; warn: (message: string, error: unknown) => void }): ToysService {
  const { config, store, bus, clock, random } = deps;
  return createToysService({
    repository: createToysRepository(store.db),
    access: shared.access,
    clock,
    random,
    limiter: shared.limiter,
    limits: {
      startsPerIp: config.rateLimits.pairingStartsPerIp,
      runsPerIp: config.rateLimits.perAccount,
      runsPerAccount: config.rateLimits.perAccount,
      perAttempt: PER_ATTEMPT_LIMIT,
    },
    // A reset toy's live connections re-check their device token at once.
    async deviceRevoked(toyId) { await bus.publish(accountTopic(toyId), 'families-changed', {}); },
    warn: shared.warn,
  });
}

/** Routes marked `config: { authenticated: true }` need a member's session or a toy's device token. */
function installAuthentication(app: BurrowApp, sessions: SessionsService, toys: ToysService): void {
  const authenticate = createAuthenticateHook(sessions, toys);
  app.decorate('authenticate', authenticate);
  app.addHook('onRequest', async function authenticateMarkedRoutes(request, reply) {
    if (request.routeOptions.config.authenticated === true) await authenticate.call(this, request, reply);
  });
}

/** Expired sessions and pairings are metadata nobody needs: deleted hourly, not only when presented. */
function sweepHourly(app: BurrowApp, metrics: Metrics | undefined, name: 'sessions' | 'pairings', sweep: () => Promise<unknown>): void {
  let timer: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    timer = setInterval(() => {
      sweep().then(
        () => metrics?.sweeperPass(name, 'ok'),
        (error: unknown) => {
          metrics?.sweeperPass(name, undefined);
          app.log.warn({ err: error }, `${name === 'sessions' ? 'session' : 'pairing'} sweep failed`);
        },
      );
    }, SWEEP_INTERVAL_MS);
    timer.unref();
  });
  app.addHook('onClose', async () => { clearInterval(timer); });
}

/** Web Push: pushes still on their way are handed over (each bounded by its timeout) before the app closes. */
function createPush(app: BurrowApp, deps: ServiceDeps): PushService {
  const { config, store, secrets, clock, random } = deps;
  const push = createPushService({
    repository: createPushRepository(store.db),
    sender: createWebPushSender({ secrets, subject: vapidSubject({ publicOrigin: config.live.publicOrigin, contact: config.security.contact }), timeoutMs: config.push.sendTimeoutMs }),
    clock,
    random,
    maxSubscriptionsPerAccount: config.push.maxSubscriptionsPerAccount,
    allowLoopbackEndpoints: config.push.allowLoopbackEndpoints,
    warn: (message, details) => app.log.warn(details, message),
  });
  app.addHook('onClose', async () => { await push.settled(); });
  app.decorate('pushesSettled', () => push.settled());
  return push;
}

function createMessages(deps: ServiceDeps, shared: { access: FamilyAccess; events: FamilyEvents; securityLog: SecurityLogService; push: PushService; warn: (message: string, error: unknown) => void }): MessagesService {
  const { config, store, blobs, clock } = deps;
  const accounts = createAccountsRepository(store.db);
  return createMessagesService({
    repository: createMessagesRepository(store.db),
    access: shared.access,
    events: shared.events,
    blobs,
    clock,
    maxMessageBytes: config.limits.maxMessageBytes,
    async signingKeyOf(accountId) {
      const account = await accounts.findById(accountId);
      return account === undefined ? undefined : fromBase64Url(account.signing_key);
    },
    warn: shared.warn,
    securityLog: shared.securityLog,
    push: shared.push,
  });
}

/** A deleted family's messages, blobs and security log go with it. */
function createPurger(messages: MessagesService, securityLog: SecurityLogService): FamilyPurger {
  return {
    async purgeFamily(familyId: string) {
      await messages.purgeFamily(familyId);
      await securityLog.forgetFamily(familyId);
    },
  };
}

function createAccounts(deps: ServiceDeps, shared: {
  sessions: SessionsService;
  limits: { limiter: RateLimiter; throttle: LoginThrottle; failures: FailureBudget };
  events: FamilyEvents;
  purger: FamilyPurger;
  securityLog: SecurityLogService;
  warn: (message: string, error: unknown) => void;
}): AccountsService {
  const { config, store, secrets, clock, random } = deps;
  const loginStates = deps.loginStates ?? (store.dialect === 'postgres'
    ? createSqlLoginStateStore(store.db, { clock, random, cookieKey: secrets.cookieKey })
    : createMemoryLoginStateStore(clock));
  return createAccountsService({
    repository: createAccountsRepository(store.db),
    sessions: shared.sessions,
    loginStates,
    ...shared.limits,
    secrets,
    config,
    clock,
    random,
    families: { repository: createFamiliesRepository(store.db), purger: shared.purger, events: shared.events, warn: shared.warn },
    securityLog: shared.securityLog,
    registration: createRegistrationGate({ mode: config.registration, db: store.db, clock }),
  });
}
