/**
 * Prometheus metrics (issue #20 item 7) on a real server built as `burrow serve` builds it (SQLite
 * store and blob directory reporting their timings, the sweeper, the metrics listener on its own
 * port): real traffic moves the counters, the text format parses, and no id, email, token or
 * client address appears in what Prometheus scrapes.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createServer } from '../../src/server/app.js';
import { loadConfig } from '../../src/server/config.js';
import type { BurrowApp } from '../../src/server/http/types.js';
import { openEmbeddedMessaging, type EmbeddedMessaging } from '../../src/server/messages/embedded.js';
import { startMetricsListener, type MetricsListener } from '../../src/server/metrics/listener.js';
import { createMetrics } from '../../src/server/metrics/metrics.js';
import { loadOrCreateSecrets } from '../../src/server/secrets.js';
import type { SqlStore } from '../../src/storage/database.js';
import { openConfiguredBlobStore, openConfiguredEventBus, openConfiguredSqlStore } from '../../src/storage/open-store.js';
import { b64, bearer, login, registerUser, type TestUser } from './helpers.js';
import { call, registerMember, seal, seedFamily, upload, type Member, type TestFamily } from './messages/fixtures.js';

/** One sample of the text exposition format: `name{label="value",…} value`. */
interface Sample { name: string; labels: Record<string, string>; value: number }

/** Parses the Prometheus text format (version 0.0.4); throws on a line that is not a comment or a sample. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    const body = match[2] ?? '';
    const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    let consumed = 0;
    for (let label = labelPattern.exec(body); label !== null; label = labelPattern.exec(body)) {
      labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
      consumed = labelPattern.lastIndex;
    }
    if (consumed !== body.length) throw new Error(`malformed labels: ${line}`);
    const value = match[3] === '+Inf' ? Infinity : match[3] === '-Inf' ? -Infinity : Number(match[3]);
    if (Number.isNaN(value) && match[3] !== 'NaN') throw new Error(`malformed value: ${line}`);
    samples.push({ name: match[1]!, labels, value });
  }
  return samples;
}

/** The value of the one sample named `name` whose labels include `labels` (0 when there is none). */
function valueOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value ?? 0;
}

let app: BurrowApp;
let store: SqlStore;
let messaging: EmbeddedMessaging;
let listener: MetricsListener;
let origin: string;
let mum: Member;
let user: TestUser;
let family: TestFamily;
const child = b64(16);

beforeAll(async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'burrow-metrics-')), 'data');
  const config = loadConfig({
    env: { BURROW_METRICS_LISTEN: '127.0.0.1:0' },
    flags: { data: dataDir, port: 0 },
    overrides: { rateLimits: { globalPerIp: { max: 100_000, windowMs: 60_000 }, anonymousPerIp: { max: 100_000, windowMs: 60_000 }, perAccount: { max: 100_000, windowMs: 60_000 } } },
  });
  const { secrets } = await loadOrCreateSecrets({ dataDir });
  const metrics = createMetrics();
  store = await openConfiguredSqlStore(config, { observer: (dialect) => metrics.storeObserver(dialect) });
  const blobs = openConfiguredBlobStore(config, { observeSync: (ms) => metrics.observeBlobSync(ms) });
  const bus = await openConfiguredEventBus(config, { now: () => Date.now() });
  messaging = openEmbeddedMessaging({ config, store, blobs, bus, metrics, onSweepError: (error) => { throw error; } });
  app = createServer({ config, store, secrets, blobs: messaging.blobs, bus: messaging.bus, metrics, log: false });
  origin = await app.listen({ host: '127.0.0.1', port: 0 });
  listener = await startMetricsListener({ registry: metrics.registry, host: config.metrics!.host, port: config.metrics!.port });
});

afterAll(async () => {
  await listener.close();
  await app.close();
  await messaging.close();
  await store.close();
});

async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const answer = await fetch(listener.url);
  expect(answer.status).toBe(200);
  expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await answer.text();
  return { text, samples: parseExposition(text) };
}

describe('Prometheus metrics', () => {
  it('are served only on their own listener, at /metrics', async () => {
    expect(listener.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect((await fetch(listener.url.replace('/metrics', '/'))).status).toBe(404);
    expect((await fetch(listener.url, { method: 'POST' })).status).toBe(405);
    // The public port has no metrics.
    const onApi = await fetch(`${origin}/metrics`);
    expect(onApi.status).toBe(404);
    expect(await onApi.text()).not.toContain('burrow_http_requests_total');
  });

  it('count real traffic by route template, and carry no id, email, token or address', async () => {
    const before = (await scrape()).samples;
    expect(valueOf(before, 'burrow_http_requests_total', { route: '/v1/families/:familyId/messages', method: 'POST' })).toBe(0);

    mum = await registerMember(app);
    user = await registerUser(app, `metrics-person-${b64(6)}@example.org`);
    await login(app, user.email, 'not the password');
    family = await seedFamily(store, { guardians: [mum], children: [child] });
    const sent = await upload(app, mum, family.familyId, (await seal(mum, family, [child])).bytes);
    expect(sent.statusCode, sent.body).toBe(201);
    const messageId = sent.json<{ messageId: string }>().messageId;
    for (let i = 0; i < 3; i++) {
      const download = await fetch(`${origin}/v1/families/${family.familyId}/messages/${messageId}/envelope`, { headers: bearer(mum.token) });
      expect(download.status).toBe(200);
      await download.arrayBuffer();
    }
    expect((await call(app, mum, 'GET', `/v1/families/${family.familyId}/messages/${messageId}`)).statusCode).toBe(200);
    // Paths no route has, with ids and an email in them: counted as `unmatched`, never by path.
    expect((await fetch(`${origin}/v1/families/${family.familyId}/nothing/${user.email}`)).status).toBe(404);
    expect((await fetch(`${origin}/wp-login.php?user=${user.accountId}`)).status).toBe(404);
    // Six reports from one address: five accepted (each an .eml in the outbox), then a 429.
    const report = { summary: 'metrics test', details: 'nothing is wrong' };
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await fetch(`${origin}/v1/security/reports`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(report) })).status);
    }
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429]);
    expect((await messaging.sweeper.runOnce()).expiredMessages).toBe(0);

    // A live connection is open while Prometheus scrapes.
    const socket = new WebSocket(`${origin.replace('http:', 'ws:')}/v1/live`, { headers: bearer(mum.token) });
    await new Promise<void>((resolve, reject) => { socket.once('open', () => resolve()); socket.once('error', reject); });
    const { text, samples } = await scrape();
    socket.close();

    const upload_ = { route: '/v1/families/:familyId/messages', method: 'POST' };
    expect(valueOf(samples, 'burrow_http_requests_total', { ...upload_, status: '201' })).toBe(1);
    expect(valueOf(samples, 'burrow_http_request_duration_seconds_count', upload_)).toBe(1);
    expect(valueOf(samples, 'burrow_http_request_duration_seconds_bucket', { ...upload_, le: '+Inf' })).toBe(1);
    expect(valueOf(samples, 'burrow_http_requests_in_flight', upload_)).toBe(0);
    expect(valueOf(samples, 'burrow_http_requests_total', { route: '/v1/families/:familyId/messages/:messageId/envelope', method: 'GET', status: '200' })).toBe(3);
    expect(valueOf(samples, 'burrow_http_requests_total', { route: '/v1/families/:familyId/messages/:messageId', method: 'GET', status: '200' })).toBe(1);
    const unmatched = { route: 'unmatched', method: 'GET', status: '404' };
    expect(valueOf(samples, 'burrow_http_requests_total', unmatched) - valueOf(before, 'burrow_http_requests_total', unmatched)).toBe(2);
    expect(valueOf(samples, 'burrow_http_requests_total', { route: '/v1/security/reports', method: 'POST', status: '201' })).toBe(5);
    expect(valueOf(samples, 'burrow_rate_limit_refusals_total', { route: '/v1/security/reports' })).toBe(1);
    expect(valueOf(samples, 'burrow_live_connections')).toBe(1);
    expect(valueOf(samples, 'burrow_mail_outbox_files')).toBe(5);
    expect(valueOf(samples, 'burrow_sweeper_runs_total', { sweeper: 'messages', result: 'ok' })).toBe(1);
    expect(valueOf(samples, 'burrow_blob_fsync_duration_seconds_count')).toBe(1);
    expect(valueOf(samples, 'burrow_db_commit_duration_seconds_count', { dialect: 'sqlite' })).toBeGreaterThan(0);
    expect(valueOf(samples, 'burrow_db_statement_duration_seconds_count', { dialect: 'sqlite', kind: 'insert', result: 'ok' })).toBeGreaterThan(0);
    expect(valueOf(samples, 'burrow_db_statement_duration_seconds_count', { dialect: 'sqlite', kind: 'select', result: 'ok' })).toBeGreaterThan(0);
    expect(valueOf(samples, 'burrow_process_resident_memory_bytes')).toBeGreaterThan(0);

    // Route labels are templates the app declares, or `unmatched`.
    const templates = new Set([...app.burrowRoutes.map((r) => r.url), 'unmatched']);
    for (const sample of samples.filter((s) => s.labels.route !== undefined)) expect(templates, sample.labels.route).toContain(sample.labels.route);
    // Nothing personal: no id, email, token, session or client address in any name, label or value.
    const secrets = [mum.accountId, mum.token, user.accountId, user.email, user.token, user.sessionId, family.familyId, messageId, child, '127.0.0.1', 'example.org'];
    for (const secret of secrets) expect(text, secret).not.toContain(secret);
  });

  it('BURROW_METRICS_LISTEN is off by default and must be host:port', () => {
    expect(loadConfig({ env: {} }).metrics).toBeUndefined();
    expect(loadConfig({ env: { BURROW_METRICS_LISTEN: '127.0.0.1:9464' } }).metrics).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(loadConfig({ env: { BURROW_METRICS_LISTEN: '[::1]:9464' } }).metrics).toEqual({ host: '::1', port: 9464 });
    for (const bad of ['9464', 'localhost', '127.0.0.1:99999', 'http://127.0.0.1:9464']) {
      expect(() => loadConfig({ env: { BURROW_METRICS_LISTEN: bad } }), bad).toThrow(/BURROW_METRICS_LISTEN/);
    }
  });
});
