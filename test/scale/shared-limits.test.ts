/**
 * Rate limits, the login slow-down and started logins kept in the SQL store, as every node behind
 * a load balancer sees them: two instances over one database stand for two nodes.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from '../../src/crypto/bytes.js';
import { createSqlLoginStateStore } from '../../src/server/accounts/sql-login-states.js';
import { systemRandom } from '../../src/server/deps.js';
import { createSqlLoginThrottle, createSqlRateLimiter } from '../../src/server/http/sql-rate-limit.js';
import type { SqlStore } from '../../src/storage/database.js';
import { openPostgresStore } from '../../src/storage/postgres.js';
import { openSqliteStore } from '../../src/storage/sqlite.js';
import { createTestDatabase } from '../support/postgres.js';
import { manualClock } from '../server/helpers.js';

const adapters: Array<[string, () => Promise<{ store: SqlStore; cleanup(): Promise<void> }>]> = [
  ['SQLite', async () => {
    const store = await openSqliteStore(join(mkdtempSync(join(tmpdir(), 'burrow-limits-')), 'burrow.db'));
    return { store, cleanup: () => store.close() };
  }],
  ['PostgreSQL', async () => {
    const database = await createTestDatabase();
    const store = await openPostgresStore(database.url, { poolSize: 3 });
    return { store, cleanup: async () => { await store.close(); await database.drop(); } };
  }],
];

describe.each(adapters)('shared limits and logins on %s', (_name, open) => {
  let store: SqlStore;
  let cleanup: () => Promise<void>;
  const cookieKey = randomBytes(32);
  beforeAll(async () => {
    ({ store, cleanup } = await open());
  });
  afterAll(async () => {
    await cleanup?.();
  });

  it('two nodes count hits in one window, and the window ends for both', async () => {
    const clock = manualClock();
    const nodeA = createSqlRateLimiter(store.db, { clock, cookieKey });
    const nodeB = createSqlRateLimiter(store.db, { clock, cookieKey });
    const window = { max: 3, windowMs: 60_000 };
    expect(await nodeA.hit('ip:203.0.113.7', window)).toBe(0);
    expect(await nodeB.hit('ip:203.0.113.7', window)).toBe(0);
    expect(await nodeA.hit('ip:203.0.113.7', window)).toBe(0);
    expect(await nodeB.hit('ip:203.0.113.7', window)).toBe(60_000);
    expect(await nodeB.hit('ip:198.51.100.1', window)).toBe(0);
    clock.advance(60_000);
    expect(await nodeA.hit('ip:203.0.113.7', window)).toBe(0);
  });

  it('stores keyed hashes of the limited keys, never an address', async () => {
    const clock = manualClock();
    await createSqlRateLimiter(store.db, { clock, cookieKey }).hit('ip:192.0.2.55', { max: 10, windowMs: 1_000 });
    const rows = await store.db.selectFrom('rate_windows').select('key').execute();
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.key).not.toContain('192.0.2');
  });

  it('failed logins counted on one node slow the next attempt on the other, and a success clears them', async () => {
    const clock = manualClock();
    const slowdown = { freeFailures: 2, baseDelayMs: 10_000, maxDelayMs: 600_000 };
    const nodeA = createSqlLoginThrottle(store.db, { clock, cookieKey, ...slowdown });
    const nodeB = createSqlLoginThrottle(store.db, { clock, cookieKey, ...slowdown });
    await nodeA.failed('login:someone');
    await nodeA.failed('login:someone');
    expect(await nodeB.waitFor('login:someone')).toBe(10_000);
    await nodeB.failed('login:someone');
    expect(await nodeA.waitFor('login:someone')).toBe(20_000);
    clock.advance(20_000);
    expect(await nodeA.waitFor('login:someone')).toBe(0);
    await nodeA.succeeded('login:someone');
    expect(await nodeB.waitFor('login:someone')).toBe(0);
  });

  it('a login started on one node is taken once on the other, sealed at rest, and not after it expires', async () => {
    const clock = manualClock();
    const nodeA = createSqlLoginStateStore(store.db, { clock, random: systemRandom, cookieKey });
    const nodeB = createSqlLoginStateStore(store.db, { clock, random: systemRandom, cookieKey });
    const pending = { serverLoginState: 'server-state-marker-7f3a', accountId: 'acc-1', emailLookup: 'lookup-1', expiresAt: clock.now() + 60_000 };
    await nodeA.put('login-id-1', pending);
    const rows = await store.db.selectFrom('login_states').selectAll().execute();
    expect(JSON.stringify(rows)).not.toMatch(/server-state-marker|login-id-1|acc-1|lookup-1/);
    expect(await nodeB.take('login-id-1')).toEqual(pending);
    expect(await nodeA.take('login-id-1')).toBeUndefined();

    await nodeA.put('login-id-2', { ...pending, expiresAt: clock.now() + 1_000 });
    clock.advance(1_000);
    expect(await nodeB.take('login-id-2')).toBeUndefined();
  });

  it('a node with another cookie key cannot open a started login', async () => {
    const clock = manualClock();
    const nodeA = createSqlLoginStateStore(store.db, { clock, random: systemRandom, cookieKey });
    const stranger = createSqlLoginStateStore(store.db, { clock, random: systemRandom, cookieKey: randomBytes(32) });
    await nodeA.put('login-id-3', { serverLoginState: 's', accountId: null, emailLookup: 'l', expiresAt: clock.now() + 60_000 });
    expect(await stranger.take('login-id-3')).toBeUndefined();
  });
});
