/**
 * PostgreSQL restarting under a running server: requests answer 503 problems quickly instead of
 * hanging or failing with 500, /readyz says not ready, and the same app serves again once the
 * database is back, without a restart (the pool reconnects).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localMessaging } from '../support/backends.js';
import { createServer } from '../../src/server/app.js';
import { loadConfig } from '../../src/server/config.js';
import type { BurrowApp } from '../../src/server/http/types.js';
import { loadOrCreateSecrets } from '../../src/server/secrets.js';
import type { SqlStore } from '../../src/storage/database.js';
import { openPostgresStore } from '../../src/storage/postgres.js';
import { createTestDatabase } from '../support/postgres.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { bearer, login, registerUser, type TestUser } from '../server/helpers.js';

let app: BurrowApp;
let messaging: ReturnType<typeof localMessaging>;
let store: SqlStore;
let proxy: TcpProxy;
let drop: () => Promise<void>;
let user: TestUser;

beforeAll(async () => {
  const database = await createTestDatabase();
  drop = database.drop;
  const target = new URL(database.url);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  store = await openPostgresStore(proxy.rewrite(database.url), { poolSize: 4, connectTimeoutMs: 1_000 });
  const dataDir = join(mkdtempSync(join(tmpdir(), 'burrow-outage-')), 'data');
  const config = loadConfig({ env: {}, flags: { data: dataDir, port: 0 } });
  const { secrets } = await loadOrCreateSecrets({ dataDir });
  messaging = localMessaging(config.dataDir);
  app = createServer({ config, store, secrets, blobs: messaging.blobs, bus: messaging.bus, log: false });
  await app.ready();
  user = await registerUser(app);
});

afterAll(async () => {
  await app?.close();
  await messaging?.close();
  await store?.close();
  await proxy?.close();
  await drop?.();
});

describe('a PostgreSQL restart under a running server', () => {
  it('answers 503 problems while the database is away and serves again when it returns, without a restart', async () => {
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    proxy.cut();
    try {
      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      const sessions = await app.inject({ method: 'GET', url: '/v1/sessions', headers: bearer(user.token) });
      expect(sessions.statusCode).toBe(503);
      expect(sessions.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(sessions.json()).toMatchObject({ type: 'urn:burrow:problem:unavailable', status: 503 });
      expect(sessions.headers['retry-after']).toBe('1');
      const { start } = await login(app, user.email, user.password);
      expect(start.statusCode).toBe(503);
    } finally {
      proxy.restore();
    }
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/sessions', headers: bearer(user.token) })).statusCode).toBe(200);
    const { finish } = await login(app, user.email, user.password);
    expect(finish?.statusCode).toBe(200);
  });
});
