/**
 * The one place that chooses the stores a configuration names. Embedded (one machine): the SQLite
 * file `<dataDir>/burrow.db`, the blob directory `<dataDir>/blobs` and the live event bus with its
 * resume log in `<dataDir>/events.db` (a disposable, high-churn log of ids and cursors, kept apart so
 * the main database's backups and migrations stay about lasting data). Scale-out: PostgreSQL for
 * records and, through LISTEN/NOTIFY, for live events between nodes, when a database URL is set;
 * S3 for blobs when the blobs setting is s3://.
 *
 * The PostgreSQL modules (and `pg` behind them) are imported only when a database URL is set: an
 * embedded server does not load them at start-up.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { BlobStore } from './blobs/blob-store.js';
import { FsBlobStore } from './blobs/fs-blob-store.js';
import { openBlobStore, type S3ConnectionOptions } from './blobs/open-blob-store.js';
import type { EventBus } from './bus/event-bus.js';
import { LocalEventBus } from './bus/local-event-bus.js';
import type { SqlStore } from './database.js';
import type { StoreObserver } from './observe.js';
import { openSqliteStore } from './sqlite.js';

/** The storage part of the server's configuration (src/server/config.ts `Config` fits). */
export interface StorageSettings {
  readonly dataDir: string;
  /** `postgres://…`; absent: the SQLite file `<dataDir>/burrow.db`. */
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

/** The SQLite file of an embedded deployment. */
export function sqliteFileOf(settings: Pick<StorageSettings, 'dataDir'>): string {
  return join(settings.dataDir, 'burrow.db');
}

/** The SQL store of `settings`, migrated: PostgreSQL when a database URL is set, else the SQLite file. */
export async function openConfiguredSqlStore(settings: StorageSettings, options: {
  /** A pooled PostgreSQL connection failed (the pool replaces it). */
  onError?: (error: unknown) => void;
  observer?: (dialect: 'sqlite' | 'postgres') => StoreObserver;
} = {}): Promise<SqlStore> {
  if (settings.databaseUrl !== undefined) {
    const { openPostgresStore } = await import('./postgres.js');
    return openPostgresStore(settings.databaseUrl, {
      ...(options.onError === undefined ? {} : { onError: options.onError }),
      ...(options.observer === undefined ? {} : { observer: options.observer('postgres') }),
    });
  }
  return openSqliteStore(sqliteFileOf(settings), options.observer === undefined ? {} : { observer: options.observer('sqlite') });
}

/** The blob store of `settings` (not yet touched: S3 connects lazily); the embedded directory is created 0700. */
export function openConfiguredBlobStore(settings: StorageSettings, options: { observeSync?: (durationMs: number) => void } = {}): BlobStore {
  if (settings.blobs !== undefined) return openBlobStore(settings.blobs, s3ConnectionOptions(settings.s3));
  const dir = join(settings.dataDir, 'blobs');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return new FsBlobStore({ dir, ...(options.observeSync === undefined ? {} : { observeSync: options.observeSync }) });
}

/** The live event bus of `settings`: PostgreSQL's LISTEN/NOTIFY when a database URL is set, else `<dataDir>/events.db`. */
export async function openConfiguredEventBus(settings: StorageSettings, options: { now: () => number; onError?: (error: unknown) => void }): Promise<EventBus> {
  if (settings.databaseUrl !== undefined) {
    const { openPgEventBus } = await import('./bus/pg-event-bus.js');
    return openPgEventBus({ connectionString: settings.databaseUrl, ...(options.onError === undefined ? {} : { onError: options.onError }) });
  }
  const eventsFile = join(settings.dataDir, 'events.db');
  // Created 0600 here; SQLite gives its -wal and -shm files the same mode.
  closeSync(openSync(eventsFile, 'a', 0o600));
  return new LocalEventBus({ database: eventsFile, now: options.now });
}
