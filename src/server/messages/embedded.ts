/**
 * What `burrow serve` runs beside the app for messages and live events: the sweeper over the blob
 * store and the event bus that src/storage/open-store.ts chose, and closing them at the end.
 */
import type { BlobStore } from '../../storage/blobs/blob-store.js';
import type { EventBus } from '../../storage/bus/event-bus.js';
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

export function openEmbeddedMessaging(options: { config: Config; store: SqlStore; clock?: Clock; onSweepError(error: unknown): void; blobs: BlobStore; bus: EventBus; metrics?: Metrics }): EmbeddedMessaging {
  const { config, store, metrics, blobs, bus } = options;
  const clock = options.clock ?? systemClock;
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
