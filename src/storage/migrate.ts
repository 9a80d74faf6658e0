/** The versioned migration runner, on Kysely's `Migrator`, for every SQL adapter. */
import type { Kysely } from 'kysely';
import { Migrator, type MigrationResultSet } from 'kysely/migration';
import { migrations } from './migrations/index.js';

function migratorFor<DB>(db: Kysely<DB>): Migrator {
  return new Migrator({ db: db as Kysely<unknown>, provider: { getMigrations: async () => ({ ...migrations }) } });
}

/** Applies every pending migration in one run; throws the first failure. */
export async function migrateToLatest<DB>(db: Kysely<DB>): Promise<MigrationResultSet> {
  const result = await migratorFor(db).migrateToLatest();
  if (result.error !== undefined) {
    throw result.error instanceof Error ? result.error : new Error(`migration failed: ${String(result.error)}`);
  }
  return result;
}

/** Whether the database is reachable and every migration has been applied. */
export async function migrationsAreCurrent<DB>(db: Kysely<DB>): Promise<boolean> {
  const all = await migratorFor(db).getMigrations();
  return all.every((m) => m.executedAt !== undefined);
}

/** The names of the known migrations, oldest first. */
export function migrationNames(): string[] {
  return Object.keys(migrations).sort();
}
