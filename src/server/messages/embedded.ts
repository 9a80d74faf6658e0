/**
 * What `burrow serve` opens beside the SQL store for messages and live events on one machine:
 * the blob directory `<data>/blobs`, the event bus with its resume log in its own SQLite file
 * `<data>/events.db` (a disposable, high-churn log of ids and cursors, kept apart so the main
 * database's backups and migrations stay about lasting data), and the sweeper. A scale-out node
 * hands in its shared blob store (S3) and bus (PostgreSQL) instead; they are closed here too.
 */
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { BlobStore } from '../../storage/blobs/blob-store.js';
import { FsBlobStore } from '../../storage/blobs/fs-blob-store.js';
import type { EventBus } from '../../storage/bus/event-bus.js';
import { LocalEventBus } from '../../storage/bus/local-event-bus.js';
import type { SqlStore } from '../../storage/database.js';
import type { Config } from '../config.js';
import { systemClock, type Clock } from '../deps.js';
import { createMessagesRepository } from './repository.js';
import type { Metrics } from '../metrics/metrics.js';
import { createSweeper, type SweepReport, type Sweeper } from './sweeper.js';

/** How long the live resume log keeps events; a client away longer re-lists what it missed. */
export const EVENT_LOG_RETENTION_MS = 30 * 24 * 3600_000;

export interface EmbeddedMessaging {
  blobs: BlobStore;
  bus: EventBus;
  sweeper: Sweeper;
  /** Stops the sweeper and closes the bus and the blob store (the SQL store stays the caller's). */
  close(): Promise<void>;
}

export function openEmbeddedMessaging(options: { config: Config; store: SqlStore; clock?: Clock; onSweepError(error: unknown): void; blobs?: BlobStore; bus?: EventBus; metrics?: Metrics }): EmbeddedMessaging {
  const { config, store, metrics } = options;
  const clock = options.clock ?? systemClock;
  const blobs = options.blobs ?? new FsBlobStore({ dir: join(config.dataDir, 'blobs'), ...(metrics === undefined ? {} : { observeSync: (ms: number) => metrics.observeBlobSync(ms) }) });
  const bus = options.bus ?? openEventsFile(join(config.dataDir, 'events.db'), clock);
  const sweeper = createSweeper({
    repository: createMessagesRepository(store.db),
    blobs,
    clock,
    intervalMs: config.messages.sweepIntervalMs,
    orphanGraceMs: config.messages.orphanGraceMs,
    trimEvents: (olderThan) => bus.trim(olderThan),
    eventRetentionMs: EVENT_LOG_RETENTION_MS,
    onError: options.onSweepError,
    ...(metrics === undefined ? {} : { onPass: (report: SweepReport | undefined) => metrics.sweeperPass('messages', report) }),
  });
  return {
    blobs,
    bus,
    sweeper,
    async close() {
      await sweeper.stop();
      await bus.close();
      await blobs.close();
    },
  };
}

function openEventsFile(eventsFile: string, clock: Clock): LocalEventBus {
  // Created 0600 here; SQLite gives its -wal and -shm files the same mode.
  closeSync(openSync(eventsFile, 'a', 0o600));
  return new LocalEventBus({ database: eventsFile, now: () => clock.now() });
}
