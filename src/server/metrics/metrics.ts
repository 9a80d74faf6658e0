/**
 * Prometheus metrics (opt-in: BURROW_METRICS_LISTEN, served on a listener of their own, see
 * listener.ts). Names follow Prometheus conventions (`burrow_` prefix, base units, `_total` for
 * counters, `_seconds` for times). No label ever carries personal data or an id: HTTP requests are
 * labelled with the route's template (`/v1/families/:familyId/messages`), never the path, and
 * nothing is labelled by account, family, toy, address or email.
 *
 * One registry per `createMetrics()`, so servers built in one process (tests) do not share counts.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StoreObserver } from '../../storage/observe.js';
import type { SweepReport } from '../messages/sweeper.js';

/** Buckets for request latencies and store timings, in seconds (1 ms … 30 s). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Buckets for fsyncs and commits, in seconds (100 µs … 5 s). */
const SYNC_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

/** Every metric Burrow records, with the hooks that feed them from the storage adapters. */
export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  readonly httpDuration: Histogram<'route' | 'method'>;
  readonly httpInFlight: Gauge<'route' | 'method'>;
  readonly rateLimitRefusals: Counter<'route'>;
  readonly objectStoreUnavailable: Counter;
  readonly sweeperRuns: Counter<'sweeper' | 'result'>;
  readonly sweptItems: Counter<'kind'>;
  readonly dbStatementDuration: Histogram<'dialect' | 'kind' | 'result'>;
  readonly dbCommitDuration: Histogram<'dialect'>;
  readonly blobSyncDuration: Histogram;
  /** A gauge read when Prometheus scrapes (a queue's depth, the live connections). */
  addGauge(name: string, help: string, read: () => number | Promise<number>): void;
  /** The SQL store's timings, for `openSqliteStore`/`openPostgresStore({ observer })`. */
  storeObserver(dialect: 'sqlite' | 'postgres'): StoreObserver;
  /** The blob directory's fsync timings, for `new FsBlobStore({ observeSync })`. */
  observeBlobSync(durationMs: number): void;
  /** A sweeper pass finished (`report` undefined: it failed). */
  sweeperPass(sweeper: 'messages' | 'sessions' | 'pairings', report: Partial<SweepReport> | 'ok' | undefined): void;
}

/** A fresh registry with Burrow's metrics and Node's process metrics (CPU, memory, event loop, GC). */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'burrow_' });
  const registers = [registry];
  const httpRequests = new Counter({ name: 'burrow_http_requests_total', help: 'HTTP requests answered, by route template, method and status', labelNames: ['route', 'method', 'status'] as const, registers });
  const httpDuration = new Histogram({ name: 'burrow_http_request_duration_seconds', help: 'Time from a request\'s arrival to its answer, by route template and method', labelNames: ['route', 'method'] as const, buckets: LATENCY_BUCKETS, registers });
  const httpInFlight = new Gauge({ name: 'burrow_http_requests_in_flight', help: 'Requests being handled now, by route template and method (message uploads: route /v1/families/:familyId/messages, POST)', labelNames: ['route', 'method'] as const, registers });
  const rateLimitRefusals = new Counter({ name: 'burrow_rate_limit_refusals_total', help: 'Requests refused with 429 by a rate limit or the login failure budget, by route template', labelNames: ['route'] as const, registers });
  const objectStoreUnavailable = new Counter({ name: 'burrow_object_store_unavailable_total', help: 'Requests answered 503 because the object store could not be reached or used', registers });
  const sweeperRuns = new Counter({ name: 'burrow_sweeper_runs_total', help: 'Sweeper passes, by sweeper and result', labelNames: ['sweeper', 'result'] as const, registers });
  const sweptItems = new Counter({ name: 'burrow_swept_items_total', help: 'What the message sweeper removed, by kind', labelNames: ['kind'] as const, registers });
  const dbStatementDuration = new Histogram({ name: 'burrow_db_statement_duration_seconds', help: 'SQL statement time, by dialect, kind (select, insert, update, delete, other) and result', labelNames: ['dialect', 'kind', 'result'] as const, buckets: LATENCY_BUCKETS, registers });
  const dbCommitDuration = new Histogram({ name: 'burrow_db_commit_duration_seconds', help: 'Time of a transaction\'s COMMIT (on SQLite, the WAL fsync), by dialect', labelNames: ['dialect'] as const, buckets: SYNC_BUCKETS, registers });
  const blobSyncDuration = new Histogram({ name: 'burrow_blob_fsync_duration_seconds', help: 'Time for a stored blob to become durable in the blob directory (file fsync, rename, directory fsync)', buckets: SYNC_BUCKETS, registers });

  return {
    registry,
    httpRequests,
    httpDuration,
    httpInFlight,
    rateLimitRefusals,
    objectStoreUnavailable,
    sweeperRuns,
    sweptItems,
    dbStatementDuration,
    dbCommitDuration,
    blobSyncDuration,
    addGauge(name, help, read) {
      // Registered in `registry` by `registers`; prom-client calls collect with the gauge as `this`.
      void new Gauge({ name, help, registers, async collect() { this.set(await read()); } });
    },
    storeObserver(dialect) {
      return {
        statement: (kind, durationMs, failed) => dbStatementDuration.observe({ dialect, kind, result: failed ? 'error' : 'ok' }, durationMs / 1000),
        commit: (durationMs) => dbCommitDuration.observe({ dialect }, durationMs / 1000),
      };
    },
    observeBlobSync(durationMs) {
      blobSyncDuration.observe(durationMs / 1000);
    },
    sweeperPass(sweeper, report) {
      sweeperRuns.inc({ sweeper, result: report === undefined ? 'error' : 'ok' });
      if (report === undefined || report === 'ok') return;
      const kinds: Array<[keyof SweepReport, string]> = [['expiredMessages', 'expired_messages'], ['orphanBlobs', 'orphan_blobs'], ['incompleteUploads', 'incomplete_uploads'], ['trimmedEvents', 'trimmed_events']];
      for (const [field, kind] of kinds) {
        const n = report[field];
        if (n !== undefined && n > 0) sweptItems.inc({ kind }, n);
      }
    },
  };
}
