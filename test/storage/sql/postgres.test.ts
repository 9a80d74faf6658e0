import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { migrationNames, migrationsAreCurrent } from '../../../src/storage/migrate.js';
import { openPostgresStore } from '../../../src/storage/postgres.js';
import { createTestDatabase } from '../../support/postgres.js';
import { startTcpProxy } from '../../support/tcp-proxy.js';
import { sqlStoreContract } from './sql-store.contract.js';

sqlStoreContract('PostgreSQL', async () => {
  const database = await createTestDatabase();
  return {
    open: (options) => openPostgresStore(database.url, { poolSize: 3, ...options }),
    cleanup: () => database.drop(),
  };
});

describe('the PostgreSQL store', () => {
  const drops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const drop of drops) await drop();
  });

  it('lets several nodes start at once on an empty database: one migrates, all open', async () => {
    const database = await createTestDatabase();
    drops.push(database.drop);
    const stores = await Promise.all([1, 2, 3, 4].map(() => openPostgresStore(database.url, { poolSize: 2 })));
    try {
      for (const store of stores) expect(await migrationsAreCurrent(store.db)).toBe(true);
      const applied = await stores[0]!.db.selectFrom('kysely_migration' as never).select('name' as never).execute();
      expect(applied).toHaveLength(migrationNames().length);
    } finally {
      for (const store of stores) await store.close();
    }
  });

  it('parses int8 as a number on its own connections without changing pg\'s global parsers', async () => {
    const database = await createTestDatabase();
    drops.push(database.drop);
    const store = await openPostgresStore(database.url);
    try {
      const row = await store.db.selectNoFrom((eb) => eb.cast(eb.val('9007199254740991'), 'bigint').as('n')).executeTakeFirstOrThrow();
      expect(row.n).toBe(Number.MAX_SAFE_INTEGER);
      expect(pg.types.getTypeParser(20)('42')).toBe('42');
    } finally {
      await store.close();
    }
  });

  it('fails fast while the database is unreachable and recovers by itself when it returns', async () => {
    const database = await createTestDatabase();
    drops.push(database.drop);
    const target = new URL(database.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const store = await openPostgresStore(proxy.rewrite(database.url), { poolSize: 2, connectTimeoutMs: 1_000 });
    try {
      expect(await migrationsAreCurrent(store.db)).toBe(true);
      proxy.cut();
      await expect(migrationsAreCurrent(store.db)).rejects.toThrow();
      await expect(store.db.selectFrom('accounts').selectAll().execute()).rejects.toThrow();
      proxy.restore();
      expect(await migrationsAreCurrent(store.db)).toBe(true);
    } finally {
      await store.close();
      await proxy.close();
    }
  });

  it('refuses a URL that is not postgres://', async () => {
    await expect(openPostgresStore('mysql://x@127.0.0.1/db')).rejects.toThrow(/postgres/);
  });
});
