/**
 * Opens the three storage ports a configuration names: the embedded set (SQLite file, blob
 * directory, in-process bus) by default, PostgreSQL when a database URL is set (with the
 * LISTEN/NOTIFY bus, so several nodes see each other's events), S3 when the blobs setting is s3://.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BlobStore } from './blobs/blob-store.js';
import { openBlobStore, type S3ConnectionOptions } from './blobs/open-blob-store.js';
import type { EventBus } from './bus/event-bus.js';
import { LocalEventBus } from './bus/local-event-bus.js';
import { openPgEventBus } from './bus/pg-event-bus.js';
import type { SqlStore } from './database.js';
import { openPostgresStore } from './postgres.js';
import { openSqliteStore } from './sqlite.js';

/** The storage part of the server's configuration (src/server/config.ts `Config` fits). */
export interface StorageSettings {
  readonly dataDir: string;
  /** `postgres://…`; absent: `<dataDir>/burrow.db`. */
  readonly databaseUrl?: string;
  /** `s3://bucket/prefix` or a directory; absent: `<dataDir>/blobs`. */
  readonly blobs?: string;
  readonly s3?: {
    readonly endpoint?: string;
    readonly region?: string;
    readonly accessKeyId?: string;
    readonly secretAccessKey?: string;
    readonly forcePathStyle?: boolean;
  };
}

/** The opened ports; `close()` closes all three. */
export interface StorageBackends {
  readonly store: SqlStore;
  readonly blobs: BlobStore;
  readonly bus: EventBus;
  /** 'embedded' when every port is local to this node; 'scale-out' when the store is PostgreSQL. */
  readonly mode: 'embedded' | 'scale-out';
  close(): Promise<void>;
}

/** The connection options for an `s3://` blob setting, from the S3 settings. */
export function s3ConnectionOptions(settings: StorageSettings['s3']): S3ConnectionOptions {
  const s3 = settings ?? {};
  return {
    ...(s3.endpoint === undefined ? {} : { endpoint: s3.endpoint }),
    ...(s3.region === undefined ? {} : { region: s3.region }),
    ...(s3.accessKeyId === undefined ? {} : { accessKeyId: s3.accessKeyId }),
    ...(s3.secretAccessKey === undefined ? {} : { secretAccessKey: s3.secretAccessKey }),
    ...(s3.forcePathStyle === undefined ? {} : { forcePathStyle: s3.forcePathStyle }),
  };
}

/** The blob store of `settings` (not yet touched: S3 connects lazily). */
export function openConfiguredBlobStore(settings: StorageSettings): BlobStore {
  if (settings.blobs !== undefined) return openBlobStore(settings.blobs, s3ConnectionOptions(settings.s3));
  const dir = join(settings.dataDir, 'blobs');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return openBlobStore(dir);
}

/**
 * Opens store, blobs and bus for `settings`, migrating the store. On failure, whatever was
 * opened is closed again. `onError` hears recovered connection errors (never data).
 */
export async function openStorageBackends(settings: StorageSettings, options: { onError?: (error: unknown) => void; poolSize?: number } = {}): Promise<StorageBackends> {
  const opened: Array<{ close(): Promise<void> }> = [];
  try {
    const { databaseUrl } = settings;
    const store = databaseUrl === undefined
      ? await openSqliteStore(join(settings.dataDir, 'burrow.db'))
      : await openPostgresStore(databaseUrl, {
        ...(options.onError === undefined ? {} : { onError: options.onError }),
        ...(options.poolSize === undefined ? {} : { poolSize: options.poolSize }),
      });
    opened.push(store);
    const blobs = openConfiguredBlobStore(settings);
    opened.push(blobs);
    const bus: EventBus = databaseUrl === undefined
      ? new LocalEventBus({ database: ':memory:' })
      : await openPgEventBus({ connectionString: databaseUrl, ...(options.onError === undefined ? {} : { onError: options.onError }) });
    opened.push(bus);
    return {
      store,
      blobs,
      bus,
      mode: databaseUrl === undefined ? 'embedded' : 'scale-out',
      async close() {
        // The bus and blobs first: they may still be flushing work for rows in the store.
        await bus.close();
        await blobs.close();
        await store.close();
      },
    };
  } catch (error) {
    for (const port of opened.reverse()) await port.close().catch(() => undefined);
    throw error;
  }
}
