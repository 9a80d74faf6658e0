import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, toHex } from '../../../src/crypto/bytes.js';
import type { BusEvent } from '../../../src/storage/bus/event-bus.js';
import { followTopics } from '../../../src/storage/bus/topic-fanout.js';
import { LISTENER_APPLICATION_NAME, openPgEventBus, type PgEventBus } from '../../../src/storage/bus/pg-event-bus.js';
import { eventBusContract, eventually, testClock } from './event-bus.contract.js';
import { ADMIN_URL, admin, createTestDatabase, withDatabase } from '../../support/postgres.js';

/** Each test file makes its own databases (test/support/postgres.ts) and drops them when it ends. */
const created: Array<{ drop(): Promise<void> }> = [];
const runId = toHex(randomBytes(4));

async function createDatabase(): Promise<string> {
  const database = await createTestDatabase();
  created.push(database);
  return database.url;
}

afterAll(async () => {
  for (const database of created) await database.drop();
});

let contractDatabase: Promise<string> | undefined;

/** One database for the contract tests, emptied before each (creating and dropping databases is slow). */
async function emptyContractDatabase(): Promise<string> {
  contractDatabase ??= createDatabase();
  const url = await contractDatabase;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DO $$ BEGIN
      IF to_regclass('bus_events') IS NOT NULL THEN TRUNCATE bus_events, bus_topics; END IF;
    END $$`);
  } finally {
    await client.end();
  }
  return url;
}

eventBusContract('PostgreSQL LISTEN/NOTIFY', async (clock) => {
  const url = await emptyContractDatabase();
  const bus = await openPgEventBus({ connectionString: url, now: clock.now });
  return {
    bus,
    openAnother: () => openPgEventBus({ connectionString: url, now: clock.now }),
    liveAcrossBuses: true,
    cleanup: () => bus.close(),
  };
});

describe('PostgreSQL event bus', () => {
  let url: string;
  const buses: PgEventBus[] = [];
  beforeAll(async () => {
    url = await createDatabase();
  });
  afterEach(async () => {
    for (const bus of buses.splice(0)) await bus.close();
  });

  async function node(): Promise<PgEventBus> {
    const bus = await openPgEventBus({ connectionString: url, now: testClock().now, reconnectDelayMs: 20 });
    buses.push(bus);
    return bus;
  }

  it('an event published on one node reaches the subscribers of every node', async () => {
    const [a, b, c] = [await node(), await node(), await node()];
    const seen = new Map<string, BusEvent[]>([['a', []], ['b', []], ['c', []]]);
    const subs = [
      a.subscribe(['family:n1'], (event) => seen.get('a')!.push(event)),
      b.subscribe(['family:n1'], (event) => seen.get('b')!.push(event)),
      c.subscribe(['family:n1'], (event) => seen.get('c')!.push(event)),
    ];
    await Promise.all(subs.map((sub) => sub.ready));
    const one = await b.publish('family:n1', 'message', { id: 'm1' });
    const two = await c.publish('family:n1', 'message', { id: 'm2' });
    await eventually(() => [...seen.values()].every((events) => events.length === 2), 'every node hears both events');
    for (const events of seen.values()) expect(events).toEqual([one, two]);
  });

  it('a node whose listening connection drops reconnects and delivers what was published meanwhile', async () => {
    const errors: unknown[] = [];
    const listener = await openPgEventBus({ connectionString: url, reconnectDelayMs: 20, onError: (error) => errors.push(error) });
    buses.push(listener);
    const publisher = await node();
    const seen: BusEvent[] = [];
    const sub = listener.subscribe(['family:drop'], (event) => seen.push(event));
    await sub.ready;
    await publisher.publish('family:drop', 'message', { n: 1 });
    await eventually(() => seen.length === 1, 'the first event arrives');

    const database = new URL(url).pathname.slice(1);
    const killed = await admin((client) =>
      client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2', [database, LISTENER_APPLICATION_NAME]),
    );
    expect(killed.rowCount).toBeGreaterThan(0);
    for (let n = 2; n <= 6; n++) await publisher.publish('family:drop', 'message', { n });
    await eventually(() => seen.length === 6, 'the events published while disconnected arrive');
    expect(seen.map((event) => event.data)).toEqual([1, 2, 3, 4, 5, 6].map((n) => ({ n })));
    expect(errors.length).toBeGreaterThan(0);
  });

  it('a client that resumes while its node is reconnecting still gets every event once', async () => {
    const follower = await node();
    const publisher = await node();
    for (let n = 1; n <= 3; n++) await publisher.publish('family:resume', 'message', { n });
    const database = new URL(url).pathname.slice(1);
    await admin((client) =>
      client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2', [database, LISTENER_APPLICATION_NAME]),
    );
    const seen: BusEvent[] = [];
    const following = followTopics(follower, { 'family:resume': '1' }, (event) => seen.push(event));
    for (let n = 4; n <= 8; n++) await publisher.publish('family:resume', 'message', { n });
    const stop = await following;
    await publisher.publish('family:resume', 'message', { n: 9 });
    await eventually(() => seen.length === 8, 'events 2–9 arrive');
    expect(seen.map((event) => event.data)).toEqual([2, 3, 4, 5, 6, 7, 8, 9].map((n) => ({ n })));
    stop();
  });

  it('two nodes creating the tables at the same moment both start', async () => {
    const fresh = await createDatabase();
    const nodes = await Promise.all([1, 2, 3].map(() => openPgEventBus({ connectionString: fresh })));
    buses.push(...nodes);
    expect((await nodes[0]!.publish('family:x', 'message', {})).cursor).toBe('1');
    expect((await nodes[2]!.publish('family:x', 'message', {})).cursor).toBe('2');
  });

  it('refuses to open on a database it cannot reach', async () => {
    const missing = withDatabase(ADMIN_URL, `burrow_test_${runId}_missing`);
    await expect(openPgEventBus({ connectionString: missing })).rejects.toThrow();
  });
});
