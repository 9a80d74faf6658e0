/**
 * The embedded SQL adapter: one SQLite file through better-sqlite3 and Kysely, its writing
 * connection on a worker thread with group commit (src/storage/sqlite-driver.ts,
 * src/storage/sqlite-worker.ts).
 */
import { closeSync, openSync } from 'node:fs';
import { Kysely } from 'kysely';
import type { Database, SqlStore } from './database.js';
import { migrateToLatest } from './migrate.js';
import { observedDialect, statementLogger, type StoreObserver } from './observe.js';
import { groupCommitDialect } from './sqlite-driver.js';

export { withStatementCache } from './sqlite-worker.js';

/**
 * Opens (creating if needed, mode 0600) the SQLite database at `path`. `migrate: true` (the default) applies pending migrations before returning.
 */
export async function openSqliteStore(path: string, options: { migrate?: boolean; observer?: StoreObserver } = {}): Promise<SqlStore> {
  // Create the file 0600 ourselves; SQLite gives the -wal and -shm files the same mode.
  if (path !== ':memory:') closeSync(openSync(path, 'a', 0o600));
  const log = statementLogger(options.observer);
  const db = new Kysely<Database>({ dialect: observedDialect(groupCommitDialect(path), options.observer), ...(log === undefined ? {} : { log }) });
  try {
    if (options.migrate !== false) await migrateToLatest(db);
  } catch (error) {
    await db.destroy();
    throw error;
  }
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
