/**
 * `burrow audit` against real deployment shapes: a data directory made by the real secrets code,
 * then broken one way at a time (file modes, a default secret, a public bind, a remote database
 * URL, a database-like listener on 0.0.0.0 started here), and the clean embedded deployment.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, type Config, type DeepPartial } from '../../src/server/config.js';
import { loadOrCreateSecrets, secretsPath } from '../../src/server/secrets.js';
import { auditFacts, gatherAuditFacts, parseListeners, runAudit, unsafeStartMessage, type Finding } from '../../src/server/security/audit.js';
import { FsBlobStore } from '../../src/storage/blobs/fs-blob-store.js';

async function deployment(options: { env?: Record<string, string>; overrides?: DeepPartial<Config> } = {}): Promise<Config> {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'burrow-audit-')), 'data');
  const expires = new Date(Date.now() + 180 * 86_400_000).toISOString().slice(0, 10);
  const config = loadConfig({ env: { BURROW_SECURITY_CONTACT: 'mailto:security@example.org', BURROW_SECURITY_TXT_EXPIRES: expires, ...options.env }, flags: { data: dataDir }, ...(options.overrides === undefined ? {} : { overrides: options.overrides }) });
  await loadOrCreateSecrets({ dataDir: config.dataDir });
  mkdirSync(join(config.dataDir, 'blobs'), { mode: 0o700 });
  return config;
}

function ids(findings: readonly Finding[], severity?: Finding['severity']): string[] {
  return findings.filter((f) => severity === undefined || f.severity === severity).map((f) => f.id);
}

function serious(findings: readonly Finding[]): Finding[] {
  return findings.filter((f) => f.severity === 'high' || f.severity === 'medium');
}

function listen(port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createTcpServer();
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

describe('burrow audit', () => {
  it('finds nothing of medium or high severity on a correct embedded deployment, reading this host\'s real socket table', async () => {
    const config = await deployment();
    const blobs = new FsBlobStore({ dir: join(config.dataDir, 'blobs') });
    const findings = await runAudit(config, { blobs });
    expect(serious(findings)).toEqual([]);
    // This machine runs PostgreSQL, Redis and NATS on 127.0.0.1: loopback listeners are not findings.
    expect(ids(findings)).not.toContain('database-port-public');
  });

  it('finds a world-readable secrets file', async () => {
    const config = await deployment();
    chmodSync(secretsPath(config.dataDir), 0o644);
    const findings = await runAudit(config);
    expect(ids(findings, 'high')).toEqual(['secrets-file-readable']);
    expect(findings[0]!.fix).toContain('chmod 600');
  });

  it('finds a data directory open to other users', async () => {
    const config = await deployment();
    chmodSync(config.dataDir, 0o755);
    expect(ids(await runAudit(config), 'high')).toEqual(['data-dir-open']);
  });

  it('finds a default secret (an all-zero key) and a hand-made one', async () => {
    const config = await deployment();
    const path = secretsPath(config.dataDir);
    const file = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    writeFileSync(path, JSON.stringify({ ...file, cookieKey: Buffer.alloc(32).toString('base64url') }), { mode: 0o600 });
    expect(ids(await runAudit(config), 'high')).toEqual(['secret-default']);
    writeFileSync(path, JSON.stringify({ ...file, emailKey: Buffer.from('changeme'.repeat(4)).toString('base64url') }), { mode: 0o600 });
    expect(ids(await runAudit(config), 'high')).toEqual(['secret-default']);
    writeFileSync(path, JSON.stringify({ ...file, emailKey: Buffer.from('0123456789abcdef0123456789abcdef'.slice(0, 32).split('').map((c) => c.charCodeAt(0) % 8)).toString('base64url') }), { mode: 0o600 });
    expect(ids(await runAudit(config), 'high')).toEqual(['secret-weak']);
  });

  it('finds a default secret handed in through the environment', async () => {
    const zero = Buffer.alloc(32).toString('base64url');
    const config = await deployment({ env: { BURROW_OPAQUE_SERVER_SETUP: 'changeme', BURROW_COOKIE_KEY: zero, BURROW_EMAIL_KEY: zero } });
    expect(ids(await runAudit(config), 'high').sort()).toEqual(['secret-default', 'secret-default', 'secret-default']);
  });

  it('finds a public bind without TLS, and accepts one with TLS or behind a declared proxy', async () => {
    const open = await deployment({ env: { BURROW_HOST: '0.0.0.0' } });
    expect(ids(await runAudit(open), 'high')).toEqual(['http-public-without-tls']);
    const proxied = await deployment({ env: { BURROW_HOST: '0.0.0.0', BURROW_TRUST_PROXY: '10.0.0.2' } });
    expect(serious(await runAudit(proxied))).toEqual([]);
    const tls = await deployment({ env: { BURROW_HOST: '::', BURROW_TLS_CERT: '/etc/cert.pem', BURROW_TLS_KEY: '/etc/key.pem' } });
    expect(serious(await runAudit(tls))).toEqual([]);
  });

  it('finds a Postgres URL without a password to a remote host (statically: nothing is contacted)', async () => {
    const config = await deployment({ env: { BURROW_DATABASE_URL: 'postgres://burrow@db.example.internal/burrow' } });
    const findings = await runAudit(config);
    expect(ids(findings, 'high').sort()).toEqual(['database-no-password', 'database-no-tls']);
    const safe = await deployment({ env: { BURROW_DATABASE_URL: 'postgres://burrow:long-random-password@db.example.internal/burrow?sslmode=verify-full' } });
    expect(serious(await runAudit(safe))).toEqual([]);
    const local = await deployment({ env: { BURROW_DATABASE_URL: 'postgres://burrow@127.0.0.1/burrow' } });
    expect(serious(await runAudit(local))).toEqual([]);
    const privateNet = await deployment({ env: { BURROW_DATABASE_URL: 'postgres://burrow:pw@10.0.0.5/burrow', BURROW_DATABASE_PRIVATE_NETWORK: 'true' } });
    expect(serious(await runAudit(privateNet))).toEqual([]);
  });

  it('finds a database-like port listening on 0.0.0.0, and not once it is closed', async () => {
    const config = await deployment();
    // A free port, declared as a database port, so other suites' servers are not disturbed.
    const probe = await listen(0, '127.0.0.1');
    const port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const extraPorts = new Map([[port, 'MongoDB (test)']]);
    const fake = await listen(port, '0.0.0.0');
    try {
      const findings = await runAudit(config, { extraPorts });
      expect(ids(findings, 'high')).toEqual(['database-port-public']);
      expect(findings[0]!.title).toContain('CloudPets');
      expect(findings[0]!.detail).toContain(String(port));
    } finally {
      await new Promise((resolve) => fake.close(resolve));
    }
    expect(ids(await runAudit(config, { extraPorts }), 'high')).toEqual([]);
  });

  it('reads IPv4 and IPv6 listeners from the kernel table format', () => {
    const v4 = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 4874 1',
      '   1: 00000000:6989 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1145 1',
      '   2: 0500000A:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1146 1',
      '   3: 00000000:6989 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 1147 1',
    ].join('\n');
    expect(parseListeners(v4)).toEqual([
      { address: '127.0.0.1', port: 5432, loopback: true },
      { address: '0.0.0.0', port: 27017, loopback: false },
      { address: '10.0.0.5', port: 3306, loopback: false },
    ]);
    const v6 = [
      '  sl  local_address                         remote_address                        st',
      '   0: 00000000000000000000000001000000:18EB 00000000000000000000000000000000:0000 0A 0',
      '   1: 00000000000000000000000000000000:18EB 00000000000000000000000000000000:0000 0A 0',
      '   2: 0000000000000000FFFF00000100007F:0CEA 00000000000000000000000000000000:0000 0A 0',
    ].join('\n');
    expect(parseListeners(v6)).toEqual([
      { address: '0:0:0:0:0:0:0:1', port: 6379, loopback: true },
      { address: '::', port: 6379, loopback: false },
      { address: '::ffff:127.0.0.1', port: 3306, loopback: true },
    ]);
  });

  it('finds a blob directory readable by others, through the blob store\'s own check', async () => {
    const config = await deployment();
    chmodSync(join(config.dataDir, 'blobs'), 0o755);
    const findings = await runAudit(config, { blobs: new FsBlobStore({ dir: join(config.dataDir, 'blobs') }) });
    expect(ids(findings, 'high')).toEqual(['blobs-public-read']);
  });

  it('reports an unset security contact and an unset security.txt expiry as medium', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'burrow-audit-')), 'data');
    const config = loadConfig({ env: {}, flags: { data: dataDir } });
    await loadOrCreateSecrets({ dataDir });
    const findings = await runAudit(config);
    expect(ids(findings, 'medium')).toEqual(['security-contact-unset', 'security-txt-expires-unset']);
    expect(findings.find((f) => f.id === 'security-txt-expires-unset')!.fix).toContain('BURROW_SECURITY_TXT_EXPIRES');
  });

  it('reports a metrics listener beyond loopback: medium on every interface, low on one address', async () => {
    expect(ids(await runAudit(await deployment({ env: { BURROW_METRICS_LISTEN: '127.0.0.1:9464' } })))).not.toContain('metrics-beyond-loopback');
    expect(ids(await runAudit(await deployment({ env: { BURROW_METRICS_LISTEN: '0.0.0.0:9464' } })), 'medium')).toEqual(['metrics-beyond-loopback']);
    expect(ids(await runAudit(await deployment({ env: { BURROW_METRICS_LISTEN: '10.0.0.5:9464' } })), 'low')).toContain('metrics-beyond-loopback');
  });

  it('warns when security.txt has expired, expires within 30 days, or is set more than a year ahead', async () => {
    const config = await deployment({ env: { BURROW_SECURITY_TXT_EXPIRES: '2027-06-30' } });
    const facts = await gatherAuditFacts(config);
    const at = (iso: string) => auditFacts({ ...facts, now: Date.parse(iso) });
    expect(ids(at('2027-01-01T00:00:00Z'), 'medium')).toEqual([]);
    expect(ids(at('2027-05-31T00:00:00Z'), 'medium')).toEqual([]);
    expect(ids(at('2027-05-31T00:00:01Z'), 'medium')).toEqual(['security-txt-expires-soon']);
    expect(ids(at('2027-06-29T23:59:59Z'), 'medium')).toEqual(['security-txt-expires-soon']);
    expect(ids(at('2027-06-30T00:00:00Z'), 'medium')).toEqual(['security-txt-expired']);
    expect(ids(at('2026-01-01T00:00:00Z'), 'low')).toContain('security-txt-expires-far');
    expect(() => loadConfig({ env: { BURROW_SECURITY_TXT_EXPIRES: 'next summer' } })).toThrow(/BURROW_SECURITY_TXT_EXPIRES/);
    expect(loadConfig({ env: { BURROW_SECURITY_TXT_EXPIRES: '2027-06-30T12:00:00+02:00' } }).security.securityTxtExpires).toBe(Date.UTC(2027, 5, 30, 10));
  });

  it('reports backups that are missing or older than the configured age', async () => {
    const backupDir = mkdtempSync(join(tmpdir(), 'burrow-audit-backups-'));
    const config = await deployment({ env: { BURROW_BACKUP_DIR: backupDir, BURROW_BACKUP_MAX_AGE_HOURS: '24' } });
    const facts = await gatherAuditFacts(config);
    expect(ids(auditFacts(facts), 'medium')).toEqual(['backups-missing']);
    const file = join(backupDir, 'nightly.burrow-backup');
    writeFileSync(file, 'x');
    const written = new Date('2026-01-01T00:00:00Z');
    utimesSync(file, written, written);
    const later = await gatherAuditFacts(config, { now: written.getTime() + 25 * 3_600_000 });
    expect(ids(auditFacts(later), 'medium')).toEqual(['backups-stale']);
    const soon = await gatherAuditFacts(config, { now: written.getTime() + 3_600_000 });
    expect(serious(auditFacts(soon))).toEqual([]);
  });

  it('refuses a start on a high finding unless every one is accepted by id', () => {
    const high: Finding = { id: 'secret-default', severity: 'high', title: 't', detail: 'd', fix: 'f' };
    const medium: Finding = { id: 'security-contact-unset', severity: 'medium', title: 't', detail: 'd', fix: 'f' };
    expect(unsafeStartMessage([high, medium], [])).toContain('--accept-risk=secret-default');
    expect(unsafeStartMessage([high, medium], ['http-public-without-tls'])).toContain('secret-default');
    expect(unsafeStartMessage([high, medium], ['secret-default'])).toBeUndefined();
    expect(unsafeStartMessage([medium], [])).toBeUndefined();
  });
});
