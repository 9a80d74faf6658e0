/**
 * A real Burrow server for account tests: a temporary data directory (SQLite file and secrets
 * file; PostgreSQL + S3 under BURROW_TEST_BACKEND=postgres-s3), the app from `createServer`,
 * listening on 127.0.0.1 on a free port.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from '../../src/server/app.js';
import { loadConfig, type Config, type DeepPartial } from '../../src/server/config.js';
import { loadOrCreateSecrets } from '../../src/server/secrets.js';
import type { BlobStore } from '../../src/storage/blobs/blob-store.js';
import { openTestBackends } from '../support/backends.js';

/** The database file's name inside the data directory (as `burrow serve` names it). */
export const DATABASE_FILE = 'burrow.db';

/** Limits high enough that a test's own traffic from one address is never throttled. */
export const GENEROUS_LIMITS: DeepPartial<Config> = {
  rateLimits: {
    globalPerIp: { max: 100_000, windowMs: 60_000 },
    anonymousPerIp: { max: 100_000, windowMs: 60_000 },
    perAccount: { max: 1_000, windowMs: 60_000 },
    loginFailuresPerIp: { max: 100_000, windowMs: 60 * 60_000 },
  },
};

/**
 * `fetch` on a fresh connection each time. The tests run OPAQUE's key stretching in the same
 * process as the server, which stalls the event loop for seconds under load; a pooled keep-alive
 * connection can then be reused just as the server's idle timer closes it (ECONNRESET).
 */
export const fetchWithoutKeepAlive: typeof fetch = (input, init) => {
  const headers = new Headers(init?.headers);
  headers.set('connection', 'close');
  return fetch(input, { ...init, headers });
};

export interface RunningServer {
  url: string;
  dataDir: string;
  /** The server's blob store, to look behind its back (a directory or S3). */
  blobs: BlobStore;
  /** Stops the server and closes the database; keeps the data directory. */
  stop(): Promise<void>;
  /** Stops the server and deletes the data directory if this harness created it. */
  close(): Promise<void>;
}

/** Starts a server on a fresh data directory (or `dataDir`), with `overrides` on its configuration. */
export async function startServer(options: { dataDir?: string; overrides?: DeepPartial<Config> } = {}): Promise<RunningServer> {
  const parent = options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'burrow-e2e-')) : undefined;
  const dataDir = options.dataDir ?? join(parent!, 'data');
  const config = loadConfig({
    env: {},
    overrides: { ...GENEROUS_LIMITS, ...options.overrides, dataDir, host: '127.0.0.1', port: 0, logLevel: 'silent' },
  });
  const { secrets } = await loadOrCreateSecrets({ dataDir });
  await mkdir(join(dataDir, 'blobs'), { recursive: true, mode: 0o700 });
  const backends = await openTestBackends({ dataDir });
  const { store, blobs, bus } = backends;
  const app = createServer({ config, store, blobs, bus, secrets, log: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the server has no TCP address');
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await app.close();
    await backends.cleanup();
  };
  return {
    url: `http://127.0.0.1:${address.port}`,
    dataDir,
    blobs,
    stop,
    async close() {
      await stop();
      if (parent !== undefined) await rm(parent, { recursive: true, force: true });
    },
  };
}
