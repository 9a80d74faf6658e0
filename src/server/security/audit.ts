/**
 * `burrow audit`: checks a deployment the way an attacker's scanner would, from the inside. Each
 * check is a function of injected facts (configuration, file modes, the kernel's socket table), so
 * tests can hand it any shape of deployment; `gatherAuditFacts` reads the real ones and `runAudit`
 * puts the two together. The same audit runs at every `burrow serve` start.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fromBase64Url } from '../../crypto/bytes.js';
import type { BlobStoreCheck } from '../../storage/blobs/blob-store.js';
import type { Config } from '../config.js';
import { isNonPublicRange, parseTrustedProxies } from '../http/addresses.js';
import { secretsFromFields, secretsPath } from '../secrets.js';

export type Severity = 'high' | 'medium' | 'low' | 'info';

/** One thing the audit found: a stable id (for `--accept-risk`), how bad it is, and how to fix it. */
export interface Finding {
  readonly id: string;
  readonly severity: Severity;
  readonly title: string;
  readonly detail: string;
  readonly fix: string;
}

/** Mode and owner of a file or directory; undefined when it does not exist. */
export interface FileFacts {
  readonly mode: number;
  readonly uid: number;
}

/** Everything the checks look at, gathered by `gatherAuditFacts` or built by a test. */
export interface AuditFacts {
  readonly config: Config;
  /** The user the server runs as. */
  readonly uid: number;
  readonly dataDir: FileFacts | undefined;
  readonly secretsFile: (FileFacts & { readonly text: string }) | undefined;
  /** `<data>/canaries.json`, when canaries were planted (`burrow canary create`). */
  readonly canariesFile?: FileFacts;
  /** The text of `/proc/net/tcp` and `/proc/net/tcp6` (whatever could be read). */
  readonly socketTables: readonly string[];
  /** The blob store's own safety check, when a store was given. */
  readonly blobCheck?: BlobStoreCheck;
  /** Time of the newest backup in the configured backup directory, or null when there is none. */
  readonly newestBackupAt?: number | null;
  readonly now: number;
  /** More ports to treat as database or cache ports (tests, unusual deployments). */
  readonly extraPorts?: ReadonlyMap<number, string>;
}

/** Well-known database, cache, queue and object-store ports a scanner looks for first. */
export const DATABASE_PORTS: ReadonlyMap<number, string> = new Map([
  [5432, 'PostgreSQL'],
  [3306, 'MySQL/MariaDB'],
  [6379, 'Redis'],
  [27017, 'MongoDB'],
  [9200, 'Elasticsearch'],
  [11211, 'memcached'],
  [5984, 'CouchDB'],
  [4222, 'NATS'],
  [5672, 'RabbitMQ'],
  [1883, 'MQTT'],
  [8086, 'InfluxDB'],
  [9000, 'S3/MinIO'],
]);

/** Values that ship in examples and tutorials; a secret equal to (or made of) one of these is not secret. */
const DEFAULT_WORDS = ['changeme', 'change-me', 'secret', 'default', 'password', 'burrow', 'example', 'test', 'admin', 'xxxxxxxx'];

const severityOrder: Record<Severity, number> = { high: 0, medium: 1, low: 2, info: 3 };

/** Findings sorted most severe first. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => severityOrder[a.severity] - severityOrder[b.severity] || a.id.localeCompare(b.id));
}

/** The data directory must be 0700 and owned by the server's user. */
export function checkDataDir(dataDir: string, facts: FileFacts | undefined, uid: number): Finding[] {
  if (facts === undefined) {
    return [{ id: 'data-dir-missing', severity: 'info', title: 'The data directory does not exist yet', detail: `${dataDir} will be created (mode 0700) on first start.`, fix: 'Nothing to do.' }];
  }
  const out: Finding[] = [];
  const mode = facts.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    out.push({ id: 'data-dir-open', severity: 'high', title: 'The data directory is open to other users', detail: `${dataDir} has mode ${mode.toString(8)}; other local users can list or read the database, blobs and secrets.`, fix: `chmod 700 ${dataDir}` });
  }
  if (facts.uid !== uid) {
    out.push({ id: 'data-dir-owner', severity: 'medium', title: 'The data directory belongs to another user', detail: `${dataDir} is owned by uid ${facts.uid}, the server runs as uid ${uid}.`, fix: `chown -R <server user> ${dataDir}` });
  }
  return out;
}

/** The secrets file must be 0600 and owned by the server's user. */
export function checkSecretsFile(path: string, facts: FileFacts | undefined, uid: number): Finding[] {
  if (facts === undefined) return [];
  const out: Finding[] = [];
  const mode = facts.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    out.push({ id: 'secrets-file-readable', severity: 'high', title: 'The secrets file is readable by other users', detail: `${path} has mode ${mode.toString(8)}; whoever reads it can check stolen password records offline and open stored emails.`, fix: `chmod 600 ${path}` });
  }
  if (facts.uid !== uid) {
    out.push({ id: 'secrets-file-owner', severity: 'medium', title: 'The secrets file belongs to another user', detail: `${path} is owned by uid ${facts.uid}, the server runs as uid ${uid}.`, fix: `chown <server user> ${path}` });
  }
  return out;
}

/** The canary registry is expected in the data directory, 0600: with the secrets it tells decoys from real records. */
export function checkCanariesFile(path: string, facts: FileFacts | undefined): Finding[] {
  if (facts === undefined || (facts.mode & 0o077) === 0) return [];
  return [{ id: 'canaries-file-readable', severity: 'medium', title: 'The canary registry is readable by other users', detail: `${path} has mode ${(facts.mode & 0o777).toString(8)}; with the secrets file it tells an intruder which records are decoys.`, fix: `chmod 600 ${path}` }];
}

function looksDefault(value: string): boolean {
  const lower = value.toLowerCase();
  if (DEFAULT_WORDS.some((word) => lower === word || lower.replace(/[^a-z]/g, '') === word)) return true;
  let bytes: Uint8Array;
  try {
    bytes = fromBase64Url(value);
  } catch {
    return false;
  }
  if (bytes.length === 0) return true;
  // All-zero, one repeated byte, or a repeated word: nothing a random generator produces.
  if (new Set(bytes).size <= 2) return true;
  // Printable ASCII holding a shipped word was typed by a person; random bytes are almost never all printable.
  if (!bytes.every((b) => b >= 0x20 && b < 0x7f)) return false;
  const text = new TextDecoder().decode(bytes).toLowerCase();
  return DEFAULT_WORDS.some((word) => text.includes(word));
}

/** A 32-byte key from a random generator has ~30 distinct bytes; fewer than 16 means it was made by hand. */
function looksWeak(value: string): boolean {
  try {
    const bytes = fromBase64Url(value);
    return bytes.length < 32 || new Set(bytes).size < 16;
  } catch {
    return true;
  }
}

/** The secrets must be present, well formed, and not a default, shipped or hand-made value. */
export function checkSecrets(options: { source: string; fields: Record<string, unknown> | undefined }): Finding[] {
  const { source, fields } = options;
  if (fields === undefined) {
    return [{ id: 'secrets-missing', severity: 'info', title: 'No secrets yet', detail: `${source} does not exist; fresh random secrets are generated on first start.`, fix: 'Nothing to do; back the secrets file up separately once it exists.' }];
  }
  const out: Finding[] = [];
  for (const name of ['serverSetup', 'cookieKey', 'emailKey'] as const) {
    const value = fields[name];
    if (typeof value !== 'string' || value === '') {
      out.push({ id: 'secret-missing', severity: 'high', title: `The secret ${name} is missing`, detail: `${source} has no ${name}.`, fix: `Restore ${source} from a backup, or remove it before the first start to generate new secrets.` });
      continue;
    }
    if (looksDefault(value)) {
      out.push({ id: 'secret-default', severity: 'high', title: `The secret ${name} is a default value`, detail: `${name} in ${source} is a well-known or blank value; anyone can forge what it protects.`, fix: `Replace it with a random one: for a new deployment delete ${source} before the first start; for a running one rotate the secrets (docs/operations.md).` });
    } else if (name !== 'serverSetup' && looksWeak(value)) {
      out.push({ id: 'secret-weak', severity: 'high', title: `The secret ${name} is weak`, detail: `${name} in ${source} is shorter than 32 bytes or was not made by a random generator.`, fix: `Use 32 random bytes, base64url (e.g. node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))").` });
    }
  }
  if (out.length === 0) {
    try {
      secretsFromFields(fields as { serverSetup: string; cookieKey: string; emailKey: string });
    } catch (error) {
      out.push({ id: 'secrets-invalid', severity: 'high', title: 'The secrets cannot be used', detail: `${source}: ${error instanceof Error ? error.message : String(error)}.`, fix: `Restore ${source} from a backup.` });
    }
  }
  return out;
}

/** Whether `host` names only this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h);
}

/** Plain HTTP beyond loopback, with no declared reverse proxy, sends sessions and uploads in clear. */
export function checkHttpBind(config: Config): Finding[] {
  if (isLoopbackHost(config.host)) return [];
  if (config.tls !== undefined) return [];
  if (config.trustProxy.length > 0) {
    return [{ id: 'http-behind-proxy', severity: 'low', title: 'Plain HTTP behind a declared reverse proxy', detail: `The server listens on ${config.host} without TLS and trusts a reverse proxy (BURROW_TRUST_PROXY) to terminate it.`, fix: 'Make sure only the proxy can reach this port (firewall), or bind to 127.0.0.1 on the proxy host.' }];
  }
  return [{ id: 'http-public-without-tls', severity: 'high', title: 'HTTP open to the network without TLS', detail: `The server listens on ${config.host}:${config.port} in plain HTTP with no reverse proxy declared: session tokens and logins cross the network in clear.`, fix: 'Set BURROW_TLS_CERT and BURROW_TLS_KEY, or bind to 127.0.0.1 behind a TLS reverse proxy and set BURROW_TRUST_PROXY, or use --host 127.0.0.1.' }];
}

/**
 * A trusted-proxy setting so wide that clients who are no proxy of ours fall inside it: wider than
 * /8 (IPv4) or /32 (IPv6) is high, any other range of public addresses (beyond one address) is
 * medium. Everyone inside may write their own client address into X-Forwarded-For, and with it a
 * fresh budget for logins, pairing starts and reports.
 */
export function checkTrustProxy(config: Config): Finding[] {
  const ranges = parseTrustedProxies(config.trustProxy);
  if (typeof ranges === 'string') return [{ id: 'trust-proxy-invalid', severity: 'high', title: 'BURROW_TRUST_PROXY does not parse', detail: ranges, fix: 'List only your reverse proxies\' addresses or CIDR ranges.' }];
  const out: Finding[] = [];
  for (const range of ranges) {
    const tooWide = range.prefix < (range.family === 4 ? 8 : 32);
    const publicRange = !isNonPublicRange(range) && range.prefix < (range.family === 4 ? 32 : 128);
    if (!tooWide && !publicRange) continue;
    out.push({
      id: 'trust-proxy-too-broad',
      severity: tooWide ? 'high' : 'medium',
      title: 'BURROW_TRUST_PROXY trusts more than your proxies',
      detail: `${range.text} ${tooWide ? `is wider than /${range.family === 4 ? 8 : 32}` : 'is a range of public addresses'}: any client inside it may choose its own address in X-Forwarded-For and get a fresh rate-limit budget with each.`,
      fix: 'List only the addresses of your reverse proxies (e.g. BURROW_TRUST_PROXY=127.0.0.1 or 10.0.0.5), and firewall the port so only they reach it.',
    });
  }
  return out;
}

/** A listening socket from the kernel's table: its address (text) and port, and whether it is loopback only. */
export interface Listener {
  readonly address: string;
  readonly port: number;
  readonly loopback: boolean;
}

function ipv4FromProc(hex: string): number[] {
  // The kernel prints the address as a host-order 32-bit word: little-endian on x86 and arm64.
  const bytes: number[] = [];
  for (let i = 6; i >= 0; i -= 2) bytes.push(Number.parseInt(hex.slice(i, i + 2), 16));
  return bytes;
}

function ipv6FromProc(hex: string): number[] {
  const bytes: number[] = [];
  for (let word = 0; word < 4; word++) bytes.push(...ipv4FromProc(hex.slice(word * 8, word * 8 + 8)));
  return bytes;
}

/** The sockets in LISTEN state (st 0A) of `/proc/net/tcp` or `/proc/net/tcp6` text. */
export function parseListeners(table: string): Listener[] {
  const out: Listener[] = [];
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    if (fields[3] !== '0A' || local === undefined) continue;
    const [addressHex, portHex] = local.split(':');
    if (addressHex === undefined || portHex === undefined) continue;
    const port = Number.parseInt(portHex, 16);
    if (addressHex.length === 8) {
      const bytes = ipv4FromProc(addressHex);
      out.push({ address: bytes.join('.'), port, loopback: bytes[0] === 127 });
    } else if (addressHex.length === 32) {
      const bytes = ipv6FromProc(addressHex);
      const isV4Mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
      const isLoopback6 = bytes.slice(0, 15).every((b) => b === 0) && bytes[15] === 1;
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
      const address = bytes.every((b) => b === 0) ? '::' : isV4Mapped ? `::ffff:${bytes.slice(12).join('.')}` : groups.join(':');
      out.push({ address, port, loopback: isLoopback6 || (isV4Mapped && bytes[12] === 127) });
    }
  }
  return out;
}

/** A database or cache port of this host listening beyond loopback is what scanners find first. */
export function checkListeningPorts(tables: readonly string[], extraPorts: ReadonlyMap<number, string> = new Map()): Finding[] {
  const ports = new Map([...DATABASE_PORTS, ...extraPorts]);
  const seen = new Set<string>();
  const out: Finding[] = [];
  for (const listener of tables.flatMap(parseListeners)) {
    const service = ports.get(listener.port);
    if (service === undefined || listener.loopback) continue;
    const key = `${listener.address}:${listener.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const wildcard = listener.address === '0.0.0.0' || listener.address === '::';
    out.push({
      id: 'database-port-public',
      severity: 'high',
      title: `A database port is open to the network, as CloudPets' MongoDB was (${service}, port ${listener.port})`,
      detail: `Something on this host listens on ${wildcard ? `every interface (${listener.address})` : listener.address} port ${listener.port}, the ${service} port. Internet scanners try this port on every address they find.`,
      fix: `Bind ${service} to 127.0.0.1 (or a private interface behind a firewall) and require a password and TLS; then check with: ss -ltn 'sport = :${listener.port}'.`,
    });
  }
  return out;
}

/** A networked PostgreSQL must require a password and TLS unless it is on this machine. */
export function checkDatabaseUrl(config: Config): Finding[] {
  if (config.databaseUrl === undefined) return [];
  let url: URL;
  try {
    url = new URL(config.databaseUrl);
  } catch {
    return [{ id: 'database-url-invalid', severity: 'high', title: 'BURROW_DATABASE_URL cannot be parsed', detail: 'The database URL is not a valid URL.', fix: 'Use postgres://user:password@host:5432/db?sslmode=verify-full.' }];
  }
  const host = url.hostname || url.searchParams.get('host') || '';
  // An empty host or a socket path means a Unix socket on this machine.
  if (host === '' || host.startsWith('/') || isLoopbackHost(host)) return [];
  const out: Finding[] = [];
  const shown = `${url.protocol}//${url.username === '' ? '' : `${decodeURIComponent(url.username)}@`}${url.host}${url.pathname}`;
  if (url.password === '' && !url.searchParams.has('password')) {
    out.push({ id: 'database-no-password', severity: 'high', title: 'The database is reached without a password', detail: `${shown} is on another host and the URL has no password: the database must accept connections without one.`, fix: 'Give the database role a strong password and put it in BURROW_DATABASE_URL (or PGPASSWORD); set password authentication (scram-sha-256) in pg_hba.conf.' });
  }
  const sslmode = url.searchParams.get('sslmode');
  if (!config.security.privateDatabaseNetwork && sslmode !== 'require' && sslmode !== 'verify-ca' && sslmode !== 'verify-full') {
    out.push({ id: 'database-no-tls', severity: 'high', title: 'The database connection is not required to use TLS', detail: `${shown} is on another host and sslmode is ${sslmode ?? 'unset'}: credentials and data may cross the network in clear.`, fix: 'Add ?sslmode=verify-full (or require), or set BURROW_DATABASE_PRIVATE_NETWORK=true if the link is a private network you trust.' });
  }
  return out;
}

/** Blobs readable by URL were how CloudPets' recordings leaked. */
export function checkBlobStore(check: BlobStoreCheck | undefined): Finding[] {
  if (check === undefined) return [];
  if (check.publicRead === true) {
    return [{ id: 'blobs-public-read', severity: 'high', title: 'The blob store (bucket or directory) allows public reads', detail: `Anyone with a blob's URL can download it without Burrow. ${check.detail ?? ''}`.trim(), fix: 'Remove public-read ACLs and bucket policies; enable "block public access" on the bucket.' }];
  }
  if (check.publicRead === 'unknown') {
    return [{ id: 'blobs-public-read-unknown', severity: 'low', title: 'Could not tell whether the blob bucket is public', detail: check.detail ?? 'The storage backend did not say.', fix: 'Check the bucket policy by hand; it must not allow anonymous reads.' }];
  }
  return [];
}

/**
 * The metrics listener has no authentication: beyond loopback only Prometheus should reach it. On
 * every interface it is medium (scanners find it; request rates tell when a household is active),
 * on one other address low (a private interface behind a firewall is the intended use).
 */
export function checkMetricsListen(config: Config): Finding[] {
  const listen = config.metrics;
  if (listen === undefined || isLoopbackHost(listen.host)) return [];
  const wildcard = listen.host === '0.0.0.0' || listen.host === '::';
  return [{
    id: 'metrics-beyond-loopback',
    severity: wildcard ? 'medium' : 'low',
    title: 'The metrics listener is reachable beyond this machine',
    detail: `Prometheus metrics are served without authentication on ${listen.host}:${listen.port}${wildcard ? ' (every interface)' : ''}. They hold no personal data, but their request rates show when families are active.`,
    fix: 'Bind BURROW_METRICS_LISTEN to 127.0.0.1 (with Prometheus on this host) or to a private interface, and firewall the port so only Prometheus reaches it.',
  }];
}

/** Researchers need somewhere to write (RFC 9116). */
export function checkSecurityContact(config: Config): Finding[] {
  if (config.security.contact !== undefined) return [];
  const intake = config.live.publicOrigin?.startsWith('https://') === true;
  return [{
    id: 'security-contact-unset',
    severity: 'medium',
    title: 'No security contact is set',
    detail: intake
      ? 'security.txt points only to the built-in report form; nobody is named to answer researchers.'
      : 'security.txt is not published: it has no Contact (the built-in report form is listed only at an https BURROW_PUBLIC_ORIGIN, never at an address taken from a request).',
    fix: 'Set BURROW_SECURITY_CONTACT=mailto:security@your.domain (and BURROW_SECURITY_POLICY to your policy URL).',
  }];
}

/** Warn this long before security.txt's Expires. */
export const SECURITY_TXT_WARN_DAYS = 30;
const DAY_MS = 86_400_000;

/**
 * security.txt's Expires is the operator's promise (RFC 9116 §2.5.5): unset means no file is
 * published; a date passed or near means researchers will (soon) treat the file as stale; more
 * than a year ahead goes against the RFC's advice.
 */
export function checkSecurityTxtExpiry(config: Config, now: number): Finding[] {
  const expires = config.security.securityTxtExpires;
  const fix = `Set BURROW_SECURITY_TXT_EXPIRES to a date under a year ahead (e.g. ${new Date(now + 180 * DAY_MS).toISOString().slice(0, 10)}), put a reminder in your calendar to renew it, and restart.`;
  if (expires === undefined) {
    return [{ id: 'security-txt-expires-unset', severity: 'medium', title: 'security.txt has no expiry date, so it is not published', detail: 'RFC 9116 requires an Expires field, and only you can say how long the contact will be looked after: without BURROW_SECURITY_TXT_EXPIRES, /.well-known/security.txt answers 404.', fix }];
  }
  const date = new Date(expires).toISOString();
  if (expires <= now) {
    return [{ id: 'security-txt-expired', severity: 'medium', title: 'security.txt has expired', detail: `Its Expires (${date}) has passed: researchers treat the file as stale and may not report to you.`, fix }];
  }
  if (expires - now < SECURITY_TXT_WARN_DAYS * DAY_MS) {
    return [{ id: 'security-txt-expires-soon', severity: 'medium', title: 'security.txt expires soon', detail: `Its Expires (${date}) is less than ${SECURITY_TXT_WARN_DAYS} days away.`, fix }];
  }
  if (expires - now > 366 * DAY_MS) {
    return [{ id: 'security-txt-expires-far', severity: 'low', title: 'security.txt expires more than a year ahead', detail: `Its Expires (${date}) is more than a year away; RFC 9116 §2.5.5 advises less, so a forgotten contact goes stale sooner.`, fix }];
  }
  return [];
}

/** When backups are configured, one must exist and be recent. */
export function checkBackups(config: Config, newestBackupAt: number | null | undefined, now: number): Finding[] {
  const { dir, maxAgeHours } = config.security.backups;
  if (dir === undefined) {
    return [{ id: 'backups-not-scheduled', severity: 'low', title: 'No scheduled backups', detail: 'BURROW_BACKUP_DIR is not set, so the server writes no backups of its own.', fix: 'Set BURROW_BACKUP_DIR (on another disk), or run `burrow backup` from cron; practise a restore (docs/operations.md).' }];
  }
  if (newestBackupAt === null || newestBackupAt === undefined) {
    return [{ id: 'backups-missing', severity: 'medium', title: 'No backup exists yet', detail: `${dir} holds no Burrow backup.`, fix: `Run: burrow backup --out ${join(dir, 'first.burrow-backup')} (the server also writes one every ${config.security.backups.intervalHours} h).` }];
  }
  const ageHours = (now - newestBackupAt) / 3_600_000;
  if (ageHours > maxAgeHours) {
    return [{ id: 'backups-stale', severity: 'medium', title: 'The newest backup is too old', detail: `The newest backup in ${dir} is ${Math.floor(ageHours)} h old (limit ${maxAgeHours} h).`, fix: 'Check that the server (or cron) can write to the backup directory, then run `burrow backup` now.' }];
  }
  return [];
}

/** Runs every check on the facts; findings most severe first. */
export function auditFacts(facts: AuditFacts): Finding[] {
  const { config } = facts;
  const secretsSource = config.secretsFromEnvironment === undefined ? secretsPath(config.dataDir) : 'the environment (BURROW_SECRETS…)';
  let secretFields: Record<string, unknown> | undefined;
  const parseFindings: Finding[] = [];
  if (config.secretsFromEnvironment !== undefined) {
    secretFields = { ...config.secretsFromEnvironment };
  } else if (facts.secretsFile !== undefined) {
    try {
      secretFields = JSON.parse(facts.secretsFile.text) as Record<string, unknown>;
      if (typeof secretFields !== 'object' || secretFields === null) throw new Error('not an object');
    } catch {
      secretFields = undefined;
      parseFindings.push({ id: 'secrets-invalid', severity: 'high', title: 'The secrets file cannot be read', detail: `${secretsSource} is not the JSON of a secrets file.`, fix: `Restore ${secretsSource} from a backup.` });
    }
  }
  return sortFindings([
    ...checkDataDir(config.dataDir, facts.dataDir, facts.uid),
    ...(config.secretsFromEnvironment === undefined ? checkSecretsFile(secretsSource, facts.secretsFile, facts.uid) : []),
    ...(parseFindings.length > 0 ? parseFindings : checkSecrets({ source: secretsSource, fields: secretFields })),
    ...checkCanariesFile(join(config.dataDir, 'canaries.json'), facts.canariesFile),
    ...checkHttpBind(config),
    ...checkTrustProxy(config),
    ...checkListeningPorts(facts.socketTables, facts.extraPorts),
    ...checkDatabaseUrl(config),
    ...checkBlobStore(facts.blobCheck),
    ...checkMetricsListen(config),
    ...checkSecurityContact(config),
    ...checkSecurityTxtExpiry(config, facts.now),
    ...checkBackups(config, facts.newestBackupAt, facts.now),
  ]);
}

async function factsOf(path: string): Promise<FileFacts | undefined> {
  try {
    const s = await stat(path);
    return { mode: s.mode, uid: s.uid };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The newest backup file's time in `dir` (by mtime), or null when there is none. */
export async function newestBackupTime(dir: string): Promise<number | null> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return null;
  }
  let newest: number | null = null;
  for (const name of names) {
    if (!name.endsWith('.burrow-backup')) continue;
    const s = await stat(join(dir, name)).catch(() => undefined);
    if (s !== undefined && s.isFile() && (newest === null || s.mtimeMs > newest)) newest = s.mtimeMs;
  }
  return newest;
}

export interface RunAuditOptions {
  /** The blob store to ask `check()`; none: the blob check is skipped. */
  blobs?: { check(): Promise<BlobStoreCheck> };
  extraPorts?: ReadonlyMap<number, string>;
  now?: number;
  /** Where the socket tables are read from (default `/proc/net/tcp` and `/proc/net/tcp6`). */
  socketTablePaths?: readonly string[];
}

/** Reads the real facts of a deployment: file modes, the secrets, the kernel's socket table, backups. */
export async function gatherAuditFacts(config: Config, options: RunAuditOptions = {}): Promise<AuditFacts> {
  const secretsFile = secretsPath(config.dataDir);
  const secretsFacts = await factsOf(secretsFile);
  let text = '';
  if (secretsFacts !== undefined) text = await readFile(secretsFile, 'utf8').catch(() => '');
  const socketTables: string[] = [];
  for (const path of options.socketTablePaths ?? ['/proc/net/tcp', '/proc/net/tcp6']) {
    const table = await readFile(path, 'utf8').catch(() => undefined);
    if (table !== undefined) socketTables.push(table);
  }
  const blobCheck = options.blobs === undefined ? undefined : await options.blobs.check();
  return {
    config,
    uid: process.getuid?.() ?? 0,
    dataDir: await factsOf(config.dataDir),
    secretsFile: secretsFacts === undefined ? undefined : { ...secretsFacts, text },
    ...await factsOf(join(config.dataDir, 'canaries.json')).then((canariesFile) => (canariesFile === undefined ? {} : { canariesFile })),
    socketTables,
    ...(blobCheck === undefined ? {} : { blobCheck }),
    newestBackupAt: config.security.backups.dir === undefined ? null : await newestBackupTime(config.security.backups.dir),
    now: options.now ?? Date.now(),
    ...(options.extraPorts === undefined ? {} : { extraPorts: options.extraPorts }),
  };
}

/** Audits the deployment `config` describes, reading the real facts. */
export async function runAudit(config: Config, options: RunAuditOptions = {}): Promise<Finding[]> {
  return auditFacts(await gatherAuditFacts(config, options));
}

/** The high findings no `--accept-risk` names. */
export function unacceptedHighFindings(findings: readonly Finding[], accepted: readonly string[]): Finding[] {
  return findings.filter((f) => f.severity === 'high' && !accepted.includes(f.id));
}

/** A readable table: severity, finding and fix, one block per finding. */
export function formatFindings(findings: readonly Finding[]): string {
  if (findings.length === 0) return 'No findings: this deployment looks safe.\n';
  const lines: string[] = [];
  for (const f of findings) {
    lines.push(`${f.severity.toUpperCase().padEnd(6)} ${f.id}: ${f.title}`);
    lines.push(`       ${f.detail}`);
    lines.push(`       fix: ${f.fix}`);
  }
  const counts = (['high', 'medium', 'low', 'info'] as const).map((s) => `${findings.filter((f) => f.severity === s).length} ${s}`).join(', ');
  lines.push('', `${findings.length} finding(s): ${counts}.`);
  return `${lines.join('\n')}\n`;
}

/**
 * The start-up rule of `burrow serve`: a message listing every high finding and its fix when any
 * is not accepted (the server must refuse to start), else undefined.
 */
export function unsafeStartMessage(findings: readonly Finding[], accepted: readonly string[]): string | undefined {
  const refused = unacceptedHighFindings(findings, accepted);
  if (refused.length === 0) return undefined;
  const lines = ['refusing to start: the audit found what an attacker\'s scanner would find.'];
  for (const f of refused) lines.push(`  HIGH ${f.id}: ${f.title}`, `       ${f.detail}`, `       fix: ${f.fix}`);
  lines.push(`Fix each one, or start anyway with ${[...new Set(refused.map((f) => `--accept-risk=${f.id}`))].join(' ')} if you understand the risk.`);
  return lines.join('\n');
}
