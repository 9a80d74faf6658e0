/** `burrow serve`: run the server (embedded store, or PostgreSQL + S3 for several nodes) until SIGINT or SIGTERM. */
import type { AddressInfo } from 'node:net';
import { relative } from 'node:path';
import type { Command } from 'commander';
import { createServer } from '../server/app.js';
import { defaultWebDir, installWebApp } from '../server/http/web-app.js';
import { openEmbeddedMessaging } from '../server/messages/embedded.js';
import type { MetricsListener } from '../server/metrics/listener.js';
import { ConfigError, loadConfig, type ConfigFlags } from '../server/config.js';
import { ensureDataDir, loadOrCreateSecrets } from '../server/secrets.js';
import { unsafeStartMessage } from '../server/security/audit.js';
import { auditDeployment, parseExtraPorts, portArgument } from './audit-command.js';
import { startBackupSchedule, type BackupSchedule } from '../storage/backup/schedule.js';
import { openConfiguredBlobStore, openConfiguredEventBus, openConfiguredSqlStore } from '../storage/open-store.js';
import { saveCompileCache } from './compile-cache.js';
import type { CliIo, CliSignal } from './io.js';
import { reportOperatorFailure } from './operator-failure.js';
import { packageVersion } from './version.js';

const ENVIRONMENT_HELP = `
Environment (flags win):
  BURROW_DATA, BURROW_HOST, BURROW_PORT     the same as the flags
  BURROW_TRUST_PROXY                        your reverse proxies' addresses or CIDR ranges, comma-separated
  BURROW_TLS_CERT, BURROW_TLS_KEY           PEM files: serve HTTPS (cookies get Secure, HSTS is sent)
  BURROW_LOG_LEVEL                          fatal, error, warn, info (default), debug, trace, silent
  BURROW_LOG_CLIENT_ADDRESSES               true: request log lines carry the client's address and port (default: left out)
  BURROW_METRICS_LISTEN                     host:port for Prometheus metrics at /metrics, e.g. 127.0.0.1:9464 (default: off)
  BURROW_MAX_BODY_BYTES                     largest request body (default 65536)
  BURROW_MAX_MESSAGE_BYTES                  largest voice-message envelope (default 5242880)
  BURROW_HEADERS_TIMEOUT_SECONDS            a request's headers must arrive within this time (default 10)
  BURROW_REQUEST_TIMEOUT_SECONDS            a whole request, body included, must arrive within this time, else 408 (default 120)
  BURROW_SWEEP_INTERVAL_SECONDS             how often expired messages and orphan blobs are deleted (default 300)
  BURROW_ORPHAN_GRACE_SECONDS               age before an unreferenced blob or temp file is deleted (default 3600)
  BURROW_PUBLIC_ORIGIN                      the web app's origin, for the live channel's Origin check
  BURROW_SESSION_TTL_DAYS                   session lifetime (default 30)
  BURROW_RATE_GLOBAL_PER_MINUTE             requests per client address per minute (default 600)
  BURROW_LIVE_FRAMES_PER_MINUTE             frames a live connection may send per minute, receipts included; beyond, it is closed (default 120)
  BURROW_RATE_ANONYMOUS_PER_MINUTE          sign-up/login/recovery requests per address per minute (default 30)
  BURROW_RATE_ACCOUNT_PER_MINUTE            sign-up/login/recovery requests per account per minute (default 10)
  BURROW_RATE_LOGIN_FAILURES_PER_HOUR       failed logins/recoveries per client address per hour, then 429 (default 20)
  BURROW_DATABASE_URL                       postgres://user:password@host/db?sslmode=verify-full (scale-out; default: <data>/burrow.db)
  BURROW_DATABASE_PRIVATE_NETWORK           true: the database link is private, TLS to it is not required
  BURROW_BLOBS                              s3://bucket/prefix or a directory (default: <data>/blobs)
  BURROW_S3_ENDPOINT, BURROW_S3_REGION      S3-compatible endpoint URL and region
  BURROW_S3_ACCESS_KEY_ID, BURROW_S3_SECRET_ACCESS_KEY, BURROW_S3_FORCE_PATH_STYLE
  BURROW_SECURITY_CONTACT                   mailto: or https: contact for security.txt (audit: medium finding when unset)
  BURROW_SECURITY_POLICY                    https: URL of your disclosure policy
  BURROW_SECURITY_TXT_EXPIRES               security.txt's Expires, e.g. 2027-06-30 (unset: no security.txt; audit warns 30 days ahead)
  BURROW_SMTP_URL, BURROW_ALERT_EMAIL       smtp(s):// server and address for operator alerts (default: <data>/outbox/*.eml)
  BURROW_BACKUP_DIR                         write a backup there every BURROW_BACKUP_INTERVAL_HOURS (24), keep BURROW_BACKUP_KEEP (7)
  BURROW_BACKUP_MAX_AGE_HOURS               audit: a newer backup must exist (default 48)
  BURROW_SECRETS                            the secrets file's JSON, instead of <data>/secrets.json
  BURROW_OPAQUE_SERVER_SETUP, BURROW_COOKIE_KEY, BURROW_EMAIL_KEY   the same, one variable each
  BURROW_VAPID_PRIVATE_KEY                  the Web Push (VAPID) key beside those (default: derived from the cookie key)

On first start the data directory (0700), the SQLite database, the blob directory and the
secrets file (0600) are created. Keep the secrets file out of database backups' reach: without
it a copy of the database is useless to an attacker, and with it you can restore.`;

function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' ? '.' : rel.startsWith('..') ? path : `./${rel}`;
}

interface ServeFlags extends ConfigFlags {
  acceptRisk?: string[];
  checkPort?: string[];
  json?: boolean;
}

/** Runs the server until SIGINT or SIGTERM arrives on `io.signals`, then shuts it down. */
async function serve(io: CliIo, flags: ServeFlags): Promise<void> {
  const config = loadConfig({ flags: { ...(flags.data === undefined ? {} : { data: flags.data }), ...(flags.host === undefined ? {} : { host: flags.host }), ...(flags.port === undefined ? {} : { port: flags.port }) }, env: io.env });
  // The audit runs at every start; a high finding nobody accepted stops the server here.
  const findings = await auditDeployment(config, { extraPorts: parseExtraPorts(flags.checkPort ?? []) });
  const accepted = flags.acceptRisk ?? [];
  const refusal = unsafeStartMessage(findings, accepted);
  if (refusal !== undefined) throw new ConfigError(refusal);
  for (const f of findings) if (f.severity === 'medium') io.stderr.write(`burrow serve: warning: ${f.id}: ${f.title} (fix: ${f.fix})\n`);
  ensureDataDir(config.dataDir);
  const { secrets } = await loadOrCreateSecrets({
    dataDir: config.dataDir,
    ...(config.secretsFromEnvironment === undefined ? {} : { fromEnvironment: config.secretsFromEnvironment }),
  });
  // Scale-out: PostgreSQL for records and, through LISTEN/NOTIFY, for live events between nodes.
  let logConnectionError = (_error: unknown): void => undefined;
  const onConnectionError = (error: unknown) => logConnectionError(error);
  // Opt-in Prometheus metrics (BURROW_METRICS_LISTEN), served on their own listener once the server
  // listens; prom-client is loaded only then.
  const metrics = config.metrics === undefined ? undefined : (await import('../server/metrics/metrics.js')).createMetrics();
  // Which stores (SQLite or PostgreSQL, a directory or S3, a local or a shared bus): src/storage/open-store.ts.
  const store = await openConfiguredSqlStore(config, { onError: onConnectionError, ...(metrics === undefined ? {} : { observer: (dialect) => metrics.storeObserver(dialect) }) });
  const blobs = openConfiguredBlobStore(config, metrics === undefined ? {} : { observeSync: (ms) => metrics.observeBlobSync(ms) });
  const bus = await openConfiguredEventBus(config, { now: () => Date.now(), onError: onConnectionError });
  const messaging = openEmbeddedMessaging({ config, store, blobs, bus, ...(metrics === undefined ? {} : { metrics }), onSweepError: (error) => app.log.error({ err: error }, 'the sweeper failed; it tries again next interval') });
  const app = createServer({ config, store, secrets, blobs: messaging.blobs, bus: messaging.bus, log: { stream: io.stdout }, ...(metrics === undefined ? {} : { metrics }) });
  // The web app (dist/web from `npm run build`) at `/`, beside the API; a clear 503 page when it is not built.
  installWebApp(app, { dir: defaultWebDir() });
  logConnectionError = (error) => app.log.warn({ err: error }, 'a database connection failed; the pool replaces it');
  for (const f of findings) {
    if (f.severity === 'high' && accepted.includes(f.id)) app.log.warn({ acceptedRisk: f.id }, `starting with an accepted security risk: ${f.title}`);
  }

  let backups: BackupSchedule | undefined;
  let metricsListener: MetricsListener | undefined;
  let signalled: (signal: CliSignal) => void = () => undefined;
  const stopSignal = new Promise<CliSignal>((resolve) => {
    signalled = resolve;
  });
  const onSigint = (): void => signalled('SIGINT');
  const onSigterm = (): void => signalled('SIGTERM');
  io.signals.once('SIGINT', onSigint);
  io.signals.once('SIGTERM', onSigterm);
  const forgetSignals = (): void => {
    io.signals.removeListener('SIGINT', onSigint);
    io.signals.removeListener('SIGTERM', onSigterm);
  };

  try {
    // Before listening nothing is uploading, so whatever a crash left (orphan blobs, temp files
    // older than the grace period, expired messages) is cleaned now; then every interval.
    await messaging.sweeper.runOnce();
    messaging.sweeper.start();
    if (metrics !== undefined && config.metrics !== undefined) {
      const { host, port } = config.metrics;
      const { startMetricsListener } = await import('../server/metrics/listener.js');
      metricsListener = await startMetricsListener({ registry: metrics.registry, host, port }).catch((error: unknown) => {
        throw new ConfigError(`cannot serve metrics on ${host}:${port} (${(error as NodeJS.ErrnoException).code ?? 'error'}); choose another BURROW_METRICS_LISTEN`);
      });
    }
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    forgetSignals();
    await metricsListener?.close();
    await app.close();
    await messaging.close();
    await store.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new ConfigError(`${config.host}:${config.port} is already in use; choose another --port`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new ConfigError(`cannot listen on ${config.host}; choose another --host`);
    throw error;
  }
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${config.tls === undefined ? 'http' : 'https'}://${host}:${address.port}`;
  if (flags.json === true) io.stdout.write(`${JSON.stringify({ event: 'listening', url, version: packageVersion(), pid: process.pid })}\n`);
  else io.stdout.write(`Burrow is listening on ${url} (data: ${displayPath(config.dataDir)})\n`);
  if (metricsListener !== undefined) {
    if (flags.json === true) io.stdout.write(`${JSON.stringify({ event: 'metrics', url: metricsListener.url })}\n`);
    else io.stdout.write(`Prometheus metrics at ${metricsListener.url}\n`);
  }
  // Every module of the server is loaded by now: keep their compiled code for the next start
  // (after the line above, so a start with an empty cache does not wait for the write).
  saveCompileCache();
  const backupDir = config.security.backups.dir;
  if (backupDir !== undefined && config.databaseUrl === undefined) {
    backups = startBackupSchedule({
      dataDir: config.dataDir,
      dir: backupDir,
      intervalMs: config.security.backups.intervalHours * 3_600_000,
      keep: config.security.backups.keep,
      onBackup: (summary, removed) => app.log.info({ backup: summary.out, files: summary.files, bytes: summary.bytes, removed: removed.length }, 'scheduled backup written'),
      onError: (error) => app.log.error({ alert: 'backup-failed', err: error }, 'the scheduled backup failed'),
    });
  }

  const signal = await stopSignal;
  forgetSignals();
  app.log.info({ signal }, 'shutting down: finishing requests in flight');
  try {
    // app.close() stops accepting connections and waits for requests in flight to finish.
    await app.close();
    await metricsListener?.close();
    await backups?.stop();
    await messaging.close();
    await store.close();
  } catch (error) {
    io.stderr.write(`Burrow could not shut down cleanly: ${error instanceof Error ? error.message : String(error)}\n`);
    io.exitCode = 1;
  }
}

/** Adds `burrow serve [--data DIR] [--host H] [--port P]`. */
export function registerServeCommand(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('Run the Burrow server: embedded (SQLite file, blob directory, secrets file) by default, or on PostgreSQL + S3 (BURROW_DATABASE_URL, BURROW_BLOBS) as one of several nodes.')
    .option('--data <dir>', 'data directory (default ./data, or BURROW_DATA)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1, or BURROW_HOST)')
    .option('--port <port>', 'port to listen on; 0 picks a free one (default 8080, or BURROW_PORT)', portArgument)
    .option('--accept-risk <finding>', 'start despite this high audit finding (repeatable; see burrow audit)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--check-port <port=name>', 'also treat this port as a database port in the start-up audit (repeatable)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--json', 'print one JSON line when listening ({"event":"listening","url","version","pid"}); the log lines are JSON too')
    .addHelpText('after', ENVIRONMENT_HELP)
    .action(async (flags: ServeFlags) => {
      try {
        await serve(io, flags);
      } catch (error) {
        reportOperatorFailure(io, flags, error);
      }
    });
}
