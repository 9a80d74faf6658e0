/**
 * The storage ports for a test server. By default the embedded set (SQLite file in a temp dir,
 * blob directory, in-process bus); with BURROW_TEST_BACKEND=postgres-s3 the scale-out set: a fresh
 * PostgreSQL database, an s3rver bucket on loopback and the LISTEN/NOTIFY bus. Either database
 * starts migrated, from a template (test/support/migrated-template.ts, test/support/postgres.ts).
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { afterAll } from 'vitest';
import { randomBytes, toHex } from '../../src/crypto/bytes.js';
import type { BlobStore } from '../../src/storage/blobs/blob-store.js';
import { FsBlobStore } from '../../src/storage/blobs/fs-blob-store.js';
import { S3BlobStore } from '../../src/storage/blobs/s3-blob-store.js';
import type { EventBus } from '../../src/storage/bus/event-bus.js';
import { LocalEventBus } from '../../src/storage/bus/local-event-bus.js';
import { openPgEventBus } from '../../src/storage/bus/pg-event-bus.js';
import type { SqlStore } from '../../src/storage/database.js';
import { openPostgresStore } from '../../src/storage/postgres.js';
import { openSqliteStore } from '../../src/storage/sqlite.js';
import { writeMigratedSqlite } from './migrated-template.js';
import { createMigratedTestDatabase } from './postgres.js';

export type TestBackendKind = 'embedded' | 'postgres-s3';

/** Scale-out backends not cleaned up yet: a test that forgets to (or fails before it does) leaves no database behind. */
const uncleaned = new Set<() => Promise<void>>();
afterAll(async () => {
  for (const cleanup of [...uncleaned]) await cleanup().catch(() => undefined);
});

/** `work` at most once, and forgotten by the file-level safety net once done. */
function once(work: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const run = (): Promise<void> => {
    uncleaned.delete(run);
    done ??= work();
    return done;
  };
  uncleaned.add(run);
  return run;
}

/** Which storage the server tests run on (the `scale-out` vitest project sets postgres-s3). */
export const TEST_BACKEND: TestBackendKind = process.env.BURROW_TEST_BACKEND === 'postgres-s3' ? 'postgres-s3' : 'embedded';

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface TestBackends {
  readonly kind: TestBackendKind;
  readonly store: SqlStore;
  readonly blobs: BlobStore;
  readonly bus: EventBus;
  /** For the scale-out set: the database URL and the s3 settings another process can use. */
  readonly databaseUrl?: string;
  readonly s3?: { endpoint: string; bucket: string; prefix: string };
  /** Closes every port and removes the database, bucket and files. */
  cleanup(): Promise<void>;
}

/** An s3rver on 127.0.0.1 with its own temp directory. */
export async function startS3rver(): Promise<{ endpoint: string; newBucket(): Promise<string>; close(): Promise<void> }> {
  const directory = mkdtempSync(join(tmpdir(), 'burrow-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true });
  const address = (await server.run()) as AddressInfo;
  const endpoint = `http://127.0.0.1:${address.port}`;
  return {
    endpoint,
    async newBucket() {
      const bucket = `burrow-${toHex(randomBytes(6))}`;
      const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
      try {
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
      } finally {
        client.destroy();
      }
      return bucket;
    },
    async close() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Opens the ports of `kind` (default: TEST_BACKEND). `dataDir` holds the embedded files (default: a new temp dir). */
export async function openTestBackends(options: { kind?: TestBackendKind; dataDir?: string; now?: () => number } = {}): Promise<TestBackends> {
  const kind = options.kind ?? TEST_BACKEND;
  const now = options.now ?? (() => Date.now());
  if (kind === 'embedded') {
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'burrow-backends-'));
    mkdirSync(join(dataDir, 'blobs'), { recursive: true, mode: 0o700 });
    const file = join(dataDir, 'burrow.db');
    // A new database starts as a copy of a migrated one; an existing one (a restart) is opened as it is.
    if (!existsSync(file)) await writeMigratedSqlite(file);
    const store = await openSqliteStore(file);
    const blobs = new FsBlobStore({ dir: join(dataDir, 'blobs') });
    const bus = new LocalEventBus({ database: ':memory:', now });
    return {
      kind, store, blobs, bus,
      async cleanup() {
        await bus.close();
        await blobs.close();
        await store.close();
      },
    };
  }
  const database = await createMigratedTestDatabase();
  const s3 = await startS3rver();
  const bucket = await s3.newBucket();
  // A connection may wait long on a loaded machine (a client's key stretching can hold this
  // process's event loop): a test server fails on a dead database, not on a slow one.
  const store = await openPostgresStore(database.url, { poolSize: 4, connectTimeoutMs: 30_000 });
  const blobs = new S3BlobStore({ bucket, prefix: 'blobs/', endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, ...S3RVER_CREDENTIALS });
  const bus = await openPgEventBus({ connectionString: database.url, now, poolSize: 2 });
  return {
    kind, store, blobs, bus,
    databaseUrl: database.url,
    s3: { endpoint: s3.endpoint, bucket, prefix: 'blobs/' },
    cleanup: once(async () => {
      await bus.close();
      await blobs.close();
      await store.close();
      await s3.close();
      await database.drop();
    }),
  };
}

/**
 * A blob directory under `dataDir` and an in-process bus, for a test that builds its own store
 * (e.g. on PostgreSQL) but no scale-out messaging: `createServer` takes both from its caller.
 */
export function localMessaging(dataDir: string, now: () => number = Date.now): { blobs: BlobStore; bus: EventBus; close(): Promise<void> } {
  const blobs = new FsBlobStore({ dir: join(dataDir, 'blobs') });
  const bus = new LocalEventBus({ database: ':memory:', now });
  return {
    blobs,
    bus,
    async close() {
      await bus.close();
      await blobs.close();
    },
  };
}
