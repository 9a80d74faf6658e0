/**
 * The event-bus port: live events (new message, receipt, roster change…) fanned out to every
 * connection that follows a topic, on every server node, with a durable per-topic log so a client
 * that reconnects resumes from its cursor and misses nothing. Adapters: in-process with the log in
 * SQLite (`LocalEventBus`) and PostgreSQL LISTEN/NOTIFY (`PgEventBus`).
 *
 * Cursors are per topic: the decimal string of a sequence number that starts at 1 and grows by one
 * with every event of that topic, assigned in commit order and never reused (not even after
 * `trim`). So "the events after cursor c" is exact.
 *
 * Resuming without loss (what `createTopicFollower` does, the one loop for it): subscribe first and
 * await `ready`, then `readSince` the client's cursor, then deliver live events; a live event whose
 * cursor is not past the last one delivered is a duplicate from the seam and is dropped. Delivery
 * is at-least-once across reconnects; clients dedupe by cursor (or by the ids in `data`).
 */

export interface BusEvent {
  /** What the event concerns, e.g. `family:<id>` or `account:<id>`. */
  topic: string;
  /** Position in the topic's log (see above). */
  cursor: string;
  /** e.g. `message`, `receipt`, `roster`. */
  type: string;
  /** Small JSON: ids and counts only, never a plaintext. */
  data: unknown;
  /** When it was published, ms since the epoch. */
  at: number;
}

/** Stops a subscription when called; `ready` resolves once every event published from then on will be delivered. */
export interface Subscription {
  (): void;
  readonly ready: Promise<void>;
}

export interface EventBus {
  /** Appends an event to its topic's log durably and notifies subscribers on every node; resolves with the stored event. */
  publish(topic: string, type: string, data: unknown): Promise<BusEvent>;
  /** Events of `topic` after `cursor` (all when undefined), oldest first, at most `limit`. */
  readSince(topic: string, cursor: string | undefined, limit: number): Promise<BusEvent[]>;
  /**
   * Calls `handler` for each event of `topics` published anywhere once `ready` has resolved, in
   * cursor order per topic. A throwing handler does not disturb other subscribers.
   */
  subscribe(topics: readonly string[], handler: (event: BusEvent) => void): Subscription;
  /** Deletes logged events published before `olderThan` (ms since the epoch); returns how many. */
  trim(olderThan: number): Promise<number>;
  close(): Promise<void>;
}

/** Largest `limit` of one `readSince`. */
export const MAX_READ_LIMIT = 1000;
/** Largest serialised `data` of one event: events carry ids, not content. */
export const MAX_DATA_BYTES = 4096;

const TOPIC_PATTERN = /^[A-Za-z0-9_.:-]{1,200}$/;
const TYPE_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
const CURSOR_PATTERN = /^(0|[1-9][0-9]{0,17})$/;

/** Throws a TypeError unless `topic` is a well-formed topic name. */
export function assertTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string' || !TOPIC_PATTERN.test(topic)) {
    throw new TypeError('topic must be 1–200 characters of letters, digits and _.:-');
  }
}

/** Throws a TypeError unless `type` is a well-formed event type. */
export function assertEventType(type: unknown): asserts type is string {
  if (typeof type !== 'string' || !TYPE_PATTERN.test(type)) {
    throw new TypeError('type must be 1–64 characters of letters, digits and _.:-');
  }
}

/** The sequence number of a cursor (0 for undefined); throws a TypeError for anything else. */
export function cursorSeq(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  if (typeof cursor !== 'string' || !CURSOR_PATTERN.test(cursor)) throw new TypeError('cursor must be a cursor this bus issued');
  return Number(cursor);
}

/** Negative, zero or positive as cursor `a` is before, at or after `b` (of the same topic). */
export function compareCursors(a: string, b: string): number {
  return cursorSeq(a) - cursorSeq(b);
}

/** Throws a TypeError unless `limit` is an integer from 1 to MAX_READ_LIMIT. */
export function assertLimit(limit: unknown): asserts limit is number {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_READ_LIMIT) {
    throw new TypeError(`limit must be an integer from 1 to ${MAX_READ_LIMIT}`);
  }
}

/** JSON of an event's data; throws a TypeError when it is not JSON or too large. */
export function encodeEventData(data: unknown): string {
  const json = JSON.stringify(data);
  if (typeof json !== 'string') throw new TypeError('data must be JSON-serialisable');
  if (new TextEncoder().encode(json).length > MAX_DATA_BYTES) throw new TypeError(`data must serialise to at most ${MAX_DATA_BYTES} bytes`);
  return json;
}

/** Throws a TypeError unless `olderThan` is a time. */
export function assertTime(olderThan: unknown): asserts olderThan is number {
  if (typeof olderThan !== 'number' || !Number.isFinite(olderThan)) throw new TypeError('olderThan must be ms since the epoch');
}

/** Where following a topic starts: after a cursor, from the oldest kept event (undefined), or with events published from now on ('live'). */
export type FollowFrom = string | undefined | 'live';

/** Topics followed by one subscriber, each resumed from its own cursor; see `followTopic`. */
export interface TopicFollower {
  /**
   * Starts following `topic` from `from`: subscribes and awaits `ready` first, then hands over the
   * logged events after the cursor (none for 'live'), then the live events held meanwhile, then
   * live events as they come. Resolves once the backlog has been handed over. A topic already
   * followed is left as it is.
   */
  follow(topic: string, from: FollowFrom): Promise<void>;
  /** Stops following `topic`; following it again starts afresh from the cursor then given. */
  unfollow(topic: string): void;
  /** Stops following every topic. */
  stop(): void;
}

/**
 * The one loop that resumes and follows topics (live connections use it, and `followTopics`).
 * Cursor semantics: for each topic the follower keeps the last cursor handed over; an event whose
 * cursor is not past it is a duplicate from the seam between log and live and is dropped, so each
 * event is handed over once and in cursor order per topic, with no gap at the seam. `handler` is
 * called synchronously; a caller with asynchronous work queues it itself, in call order.
 */
export function createTopicFollower(bus: EventBus, handler: (event: BusEvent) => void): TopicFollower {
  interface Followed {
    /** The last cursor handed over (the resume cursor at first). */
    last: number;
    /** Live events that came while the backlog was read; undefined once it has been. */
    held: BusEvent[] | undefined;
    unsubscribe: () => void;
  }
  const followed = new Map<string, Followed>();
  let stopped = false;
  const deliver = (state: Followed, event: BusEvent): void => {
    const seq = cursorSeq(event.cursor);
    if (seq <= state.last) return;
    state.last = seq;
    handler(event);
  };
  const unfollow = (topic: string): void => {
    followed.get(topic)?.unsubscribe();
    followed.delete(topic);
  };
  return {
    async follow(topic, from) {
      assertTopic(topic);
      if (stopped) throw new Error('the follower is stopped');
      if (followed.has(topic)) return;
      const state: Followed = { last: from === 'live' ? 0 : cursorSeq(from), held: [], unsubscribe: () => undefined };
      const current = (): boolean => followed.get(topic) === state;
      const subscription = bus.subscribe([topic], (event) => {
        if (!current()) return;
        if (state.held === undefined) deliver(state, event);
        else state.held.push(event);
      });
      state.unsubscribe = subscription;
      followed.set(topic, state);
      try {
        await subscription.ready;
        if (from !== 'live') {
          for (;;) {
            if (!current()) return;
            const batch = await bus.readSince(topic, String(state.last), MAX_READ_LIMIT);
            for (const event of batch) if (current()) deliver(state, event);
            if (batch.length < MAX_READ_LIMIT) break;
          }
        }
        const held = state.held ?? [];
        state.held = undefined;
        for (const event of held) if (current()) deliver(state, event);
      } catch (error) {
        if (current()) unfollow(topic);
        throw error;
      }
    },
    unfollow,
    stop() {
      stopped = true;
      for (const topic of [...followed.keys()]) unfollow(topic);
    },
  };
}

/**
 * Delivers every event of the given topics after the given cursors, then live events, each once
 * and in cursor order per topic (a `TopicFollower` over a fixed set of topics). Resolves once the
 * backlog has been delivered; call the result to stop.
 */
export async function followTopics(
  bus: EventBus,
  cursors: Readonly<Record<string, string | undefined>>,
  handler: (event: BusEvent) => void,
): Promise<() => void> {
  const topics = Object.keys(cursors);
  for (const topic of topics) assertTopic(topic);
  for (const topic of topics) cursorSeq(cursors[topic]);
  const follower = createTopicFollower(bus, handler);
  try {
    for (const topic of topics) await follower.follow(topic, cursors[topic]);
  } catch (error) {
    follower.stop();
    throw error;
  }
  return () => follower.stop();
}
