/**
 * The event-bus port's contract: every adapter runs exactly these tests (DESIGN.md §3).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BusEvent, EventBus } from '../../../src/storage/bus/event-bus.js';
import { createTopicFollower, followTopics, TopicFanout, type TopicSink } from '../../../src/storage/bus/topic-fanout.js';

export interface EventBusHarness {
  bus: EventBus;
  /** Another bus over the same storage: a second server node, or this one after a restart. */
  openAnother(): Promise<EventBus>;
  /** Whether events published on one bus reach subscribers of another (several nodes). */
  liveAcrossBuses: boolean;
  cleanup(): Promise<void>;
}

/** A clock the test moves by hand, so no test depends on the wall clock. */
export interface TestClock {
  now: () => number;
  set(ms: number): void;
}

export function testClock(start = 1_700_000_000_000): TestClock {
  let current = start;
  return { now: () => current, set: (ms) => (current = ms) };
}

/** Polls until `condition` holds; live delivery is asynchronous on some adapters. */
export async function eventually(condition: () => boolean, what: string, attempts = 500): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`never happened: ${what}`);
}

/** Lets any delivery that is under way finish, so a test can check that nothing more arrives. */
async function settle(bus: EventBus, topic: string): Promise<void> {
  // A marker published after the events in question arrives after them (per-topic order).
  const seen: BusEvent[] = [];
  const stop = bus.subscribe([topic], (event) => seen.push(event));
  await stop.ready;
  await bus.publish(topic, 'marker', {});
  await eventually(() => seen.some((event) => event.type === 'marker'), 'the marker arrives');
  stop();
}

/** The real bus, counting the subscriptions open on it per topic (to see what a fan-out shares). */
function countingSubscriptions(bus: EventBus): { bus: EventBus; open: (topic: string) => number } {
  const open = new Map<string, number>();
  const counted: EventBus = {
    publish: (topic, type, data) => bus.publish(topic, type, data),
    readSince: (topic, cursor, limit) => bus.readSince(topic, cursor, limit),
    trim: (olderThan) => bus.trim(olderThan),
    close: () => bus.close(),
    subscribe(topics, handler) {
      for (const topic of topics) open.set(topic, (open.get(topic) ?? 0) + 1);
      const subscription = bus.subscribe(topics, handler);
      let ended = false;
      const end = (): void => {
        if (!ended) for (const topic of topics) open.set(topic, (open.get(topic) ?? 0) - 1);
        ended = true;
        subscription();
      };
      return Object.assign(end, { ready: subscription.ready });
    },
  };
  return { bus: counted, open: (topic) => open.get(topic) ?? 0 };
}

/** A follower of a fan-out that records what it is handed. */
function recordingSink(): TopicSink & { seen: BusEvent[] } {
  const seen: BusEvent[] = [];
  // The markers `settle` publishes are left out.
  return { seen, receiveTopicEvent: (event) => void (event.type === 'marker' || seen.push(event)) };
}

function seqs(events: BusEvent[]): number[] {
  return events.map((event) => Number(event.cursor));
}

export function eventBusContract(adapter: string, setup: (clock: TestClock) => Promise<EventBusHarness>): void {
  describe(`event bus contract: ${adapter}`, () => {
    let harness: EventBusHarness;
    let bus: EventBus;
    let clock: TestClock;
    const extra: EventBus[] = [];

    beforeEach(async () => {
      clock = testClock();
      harness = await setup(clock);
      bus = harness.bus;
    });
    afterEach(async () => {
      for (const other of extra.splice(0)) await other.close();
      await harness?.cleanup();
    });

    async function another(): Promise<EventBus> {
      const other = await harness.openAnother();
      extra.push(other);
      return other;
    }

    it('a subscriber receives events of its topics published after it subscribed, and no others', async () => {
      await bus.publish('family:a', 'message', { id: 'before' });
      const seen: BusEvent[] = [];
      const stop = bus.subscribe(['family:a', 'account:x'], (event) => seen.push(event));
      await stop.ready;
      const published = await bus.publish('family:a', 'message', { id: 'm1', size: 3 });
      await bus.publish('family:b', 'message', { id: 'elsewhere' });
      await bus.publish('account:x', 'receipt', { id: 'r1' });
      await eventually(() => seen.length === 2, 'two events arrive');
      await settle(bus, 'family:b');
      expect(seen).toEqual([published, expect.objectContaining({ topic: 'account:x', type: 'receipt', data: { id: 'r1' } })]);
      expect(published).toEqual({ topic: 'family:a', cursor: '2', type: 'message', data: { id: 'm1', size: 3 }, at: clock.now() });
      stop();
    });

    it('an unsubscribed handler hears nothing more', async () => {
      const seen: BusEvent[] = [];
      const stop = bus.subscribe(['family:a'], (event) => seen.push(event));
      await stop.ready;
      await bus.publish('family:a', 'message', { n: 1 });
      await eventually(() => seen.length === 1, 'the first event arrives');
      stop();
      await bus.publish('family:a', 'message', { n: 2 });
      await settle(bus, 'family:a');
      expect(seen.map((event) => event.data)).toEqual([{ n: 1 }]);
    });

    it('a handler that throws does not keep the event from other subscribers', async () => {
      const seen: BusEvent[] = [];
      const bad = bus.subscribe(['family:a'], () => {
        throw new Error('broken connection');
      });
      const good = bus.subscribe(['family:a'], (event) => seen.push(event));
      await Promise.all([bad.ready, good.ready]);
      await bus.publish('family:a', 'message', { n: 1 });
      await bus.publish('family:a', 'message', { n: 2 });
      await eventually(() => seen.length === 2, 'both events arrive');
      bad();
      good();
    });

    it('cursors of a topic count up from 1 in publish order, independently per topic', async () => {
      const a1 = await bus.publish('family:a', 'message', {});
      const b1 = await bus.publish('family:b', 'message', {});
      const a2 = await bus.publish('family:a', 'receipt', {});
      expect([a1.cursor, b1.cursor, a2.cursor]).toEqual(['1', '1', '2']);
    });

    it('readSince returns exactly the events after a cursor, oldest first, within the limit', async () => {
      const published: BusEvent[] = [];
      for (let i = 0; i < 25; i++) published.push(await bus.publish('family:a', 'message', { i }));
      await bus.publish('family:b', 'message', { other: true });
      expect(await bus.readSince('family:a', undefined, 1000)).toEqual(published);
      expect(await bus.readSince('family:a', '10', 1000)).toEqual(published.slice(10));
      expect(await bus.readSince('family:a', '10', 5)).toEqual(published.slice(10, 15));
      expect(await bus.readSince('family:a', '25', 1000)).toEqual([]);
      expect(await bus.readSince('family:a', '0', 3)).toEqual(published.slice(0, 3));
      expect(await bus.readSince('family:none', undefined, 10)).toEqual([]);
    });

    it('events round-trip their JSON data and timestamps', async () => {
      const data = { id: 'msg_1', ids: ['a', 'b'], count: 2, nested: { ok: true, none: null } };
      clock.set(1_800_000_000_123);
      await bus.publish('family:a', 'message', data);
      const [event] = await bus.readSince('family:a', undefined, 10);
      expect(event).toEqual({ topic: 'family:a', cursor: '1', type: 'message', data, at: 1_800_000_000_123 });
    });

    it('concurrent publishers on one topic produce cursors without gaps or duplicates, delivered in order', async () => {
      const other = await another();
      const seen: BusEvent[] = [];
      const stop = bus.subscribe(['family:a'], (event) => seen.push(event));
      await stop.ready;
      const published = await Promise.all(
        Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? bus : other).publish('family:a', 'message', { i })),
      );
      const expected = Array.from({ length: 60 }, (_, i) => i + 1);
      expect(seqs(published).sort((x, y) => x - y)).toEqual(expected);
      expect(seqs(await bus.readSince('family:a', undefined, 1000))).toEqual(expected);
      if (harness.liveAcrossBuses) {
        await eventually(() => seen.length === 60, 'all 60 events arrive');
        expect(seqs(seen)).toEqual(expected);
      } else {
        await eventually(() => seen.length === 30, 'this bus’s 30 events arrive');
        expect(seqs(seen)).toEqual([...seqs(seen)].sort((x, y) => x - y));
      }
      stop();
    });

    it('a client resuming from its cursor gets every later event exactly once, across the switch to live', async () => {
      for (let i = 1; i <= 5; i++) await bus.publish('family:a', 'message', { i });
      const seen: BusEvent[] = [];
      const publishing = (async () => {
        for (let i = 6; i <= 40; i++) await bus.publish('family:a', 'message', { i });
      })();
      const stop = await followTopics(bus, { 'family:a': '2', 'account:x': undefined }, (event) => seen.push(event));
      await publishing;
      await bus.publish('account:x', 'roster', { epoch: 1 });
      await eventually(() => seen.length === 39, 'events 3–40 and the roster event arrive');
      expect(seen.filter((event) => event.topic === 'family:a').map((event) => event.data)).toEqual(
        Array.from({ length: 38 }, (_, i) => ({ i: i + 3 })),
      );
      stop();
    });

    it('a follower follows one topic live only, another from its cursor, and one dropped and followed again from its oldest event', async () => {
      await bus.publish('family:a', 'message', { n: 1 });
      await bus.publish('family:b', 'message', { n: 1 });
      await bus.publish('family:b', 'message', { n: 2 });
      const seen: BusEvent[] = [];
      const follower = createTopicFollower(bus, (event) => seen.push(event));
      await follower.follow('family:a', 'live');
      await follower.follow('family:b', '1');
      await follower.follow('family:b', undefined);
      await bus.publish('family:a', 'message', { n: 2 });
      await eventually(() => seen.length === 2, 'b’s event after its cursor and a’s live event');
      expect(seen.map((event) => `${event.topic}/${event.cursor}`)).toEqual(['family:b/2', 'family:a/2']);
      follower.unfollow('family:b');
      await bus.publish('family:b', 'message', { n: 3 });
      await follower.follow('family:b', undefined);
      expect(seen.slice(2).map((event) => `${event.topic}/${event.cursor}`)).toEqual(['family:b/1', 'family:b/2', 'family:b/3']);
      follower.stop();
      await bus.publish('family:a', 'message', { n: 3 });
      await settle(bus, 'family:a');
      expect(seen).toHaveLength(5);
    });

    it('followers of one topic share one subscription; when one leaves, the others still get every event', async () => {
      const counting = countingSubscriptions(bus);
      const fanout = new TopicFanout(counting.bus);
      const [a, b, c] = [recordingSink(), recordingSink(), recordingSink()];
      await fanout.follow('family:a', a, 'live');
      await fanout.follow('family:a', b, 'live');
      await fanout.follow('family:a', c, 'live');
      expect(counting.open('family:a')).toBe(1);
      expect(fanout.followersOf('family:a')).toBe(3);
      await bus.publish('family:a', 'message', { n: 1 });
      await eventually(() => a.seen.length === 1 && b.seen.length === 1 && c.seen.length === 1, 'all three hear event 1');
      fanout.unfollow('family:a', b);
      await bus.publish('family:a', 'message', { n: 2 });
      await eventually(() => a.seen.length === 2 && c.seen.length === 2, 'the two left hear event 2');
      await settle(bus, 'family:a');
      expect(seqs(a.seen)).toEqual([1, 2]);
      expect(seqs(b.seen)).toEqual([1]);
      expect(seqs(c.seen)).toEqual([1, 2]);
      fanout.unfollow('family:a', a);
      fanout.unfollow('family:a', c);
      expect(counting.open('family:a')).toBe(0);
      expect(fanout.topicCount).toBe(0);
    });

    it('a follower resuming after a missed event gets it from the log once, while one already following gets nothing twice', async () => {
      const fanout = new TopicFanout(bus);
      const steady = recordingSink();
      await fanout.follow('family:a', steady, 'live');
      await bus.publish('family:a', 'message', { n: 1 });
      await bus.publish('family:a', 'message', { n: 2 });
      await bus.publish('family:a', 'message', { n: 3 });
      await eventually(() => steady.seen.length === 3, 'the steady follower hears 1–3');
      // A connection that saw event 1 and missed 2 and 3 (it was away) comes back with cursor 1.
      const back = recordingSink();
      await fanout.follow('family:a', back, '1');
      expect(seqs(back.seen)).toEqual([2, 3]);
      await bus.publish('family:a', 'message', { n: 4 });
      await eventually(() => back.seen.length === 3 && steady.seen.length === 4, 'both hear event 4');
      await settle(bus, 'family:a');
      expect(seqs(back.seen)).toEqual([2, 3, 4]);
      expect(seqs(steady.seen)).toEqual([1, 2, 3, 4]);
      fanout.close();
    });

    it('followers joining a shared topic while it is being published to each get every later event once, in order', async () => {
      const fanout = new TopicFanout(bus);
      for (let i = 1; i <= 5; i++) await bus.publish('family:a', 'message', { i });
      const first = recordingSink();
      await fanout.follow('family:a', first, '5');
      const publishing = (async () => {
        for (let i = 6; i <= 60; i++) await bus.publish('family:a', 'message', { i });
      })();
      const joiners = Array.from({ length: 6 }, () => recordingSink());
      await Promise.all(joiners.map((sink, k) => fanout.follow('family:a', sink, String(k))));
      await publishing;
      await eventually(() => first.seen.length === 55 && joiners.every((sink, k) => sink.seen.length === 60 - k), 'every follower catches up');
      await settle(bus, 'family:a');
      expect(seqs(first.seen)).toEqual(Array.from({ length: 55 }, (_, i) => i + 6));
      joiners.forEach((sink, k) => expect(seqs(sink.seen)).toEqual(Array.from({ length: 60 - k }, (_, i) => i + k + 1)));
      fanout.close();
    });

    it('a follower that leaves while its backlog is read is handed nothing more, and a throwing follower does not stop the others', async () => {
      const fanout = new TopicFanout(bus, { onSinkError: () => undefined });
      for (let i = 1; i <= 3; i++) await bus.publish('family:a', 'message', { i });
      const leaving = recordingSink();
      const joining = fanout.follow('family:a', leaving, undefined);
      fanout.unfollow('family:a', leaving);
      await joining;
      const throwing: TopicSink = { receiveTopicEvent: () => { throw new Error('a broken follower'); } };
      const other = recordingSink();
      await fanout.follow('family:a', throwing, 'live');
      await fanout.follow('family:a', other, 'live');
      await bus.publish('family:a', 'message', { i: 4 });
      await eventually(() => other.seen.length === 1, 'the other follower hears event 4');
      await settle(bus, 'family:a');
      expect(leaving.seen).toEqual([]);
      expect(seqs(other.seen)).toEqual([4]);
      fanout.close();
    });

    it('the log outlives the bus: another bus on the same storage resumes where a client left off', async () => {
      const first = await bus.publish('family:a', 'message', { n: 1 });
      await bus.publish('family:a', 'message', { n: 2 });
      const other = await another();
      expect((await other.readSince('family:a', first.cursor, 10)).map((event) => event.data)).toEqual([{ n: 2 }]);
      const third = await other.publish('family:a', 'message', { n: 3 });
      expect(third.cursor).toBe('3');
    });

    it('trim drops events published before the cutoff, and cursors keep counting after it', async () => {
      clock.set(1_000);
      await bus.publish('family:a', 'message', { n: 1 });
      await bus.publish('family:b', 'message', { n: 1 });
      clock.set(2_000);
      await bus.publish('family:a', 'message', { n: 2 });
      expect(await bus.trim(1_500)).toBe(2);
      expect((await bus.readSince('family:a', undefined, 10)).map((event) => event.cursor)).toEqual(['2']);
      expect(await bus.readSince('family:b', undefined, 10)).toEqual([]);
      expect(await bus.trim(5_000)).toBe(1);
      expect((await bus.publish('family:a', 'message', { n: 3 })).cursor).toBe('3');
      expect((await bus.publish('family:b', 'message', { n: 2 })).cursor).toBe('2');
    });

    it('refuses malformed topics, types, cursors, limits and data', async () => {
      await expect(bus.publish('', 'message', {})).rejects.toBeInstanceOf(TypeError);
      await expect(bus.publish('family a', 'message', {})).rejects.toBeInstanceOf(TypeError);
      await expect(bus.publish('family:a', '', {})).rejects.toBeInstanceOf(TypeError);
      await expect(bus.publish('family:a', 'message', undefined)).rejects.toBeInstanceOf(TypeError);
      await expect(bus.publish('family:a', 'message', { blob: 'x'.repeat(5000) })).rejects.toBeInstanceOf(TypeError);
      await expect(bus.readSince('family:a', '-1', 10)).rejects.toBeInstanceOf(TypeError);
      await expect(bus.readSince('family:a', '1 OR 1=1', 10)).rejects.toBeInstanceOf(TypeError);
      await expect(bus.readSince('family:a', undefined, 0)).rejects.toBeInstanceOf(TypeError);
      await expect(bus.readSince('family:a', undefined, 1001)).rejects.toBeInstanceOf(TypeError);
      expect(() => bus.subscribe(['bad topic'], () => undefined)).toThrow(TypeError);
      expect(await bus.readSince('family:a', undefined, 10)).toEqual([]);
    });
  });
}
