import Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BusEvent } from '../../../src/storage/bus/event-bus.js';
import { LocalEventBus } from '../../../src/storage/bus/local-event-bus.js';
import { eventBusContract, testClock } from './event-bus.contract.js';

eventBusContract('in-process with SQLite', async (clock) => {
  const dir = await mkdtemp(join(tmpdir(), 'burrow-bus-'));
  const file = join(dir, 'burrow.db');
  const bus = new LocalEventBus({ database: file, now: clock.now });
  return {
    bus,
    openAnother: async () => new LocalEventBus({ database: file, now: clock.now }),
    liveAcrossBuses: false,
    cleanup: async () => {
      await bus.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('in-process event bus', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('keeps its log in a database handle it was given, and leaves that handle open on close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'burrow-bus-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const db = new Database(join(dir, 'shared.db'));
    cleanups.push(async () => void db.close());
    const bus = new LocalEventBus({ database: db, now: testClock().now });
    await bus.publish('family:a', 'message', { id: 'm1' });
    await bus.close();
    expect(db.prepare('SELECT topic, seq, type, data FROM bus_events').all()).toEqual([
      { topic: 'family:a', seq: 1, type: 'message', data: '{"id":"m1"}' },
    ]);
  });

  it('a handler that publishes sees events in publish order, as does every other subscriber', async () => {
    const bus = new LocalEventBus({ database: ':memory:' });
    cleanups.push(() => bus.close());
    const first: BusEvent[] = [];
    const second: BusEvent[] = [];
    bus.subscribe(['family:a'], (event) => {
      first.push(event);
      if (event.type === 'message') void bus.publish('family:a', 'receipt', { of: event.cursor });
    });
    bus.subscribe(['family:a'], (event) => second.push(event));
    await bus.publish('family:a', 'message', {});
    expect(first.map((event) => event.cursor)).toEqual(['1', '2']);
    expect(second.map((event) => event.cursor)).toEqual(['1', '2']);
  });

  it('a closed bus refuses work', async () => {
    const bus = new LocalEventBus({ database: ':memory:' });
    await bus.close();
    await expect(bus.publish('family:a', 'message', {})).rejects.toThrow(/closed/);
  });

  async function fileBus(): Promise<{ file: string; bus: LocalEventBus }> {
    const dir = await mkdtemp(join(tmpdir(), 'burrow-bus-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'events.db');
    const bus = new LocalEventBus({ database: file, now: testClock().now });
    cleanups.push(() => bus.close());
    return { file, bus };
  }

  /** Another connection to the bus's file, as another process would hold one. */
  function otherConnection(file: string): Database.Database {
    const db = new Database(file);
    cleanups.push(async () => void db.close());
    return db;
  }

  it('many publishes to one topic at once get distinct cursors in the order they were made, and are delivered in that order', async () => {
    const { bus } = await fileBus();
    const seen: BusEvent[] = [];
    bus.subscribe(['family:a'], (event) => seen.push(event));
    const first = await Promise.all(Array.from({ length: 300 }, (_, i) => bus.publish('family:a', 'message', { i })));
    // A second wave spread over several turns of the event loop, so writes keep arriving while a group is in flight.
    const second: Array<Promise<BusEvent>> = [];
    for (let i = 300; i < 600; i++) {
      second.push(bus.publish('family:a', 'message', { i }));
      if (i % 37 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const published = [...first, ...(await Promise.all(second))];
    expect(published.map((event) => event.cursor)).toEqual(Array.from({ length: 600 }, (_, i) => String(i + 1)));
    expect(published.map((event) => event.data)).toEqual(Array.from({ length: 600 }, (_, i) => ({ i })));
    expect(seen).toEqual(published);
    expect(await bus.readSince('family:a', '550', 1000)).toEqual(published.slice(550));
  });

  it('a group the log rolls back fails exactly the publishes it carried, and nothing is delivered for them', async () => {
    const { file, bus } = await fileBus();
    const before = await bus.publish('family:a', 'message', { n: 'before' });
    // A trigger that rolls back the whole transaction an event of type "refused" is appended in.
    otherConnection(file).exec(`CREATE TRIGGER refuse BEFORE INSERT ON bus_events WHEN NEW.type = 'refused'
      BEGIN SELECT RAISE(ROLLBACK, 'refused by the test'); END`);
    const seen: BusEvent[] = [];
    bus.subscribe(['family:a', 'family:b'], (event) => seen.push(event));
    // Published in one turn: one group, one transaction.
    const group = [
      bus.publish('family:a', 'message', { n: 1 }),
      bus.publish('family:b', 'refused', { n: 2 }),
      bus.publish('family:a', 'message', { n: 3 }),
    ];
    const outcomes = await Promise.allSettled(group);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(String((outcomes[0] as PromiseRejectedResult).reason)).toMatch(/refused by the test/);
    const after = await bus.publish('family:a', 'message', { n: 'after' });
    expect([before.cursor, after.cursor]).toEqual(['1', '2']);
    expect(seen).toEqual([after]);
    expect(await bus.readSince('family:a', undefined, 10)).toEqual([before, after]);
    expect(await bus.readSince('family:b', undefined, 10)).toEqual([]);
  });

  it('an append that fails alone fails only its own publish, and the others in its group commit', async () => {
    const { file, bus } = await fileBus();
    otherConnection(file).exec(`CREATE TRIGGER refuse BEFORE INSERT ON bus_events WHEN NEW.type = 'refused'
      BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
    const seen: BusEvent[] = [];
    bus.subscribe(['family:a'], (event) => seen.push(event));
    const outcomes = await Promise.allSettled([
      bus.publish('family:a', 'message', { n: 1 }),
      bus.publish('family:a', 'refused', { n: 2 }),
      bus.publish('family:a', 'message', { n: 3 }),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const committed = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    expect(committed.map((event) => event.cursor)).toEqual(['1', '2']);
    expect(seen).toEqual(committed);
    expect(await bus.readSince('family:a', undefined, 10)).toEqual(committed);
  });

  it('every publish that resolved, also while close() ran, is in the log when the file is opened again', async () => {
    const { file, bus } = await fileBus();
    const inFlight = Array.from({ length: 100 }, (_, i) => bus.publish(`family:${i % 3}`, 'message', { i }));
    const closing = bus.close();
    await expect(bus.publish('family:0', 'message', {})).rejects.toThrow(/closed/);
    const outcomes = await Promise.allSettled(inFlight);
    await closing;
    const resolved = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    expect(resolved).toHaveLength(100);
    const reopened = new LocalEventBus({ database: file });
    cleanups.push(() => reopened.close());
    const logged = [
      ...(await reopened.readSince('family:0', undefined, 1000)),
      ...(await reopened.readSince('family:1', undefined, 1000)),
      ...(await reopened.readSince('family:2', undefined, 1000)),
    ];
    expect(logged).toEqual(expect.arrayContaining(resolved));
    expect(logged).toHaveLength(100);
  });

  it('the append waits for the log on another thread: this thread runs on while another connection holds the write lock', async () => {
    const { file, bus } = await fileBus();
    await bus.publish('family:a', 'message', { n: 0 });
    const holder = otherConnection(file);
    holder.exec('BEGIN IMMEDIATE');
    let settled = false;
    const publishing = bus.publish('family:a', 'message', { n: 1 }).finally(() => (settled = true));
    // Were the append run on this thread, it would block it here until SQLite's busy timeout
    // gave up, and the publish would fail with SQLITE_BUSY: the lock is released only below.
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(settled).toBe(false);
    expect((await bus.readSince('family:a', undefined, 10)).map((event) => event.cursor)).toEqual(['1']);
    holder.exec('COMMIT');
    expect((await publishing).cursor).toBe('2');
  });
});
