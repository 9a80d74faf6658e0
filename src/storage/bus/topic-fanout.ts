/**
 * One bus subscription per topic per node, shared by every follower of that topic on the node (a
 * node's live connections, above all: thousands of them follow a few hundred topics, mostly idle).
 *
 * Resuming without loss, for each follower (a `TopicSink`): it joins the topic's shared
 * subscription first (awaiting its `ready`), then its backlog after its cursor is read from the
 * log, while the live events that come meanwhile are held for it; then the held events are handed
 * over, and from then on the live ones as they come. Every event the sink is handed is past the
 * last one it was handed (its floor), so an event both read from the log and heard live at the
 * seam is handed over once: each sink gets each event once and in cursor order per topic.
 *
 * What a sink costs while it follows a topic: one entry (the sink and its floor, a small integer)
 * in the topic's table — no closure, subscription, timer or buffer of its own. The held events of a
 * sink exist only while its backlog is read.
 */
import { assertTopic, cursorSeq, MAX_READ_LIMIT, type BusEvent, type EventBus, type FollowFrom, type Subscription } from './event-bus.js';

/** Receives the events of the topics it follows through a `TopicFanout`: one object per follower, not a closure per topic. */
export interface TopicSink {
  /** Called synchronously, once per event, in cursor order per topic; a sink with asynchronous work queues it itself. */
  receiveTopicEvent(event: BusEvent): void;
}

/** A follower whose backlog is being read: its floor so far, and the live events held for it. */
interface Joining {
  last: number;
  held: BusEvent[];
}

interface SharedTopic {
  readonly topic: string;
  readonly subscription: Subscription;
  /** Followers handed every live event past their floor (the last cursor of their backlog). */
  readonly sinks: Map<TopicSink, number>;
  /** Followers still reading their backlog; allocated only while there are any. */
  joining: Map<TopicSink, Joining> | undefined;
}

export interface TopicFanoutOptions {
  /** Told about a sink that threw; the event still reaches every other sink. */
  onSinkError?: (error: unknown) => void;
}

/** Shares one bus subscription per topic among the followers of a node; see the module comment. */
export class TopicFanout {
  readonly #bus: EventBus;
  readonly #onSinkError: (error: unknown) => void;
  readonly #topics = new Map<string, SharedTopic>();

  constructor(bus: EventBus, options: TopicFanoutOptions = {}) {
    this.#bus = bus;
    this.#onSinkError = options.onSinkError ?? (() => undefined);
  }

  /** How many topics have a shared subscription now (for tests and metrics). */
  get topicCount(): number {
    return this.#topics.size;
  }

  /** How many followers `topic` has on this node, joined or still reading their backlog. */
  followersOf(topic: string): number {
    const shared = this.#topics.get(topic);
    return shared === undefined ? 0 : shared.sinks.size + (shared.joining?.size ?? 0);
  }

  /** Whether `sink` follows `topic` (or is still reading its backlog). */
  follows(topic: string, sink: TopicSink): boolean {
    const shared = this.#topics.get(topic);
    return shared !== undefined && (shared.sinks.has(sink) || shared.joining?.has(sink) === true);
  }

  /**
   * Starts handing `sink` the events of `topic` from `from`: after a cursor, from the oldest kept
   * event (undefined), or those published from now on ('live'). Resolves once its backlog has
   * been handed over; rejects (and leaves the sink not following) when the bus fails. A topic the
   * sink already follows is left as it is.
   */
  async follow(topic: string, sink: TopicSink, from: FollowFrom): Promise<void> {
    assertTopic(topic);
    const floor = from === 'live' ? 0 : cursorSeq(from);
    if (this.follows(topic, sink)) return;
    const shared = this.#topics.get(topic) ?? this.#share(topic);
    const entry: Joining = { last: floor, held: [] };
    (shared.joining ??= new Map()).set(sink, entry);
    const current = (): boolean => this.#topics.get(topic) === shared && shared.joining?.get(sink) === entry;
    try {
      await shared.subscription.ready;
      if (from !== 'live') {
        for (;;) {
          if (!current()) return;
          const batch = await this.#bus.readSince(topic, String(entry.last), MAX_READ_LIMIT);
          if (!current()) return;
          for (const event of batch) this.#handOver(sink, entry, event);
          if (batch.length < MAX_READ_LIMIT) break;
        }
      }
      if (!current()) return;
      // From here to the switch nothing awaits, so no live event can fall between them.
      for (const event of entry.held) this.#handOver(sink, entry, event);
      if (!current()) return;
      shared.joining!.delete(sink);
      if (shared.joining!.size === 0) shared.joining = undefined;
      shared.sinks.set(sink, entry.last);
    } catch (error) {
      if (current()) this.unfollow(topic, sink);
      throw error;
    }
  }

  /** Stops handing `sink` the events of `topic`; the topic's subscription ends with its last follower. */
  unfollow(topic: string, sink: TopicSink): void {
    const shared = this.#topics.get(topic);
    if (shared === undefined) return;
    shared.sinks.delete(sink);
    if (shared.joining?.delete(sink) === true && shared.joining.size === 0) shared.joining = undefined;
    if (shared.sinks.size === 0 && shared.joining === undefined) {
      this.#topics.delete(topic);
      shared.subscription();
    }
  }

  /** Ends every shared subscription (the followers are dropped). */
  close(): void {
    for (const shared of this.#topics.values()) shared.subscription();
    this.#topics.clear();
  }

  #share(topic: string): SharedTopic {
    // The handler runs only after `subscribe` has returned (it is called for events published later).
    const subscription = this.#bus.subscribe([topic], (event) => this.#dispatch(shared, event));
    const shared: SharedTopic = { topic, subscription, sinks: new Map(), joining: undefined };
    this.#topics.set(topic, shared);
    return shared;
  }

  /** One live event of a shared topic: handed to the joined sinks past their floor, held for the joining ones. */
  #dispatch(shared: SharedTopic, event: BusEvent): void {
    if (this.#topics.get(shared.topic) !== shared) return;
    const seq = cursorSeq(event.cursor);
    for (const [sink, floor] of shared.sinks) {
      if (seq <= floor) continue;
      try {
        sink.receiveTopicEvent(event);
      } catch (error) {
        this.#onSinkError(error);
      }
    }
    if (shared.joining !== undefined) for (const entry of shared.joining.values()) entry.held.push(event);
  }

  #handOver(sink: TopicSink, entry: Joining, event: BusEvent): void {
    const seq = cursorSeq(event.cursor);
    if (seq <= entry.last) return;
    entry.last = seq;
    try {
      sink.receiveTopicEvent(event);
    } catch (error) {
      this.#onSinkError(error);
    }
  }
}

/** Topics followed by one subscriber, each resumed from its own cursor. */
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
 * One subscriber's topics over a fan-out of its own (a `TopicFanout` with one sink): each event
 * handed over once and in cursor order per topic, with no gap at the seam between log and live.
 * `handler` is called synchronously; a caller with asynchronous work queues it itself, in call
 * order. Many followers on one node share a `TopicFanout` instead.
 */
export function createTopicFollower(bus: EventBus, handler: (event: BusEvent) => void): TopicFollower {
  const fanout = new TopicFanout(bus);
  const sink: TopicSink = { receiveTopicEvent: handler };
  let stopped = false;
  return {
    async follow(topic, from) {
      assertTopic(topic);
      if (stopped) throw new Error('the follower is stopped');
      await fanout.follow(topic, sink, from);
    },
    unfollow(topic) {
      fanout.unfollow(topic, sink);
    },
    stop() {
      stopped = true;
      fanout.close();
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
