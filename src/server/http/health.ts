/**
 * `/healthz` (the process answers) and `/readyz` (the database answers and is fully migrated, and
 * the object store answers), outside /v1. A 503 from `/readyz` names what is down in `unavailable`.
 */
import { Type } from '@sinclair/typebox';
import { BurrowError } from '../../protocol/errors.js';
import type { BlobStore } from '../../storage/blobs/blob-store.js';
import { migrationsAreCurrent } from '../../storage/migrate.js';
import type { SqlStore } from '../../storage/database.js';
import type { BurrowApp } from './types.js';

const Status = Type.Object({ status: Type.String() });

/** The dependencies `/readyz` reports by name. */
export type Dependency = 'database' | 'object-store';

/** A dependency that has not answered within this time is reported down (an endpoint that drops packets never refuses). */
export const READY_CHECK_TIMEOUT_MS = 5_000;

/** `check`'s answer, or false when it fails or takes longer than READY_CHECK_TIMEOUT_MS. */
async function answersInTime(check: () => Promise<boolean>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), READY_CHECK_TIMEOUT_MS); });
  try {
    return await Promise.race([check().catch(() => false), late]);
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealthRoutes(app: BurrowApp, options: { store: SqlStore; blobs: Pick<BlobStore, 'ping'> }): void {
  app.get('/healthz', {
    schema: { response: { 200: Status } },
    config: { summary: 'The process is alive' },
  }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    schema: { response: { 200: Status } },
    config: { summary: 'The database is reachable and migrated, and the object store answers; a 503 lists what is down', problems: ['burrow/unavailable'] },
  }, async () => {
    const [database, objectStore] = await Promise.all([
      answersInTime(() => migrationsAreCurrent(options.store.db)),
      answersInTime(() => options.blobs.ping()),
    ]);
    const down: Dependency[] = [];
    if (!database) down.push('database');
    if (!objectStore) down.push('object-store');
    if (down.length > 0) {
      const names = down.map((d) => (d === 'database' ? 'the database is unreachable or not migrated' : 'the object store is unreachable'));
      throw new BurrowError('burrow/unavailable', `Not ready: ${names.join(', and ')}`, { unavailable: down, retryAfter: 1 });
    }
    return { status: 'ready' };
  });
}
