/**
 * The retention sweeper: deletes expired messages (row first, then blob: a crash between them
 * leaves an orphan blob, never a row without its blob), then orphan blobs no row references
 * (left by uploads interrupted between the blob's fsync and the row's commit), then temp files
 * of uploads interrupted mid-stream, and finally trims the live resume log. Blobs younger than the grace period are left alone, because
 * an upload in flight has a blob but not yet its row.
 */
import type { BlobStore } from '../../storage/blobs/blob-store.js';
import type { Clock } from '../deps.js';
import type { MessagesRepository } from './repository.js';

const BATCH = 500;

export interface SweepReport {
  expiredMessages: number;
  orphanBlobs: number;
  incompleteUploads: number;
  /** Events dropped from the live resume log. */
  trimmedEvents: number;
}

export interface Sweeper {
  /** One full pass; concurrent calls share the pass in progress. */
  runOnce(): Promise<SweepReport>;
  /** Runs a pass every `intervalMs` until `stop`. */
  start(): void;
  /** Stops the timer and waits for a pass in progress. */
  stop(): Promise<void>;
}

export interface SweeperDeps {
  repository: MessagesRepository;
  blobs: BlobStore;
  clock: Clock;
  intervalMs: number;
  orphanGraceMs: number;
  /** Trims the live resume log (the bus's `trim`); with `eventRetentionMs`. */
  trimEvents?: (olderThan: number) => Promise<number>;
  eventRetentionMs?: number;
  /** Reports a failed pass; the next pass tries again. */
  onError(error: unknown): void;
  /** Told each finished pass: what it removed (undefined when it failed) and how long it took (ms). */
  onPass?: (report: SweepReport | undefined, durationMs: number) => void;
}

export function createSweeper(deps: SweeperDeps): Sweeper {
  const { repository, blobs, clock } = deps;
  let running: Promise<SweepReport> | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function deleteBlobs(names: readonly string[]): Promise<void> {
    for (const name of names) await blobs.delete(name);
  }

  async function sweepOrphans(before: number): Promise<number> {
    let removed = 0;
    let batch: string[] = [];
    const flush = async () => {
      const referenced = await repository.referencedBlobs(batch);
      const orphans = batch.filter((name) => !referenced.has(name));
      await deleteBlobs(orphans);
      removed += orphans.length;
      batch = [];
    };
    for await (const blob of blobs.list()) {
      if (blob.createdAt > before) continue;
      batch.push(blob.name);
      if (batch.length >= BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    return removed;
  }

  async function pass(): Promise<SweepReport> {
    const now = clock.now();
    let expiredMessages = 0;
    for (;;) {
      const names = await repository.deleteExpired(now, BATCH);
      await deleteBlobs(names);
      expiredMessages += names.length;
      if (names.length < BATCH) break;
    }
    const before = now - deps.orphanGraceMs;
    const orphanBlobs = await sweepOrphans(before);
    const incompleteUploads = await blobs.sweepIncomplete(before);
    const trimmedEvents = deps.trimEvents === undefined || deps.eventRetentionMs === undefined ? 0 : await deps.trimEvents(now - deps.eventRetentionMs);
    return { expiredMessages, orphanBlobs, incompleteUploads, trimmedEvents };
  }

  const sweeper: Sweeper = {
    runOnce() {
      if (running === undefined) {
        const started = performance.now();
        running = pass().then(
          (report) => {
            deps.onPass?.(report, performance.now() - started);
            return report;
          },
          (error: unknown) => {
            deps.onPass?.(undefined, performance.now() - started);
            throw error;
          },
        ).finally(() => {
          running = undefined;
        });
      }
      return running;
    },
    start() {
      if (timer !== undefined) return;
      timer = setInterval(() => {
        sweeper.runOnce().catch(deps.onError);
      }, deps.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
  };
  return sweeper;
}
