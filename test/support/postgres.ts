/**
 * Throwaway PostgreSQL databases on the machine's server (trust auth on loopback): each test file
 * creates its own `burrow_test_*` databases and drops them when it ends. A test server's database
 * is cloned from a template that already has every migration (`burrow_template_<hash>`, made once
 * per set of migrations and kept), which is much faster than migrating each new database.
 */
import { userInfo } from 'node:os';
import pg from 'pg';
import { randomBytes, toHex } from '../../src/crypto/bytes.js';
import { openPostgresStore } from '../../src/storage/postgres.js';
import { migrationsDigest } from './migrated-template.js';

/** An administrative connection URL; override with BURROW_TEST_PG_URL. */
export const ADMIN_URL = process.env.BURROW_TEST_PG_URL ?? `postgres://${encodeURIComponent(userInfo().username)}@127.0.0.1:5432/test`;

const runId = toHex(randomBytes(4));
let count = 0;

/** `url` with its database replaced by `database`. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Runs `work` on a short-lived administrative connection. */
export async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database; `drop()` removes it even while connections remain. */
export async function createTestDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `burrow_test_${runId}_${process.pid}_${++count}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  return {
    url: withDatabase(ADMIN_URL, name),
    name,
    drop: () => admin(async (client) => { await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); }),
  };
}

/** Key of the advisory lock under which a template is made ("btpl"), so parallel test files make it once. */
const TEMPLATE_LOCK_KEY = 0x6274_706c;

let template: Promise<string> | undefined;

/** The name of the template database for today's migrations, made (migrated) the first time. */
function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    const name = `burrow_template_${(await migrationsDigest()).slice(0, 16)}`;
    const client = new pg.Client({ connectionString: ADMIN_URL });
    await client.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK_KEY]);
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (found.rowCount === 0) {
        // Migrated under another name and renamed once complete: a template is never half made.
        const making = `${name}_making_${process.pid}`;
        await client.query(`DROP DATABASE IF EXISTS ${making} WITH (FORCE)`);
        await client.query(`CREATE DATABASE ${making}`);
        const store = await openPostgresStore(withDatabase(ADMIN_URL, making), { poolSize: 2 });
        await store.close();
        await client.query(`ALTER DATABASE ${making} RENAME TO ${name}`);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK_KEY]).catch(() => undefined);
      await client.end();
    }
    return name;
  })();
  template.catch(() => { template = undefined; });
  return template;
}

/** A fresh database with every migration already applied (a clone of the template); `drop()` removes it. */
export async function createMigratedTestDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const from = await migratedTemplate();
  const name = `burrow_test_${runId}_${process.pid}_${++count}`;
  await admin((client) => client.query(`CREATE DATABASE ${name} TEMPLATE ${from}`));
  return {
    url: withDatabase(ADMIN_URL, name),
    name,
    drop: () => admin(async (client) => { await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); }),
  };
}
