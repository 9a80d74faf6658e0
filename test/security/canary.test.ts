/**
 * Canaries end to end: `burrow canary create` (the CLI, in process) plants decoys in a real data
 * directory, a real server on loopback watches them, and touching each kind raises the alert
 * (an error-level log line and an outbox mail) while real use raises none.
 *
 * The intruder is modelled as someone who obtained the database and the secrets file (a stolen
 * backup, a compromised host): a decoy family is reachable only by its decoy account, whose
 * password nobody knows, so the intruder finds decoy records in the tables and forges a session
 * for the decoy account by inserting a row into `sessions` (tokens are stored as an unkeyed
 * SHA-256, so write access to the database is enough). That is the most realistic route: every
 * request then goes through the real HTTP server, authentication and routes.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localMessaging } from '../support/backends.js';
import { loginAccount } from '../../src/client/account.js';
import { BurrowApi } from '../../src/client/api.js';
import { addChild } from '../../src/client/children.js';
import { createFamily, loadFamily } from '../../src/client/families.js';
import { downloadEnvelope, sendMessage } from '../../src/client/messages.js';
import { randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { createServer } from '../../src/server/app.js';
import { appendCanaryRegistry, canaryKey, canaryRegistryPath, canaryTag, readCanaryRegistry } from '../../src/server/canaries/registry.js';
import { CANARY_ALERT_INTERVAL_MS, CANARY_RELOAD_INTERVAL_MS, createCanaryWatch } from '../../src/server/canaries/watch.js';
import { loadConfig } from '../../src/server/config.js';
import { loadOrCreateSecrets, type Secrets } from '../../src/server/secrets.js';
import { hashSessionToken } from '../../src/server/sessions/tokens.js';
import type { BurrowApp } from '../../src/server/http/types.js';
import type { SqlStore } from '../../src/storage/database.js';
import { openSqliteStore } from '../../src/storage/sqlite.js';
import { registerMember, sameStretchingAs, type TestMember } from '../e2e/family-harness.js';
import { manualClock } from '../server/helpers.js';
import { burrow as runBurrow } from '../support/cli.js';
import { wavOfPcm16 } from '../../src/protocol/audio-formats.js';
import { waitUntil } from '../support/wait.js';

async function burrow(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const run = await runBurrow(args, { env: { BURROW_LOG_LEVEL: 'warn' } });
  return { status: run.code, stdout: run.stdout, stderr: run.stderr };
}

interface Alert { alert: string; kind: string; id: string }

let dataDir: string;
let store: SqlStore;
let secrets: Secrets;
let app: BurrowApp;
let messaging: ReturnType<typeof localMessaging>;
let url: string;
let real: TestMember;
let realFamilyId: string;
let realMessageId: string;
const logLines: string[] = [];

function alerts(): Alert[] {
  return logLines.flatMap((line) => {
    const parsed = JSON.parse(line) as Partial<Alert>;
    return parsed.alert === 'canary' ? [{ alert: parsed.alert, kind: parsed.kind!, id: parsed.id! }] : [];
  });
}

function outboxCount(): number {
  const dir = join(dataDir, 'outbox');
  return existsSync(dir) ? readdirSync(dir).length : 0;
}

/** The outbox's file count once it reaches `expected` (the mail follows the alert's log line), or as it is at the deadline. */
async function outboxCountOnce(expected: number): Promise<number> {
  await waitUntil(() => outboxCount() >= expected);
  return outboxCount();
}

/**
 * The canary alerts logged after `action`: waits until `expected` of them were (the alert is
 * fire-and-forget), then a little longer for any extra — which the caller's assertion catches.
 */
async function alertsAfter(action: () => Promise<unknown>, expected: number): Promise<Alert[]> {
  const before = alerts().length;
  await action().catch(() => undefined);
  await waitUntil(() => alerts().length - before >= expected);
  await new Promise((r) => setTimeout(r, 100));
  return alerts().slice(before);
}

/** The ids in a table column that the registry marks as canaries of `kind`. */
async function canaryIds(table: 'families' | 'messages', kind: 'family' | 'blob'): Promise<string[]> {
  const tags = new Set(readCanaryRegistry(dataDir).map((e) => e.tag));
  const key = canaryKey(secrets);
  const rows = await store.db.selectFrom(table).select('id').execute();
  return rows.map((r) => r.id).filter((id) => tags.has(canaryTag(key, kind, id)));
}

/** What the intruder does with write access to the database: a session of their own for any account. */
async function forgeSession(accountId: string): Promise<string> {
  const token = toBase64Url(randomBytes(32));
  const now = Date.now();
  await store.db.insertInto('sessions').values({ id: toBase64Url(randomBytes(16)), account_id: accountId, token_hash: hashSessionToken(token)!, label: 'burrow CLI', created_at: now, last_seen_at: now, expires_at: now + 3_600_000 }).execute();
  return token;
}

async function get(path: string, token: string): Promise<number> {
  const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  return response.status;
}

beforeAll(async () => {
  dataDir = join(mkdtempSync(join(tmpdir(), 'burrow-canary-')), 'data');
  const created = await burrow('canary', 'create', '--data', dataDir, '--accounts', '2', '--blobs', '3', '--json');
  expect(created.stderr).toBe('');
  expect(created.status).toBe(0);
  expect(JSON.parse(created.stdout)).toMatchObject({ planted: { accounts: 2, families: 2, messages: 3 } });

  const config = loadConfig({ env: {}, flags: { data: dataDir, port: 0 } });
  secrets = (await loadOrCreateSecrets({ dataDir })).secrets;
  store = await openSqliteStore(join(dataDir, 'burrow.db'));
  const stream = new Writable({ write(chunk: Buffer, _encoding, done) { for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logLines.push(line); done(); } });
  messaging = localMessaging(config.dataDir);
  app = createServer({ config, store, secrets, blobs: messaging.blobs, bus: messaging.bus, log: { stream, level: 'warn' } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  real = await registerMember(url, 'real');
  const family = await createFamily(real, { name: 'The Burrows' });
  realFamilyId = family.familyId;
  const child = await addChild(real, { familyId: realFamilyId, name: 'Mia', emoji: '🦊' });
  realMessageId = (await sendMessage(real, { familyId: realFamilyId, to: child.childId, audio: wavOfPcm16(randomBytes(40_000), { sampleRate: 8000 }), audioType: 'audio/wav', durationMs: 2500 })).messageId;
}, 180_000);

afterAll(async () => {
  await app?.close();
  await messaging?.close();
  await store?.close();
  if (dataDir !== undefined) rmSync(join(dataDir, '..'), { recursive: true, force: true });
});

describe('canaries', () => {
  it('the registry is a 0600 file of keyed hashes, and list counts without showing emails', async () => {
    const list = await burrow('canary', 'list', '--data', dataDir, '--json');
    expect(list.status).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual({ accounts: 2, families: 2, blobs: 6 });
    const shown = JSON.parse((await burrow('canary', 'list', '--data', dataDir, '--json', '--show')).stdout) as { emails: string[] };
    expect(shown.emails).toHaveLength(2);
    for (const email of shown.emails) expect(email).toMatch(/^[a-z]+\.[a-z]+\d{0,4}@example\.org$/);
    const raw = JSON.stringify(readCanaryRegistry(dataDir));
    for (const email of shown.emails) expect(raw).not.toContain(email);
  });

  it('real use raises no alert: a real login, a read of a real family and a download of a real message', async () => {
    const mailsBefore = outboxCount();
    const raised = await alertsAfter(async () => {
      const api = new BurrowApi({ baseUrl: url });
      const signedIn = await loginAccount({ api, email: real.email, password: real.password, sessionLabel: 'test', ...sameStretchingAs(real) });
      const ctx = { api, me: { accountId: signedIn.session.accountId, identity: signedIn.identity }, store: real.store };
      await loadFamily(ctx, realFamilyId);
      await downloadEnvelope(ctx, { familyId: realFamilyId, messageId: realMessageId });
    }, 0);
    expect(raised).toEqual([]);
    expect(outboxCount()).toBe(mailsBefore);
  });

  it('a login attempt to a decoy email alerts the operator, and the answer looks like any failed login', async () => {
    const [email] = (JSON.parse((await burrow('canary', 'list', '--data', dataDir, '--json', '--show')).stdout) as { emails: string[] }).emails;
    const mailsBefore = outboxCount();
    let failure: unknown;
    const raised = await alertsAfter(async () => {
      try {
        await loginAccount({ api: new BurrowApi({ baseUrl: url }), email: email!, password: 'a guessed password for the decoy', sessionLabel: 'intruder' });
      } catch (error) {
        failure = error;
      }
    }, 1);
    expect(raised).toEqual([{ alert: 'canary', kind: 'account', id: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/) as unknown }]);
    expect(failure).toBeDefined();
    expect(await outboxCountOnce(mailsBefore + 1)).toBe(mailsBefore + 1);
  });

  it('an intruder reading a decoy family with a forged session alerts once per minute and gets an ordinary answer', async () => {
    const [familyId] = await canaryIds('families', 'family');
    const owner = await store.db.selectFrom('families').select('created_by').where('id', '=', familyId!).executeTakeFirstOrThrow();
    const token = await forgeSession(owner.created_by);
    const mailsBefore = outboxCount();
    let statuses: number[] = [];
    const raised = await alertsAfter(async () => {
      statuses = [await get(`/v1/families/${familyId}`, token), await get(`/v1/families/${familyId}/roster`, token), await get(`/v1/families/${familyId}/children`, token)];
    }, 2);
    expect(statuses).toEqual([200, 200, 200]);
    // One alert for the family, one for the decoy account's session: none repeated for the later reads.
    expect(raised.filter((a) => a.kind === 'family')).toEqual([{ alert: 'canary', kind: 'family', id: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/) as unknown }]);
    expect(raised.map((a) => a.kind).sort()).toEqual(['account', 'family']);
    expect(await outboxCountOnce(mailsBefore + 2)).toBe(mailsBefore + 2);
  });

  it('a forged session of a decoy account alerts on a route that names no decoy', async () => {
    const familyIds = await canaryIds('families', 'family');
    const owner = await store.db.selectFrom('families').select('created_by').where('id', '=', familyIds[1]!).executeTakeFirstOrThrow();
    const token = await forgeSession(owner.created_by);
    let status = 0;
    const raised = await alertsAfter(async () => {
      status = await get('/v1/accounts/me', token);
    }, 1);
    expect(status).toBe(200);
    expect(raised.map((a) => a.kind)).toEqual(['account']);
  });

  it('an intruder downloading a decoy envelope alerts the operator and receives the envelope', async () => {
    const messageIds = await canaryIds('messages', 'blob');
    expect(messageIds).toHaveLength(3);
    const message = await store.db.selectFrom('messages').select(['family_id', 'sender_id']).where('id', '=', messageIds[0]!).executeTakeFirstOrThrow();
    const token = await forgeSession(message.sender_id);
    let status = 0;
    const raised = await alertsAfter(async () => {
      status = await get(`/v1/families/${message.family_id}/messages/${messageIds[0]}/envelope`, token);
    }, 1);
    expect(status).toBe(200);
    expect(raised.filter((a) => a.kind === 'blob')).toHaveLength(1);
  });

  it('decoy rows fill the same columns with values of the same shape as real rows, in every table', async () => {
    const decoyFamilies = new Set(await canaryIds('families', 'family'));
    const decoyMessages = new Set(await canaryIds('messages', 'blob'));
    const decoyAccounts = new Set((await store.db.selectFrom('families').select(['id', 'created_by']).execute()).filter((r) => decoyFamilies.has(r.id)).map((r) => r.created_by));
    const isDecoy: Record<string, (row: Record<string, unknown>) => boolean> = {
      accounts: (r) => decoyAccounts.has(r.id as string),
      families: (r) => decoyFamilies.has(r.id as string),
      roster_entries: (r) => decoyFamilies.has(r.family_id as string),
      family_members: (r) => decoyFamilies.has(r.family_id as string),
      wrapped_keys: (r) => decoyFamilies.has(r.family_id as string),
      children: (r) => decoyFamilies.has(r.family_id as string),
      messages: (r) => decoyMessages.has(r.id as string),
      message_recipients: (r) => decoyMessages.has(r.message_id as string),
    };
    const shape = (value: unknown): string => {
      if (value === null) return 'null';
      if (typeof value === 'string') {
        const charset = /^[A-Za-z0-9_-]*$/.test(value) ? 'b64url' : 'text';
        // Short values (ids, hashes, keys) must match in length; long sealed values only roughly.
        return value.length < 48 ? `${charset}:${value.length}` : `${charset}:long`;
      }
      return typeof value;
    };
    for (const [table, decoy] of Object.entries(isDecoy)) {
      const rows = await store.db.selectFrom(table as 'families').selectAll().execute() as unknown as Array<Record<string, unknown>>;
      const decoys = rows.filter(decoy);
      const reals = rows.filter((r) => !decoy(r));
      expect(decoys.length, table).toBeGreaterThan(0);
      expect(reals.length, table).toBeGreaterThan(0);
      const realShapes = new Map<string, Set<string>>();
      for (const r of reals) for (const [column, value] of Object.entries(r)) realShapes.set(column, (realShapes.get(column) ?? new Set()).add(shape(value)));
      for (const d of decoys) {
        for (const [column, value] of Object.entries(d)) {
          expect([...(realShapes.get(column) ?? [])], `${table}.${column}`).toContain(shape(value));
        }
      }
    }
  });
});

describe('the canary watch', () => {
  function watchOn(dir: string, clock: { now(): number }) {
    const raised: string[] = [];
    const errors: string[] = [];
    const watch = createCanaryWatch({ dataDir: dir, secrets, clock, alert: async (kind, id) => { raised.push(`${kind}:${id}`); }, onError: (message) => errors.push(message) });
    return { watch, raised, errors };
  }

  it('alerts once per canary per minute, and again after a minute', () => {
    const clock = manualClock();
    const dir = mkdtempSync(join(tmpdir(), 'burrow-canary-watch-'));
    appendCanaryRegistry(dir, [{ kind: 'family', tag: canaryTag(canaryKey(secrets), 'family', 'fam-1'), createdAt: 0 }]);
    const { watch, raised } = watchOn(dir, clock);
    expect([watch.check('family', 'fam-1'), watch.check('family', 'fam-1'), watch.check('family', 'fam-2'), watch.check('blob', 'fam-1')]).toEqual([true, true, false, false]);
    expect(raised).toHaveLength(1);
    clock.advance(CANARY_ALERT_INTERVAL_MS);
    watch.check('family', 'fam-1');
    expect(raised).toHaveLength(2);
    rmSync(dir, { recursive: true, force: true });
  });

  it('picks up canaries added to the file while running, and keeps the old set when the file breaks', () => {
    const clock = manualClock();
    const dir = mkdtempSync(join(tmpdir(), 'burrow-canary-watch-'));
    const { watch, errors } = watchOn(dir, clock);
    expect(watch.check('account', 'lookup-1')).toBe(false);
    appendCanaryRegistry(dir, [{ kind: 'account', tag: canaryTag(canaryKey(secrets), 'account', 'lookup-1'), createdAt: 0 }]);
    utimesSync(canaryRegistryPath(dir), new Date(1), new Date(1));
    clock.advance(CANARY_RELOAD_INTERVAL_MS);
    expect(watch.check('account', 'lookup-1')).toBe(true);
    writeFileSync(canaryRegistryPath(dir), '{ not json', { mode: 0o600 });
    watch.reload();
    expect(errors).toEqual(['the canary registry could not be read']);
    expect(watch.check('account', 'lookup-1')).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the registry with mode 0600, and burrow audit flags it when others may read it', async () => {
    const path = canaryRegistryPath(dataDir);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const findings = async () => (JSON.parse((await burrow('audit', '--data', dataDir, '--json')).stdout) as { findings: Array<{ id: string }> }).findings.map((f) => f.id);
    expect(await findings()).not.toContain('canaries-file-readable');
    chmodSync(path, 0o644);
    try {
      expect(await findings()).toContain('canaries-file-readable');
    } finally {
      chmodSync(path, 0o600);
    }
  });
});
