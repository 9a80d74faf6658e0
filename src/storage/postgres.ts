/**
 * The scale-out SQL adapter: PostgreSQL through a `pg` pool and Kysely's Postgres dialect, with the
 * same migrations as the embedded SQLite file. Several server nodes may open it at once.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database, SqlStore } from './database.js';
import { migrateToLatest } from './migrate.js';
import { observedDialect, statementLogger, type StoreObserver } from './observe.js';

export interface PostgresStoreOptions {
  /** Apply pending migrations before returning (default true), serialised between nodes by an advisory lock. */
  migrate?: boolean;
  /** Pooled connections (default 10). At least 2: the migration lock holds one while migrating. */
  poolSize?: number;
  /** How long to wait for a connection before failing (default 3000 ms): a dead database fails fast. */
  connectTimeoutMs?: number;
  /** Server-side limit on one statement (default 15000 ms). */
  statementTimeoutMs?: number;
  /** Told about errors of idle pooled connections (a restarted server); the pool replaces them. Never given data. */
  onError?: (error: unknown) => void;
  /** Told each statement's and each COMMIT's duration (metrics); never a statement's text. */
  observer?: StoreObserver;
}

/** Key of the session-level advisory lock that serialises migrations between nodes ("bmig"). */
export const MIGRATION_LOCK_KEY = 0x626d_6967;

const INT8_OID = 20;

/**
 * int8 columns hold millisecond timestamps and counters, far below 2^53, so they are read as
 * numbers, as SQLite returns them. Set on this pool's connections only, not in pg's global table.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID && format !== 'binary') return (value: string) => Number(value);
    return format === undefined ? pg.types.getTypeParser(oid) : pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** A `pg` pool for `connectionString` with Burrow's timeouts and int8 parsing. */
export function createPostgresPool(connectionString: string, options: Omit<PostgresStoreOptions, 'migrate'> = {}): pg.Pool {
  const statementTimeout = options.statementTimeoutMs ?? 15_000;
  const pool = new pg.Pool({
    connectionString,
    max: Math.max(2, options.poolSize ?? 10),
    connectionTimeoutMillis: options.connectTimeoutMs ?? 3_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: statementTimeout,
    // A connection cut without a reset (a dead network path) would hang a query forever without this.
    query_timeout: statementTimeout + 5_000,
    keepAlive: true,
    application_name: 'burrow',
    types,
  });
  // An idle connection that the server drops (a restart) emits here; without a listener the process would exit.
  pool.on('error', (error) => options.onError?.(error));
  // A checked-out connection whose socket dies can emit a second error after its query failed; a
  // permanent listener keeps that from becoming an uncaught exception. The pool discards the client.
  pool.on('connect', (client) => client.on('error', (error) => options.onError?.(error)));
  return pool;
}

/** Runs every pending migration while holding the cluster-wide migration lock on one connection. */
async function migrateUnderLock(pool: pg.Pool, db: Kysely<Database>): Promise<void> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await migrateToLatest(db);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => { broken = true; });
    }
  } catch (error) {
    broken = true;
    throw error;
  } finally {
    // A connection whose lock state is unknown is closed rather than returned to the pool.
    client.release(broken);
  }
}

/**
 * Opens the PostgreSQL store at `url` (`postgres://user:password@host:5432/db?sslmode=verify-full`).
 * The caller checks the URL's safety first (src/server/security/audit.ts `checkDatabaseUrl`).
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<SqlStore> {
  if (typeof url !== 'string' || !/^postgres(ql)?:\/\//.test(url)) throw new TypeError('url must be a postgres:// URL');
  const pool = createPostgresPool(url, options);
  const log = statementLogger(options.observer);
  const db = new Kysely<Database>({ dialect: observedDialect(new PostgresDialect({ pool }), options.observer), ...(log === undefined ? {} : { log }) });
  try {
    if (options.migrate !== false) await migrateUnderLock(pool, db);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  let closed = false;
  return {
    db,
    dialect: 'postgres',
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}
