/** The embedded SQL adapter: one SQLite file through better-sqlite3 and Kysely. */
import { closeSync, openSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase } from 'kysely';
import type { Database, SqlStore } from './database.js';
import { migrateToLatest } from './migrate.js';
import { observedDialect, statementLogger, type StoreObserver } from './observe.js';

/** Prepared statements kept per connection, least recently used dropped first. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * The database as Kysely sees it, with its prepared statements cached by SQL text. Kysely's SQLite
 * driver prepares every query anew, and preparing costs more than running a typical query here
 * (about 100 µs against 50 µs), on the event loop, several times per request. Safe because
 * better-sqlite3 runs each statement to completion synchronously; nothing here streams
 * (`iterate`), which would hold a statement open. SQLite re-prepares a cached statement by itself
 * after a schema change.
 */
export function withStatementCache(sqlite: BetterSqlite3.Database, size = STATEMENT_CACHE_SIZE): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => {
      cache.clear();
      sqlite.close();
    },
    prepare(sql) {
      let statement = cache.get(sql);
      if (statement === undefined) {
        statement = sqlite.prepare(sql);
        if (cache.size >= size) cache.delete(cache.keys().next().value!);
      } else {
        cache.delete(sql);
      }
      cache.set(sql, statement);
      return statement;
    },
  };
}

/**
 * Opens (creating if needed, mode 0600) the SQLite database at `path`. `migrate: true` (the default) applies pending migrations before returning.
 */
export async function openSqliteStore(path: string, options: { migrate?: boolean; observer?: StoreObserver } = {}): Promise<SqlStore> {
  // Create the file 0600 ourselves; SQLite gives the -wal and -shm files the same mode.
  if (path !== ':memory:') closeSync(openSync(path, 'a', 0o600));
  const sqlite = new BetterSqlite3(path);
  // WAL lets readers run beside the one writer. synchronous=FULL fsyncs the WAL on every commit,
  // so a committed session or message survives a power cut; NORMAL could lose the last commits,
  // and our write rate is small enough that the extra fsync does not matter.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // Deleted rows (sessions, accounts) are overwritten, not left in free pages.
  sqlite.pragma('secure_delete = ON');
  const log = statementLogger(options.observer);
  const db = new Kysely<Database>({ dialect: observedDialect(new SqliteDialect({ database: withStatementCache(sqlite) }), options.observer), ...(log === undefined ? {} : { log }) });
  if (options.migrate !== false) await migrateToLatest(db);
  let closed = false;
  return {
    db,
    dialect: 'sqlite',
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}
