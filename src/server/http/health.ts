/** `/healthz` (the process answers) and `/readyz` (the database answers and is fully migrated), outside /v1. */
import { Type } from '@sinclair/typebox';
import { BurrowError } from '../../protocol/errors.js';
import { migrationsAreCurrent } from '../../storage/migrate.js';
import type { SqlStore } from '../../storage/database.js';
import type { BurrowApp } from './types.js';

const Status = Type.Object({ status: Type.String() });

export function registerHealthRoutes(app: BurrowApp, options: { store: SqlStore }): void {
  app.get('/healthz', {
    schema: { response: { 200: Status } },
    config: { summary: 'The process is alive' },
  }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    schema: { response: { 200: Status } },
    config: { summary: 'The database is reachable and migrated', problems: ['burrow/unavailable'] },
  }, async () => {
    let current = false;
    try {
      current = await migrationsAreCurrent(options.store.db);
    } catch {
      current = false;
    }
    if (!current) throw new BurrowError('burrow/unavailable', 'The database is unreachable or not migrated', { retryAfter: 1 });
    return { status: 'ready' };
  });
}
