/**
 * The server's configuration: parsed once from command-line flags and `BURROW_*` environment
 * variables, validated, and deeply frozen. This is the only module that reads `process.env`.
 * The configuration may carry secrets supplied through the environment, so it is never logged.
 */
import { resolve } from 'node:path';
import { parseTrustedProxies, splitTrustProxyList } from './http/addresses.js';

/** A fixed-window limit: at most `max` requests per `windowMs`. */
export interface RateWindow {
  readonly max: number;
  readonly windowMs: number;
}

/** Secrets handed in through the environment instead of the secrets file (for several nodes). */
export interface EnvironmentSecrets {
  readonly serverSetup: string;
  readonly cookieKey: string;
  readonly emailKey: string;
  /** 32 bytes of base64url: the Ed25519 seed of the family security log key (derived from cookieKey when absent). */
  readonly logSigningKey?: string;
  /** 32 bytes of base64url: the P-256 private key that signs Web Push requests (derived from cookieKey when absent). */
  readonly vapidPrivateKey?: string;
}

export interface Config {
  /** Holds the SQLite database, the blob directory and the secrets file. */
  readonly dataDir: string;
  readonly host: string;
  /** 0 asks the operating system for a free port. */
  readonly port: number;
  /**
   * Addresses or CIDR ranges of the reverse proxies whose X-Forwarded-For and X-Forwarded-Proto
   * are believed (src/server/http/addresses.ts); empty: none, the peer's address is the client's.
   */
  readonly trustProxy: readonly string[];
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** `postgres://…` for the scale-out store; absent for the embedded SQLite file. */
  readonly databaseUrl?: string;
  /** `s3://bucket/prefix` (or a directory) for the blob store; absent: `<dataDir>/blobs`. */
  readonly blobs?: string;
  /** Endpoint, region and credentials for an `s3://` blob store; absent fields fall back to the AWS SDK's own chain. */
  readonly s3?: S3Settings;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Request log lines carry the client's address (and port) only when the operator opts in (BURROW_LOG_CLIENT_ADDRESSES). */
  readonly logClientAddresses: boolean;
  /** Where Prometheus metrics are served (BURROW_METRICS_LISTEN); absent: no metrics listener. */
  readonly metrics?: { readonly host: string; readonly port: number };
  readonly limits: {
    /** Largest accepted request body on routes that do not set their own. */
    readonly maxBodyBytes: number;
    /** Largest voice-message envelope an upload may carry. */
    readonly maxMessageBytes: number;
    /** A request whose headers are not complete this long after the connection opened is cut off (slowloris). */
    readonly headersTimeoutMs: number;
    /** A request (headers and body) not received in full within this time is cut off with 408 (slow bodies). */
    readonly requestTimeoutMs: number;
  };
  readonly sessions: {
    readonly ttlMs: number;
    /** `last_seen_at` is written at most this often per session, not on every request. */
    readonly touchIntervalMs: number;
  };
  readonly login: {
    /** How long a started OPAQUE login may wait for its finish. */
    readonly stateTtlMs: number;
  };
  readonly rateLimits: {
    /** Every route, per client address. */
    readonly globalPerIp: RateWindow;
    /** Routes a stranger uses to get in (register, login, recover), per client address. */
    readonly anonymousPerIp: RateWindow;
    /** The same routes, per account (keyed by the email's lookup hash, whether or not it exists). */
    readonly perAccount: RateWindow;
    /** Pairing attempts a toy may start (POST /v1/pairings), per client address; each holds one of 1000 slots for up to 10 minutes. */
    readonly pairingStartsPerIp: RateWindow;
    /** After `freeFailures` failed logins for one account, each attempt waits `baseDelayMs·2^(n−free)`, at most `maxDelayMs`. */
    readonly loginSlowdown: { readonly freeFailures: number; readonly baseDelayMs: number; readonly maxDelayMs: number };
    /**
     * Failed logins and recoveries per client address (a started login counts until it succeeds;
     * known and unknown emails alike): beyond `max` in `windowMs`, that address's logins and
     * recoveries are refused before any OPAQUE work.
     */
    readonly loginFailuresPerIp: RateWindow;
  };
  readonly messages: {
    /** How often the sweeper deletes expired messages and orphan blobs. */
    readonly sweepIntervalMs: number;
    /** A blob or temp file no message references is deleted once it is this old (uploads in flight are younger). */
    readonly orphanGraceMs: number;
  };
  readonly live: {
    /** WebSocket ping interval; a connection that has not answered the previous ping is closed. */
    readonly heartbeatMs: number;
    readonly maxFrameBytes: number;
    readonly maxFramesPerMinute: number;
    readonly maxConnectionsPerAccount: number;
    /** How long a new connection waits for its `resume` frame before it starts with live events only. */
    readonly resumeWaitMs: number;
    /** The origin browsers load the web app from (`https://burrow.example`); absent: the request's own host. */
    readonly publicOrigin?: string;
  };
  readonly secretsFromEnvironment?: EnvironmentSecrets;
  /**
   * Who may create an account: `open` (anyone who reaches the server), `invite` (only someone
   * holding an open family invite or a one-time code from the operator) or `closed` (nobody).
   * Default: `invite` when the public origin is https — a server strangers can reach — else `open`.
   */
  readonly registration: RegistrationMode;
  /** Operator safety: disclosure, audit and backups (docs/operations.md). */
  readonly security: SecurityConfig;
  /** Web Push notifications (src/server/push/). */
  readonly push: PushConfig;
}

/** Web Push settings. */
export interface PushConfig {
  /** Subscriptions one account may hold (one per signed-in device). */
  readonly maxSubscriptionsPerAccount: number;
  /** A push service that has not answered in this time is given up on (the notification is lost). */
  readonly sendTimeoutMs: number;
  /**
   * Accept `http://` push endpoints on loopback addresses. For tests with a local push endpoint
   * only: no environment variable sets it, so a deployment always requires https.
   */
  readonly allowLoopbackEndpoints: boolean;
}

export const REGISTRATION_MODES = ['open', 'invite', 'closed'] as const;
export type RegistrationMode = (typeof REGISTRATION_MODES)[number];

/** Connection settings for S3-compatible blob storage (BURROW_S3_*). */
export interface S3Settings {
  readonly endpoint?: string;
  readonly region?: string;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  /** Address buckets as `endpoint/bucket` (MinIO, Ceph, Garage, s3rver) instead of `bucket.endpoint`. */
  readonly forcePathStyle?: boolean;
}

/** Disclosure, audit and backup settings. */
export interface SecurityConfig {
  /** `mailto:` or `https:` URI for security reports (security.txt Contact); absent: a finding. */
  readonly contact?: string;
  /** URL of the disclosure policy (security.txt Policy). */
  readonly policyUrl?: string;
  /**
   * security.txt's Expires (RFC 9116 §2.5.5), ms since the epoch, chosen by the operator; absent:
   * security.txt is not published (a medium audit finding), since only the operator can promise
   * the contact is looked after until then.
   */
  readonly securityTxtExpires?: number;
  /** The database network is private (no TLS needed to reach it): silences that audit finding. */
  readonly privateDatabaseNetwork: boolean;
  /** `smtp://` or `smtps://` URL for operator alerts and notices; absent: `.eml` files in `<data>/outbox/`. */
  readonly smtpUrl?: string;
  /** Where alert mail goes; defaults to the contact when it is a mailto: URI. */
  readonly alertEmail?: string;
  readonly backups: {
    /** Scheduled backups are written here; absent: no schedule. */
    readonly dir?: string;
    readonly intervalHours: number;
    /** How many scheduled backups are kept (newest first). */
    readonly keep: number;
    /** `burrow audit` reports a backup older than this (when `dir` is set). */
    readonly maxAgeHours: number;
  };
}

/** Raw command-line flags, as commander hands them over. */
export interface ConfigFlags {
  data?: string;
  host?: string;
  port?: string | number;
}

export type DeepPartial<T> = { -readonly [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Thrown for an invalid setting; its message names the flag or variable and what it must be. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

const defaults: Omit<Config, 'secretsFromEnvironment' | 'tls' | 'databaseUrl' | 'blobs' | 's3' | 'registration' | 'metrics'> = {
  dataDir: './data',
  host: '127.0.0.1',
  port: 8080,
  trustProxy: [],
  logLevel: 'info',
  logClientAddresses: false,
  limits: { maxBodyBytes: 64 * 1024, maxMessageBytes: 5 * 1024 * 1024, headersTimeoutMs: 10_000, requestTimeoutMs: 120_000 },
  sessions: { ttlMs: 30 * DAY, touchIntervalMs: MINUTE },
  login: { stateTtlMs: MINUTE },
  messages: { sweepIntervalMs: 5 * MINUTE, orphanGraceMs: 60 * MINUTE },
  live: { heartbeatMs: 30_000, maxFrameBytes: 16 * 1024, maxFramesPerMinute: 120, maxConnectionsPerAccount: 16, resumeWaitMs: 2_000 },
  security: { privateDatabaseNetwork: false, backups: { intervalHours: 24, keep: 7, maxAgeHours: 48 } },
  push: { maxSubscriptionsPerAccount: 10, sendTimeoutMs: 10_000, allowLoopbackEndpoints: false },
  rateLimits: {
    globalPerIp: { max: 600, windowMs: MINUTE },
    anonymousPerIp: { max: 30, windowMs: MINUTE },
    perAccount: { max: 10, windowMs: MINUTE },
    pairingStartsPerIp: { max: 10, windowMs: 10 * MINUTE },
    loginSlowdown: { freeFailures: 3, baseDelayMs: 2_000, maxDelayMs: 15 * MINUTE },
    loginFailuresPerIp: { max: 20, windowMs: 60 * MINUTE },
  },
};

const logLevels = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function parseInteger(value: string | number, name: string, min: number, max: number): number {
  const text = String(value).trim();
  const n = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer ${min}–${max}, got "${text}"`);
  return n;
}

function parseTrustProxy(value: string): string[] {
  const entries = splitTrustProxyList(value);
  const parsed = parseTrustedProxies(entries);
  if (typeof parsed === 'string') throw new ConfigError(`BURROW_TRUST_PROXY: ${parsed}`);
  return parsed.map((range) => range.text);
}

function parseEnvironmentSecrets(env: NodeJS.ProcessEnv): EnvironmentSecrets | undefined {
  const json = env.BURROW_SECRETS;
  const fields = {
    serverSetup: env.BURROW_OPAQUE_SERVER_SETUP,
    cookieKey: env.BURROW_COOKIE_KEY,
    emailKey: env.BURROW_EMAIL_KEY,
  };
  if (json !== undefined && json !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      throw new ConfigError('BURROW_SECRETS must be the JSON of a secrets file');
    }
    const p = parsed as Record<string, unknown>;
    if (typeof p !== 'object' || p === null || typeof p.serverSetup !== 'string' || typeof p.cookieKey !== 'string' || typeof p.emailKey !== 'string') {
      throw new ConfigError('BURROW_SECRETS must hold the strings serverSetup, cookieKey and emailKey');
    }
    const logSigningKey = typeof p.logSigningKey === 'string' ? p.logSigningKey : env.BURROW_LOG_SIGNING_KEY;
    const vapidPrivateKey = typeof p.vapidPrivateKey === 'string' ? p.vapidPrivateKey : env.BURROW_VAPID_PRIVATE_KEY;
    return { serverSetup: p.serverSetup, cookieKey: p.cookieKey, emailKey: p.emailKey, ...(logSigningKey ? { logSigningKey } : {}), ...(vapidPrivateKey ? { vapidPrivateKey } : {}) };
  }
  const given = Object.values(fields).filter((v) => v !== undefined && v !== '').length;
  if (given === 0) return undefined;
  if (given !== 3) throw new ConfigError('set all of BURROW_OPAQUE_SERVER_SETUP, BURROW_COOKIE_KEY and BURROW_EMAIL_KEY, or none');
  return {
    ...(fields as EnvironmentSecrets),
    ...(env.BURROW_LOG_SIGNING_KEY ? { logSigningKey: env.BURROW_LOG_SIGNING_KEY } : {}),
    ...(env.BURROW_VAPID_PRIVATE_KEY ? { vapidPrivateKey: env.BURROW_VAPID_PRIVATE_KEY } : {}),
  };
}

/** A date (`2027-06-30`, midnight UTC) or an ISO 8601 date-time with its zone (`2027-06-30T12:00:00Z`). */
function parseExpires(value: string): number {
  const text = value.trim();
  const ms = /^\d{4}-\d\d-\d\d$/.test(text) ? Date.parse(`${text}T00:00:00Z`) : /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(ms)) throw new ConfigError(`BURROW_SECURITY_TXT_EXPIRES must be a date such as 2027-06-30 or 2027-06-30T00:00:00Z, got "${text}"`);
  return ms;
}

function parseBoolean(value: string, name: string): boolean {
  if (!/^(true|false|1|0)$/.test(value.trim())) throw new ConfigError(`${name} must be true or false`);
  return value.trim() === 'true' || value.trim() === '1';
}

/** `host:port` or `[v6]:port` of the metrics listener. */
function parseListen(value: string, name: string): { host: string; port: number } {
  const match = /^\[([0-9A-Fa-f:.]+)\]:(\d+)$/.exec(value.trim()) ?? /^([^\s:[\]]+):(\d+)$/.exec(value.trim());
  if (match === null) throw new ConfigError(`${name} must be host:port, such as 127.0.0.1:9464`);
  return { host: match[1]!, port: parseInteger(match[2]!, name, 0, 65_535) };
}

function parseSecurity(env: NodeJS.ProcessEnv): DeepPartial<SecurityConfig> {
  const out: DeepPartial<SecurityConfig> = {};
  if (env.BURROW_SECURITY_CONTACT) {
    if (!/^(mailto:[^\s@]+@[^\s@]+|https:\/\/\S+)$/.test(env.BURROW_SECURITY_CONTACT)) throw new ConfigError('BURROW_SECURITY_CONTACT must be a mailto: or https: URI');
    out.contact = env.BURROW_SECURITY_CONTACT;
  }
  if (env.BURROW_SECURITY_POLICY) {
    if (!/^https:\/\/\S+$/.test(env.BURROW_SECURITY_POLICY)) throw new ConfigError('BURROW_SECURITY_POLICY must be an https: URL');
    out.policyUrl = env.BURROW_SECURITY_POLICY;
  }
  if (env.BURROW_SECURITY_TXT_EXPIRES) out.securityTxtExpires = parseExpires(env.BURROW_SECURITY_TXT_EXPIRES);
  if (env.BURROW_DATABASE_PRIVATE_NETWORK !== undefined) out.privateDatabaseNetwork = env.BURROW_DATABASE_PRIVATE_NETWORK === 'true';
  if (env.BURROW_SMTP_URL) {
    if (!/^smtps?:\/\/\S+$/.test(env.BURROW_SMTP_URL)) throw new ConfigError('BURROW_SMTP_URL must start with smtp:// or smtps://');
    out.smtpUrl = env.BURROW_SMTP_URL;
  }
  if (env.BURROW_ALERT_EMAIL) out.alertEmail = env.BURROW_ALERT_EMAIL;
  const backups: DeepPartial<SecurityConfig['backups']> = {};
  if (env.BURROW_BACKUP_DIR) backups.dir = resolve(env.BURROW_BACKUP_DIR);
  if (env.BURROW_BACKUP_INTERVAL_HOURS) backups.intervalHours = parseInteger(env.BURROW_BACKUP_INTERVAL_HOURS, 'BURROW_BACKUP_INTERVAL_HOURS', 1, 24 * 365);
  if (env.BURROW_BACKUP_KEEP) backups.keep = parseInteger(env.BURROW_BACKUP_KEEP, 'BURROW_BACKUP_KEEP', 1, 10_000);
  if (env.BURROW_BACKUP_MAX_AGE_HOURS) backups.maxAgeHours = parseInteger(env.BURROW_BACKUP_MAX_AGE_HOURS, 'BURROW_BACKUP_MAX_AGE_HOURS', 1, 24 * 365);
  if (Object.keys(backups).length > 0) out.backups = backups;
  return out;
}

function deepMerge<T>(base: T, patch: DeepPartial<T> | undefined): T {
  if (patch === undefined) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] = typeof value === 'object' && value !== null && !Array.isArray(value) && typeof current === 'object' && current !== null
      ? deepMerge(current, value as DeepPartial<typeof current>)
      : value;
  }
  return out as T;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * Builds the configuration: defaults, then `BURROW_*` variables, then flags, then `overrides`
 * (for tests). Throws `ConfigError` naming the first invalid setting.
 */
export function loadConfig(options: { flags?: ConfigFlags; env?: NodeJS.ProcessEnv; overrides?: DeepPartial<Config> } = {}): Config {
  const env = options.env ?? process.env;
  const flags = options.flags ?? {};
  const fromEnv: DeepPartial<Config> & Record<string, unknown> = {};

  if (env.BURROW_DATA) fromEnv.dataDir = env.BURROW_DATA;
  if (env.BURROW_HOST) fromEnv.host = env.BURROW_HOST;
  if (env.BURROW_PORT) fromEnv.port = parseInteger(env.BURROW_PORT, 'BURROW_PORT', 0, 65_535);
  if (env.BURROW_TRUST_PROXY !== undefined) fromEnv.trustProxy = parseTrustProxy(env.BURROW_TRUST_PROXY);
  if (env.BURROW_DATABASE_URL) {
    if (!/^postgres(ql)?:\/\//.test(env.BURROW_DATABASE_URL)) throw new ConfigError('BURROW_DATABASE_URL must start with postgres://');
    fromEnv.databaseUrl = env.BURROW_DATABASE_URL;
  }
  if (env.BURROW_BLOBS) {
    if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(env.BURROW_BLOBS) && !env.BURROW_BLOBS.startsWith('s3://')) throw new ConfigError('BURROW_BLOBS must be s3://bucket/prefix or a directory');
    fromEnv.blobs = env.BURROW_BLOBS;
  }
  const s3: { -readonly [K in keyof S3Settings]?: S3Settings[K] } = {};
  if (env.BURROW_S3_ENDPOINT) {
    if (!/^https?:\/\/\S+$/.test(env.BURROW_S3_ENDPOINT)) throw new ConfigError('BURROW_S3_ENDPOINT must be an http(s) URL');
    s3.endpoint = env.BURROW_S3_ENDPOINT;
  }
  if (env.BURROW_S3_REGION) s3.region = env.BURROW_S3_REGION;
  if (env.BURROW_S3_ACCESS_KEY_ID || env.BURROW_S3_SECRET_ACCESS_KEY) {
    if (!env.BURROW_S3_ACCESS_KEY_ID || !env.BURROW_S3_SECRET_ACCESS_KEY) throw new ConfigError('set both BURROW_S3_ACCESS_KEY_ID and BURROW_S3_SECRET_ACCESS_KEY, or neither');
    s3.accessKeyId = env.BURROW_S3_ACCESS_KEY_ID;
    s3.secretAccessKey = env.BURROW_S3_SECRET_ACCESS_KEY;
  }
  if (env.BURROW_S3_FORCE_PATH_STYLE !== undefined && env.BURROW_S3_FORCE_PATH_STYLE !== '') {
    if (!/^(true|false|1|0)$/.test(env.BURROW_S3_FORCE_PATH_STYLE)) throw new ConfigError('BURROW_S3_FORCE_PATH_STYLE must be true or false');
    s3.forcePathStyle = env.BURROW_S3_FORCE_PATH_STYLE === 'true' || env.BURROW_S3_FORCE_PATH_STYLE === '1';
  }
  if (Object.keys(s3).length > 0) fromEnv.s3 = s3;
  if (env.BURROW_LOG_LEVEL) {
    if (!logLevels.has(env.BURROW_LOG_LEVEL)) throw new ConfigError(`BURROW_LOG_LEVEL must be one of ${[...logLevels].join(', ')}`);
    fromEnv.logLevel = env.BURROW_LOG_LEVEL as Config['logLevel'];
  }
  if (env.BURROW_LOG_CLIENT_ADDRESSES) fromEnv.logClientAddresses = parseBoolean(env.BURROW_LOG_CLIENT_ADDRESSES, 'BURROW_LOG_CLIENT_ADDRESSES');
  if (env.BURROW_METRICS_LISTEN) fromEnv.metrics = parseListen(env.BURROW_METRICS_LISTEN, 'BURROW_METRICS_LISTEN');
  if (env.BURROW_TLS_CERT || env.BURROW_TLS_KEY) {
    if (!env.BURROW_TLS_CERT || !env.BURROW_TLS_KEY) throw new ConfigError('set both BURROW_TLS_CERT and BURROW_TLS_KEY (PEM file paths), or neither');
    fromEnv.tls = { certFile: env.BURROW_TLS_CERT, keyFile: env.BURROW_TLS_KEY };
  }
  const limits: DeepPartial<Config['limits']> = {};
  if (env.BURROW_MAX_BODY_BYTES) limits.maxBodyBytes = parseInteger(env.BURROW_MAX_BODY_BYTES, 'BURROW_MAX_BODY_BYTES', 1024, 1024 ** 3);
  if (env.BURROW_MAX_MESSAGE_BYTES) limits.maxMessageBytes = parseInteger(env.BURROW_MAX_MESSAGE_BYTES, 'BURROW_MAX_MESSAGE_BYTES', 1024, 64 * 1024 ** 2);
  if (env.BURROW_HEADERS_TIMEOUT_SECONDS) limits.headersTimeoutMs = parseInteger(env.BURROW_HEADERS_TIMEOUT_SECONDS, 'BURROW_HEADERS_TIMEOUT_SECONDS', 1, 600) * 1000;
  if (env.BURROW_REQUEST_TIMEOUT_SECONDS) limits.requestTimeoutMs = parseInteger(env.BURROW_REQUEST_TIMEOUT_SECONDS, 'BURROW_REQUEST_TIMEOUT_SECONDS', 1, 3_600) * 1000;
  if (Object.keys(limits).length > 0) fromEnv.limits = limits;
  const messages: DeepPartial<Config['messages']> = {};
  if (env.BURROW_SWEEP_INTERVAL_SECONDS) messages.sweepIntervalMs = parseInteger(env.BURROW_SWEEP_INTERVAL_SECONDS, 'BURROW_SWEEP_INTERVAL_SECONDS', 1, 86_400) * 1000;
  if (env.BURROW_ORPHAN_GRACE_SECONDS) messages.orphanGraceMs = parseInteger(env.BURROW_ORPHAN_GRACE_SECONDS, 'BURROW_ORPHAN_GRACE_SECONDS', 0, 7 * 86_400) * 1000;
  if (Object.keys(messages).length > 0) fromEnv.messages = messages;
  if (env.BURROW_PUBLIC_ORIGIN) {
    let origin: string;
    try {
      origin = new URL(env.BURROW_PUBLIC_ORIGIN).origin;
    } catch {
      throw new ConfigError('BURROW_PUBLIC_ORIGIN must be an origin such as https://burrow.example');
    }
    if (origin === 'null' || !/^https?:\/\//.test(origin)) throw new ConfigError('BURROW_PUBLIC_ORIGIN must be an http(s) origin such as https://burrow.example');
    fromEnv.live = { publicOrigin: origin };
  }
  if (env.BURROW_LIVE_FRAMES_PER_MINUTE) {
    fromEnv.live = { ...fromEnv.live, maxFramesPerMinute: parseInteger(env.BURROW_LIVE_FRAMES_PER_MINUTE, 'BURROW_LIVE_FRAMES_PER_MINUTE', 10, 1_000_000) };
  }
  if (env.BURROW_SESSION_TTL_DAYS) {
    fromEnv.sessions = { ttlMs: parseInteger(env.BURROW_SESSION_TTL_DAYS, 'BURROW_SESSION_TTL_DAYS', 1, 365) * DAY };
  }
  const rate: Record<string, RateWindow> = {};
  for (const [name, key] of [['GLOBAL', 'globalPerIp'], ['ANONYMOUS', 'anonymousPerIp'], ['ACCOUNT', 'perAccount']] as const) {
    const v = env[`BURROW_RATE_${name}_PER_MINUTE`];
    if (v) rate[key] = { max: parseInteger(v, `BURROW_RATE_${name}_PER_MINUTE`, 1, 1_000_000), windowMs: MINUTE };
  }
  if (env.BURROW_RATE_PAIRINGS_PER_10_MINUTES) {
    rate.pairingStartsPerIp = { max: parseInteger(env.BURROW_RATE_PAIRINGS_PER_10_MINUTES, 'BURROW_RATE_PAIRINGS_PER_10_MINUTES', 1, 1_000_000), windowMs: 10 * MINUTE };
  }
  if (env.BURROW_RATE_LOGIN_FAILURES_PER_HOUR) {
    rate.loginFailuresPerIp = { max: parseInteger(env.BURROW_RATE_LOGIN_FAILURES_PER_HOUR, 'BURROW_RATE_LOGIN_FAILURES_PER_HOUR', 1, 1_000_000), windowMs: 60 * MINUTE };
  }
  if (Object.keys(rate).length > 0) fromEnv.rateLimits = rate;
  const secrets = parseEnvironmentSecrets(env);
  fromEnv.security = parseSecurity(env);

  const fromFlags: DeepPartial<Config> = {};
  if (flags.data !== undefined) fromFlags.dataDir = flags.data;
  if (flags.host !== undefined) fromFlags.host = flags.host;
  if (flags.port !== undefined) fromFlags.port = parseInteger(flags.port, '--port', 0, 65_535);

  if (env.BURROW_REGISTRATION !== undefined) {
    const mode = env.BURROW_REGISTRATION.trim().toLowerCase();
    if (!(REGISTRATION_MODES as readonly string[]).includes(mode)) throw new ConfigError(`BURROW_REGISTRATION must be one of ${REGISTRATION_MODES.join(', ')}`);
    fromEnv.registration = mode as RegistrationMode;
  }

  const merged = deepMerge(deepMerge(deepMerge(defaults as Config, fromEnv), fromFlags), options.overrides);
  // A server reachable by strangers over https lets in only invited people unless told otherwise.
  if ((merged as Partial<Config>).registration === undefined) {
    (merged as { registration: RegistrationMode }).registration = merged.live.publicOrigin?.startsWith('https://') === true ? 'invite' : 'open';
  }
  if (merged.host.trim() === '') throw new ConfigError('--host must not be empty');
  const proxies = parseTrustedProxies(merged.trustProxy);
  if (typeof proxies === 'string') throw new ConfigError(`BURROW_TRUST_PROXY: ${proxies}`);
  const config: Config = { ...merged, dataDir: resolve(merged.dataDir), ...(secrets === undefined ? {} : { secretsFromEnvironment: secrets }) };
  return deepFreeze(config);
}
