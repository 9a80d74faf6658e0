/**
 * The embedded adapter of the event-bus port: fan-out inside one process, with the resume log in
 * SQLite (tables `bus_topics` and `bus_events`, created here when missing).
 *
 * Appends are group-committed: the publishes of one turn of the event loop go to the log together,
 * and for a database file they are written on a worker thread of their own (event-log-worker.ts),
 * so the event loop never waits on the log's fsync. A publish resolves, and its event reaches the
 * subscribers, only once its COMMIT is done; events are dispatched in the order the log committed
 * them, which is cursor order per topic. An in-memory database or a handle the caller opened is
 * written on this thread, still a group per turn.
 */
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import {
  assertEventType,
  assertLimit,
  assertTime,
  assertTopic,
  cursorSeq,
  encodeEventData,
  type BusEvent,
  type EventBus,
  type Subscription,
} from './event-bus.js';
import { sqliteError } from '../errors.js';
import { createEventLogTables, openEventLog, type LogAnswer, type LogRequest, type LogWorkerOptions, type LogWrite } from './event-log-worker.js';

/** The worker's entry: the compiled file, or the source when the tests run the sources (Node strips its types). */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './event-log-worker.ts' : './event-log-worker.js', import.meta.url);

export interface LocalEventBusOptions {
  /** An open database (left open on close) or a file path (opened in WAL mode and closed on close). */
  database: Database.Database | string;
  /** The clock stamping `at`; Date.now by default. */
  now?: () => number;
  /** Told about a subscriber's handler that threw; the event still reaches everyone else. */
  onHandlerError?: (error: unknown) => void;
}

interface EventRow {
  topic: string;
  seq: number;
  type: string;
  data: string;
  at: number;
}

function toEvent(row: EventRow): BusEvent {
  return { topic: row.topic, cursor: String(row.seq), type: row.type, data: JSON.parse(row.data) as unknown, at: row.at };
}

/** A write sent to the log and not yet answered. */
interface Waiting {
  resolve(value: number): void;
  reject(error: Error): void;
}


/** The log's worker thread: groups go in, answers come back in commit order. */
class LogWorker {
  readonly #worker: Worker;
  readonly #onAnswers: (answers: LogAnswer[]) => void;
  readonly #onFailure: (error: Error) => void;
  readonly #exited: Promise<void>;
  #unanswered = 0;

  constructor(path: string, onAnswers: (answers: LogAnswer[]) => void, onFailure: (error: Error) => void) {
    this.#onAnswers = onAnswers;
    this.#onFailure = onFailure;
    this.#worker = new Worker(WORKER_URL, { workerData: { burrowEventLogWorker: true, path } satisfies LogWorkerOptions });
    // Idle, the worker keeps no process alive; a write waiting for its answer does (see send).
    this.#worker.unref();
    this.#worker.on('message', (answers: LogAnswer[]) => {
      this.#unanswered -= answers.length;
      if (this.#unanswered === 0) this.#worker.unref();
      this.#onAnswers(answers);
    });
    this.#worker.on('error', (error) => this.#onFailure(error));
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => {
      this.#onFailure(new Error('the event log worker stopped'));
      resolve();
    }));
  }

  send(writes: LogWrite[]): void {
    if (this.#unanswered === 0) this.#worker.ref();
    this.#unanswered += writes.length;
    this.#worker.postMessage({ op: 'group', writes } satisfies LogRequest);
  }

  /** Stops the worker once the groups sent have been answered. */
  async stop(): Promise<void> {
    // Held until it has exited: an unreferenced worker would let the process end with close() pending.
    this.#worker.ref();
    this.#worker.postMessage({ op: 'close' } satisfies LogRequest);
    await this.#exited;
  }
}

/** Fans events out in-process; logs them in SQLite for resumption, group-committed off the event loop for a file. */
export class LocalEventBus implements EventBus {
  /** This thread's connection: creates the tables, answers readSince (it sees only committed events), and writes when there is no worker. */
  readonly #db: Database.Database;
  readonly #ownsDb: boolean;
  readonly #now: () => number;
  readonly #onHandlerError: (error: unknown) => void;
  readonly #subscribers = new Map<string, Set<(event: BusEvent) => void>>();
  readonly #queue: BusEvent[] = [];
  #draining = false;
  #closed = false;
  /** Writes of this turn of the event loop, sent together when it ends. */
  #outbox: LogWrite[] = [];
  readonly #waiting = new Map<number, Waiting>();
  #nextId = 1;
  /** Writes sent to the worker and not yet answered (each gets one answer, however the worker groups them). */
  #inFlight = 0;
  /** Set once the log can take no more writes (its worker failed). */
  #dead: Error | null = null;
  readonly #worker: LogWorker | null;
  readonly #commitHere: ((writes: readonly LogWrite[]) => LogAnswer[]) | null;
  readonly #readSince: Database.Statement<[string, number, number], EventRow>;

  constructor(options: LocalEventBusOptions) {
    this.#ownsDb = typeof options.database === 'string';
    this.#db = typeof options.database === 'string' ? new Database(options.database) : options.database;
    if (this.#ownsDb) {
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('busy_timeout = 5000');
    }
    this.#now = options.now ?? Date.now;
    this.#onHandlerError = options.onHandlerError ?? (() => undefined);
    // A file gets a worker; an in-memory database is this connection's alone, and a handle the caller opened is written through.
    if (typeof options.database === 'string' && options.database !== ':memory:' && options.database !== '') {
      createEventLogTables(this.#db);
      this.#commitHere = null;
      this.#worker = new LogWorker(options.database, (answers) => this.#answerGroup(answers), (error) => this.#fail(error));
    } else {
      this.#commitHere = openEventLog(this.#db);
      this.#worker = null;
    }
    this.#readSince = this.#db.prepare<[string, number, number], EventRow>(
      'SELECT topic, seq, type, data, at FROM bus_events WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?',
    );
  }

  async publish(topic: string, type: string, data: unknown): Promise<BusEvent> {
    this.#assertOpen();
    assertTopic(topic);
    assertEventType(type);
    const json = encodeEventData(data);
    const at = this.#now();
    return this.#write({ id: 0, op: 'append', topic, type, data: json, at }, (seq) => {
      const event: BusEvent = { topic, cursor: String(seq), type, data: JSON.parse(json) as unknown, at };
      // Dispatched as its answer is taken, before the next answer: answers come in commit order.
      this.#dispatch(event);
      return event;
    });
  }

  async readSince(topic: string, cursor: string | undefined, limit: number): Promise<BusEvent[]> {
    this.#assertOpen();
    assertTopic(topic);
    assertLimit(limit);
    return this.#readSince.all(topic, cursorSeq(cursor), limit).map(toEvent);
  }

  subscribe(topics: readonly string[], handler: (event: BusEvent) => void): Subscription {
    this.#assertOpen();
    for (const topic of topics) assertTopic(topic);
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    // A distinct wrapper per subscription, so subscribing the same function twice is two subscriptions.
    const own = (event: BusEvent): void => handler(event);
    const unique = [...new Set(topics)];
    for (const topic of unique) {
      let set = this.#subscribers.get(topic);
      if (set === undefined) this.#subscribers.set(topic, (set = new Set()));
      set.add(own);
    }
    const unsubscribe = (): void => {
      for (const topic of unique) {
        const set = this.#subscribers.get(topic);
        set?.delete(own);
        if (set?.size === 0) this.#subscribers.delete(topic);
      }
    };
    // Events are dispatched on this thread when their commit is answered: every one answered from now on reaches the handler.
    return Object.assign(unsubscribe, { ready: Promise.resolve() });
  }

  async trim(olderThan: number): Promise<number> {
    this.#assertOpen();
    assertTime(olderThan);
    return this.#write({ id: 0, op: 'trim', olderThan }, (deleted) => deleted);
  }

  /** Closes after the writes already asked for are committed and answered; their events reach no subscriber. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscribers.clear();
    this.#flush(true);
    await this.#worker?.stop();
    if (this.#ownsDb) this.#db.close();
  }

  /** Queues `write` for this turn's group; once the group is committed, resolves with what `onCommitted` makes of its answer. */
  #write<T>(write: LogWrite, onCommitted: (value: number) => T): Promise<T> {
    if (this.#dead !== null) return Promise.reject(this.#dead);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve: (value) => resolve(onCommitted(value)), reject });
      if (this.#outbox.push({ ...write, id }) === 1) queueMicrotask(() => this.#flush());
    });
  }

  /**
   * Sends this turn's writes, unless (`now` false) a group is still in flight: then they wait for
   * its answer and go with every write made meanwhile, one message per commit instead of one per
   * turn (a message to the worker costs the event loop more than the rest of a publish). They
   * would wait for that commit in the worker anyway: it commits one group at a time.
   */
  #flush(now = false): void {
    if (this.#outbox.length === 0) return;
    if (this.#worker !== null && this.#inFlight > 0 && !now) return;
    const writes = this.#outbox;
    this.#outbox = [];
    if (this.#worker === null) {
      this.#answer(this.#commitHere!(writes));
      return;
    }
    this.#inFlight += writes.length;
    this.#worker.send(writes);
  }

  /** A group's answers: the next group leaves first, so its commit overlaps the dispatch of these. */
  #answerGroup(answers: readonly LogAnswer[]): void {
    this.#inFlight -= answers.length;
    this.#flush();
    this.#answer(answers);
  }

  #answer(answers: readonly LogAnswer[]): void {
    for (const answer of answers) {
      const waiting = this.#waiting.get(answer.id);
      if (waiting === undefined) continue;
      this.#waiting.delete(answer.id);
      if (answer.ok) waiting.resolve(answer.value);
      else waiting.reject(sqliteError(answer.error));
    }
  }

  /** The worker failed or stopped: every unanswered write fails, and so does every later one. */
  #fail(error: Error): void {
    this.#dead ??= error;
    for (const waiting of this.#waiting.values()) waiting.reject(this.#dead);
    this.#waiting.clear();
  }

  /** Delivers in commit order even when a handler publishes from inside its call. */
  #dispatch(event: BusEvent): void {
    this.#queue.push(event);
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (let next = this.#queue.shift(); next !== undefined; next = this.#queue.shift()) {
        for (const handler of [...(this.#subscribers.get(next.topic) ?? [])]) {
          try {
            handler(next);
          } catch (error) {
            this.#onHandlerError(error);
          }
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('the event bus is closed');
  }
}
