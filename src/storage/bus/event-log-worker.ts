/**
 * The live bus's resume log written on a thread of its own, with group commit
 * (docs/benchmarks.md, "Issue 18, item 1 (sixth pass …)").
 *
 * `LocalEventBus` (local-event-bus.ts) sends the appends (and trims) asked for in one turn of its
 * event loop as one message. The writes of every message waiting here are one group: one IMMEDIATE
 * transaction, each write in a savepoint of its own (a failing append undoes only itself), one
 * COMMIT, so one WAL fsync for all of them; only then are the answers sent back, so a publish resolves only once its event is
 * as durable as the log's COMMIT makes it (the connection keeps SQLite's default, synchronous =
 * FULL). Cursors are assigned here, from the per-topic counter in the same transaction, so they
 * follow commit order even with several buses on one file. While a COMMIT waits on the disk,
 * new messages queue up in the port, and the main thread's event loop never waits on a disk.
 *
 * This file runs as a worker's entry and, when the tests run the sources, through Node's type
 * stripping: it imports no module of ours and uses only erasable TypeScript.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';

/** One thing to write: an event to append to its topic's log, or a trim. */
export type LogWrite =
  | { id: number; op: 'append'; topic: string; type: string; data: string; at: number }
  | { id: number; op: 'trim'; olderThan: number };

/** What the main thread sends: a group of writes committed together, or the request to close. */
export type LogRequest = { op: 'group'; writes: LogWrite[] } | { op: 'close' };

/** The outcome of one write: the appended event's sequence number, or how many events a trim deleted. */
export type LogAnswer =
  | { id: number; ok: true; value: number }
  | { id: number; ok: false; error: { message: string; code?: string } };

/** How the worker opens the log (passed as `workerData`). */
export interface LogWorkerOptions {
  burrowEventLogWorker: true;
  path: string;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS bus_topics (
    topic TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS bus_events (
    topic TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (topic, seq)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS bus_events_at ON bus_events (at);
`;

function errorOf(error: unknown): { message: string; code?: string } {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? { message, code } : { message };
}

/** Creates the log's tables on `sqlite` when they are missing. */
export function createEventLogTables(sqlite: BetterSqlite3.Database): void {
  sqlite.exec(SCHEMA);
}

/** The log's tables on `sqlite` (created when missing) and the function that commits a group of writes to them, answering each in order. */
export function openEventLog(sqlite: BetterSqlite3.Database): (writes: readonly LogWrite[]) => LogAnswer[] {
  createEventLogTables(sqlite);
  // The counter lives apart from the log so trimming the log never lets a cursor be reused.
  const next = sqlite.prepare<[string], { last_seq: number }>(
    `INSERT INTO bus_topics (topic, last_seq) VALUES (?, 1)
     ON CONFLICT (topic) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq`,
  );
  const insert = sqlite.prepare<[string, number, string, string, number]>(
    'INSERT INTO bus_events (topic, seq, type, data, at) VALUES (?, ?, ?, ?, ?)',
  );
  const trim = sqlite.prepare<[number]>('DELETE FROM bus_events WHERE at < ?');
  const run = (write: LogWrite): number => {
    if (write.op === 'trim') return trim.run(write.olderThan).changes;
    const seq = next.get(write.topic)!.last_seq;
    insert.run(write.topic, seq, write.type, write.data, write.at);
    return seq;
  };
  return (writes) => {
    try {
      sqlite.exec('BEGIN IMMEDIATE');
    } catch (error) {
      const failure = errorOf(error);
      return writes.map((write) => ({ id: write.id, ok: false, error: failure }));
    }
    const answers: LogAnswer[] = [];
    for (const write of writes) {
      sqlite.exec('SAVEPOINT write');
      try {
        answers.push({ id: write.id, ok: true, value: run(write) });
        sqlite.exec('RELEASE write');
      } catch (error) {
        answers.push({ id: write.id, ok: false, error: errorOf(error) });
        // SQLITE_FULL, SQLITE_IOERR or a trigger's RAISE(ROLLBACK) may have rolled back the whole group.
        if (!sqlite.inTransaction) return lost(writes, error);
        sqlite.exec('ROLLBACK TO write; RELEASE write');
      }
    }
    try {
      sqlite.exec('COMMIT');
    } catch (error) {
      try {
        if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
      } catch {
        // The connection already rolled back or cannot: either way the group is lost.
      }
      return lost(writes, error);
    }
    return answers;
  };
}

/** Every write of a group that was rolled back fails with the group's error. */
function lost(writes: readonly LogWrite[], error: unknown): LogAnswer[] {
  const failure = errorOf(error);
  return writes.map((write) => ({ id: write.id, ok: false, error: failure }));
}

function startWorker(options: LogWorkerOptions): void {
  const port = parentPort!;
  let sqlite: BetterSqlite3.Database;
  let commit: (writes: readonly LogWrite[]) => LogAnswer[];
  try {
    sqlite = new BetterSqlite3(options.path);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
    commit = openEventLog(sqlite);
  } catch (error) {
    const failure = errorOf(error);
    port.on('message', (request: LogRequest) => {
      if (request.op === 'group') port.postMessage(request.writes.map((write) => ({ id: write.id, ok: false, error: failure })));
      else port.close();
    });
    return;
  }
  // Writes that arrived while the last COMMIT waited on the disk are queued in the port; they all
  // arrive before the setImmediate below runs, so the next group takes all of them.
  let pending: LogWrite[] = [];
  let scheduled = false;
  const commitPending = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const writes = pending;
    pending = [];
    port.postMessage(commit(writes));
  };
  port.on('message', (request: LogRequest) => {
    if (request.op === 'close') {
      commitPending();
      sqlite.close();
      port.close();
      return;
    }
    for (const write of request.writes) pending.push(write);
    if (!scheduled) {
      scheduled = true;
      setImmediate(commitPending);
    }
  });
}

if (!isMainThread && (workerData as Partial<LogWorkerOptions> | null)?.burrowEventLogWorker === true) startWorker(workerData as LogWorkerOptions);
