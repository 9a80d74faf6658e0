/**
 * The embedded adapter of the event-bus port: fan-out inside one process, with the resume log in
 * SQLite (tables `bus_topics` and `bus_events`, created here when missing).
 */
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

function toEvent(row: EventRow): BusEvent {
  return { topic: row.topic, cursor: String(row.seq), type: row.type, data: JSON.parse(row.data) as unknown, at: row.at };
}

/** Fans events out in-process; logs them in SQLite for resumption. */
export class LocalEventBus implements EventBus {
  readonly #db: Database.Database;
  readonly #ownsDb: boolean;
  readonly #now: () => number;
  readonly #onHandlerError: (error: unknown) => void;
  readonly #subscribers = new Map<string, Set<(event: BusEvent) => void>>();
  readonly #queue: BusEvent[] = [];
  #draining = false;
  #closed = false;
  readonly #append: (topic: string, type: string, data: string, at: number) => number;
  readonly #readSince: Database.Statement<[string, number, number], EventRow>;
  readonly #trim: Database.Statement<[number]>;

  constructor(options: LocalEventBusOptions) {
    this.#ownsDb = typeof options.database === 'string';
    this.#db = typeof options.database === 'string' ? new Database(options.database) : options.database;
    if (this.#ownsDb) {
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('busy_timeout = 5000');
    }
    this.#now = options.now ?? Date.now;
    this.#onHandlerError = options.onHandlerError ?? (() => undefined);
    this.#db.exec(SCHEMA);
    // The counter lives apart from the log so trimming the log never lets a cursor be reused.
    const next = this.#db.prepare<[string], { last_seq: number }>(
      `INSERT INTO bus_topics (topic, last_seq) VALUES (?, 1)
       ON CONFLICT (topic) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq`,
    );
    const insert = this.#db.prepare<[string, number, string, string, number]>(
      'INSERT INTO bus_events (topic, seq, type, data, at) VALUES (?, ?, ?, ?, ?)',
    );
    const append = this.#db.transaction((topic: string, type: string, data: string, at: number): number => {
      const seq = next.get(topic)!.last_seq;
      insert.run(topic, seq, type, data, at);
      return seq;
    });
    this.#append = (topic, type, data, at) => append.immediate(topic, type, data, at);
    this.#readSince = this.#db.prepare<[string, number, number], EventRow>(
      'SELECT topic, seq, type, data, at FROM bus_events WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?',
    );
    this.#trim = this.#db.prepare<[number]>('DELETE FROM bus_events WHERE at < ?');
  }

  async publish(topic: string, type: string, data: unknown): Promise<BusEvent> {
    this.#assertOpen();
    assertTopic(topic);
    assertEventType(type);
    const json = encodeEventData(data);
    const at = this.#now();
    const seq = this.#append(topic, type, json, at);
    const event: BusEvent = { topic, cursor: String(seq), type, data: JSON.parse(json) as unknown, at };
    this.#dispatch(event);
    return event;
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
    // Publishing and subscribing both happen on this thread: live from the moment of the call.
    return Object.assign(unsubscribe, { ready: Promise.resolve() });
  }

  async trim(olderThan: number): Promise<number> {
    this.#assertOpen();
    assertTime(olderThan);
    return this.#trim.run(olderThan).changes;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscribers.clear();
    if (this.#ownsDb) this.#db.close();
  }

  /** Delivers in publish order even when a handler publishes from inside its call. */
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
