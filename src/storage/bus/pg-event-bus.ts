/**
 * The scale-out adapter of the event-bus port: the log in PostgreSQL, fan-out between nodes by
 * LISTEN/NOTIFY. A notification carries only topic and cursor; each node reads the rows itself,
 * so payloads stay far below NOTIFY's 8000-byte limit and a lost notification costs nothing: the
 * next one (or the catch-up after a reconnect) reads everything past the last delivered cursor.
 */
import pg from 'pg';
import {
  MAX_READ_LIMIT,
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

export interface PgEventBusOptions {
  /** e.g. `postgres://user@host:5432/burrow`. */
  connectionString: string;
  /** The clock stamping `at`; Date.now by default. */
  now?: () => number;
  /** Connections for publishing and reading (the listener has its own). Default 4. */
  poolSize?: number;
  /** Told about failures the bus recovers from (a dropped listener, a handler that threw). Never given event data. */
  onError?: (error: unknown) => void;
  /** First wait before reconnecting the listener; doubles up to 5 s. Default 100 ms. */
  reconnectDelayMs?: number;
}

const CHANNEL = 'burrow_events';
/** Identifies the listening connection in pg_stat_activity. */
export const LISTENER_APPLICATION_NAME = 'burrow-bus-listener';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS bus_topics (
    topic text PRIMARY KEY,
    last_seq bigint NOT NULL
  );
  CREATE TABLE IF NOT EXISTS bus_events (
    topic text NOT NULL,
    seq bigint NOT NULL,
    type text NOT NULL,
    data text NOT NULL,
    at bigint NOT NULL,
    PRIMARY KEY (topic, seq)
  );
  CREATE INDEX IF NOT EXISTS bus_events_at ON bus_events (at);
`;
/** Serialises schema creation between nodes starting at once (CREATE … IF NOT EXISTS can race). */
const SCHEMA_LOCK = 0x6275_7272; // "burr"

interface EventRow {
  topic: string;
  seq: string;
  type: string;
  data: string;
  at: string;
}

interface TopicState {
  /** Last cursor delivered to this node's subscribers; undefined until the first subscriber's start is read. */
  last: number | undefined;
  /** Work on this topic (start reads, catch-ups) runs one at a time, in order. */
  chain: Promise<void>;
  subscribers: Set<Subscriber>;
}

interface Subscriber {
  handler: (event: BusEvent) => void;
  /** Per topic: deliver events after this cursor; absent until the subscription is ready. */
  start: Map<string, number>;
}

function toEvent(row: EventRow): BusEvent {
  return { topic: row.topic, cursor: row.seq, type: row.type, data: JSON.parse(row.data) as unknown, at: Number(row.at) };
}

/** Opens a PostgreSQL event bus: creates its tables when missing and starts listening. */
export async function openPgEventBus(options: PgEventBusOptions): Promise<PgEventBus> {
  const bus = new PgEventBus(options);
  try {
    await bus.start();
    return bus;
  } catch (error) {
    await bus.close();
    throw error;
  }
}

/** Publishes through PostgreSQL and delivers events from every node to this node's subscribers. */
export class PgEventBus implements EventBus {
  readonly #options: PgEventBusOptions;
  readonly #pool: pg.Pool;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  readonly #topics = new Map<string, TopicState>();
  #listener: pg.Client | undefined;
  /** Resolves when the current listener is listening; replaced on every reconnect. */
  #listening: Promise<void>;
  #markListening!: () => void;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #reconnectDelay: number;
  #closed = false;

  constructor(options: PgEventBusOptions) {
    if (typeof options.connectionString !== 'string' || options.connectionString === '') {
      throw new TypeError('options.connectionString must be a PostgreSQL URL');
    }
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => undefined);
    this.#reconnectDelay = options.reconnectDelayMs ?? 100;
    this.#pool = new pg.Pool({ connectionString: options.connectionString, max: options.poolSize ?? 4 });
    this.#pool.on('error', (error) => this.#onError(error));
    this.#listening = new Promise((resolve) => (this.#markListening = resolve));
  }

  /** Creates the tables when missing and connects the listener. `openPgEventBus` calls it. */
  async start(): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      await client.query(SCHEMA);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    await this.#listen();
  }

  async publish(topic: string, type: string, data: unknown): Promise<BusEvent> {
    this.#assertOpen();
    assertTopic(topic);
    assertEventType(type);
    const json = encodeEventData(data);
    const at = this.#now();
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      // The counter row's lock orders publishers of one topic: sequence order is commit order,
      // so a reader never sees cursor n+1 before n. NOTIFY is sent at commit, in commit order.
      const { rows } = await client.query<{ last_seq: string }>(
        `INSERT INTO bus_topics (topic, last_seq) VALUES ($1, 1)
         ON CONFLICT (topic) DO UPDATE SET last_seq = bus_topics.last_seq + 1 RETURNING last_seq`,
        [topic],
      );
      const seq = rows[0]!.last_seq;
      await client.query('INSERT INTO bus_events (topic, seq, type, data, at) VALUES ($1, $2, $3, $4, $5)', [topic, seq, type, json, at]);
      await client.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ t: topic, s: seq })]);
      await client.query('COMMIT');
      return { topic, cursor: seq, type, data: JSON.parse(json) as unknown, at };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async readSince(topic: string, cursor: string | undefined, limit: number): Promise<BusEvent[]> {
    this.#assertOpen();
    assertTopic(topic);
    assertLimit(limit);
    return this.#read(topic, cursorSeq(cursor), limit);
  }

  subscribe(topics: readonly string[], handler: (event: BusEvent) => void): Subscription {
    this.#assertOpen();
    for (const topic of topics) assertTopic(topic);
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    const subscriber: Subscriber = { handler, start: new Map() };
    const unique = [...new Set(topics)];
    const starts: Array<Promise<void>> = [];
    for (const topic of unique) {
      let state = this.#topics.get(topic);
      if (state === undefined) this.#topics.set(topic, (state = { last: undefined, chain: Promise.resolve(), subscribers: new Set() }));
      state.subscribers.add(subscriber);
      const current = state;
      // The start is read after LISTEN is active: everything committed later is notified, everything
      // committed earlier is at or before the start (and so found by a readSince after `ready`).
      starts.push(
        this.#enqueue(current, async () => {
          await this.#listening;
          const start = await this.#lastSeq(topic);
          current.last ??= start;
          subscriber.start.set(topic, start);
        }),
      );
    }
    const unsubscribe = (): void => {
      for (const topic of unique) {
        const state = this.#topics.get(topic);
        state?.subscribers.delete(subscriber);
        if (state?.subscribers.size === 0) this.#topics.delete(topic);
      }
    };
    const ready = Promise.all(starts).then(() => undefined);
    // Callers that never await `ready` must not turn a failed start into an unhandled rejection.
    ready.catch(() => undefined);
    return Object.assign(unsubscribe, { ready });
  }

  async trim(olderThan: number): Promise<number> {
    this.#assertOpen();
    assertTime(olderThan);
    const result = await this.#pool.query('DELETE FROM bus_events WHERE at < $1', [olderThan]);
    return result.rowCount ?? 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    const chains = [...this.#topics.values()].map((state) => state.chain);
    this.#topics.clear();
    this.#markListening();
    await Promise.allSettled(chains);
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.#pool.end();
  }

  async #listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#options.connectionString, application_name: LISTENER_APPLICATION_NAME });
    client.on('notification', (message) => this.#onNotification(message.payload));
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, new Error('the bus listener connection ended')));
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#listener = client;
    this.#reconnectDelay = this.#options.reconnectDelayMs ?? 100;
    this.#markListening();
    // Whatever was published while we were not listening is read now.
    for (const [topic, state] of this.#topics) this.#catchUp(topic, state);
  }

  #lost(client: pg.Client, error: unknown): void {
    if (this.#closed || this.#listener !== client) return;
    this.#listener = undefined;
    this.#onError(error);
    this.#listening = new Promise((resolve) => (this.#markListening = resolve));
    client.end().catch(() => undefined);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    const delay = this.#reconnectDelay;
    this.#reconnectDelay = Math.min(delay * 2, 5_000);
    this.#reconnectTimer = setTimeout(() => {
      this.#listen().catch((error: unknown) => {
        this.#onError(error);
        this.#scheduleReconnect();
      });
    }, delay);
  }

  #onNotification(payload: string | undefined): void {
    let message: { t?: unknown; s?: unknown };
    try {
      message = JSON.parse(payload ?? '') as { t?: unknown; s?: unknown };
    } catch {
      return;
    }
    if (typeof message.t !== 'string') return;
    const state = this.#topics.get(message.t);
    if (state === undefined) return;
    if (typeof message.s === 'string' && state.last !== undefined && Number(message.s) <= state.last) return;
    this.#catchUp(message.t, state);
  }

  /** Reads and delivers everything after the topic's last delivered cursor. */
  #catchUp(topic: string, state: TopicState): void {
    void this.#enqueue(state, async () => {
      if (state.last === undefined) return;
      for (;;) {
        if (this.#topics.get(topic) !== state) return;
        const batch = await this.#read(topic, state.last, MAX_READ_LIMIT);
        for (const event of batch) {
          const seq = Number(event.cursor);
          state.last = seq;
          for (const subscriber of [...state.subscribers]) {
            const start = subscriber.start.get(topic);
            if (start === undefined || seq <= start) continue;
            try {
              subscriber.handler(event);
            } catch (error) {
              this.#onError(error);
            }
          }
        }
        if (batch.length < MAX_READ_LIMIT) return;
      }
    }).catch((error: unknown) => this.#onError(error));
  }

  #enqueue(state: TopicState, work: () => Promise<void>): Promise<void> {
    const run = state.chain.then(work);
    state.chain = run.catch(() => undefined);
    return run;
  }

  async #read(topic: string, after: number, limit: number): Promise<BusEvent[]> {
    const { rows } = await this.#pool.query<EventRow>(
      'SELECT topic, seq::text AS seq, type, data, at::text AS at FROM bus_events WHERE topic = $1 AND bus_events.seq > $2 ORDER BY bus_events.seq LIMIT $3',
      [topic, after, limit],
    );
    return rows.map(toEvent);
  }

  async #lastSeq(topic: string): Promise<number> {
    const { rows } = await this.#pool.query<{ last_seq: string }>('SELECT last_seq::text AS last_seq FROM bus_topics WHERE topic = $1', [topic]);
    return rows[0] === undefined ? 0 : Number(rows[0].last_seq);
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('the event bus is closed');
  }
}
