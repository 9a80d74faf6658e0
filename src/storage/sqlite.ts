/** The embedded SQL adapter: one SQLite file through better-sqlite3 and Kysely. */
import { closeSync, openSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database, SqlStore } from './database.js';
import { migrateToLatest } from './migrate.js';

/**
 * Opens (creating if needed, mode 0600) the SQLite database at `path`. `migrate: true` (the default) applies pending migrations before returning.
 */
export async function openSqliteStore(path: string, options: { migrate?: boolean } = {}): Promise<SqlStore> {
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
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
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
