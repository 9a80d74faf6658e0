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
 * Resuming without loss (what `TopicFanout` in topic-fanout.ts does, the one loop for it): subscribe
 * first and await `ready`, then `readSince` the client's cursor, then deliver live events; a live
 * event whose cursor is not past the last one delivered is a duplicate from the seam and is dropped.
 * Delivery is at-least-once across reconnects; clients dedupe by cursor (or by the ids in `data`).
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
