/**
 * Throwaway PostgreSQL databases on the machine's server (trust auth on loopback): each test file
 * creates its own `burrow_test_*` databases and drops them when it ends.
 */
import { userInfo } from 'node:os';
import pg from 'pg';
import { randomBytes, toHex } from '../../src/crypto/bytes.js';

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
