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
});
