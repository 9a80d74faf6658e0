/**
 * The live channel over a real WebSocket on 127.0.0.1: events, filtering, resume, origin, heartbeats
 * and limits. Every frame any of these tests receives is checked against the AsyncAPI document the
 * server serves (test/support/api-conformance.ts).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { toBase64Url } from '../../../src/crypto/bytes.js';
import { sealProfile } from '../../../src/crypto/profile.js';
import { createServer } from '../../../src/server/app.js';
import { loadConfig } from '../../../src/server/config.js';
import type { BurrowApp } from '../../../src/server/http/types.js';
import { createFamilyEvents, familyTopic } from '../../../src/server/live/family-events.js';
import { BACKSTOP_SWEEPS } from '../../../src/server/live/hub.js';
import { liveHubOf, liveTopicsOf } from '../../../src/server/live/routes.js';
import { createPrincipalsOf } from '../../../src/server/live/principals.js';
import { loadOrCreateSecrets } from '../../../src/server/secrets.js';
import type { EventBus } from '../../../src/storage/bus/event-bus.js';
import type { SqlStore } from '../../../src/storage/database.js';
import { createAsyncApiConformance, type AsyncApiConformance } from '../../support/api-conformance.js';
import { openTestBackends, type TestBackends } from '../../support/backends.js';
import { b64, bearer } from '../helpers.js';
import { approvalBody, call, changeRoster, declineBody, receiptBody, registerMember, seal, seedFamily, upload, type Member, type TestFamily } from '../messages/fixtures.js';

interface EventFrame { type: 'event'; familyId: string; cursor: string; event: string; data: Record<string, unknown>; at: number }
type Frame = EventFrame | { type: 'ready' } | { type: 'pong' } | { type: 'error'; problem: { type: string } };

let app: BurrowApp;
let otherNode: BurrowApp;
let store: SqlStore;
let bus: EventBus;
let backends: TestBackends;
let port: number;
let mum: Member, dad: Member, gran: Member;
let family: TestFamily;
let documented: AsyncApiConformance;
/** Every frame received by any client here, for the final check against the AsyncAPI document. */
const received: Frame[] = [];
const ada = b64(16);
const ben = b64(16);
/**
 * Longer than this file runs: a heartbeat only comes when a test sweeps the server's live hub by
 * hand (`withHeartbeats`), so a busy machine cannot make one miss its pong.
 */
const HEARTBEAT_MS = 3_600_000;

beforeAll(async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'burrow-live-')), 'data');
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir, host: '127.0.0.1', port: 0, logLevel: 'silent',
      rateLimits: { globalPerIp: { max: 100_000, windowMs: 60_000 }, anonymousPerIp: { max: 100_000, windowMs: 60_000 }, perAccount: { max: 100_000, windowMs: 60_000 } },
      live: { heartbeatMs: HEARTBEAT_MS, resumeWaitMs: 300, maxFramesPerMinute: 40, maxConnectionsPerAccount: 6 },
    },
  });
  const { secrets } = await loadOrCreateSecrets({ dataDir });
  // SQLite + in-process bus, or PostgreSQL + LISTEN/NOTIFY under BURROW_TEST_BACKEND=postgres-s3.
  backends = await openTestBackends({ dataDir });
  ({ store, bus } = backends);
  app = createServer({ config, store, secrets, bus, blobs: backends.blobs, log: false });
  // A second node on the same database and bus, as in a scale-out deployment.
  otherNode = createServer({ config, store, secrets, bus, blobs: backends.blobs, log: false });
  await otherNode.ready();
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  port = Number(new URL(address).port);
  documented = createAsyncApiConformance((await app.inject({ method: 'GET', url: '/v1/asyncapi.json' })).json());
  [mum, dad, gran] = await Promise.all([1, 2, 3].map(() => registerMember(app))) as [Member, Member, Member];
  family = await seedFamily(store, { guardians: [mum, dad], relatives: [{ member: gran, children: [ada] }], children: [ada, ben] });
});
afterAll(async () => {
  await otherNode.close();
  await app.close();
  await backends.cleanup();
});

/** A live client that records every frame. */
class LiveClient {
  readonly frames: Frame[] = [];
  readonly socket: WebSocket;
  closed: { code: number; reason: string } | undefined;
  readonly opened: Promise<void>;

  constructor(member: Member, options: { resume?: Record<string, string>; origin?: string; autoPong?: boolean; token?: string } = {}) {
    const headers: Record<string, string> = bearer(options.token ?? member.token);
    if (options.origin !== undefined) headers.origin = options.origin;
    this.socket = new WebSocket(`ws://127.0.0.1:${port}/v1/live`, { headers, autoPong: options.autoPong ?? true });
    this.socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      this.frames.push(frame);
      received.push(frame);
    });
    this.socket.on('close', (code, reason) => { this.closed = { code, reason: String(reason) }; });
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => {
        if (options.resume !== undefined) this.socket.send(JSON.stringify({ type: 'resume', cursors: options.resume }));
        resolve();
      });
      this.socket.once('unexpected-response', (request, response) => {
        request.destroy();
        reject(new Error(`HTTP ${response.statusCode}`));
      });
      this.socket.once('error', reject);
    });
  }

  events(): EventFrame[] {
    return this.frames.filter((f): f is EventFrame => f.type === 'event');
  }

  /**
   * Polls until `predicate` holds. Only a failing test reaches the end: just before the test's own
   * timeout (30 s), with `what` it waited for; a busy machine is never judged by it.
   */
  async until(predicate: () => boolean, what: string): Promise<void> {
    const end = Date.now() + 25_000;
    while (!predicate()) {
      if (Date.now() > end) throw new Error(`never saw ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  ready(): Promise<void> {
    return this.until(() => this.frames.some((f) => f.type === 'ready'), 'ready');
  }

  close(): Promise<void> {
    if (this.closed !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}

/**
 * Runs `test` with `beat()`: one sweep of the server's live hub, what its heartbeat interval does
 * (a heartbeat of every connection, and the authorisation backstop of one slot of them).
 */
async function withHeartbeats(test: (beat: () => void) => Promise<void>): Promise<void> {
  await test(() => liveHubOf(app).sweep());
}

/** Resolves once the server has handled every frame `client` sent before (a ping frame's pong). */
async function roundTrip(client: LiveClient): Promise<void> {
  const pongs = client.frames.filter((f) => f.type === 'pong').length;
  client.socket.send(JSON.stringify({ type: 'ping' }));
  await client.until(() => client.frames.filter((f) => f.type === 'pong').length > pongs, 'a pong');
}

async function send(from: Member, recipients: string[], to: TestFamily = family): Promise<string> {
  const sealed = await seal(from, to, recipients);
  const answer = await upload(app, from, to.familyId, sealed.bytes);
  expect(answer.statusCode, answer.body).toBe(201);
  return answer.json<{ messageId: string }>().messageId;
}

describe('live events', () => {
  it('two members connected at once both get a new message', async () => {
    const a = new LiveClient(mum, { resume: {} });
    const b = new LiveClient(dad, { resume: {} });
    await Promise.all([a.opened, b.opened]);
    await Promise.all([a.ready(), b.ready()]);
    const messageId = await send(mum, [ada]);
    for (const client of [a, b]) {
      await client.until(() => client.events().some((e) => e.event === 'message' && e.data.messageId === messageId), 'the message event');
      const event = client.events().find((e) => e.data.messageId === messageId)!;
      expect(event.familyId).toBe(family.familyId);
      expect(event.data.senderId).toBe(mum.accountId);
      expect(event.data.recipients).toEqual([ada]);
    }
    await Promise.all([a.close(), b.close()]);
  });

  it('a relative gets events only about their children', async () => {
    const granClient = new LiveClient(gran);
    const mumClient = new LiveClient(mum);
    await Promise.all([granClient.opened, mumClient.opened]);
    await Promise.all([granClient.ready(), mumClient.ready()]);
    const forBen = await send(mum, [ben]);
    const forAda = await send(mum, [ada]);
    expect((await call(app, dad, 'POST', `/v1/families/${family.familyId}/messages/${forBen}/receipts`, await receiptBody(dad, family.familyId, forBen, 'played'))).statusCode).toBe(200);
    await mumClient.until(() => mumClient.events().some((e) => e.event === 'receipt' && e.data.messageId === forBen), 'the receipt');
    await granClient.until(() => granClient.events().some((e) => e.data.messageId === forAda), 'the message for ada');
    expect(granClient.events().some((e) => e.data.messageId === forBen)).toBe(false);
    await Promise.all([granClient.close(), mumClient.close()]);
  });

  it('a decline reaches the guardians and the message’s sender, never the child’s other relatives', async () => {
    const aunt = await registerMember(app);
    const strict = await seedFamily(store, { guardians: [mum], relatives: [{ member: gran, children: [ada] }, { member: aunt, children: [ada], needsApproval: true }], children: [ada] });
    const clients = [new LiveClient(mum), new LiveClient(gran), new LiveClient(aunt)] as const;
    await Promise.all(clients.map((c) => c.opened));
    await Promise.all(clients.map((c) => c.ready()));
    const sealed = await seal(aunt, strict, [ada]);
    const messageId = (await upload(app, aunt, strict.familyId, sealed.bytes)).json<{ messageId: string }>().messageId;
    expect((await call(app, mum, 'POST', `/v1/families/${strict.familyId}/messages/${messageId}/declines`, await declineBody(mum, strict.familyId, sealed))).statusCode).toBe(200);
    const after = await send(mum, [ada], strict);
    const [mumClient, granClient, auntClient] = clients;
    for (const client of [mumClient, auntClient]) await client.until(() => client.events().some((e) => e.event === 'decline' && e.data.messageId === messageId && e.data.guardianId === mum.accountId), 'the decline');
    await granClient.until(() => granClient.events().some((e) => e.data.messageId === after), 'the next message');
    expect(granClient.events().some((e) => e.event === 'decline')).toBe(false);
    await Promise.all(clients.map((c) => c.close()));
  });

  it('a client offline for 100 events resumes from its cursor and gets each of them once after dedupe', async () => {
    const first = new LiveClient(dad, { resume: {} });
    await first.opened;
    await first.ready();
    const lastSeen = await send(mum, [ada]);
    await first.until(() => first.events().some((e) => e.data.messageId === lastSeen), 'the last event before going offline');
    const cursor = first.events().filter((e) => e.familyId === family.familyId).at(-1)!.cursor;
    await first.close();

    const missed: string[] = [];
    for (let i = 0; i < 50; i++) {
      const messageId = await send(i % 2 === 0 ? mum : gran, [ada]);
      missed.push(`message/${messageId}`);
      expect((await call(app, mum, 'POST', `/v1/families/${family.familyId}/messages/${messageId}/receipts`, await receiptBody(mum, family.familyId, messageId, 'delivered'))).statusCode).toBe(200);
      missed.push(`receipt/${messageId}`);
    }

    const again = new LiveClient(dad, { resume: { [family.familyId]: cursor } });
    await again.opened;
    await again.ready();
    const live = await send(mum, [ben]);
    await again.until(() => again.events().some((e) => e.data.messageId === live), 'a live event after the backlog');
    const seen = new Map<string, string>();
    for (const e of again.events()) if (e.familyId === family.familyId) seen.set(e.cursor, `${e.event}/${String(e.data.messageId)}`);
    const received = [...seen.values()].filter((v) => v !== `message/${live}`);
    expect(received).toEqual(missed);
    // The backlog came before 'ready', the live event after it.
    const readyAt = again.frames.findIndex((f) => f.type === 'ready');
    expect(again.frames.findIndex((f) => f.type === 'event' && f.data.messageId === live)).toBeGreaterThan(readyAt);
    expect(again.frames.slice(0, readyAt).filter((f) => f.type === 'event')).toHaveLength(100);
    await again.close();
  });

  it('a member removed from the family stops getting its events', async () => {
    const fresh = await seedFamily(store, { guardians: [mum], relatives: [{ member: gran, children: [ada] }], children: [ada] });
    const granClient = new LiveClient(gran);
    await granClient.opened;
    await granClient.ready();
    const before = await send(mum, [ada], fresh);
    await granClient.until(() => granClient.events().some((e) => e.data.messageId === before), 'the message before removal');
    const next = await changeRoster(store, fresh, { guardians: [mum], children: [ada] });
    await createFamilyEvents({ bus, principalsOf: createPrincipalsOf(store.db) }).publish(fresh.familyId, 'roster', { epoch: next.epoch });
    await granClient.until(() => granClient.events().some((e) => e.familyId === fresh.familyId && e.event === 'roster'), 'the roster event');
    const after = await send(mum, [ada], next);
    // A later event of the family she is still in shows the connection is alive and past `after`.
    const marker = await send(mum, [ada]);
    await granClient.until(() => granClient.events().some((e) => e.data.messageId === marker), 'a later event of another family');
    expect(granClient.events().some((e) => e.data.messageId === after)).toBe(false);
    await granClient.close();
  });

  it('a family\'s deletion is announced once it is done: a member who lists their families on hearing it no longer sees it', async () => {
    const doomed = await seedFamily(store, { guardians: [mum], relatives: [{ member: gran, children: [ada] }], children: [ada] });
    const granClient = new LiveClient(gran);
    await granClient.opened;
    await granClient.ready();
    // Gran's app asks for her families the moment the event arrives, as the family app does.
    const listed = new Promise<string[]>((resolve, reject) => {
      granClient.socket.on('message', (data) => {
        const frame = JSON.parse(String(data)) as Frame;
        if (frame.type !== 'event' || frame.event !== 'family-deleted' || frame.familyId !== doomed.familyId) return;
        call(app, gran, 'GET', '/v1/families').then((answer) => resolve(answer.json<{ families: Array<{ familyId: string }> }>().families.map((f) => f.familyId)), reject);
      });
    });
    expect((await call(app, mum, 'DELETE', `/v1/families/${doomed.familyId}`, { confirm: 'delete this family' })).statusCode).toBe(204);
    const families = await listed;
    expect(families).toContain(family.familyId);
    expect(families).not.toContain(doomed.familyId);
    await granClient.close();
  });

  it('a member added to a family while connected starts getting its events', async () => {
    const stranger = await registerMember(app);
    const client = new LiveClient(stranger);
    await client.opened;
    await client.ready();
    const fresh = await seedFamily(store, { guardians: [mum], children: [ada] });
    const next = await changeRoster(store, fresh, { guardians: [mum, stranger], children: [ada] });
    await createFamilyEvents({ bus, principalsOf: createPrincipalsOf(store.db) }).publish(fresh.familyId, 'roster', { epoch: next.epoch });
    const messageId = await send(mum, [ada], next);
    await client.until(() => client.events().some((e) => e.data.messageId === messageId), 'the new family\'s message');
    await client.close();
  });
  it('connections following one family share the node’s subscription: when one disconnects, the others still get its events', async () => {
    const shared = await seedFamily(store, { guardians: [mum, dad], children: [ada] });
    const topic = familyTopic(shared.familyId);
    const clients = [new LiveClient(mum, { resume: {} }), new LiveClient(dad, { resume: {} }), new LiveClient(mum, { resume: {} })] as const;
    await Promise.all(clients.map((c) => c.opened));
    await Promise.all(clients.map((c) => c.ready()));
    expect(liveTopicsOf(app).followersOf(topic)).toBe(3);
    const [first, leaving, third] = clients;
    const before = await send(mum, [ada], shared);
    for (const client of clients) await client.until(() => client.events().some((e) => e.data.messageId === before), 'the first message');
    await leaving.close();
    await first.until(() => liveTopicsOf(app).followersOf(topic) === 2, 'the server to see the disconnection');
    const after = await send(dad, [ada], shared);
    for (const client of [first, third]) {
      await client.until(() => client.events().some((e) => e.data.messageId === after), 'the message after the disconnection');
      expect(client.events().filter((e) => e.familyId === shared.familyId).map((e) => e.data.messageId)).toEqual([before, after]);
    }
    expect(leaving.events().some((e) => e.data.messageId === after)).toBe(false);
    await Promise.all([first.close(), third.close()]);
    await first.until(() => liveTopicsOf(app).followersOf(topic) === 0, 'the topic’s last follower to leave');
  });

  it('a connection that missed an event resumes from its cursor and gets it once, while another stays connected and gets each once', async () => {
    const shared = await seedFamily(store, { guardians: [mum, dad], children: [ada] });
    const staying = new LiveClient(mum, { resume: {} });
    const away = new LiveClient(dad, { resume: {} });
    await Promise.all([staying.opened, away.opened]);
    await Promise.all([staying.ready(), away.ready()]);
    const seen = await send(mum, [ada], shared);
    await away.until(() => away.events().some((e) => e.data.messageId === seen), 'the message before going away');
    const cursor = away.events().filter((e) => e.familyId === shared.familyId).at(-1)!.cursor;
    await away.close();
    const missed = await send(mum, [ada], shared);
    const back = new LiveClient(dad, { resume: { [shared.familyId]: cursor } });
    await back.opened;
    await back.ready();
    const live = await send(mum, [ada], shared);
    await back.until(() => back.events().some((e) => e.data.messageId === live), 'the live message after resuming');
    await staying.until(() => staying.events().some((e) => e.data.messageId === live), 'the live message');
    const ids = (client: LiveClient): unknown[] => client.events().filter((e) => e.familyId === shared.familyId).map((e) => e.data.messageId);
    expect(ids(back)).toEqual([missed, live]);
    expect(ids(staying)).toEqual([seen, missed, live]);
    await Promise.all([staying.close(), back.close()]);
  });
});

describe('live connection rules', () => {
  it('refuses an upgrade without a session, or from another origin', async () => {
    await expect(new LiveClient(mum, { token: 'not-a-token' }).opened).rejects.toThrow('HTTP 401');
    await expect(new LiveClient(mum, { origin: 'https://evil.example' }).opened).rejects.toThrow('HTTP 403');
    const same = new LiveClient(mum, { origin: `http://127.0.0.1:${port}` });
    await same.opened;
    await same.ready();
    await same.close();
  });

  it('answers a plain GET with a problem', async () => {
    const answer = await app.inject({ method: 'GET', url: '/v1/live', headers: bearer(mum.token) });
    expect(answer.statusCode).toBe(400);
    expect(answer.headers['content-type']).toMatch(/problem\+json/);
  });

  it('answers pings, refuses malformed frames and stays open', async () => {
    const client = new LiveClient(mum);
    await client.opened;
    client.socket.send(JSON.stringify({ type: 'ping' }));
    client.socket.send('not json');
    client.socket.send(JSON.stringify({ type: 'resume', cursors: { x: 1 } }));
    await client.until(() => client.frames.filter((f) => f.type === 'error').length === 2 && client.frames.some((f) => f.type === 'pong'), 'a pong and two errors');
    expect(client.closed).toBeUndefined();
    await client.close();
  });

  it('closes a connection that stops answering heartbeats', async () => {
    await withHeartbeats(async (beat) => {
      const client = new LiveClient(dad, { autoPong: false });
      await client.opened;
      await client.ready();
      let pings = 0;
      client.socket.on('ping', () => { pings++; });
      beat();
      await client.until(() => pings === 1, 'a heartbeat');
      await roundTrip(client);
      expect(client.closed).toBeUndefined();
      beat();
      await client.until(() => client.closed !== undefined, 'the server to drop the connection');
      // Terminated without a close frame: 1006 on the client side.
      expect(client.closed!.code).toBe(1006);
    });
  });

  it('keeps a connection that answers heartbeats', async () => {
    await withHeartbeats(async (beat) => {
      const client = new LiveClient(dad);
      await client.opened;
      await client.ready();
      let pings = 0;
      client.socket.on('ping', () => { pings++; });
      for (let heartbeat = 1; heartbeat <= 4; heartbeat++) {
        beat();
        await client.until(() => pings === heartbeat, 'a heartbeat');
        // The pong (sent on the ping) reached the server before this ping frame's answer.
        await roundTrip(client);
      }
      beat();
      await roundTrip(client);
      expect(client.closed).toBeUndefined();
      await client.close();
    });
  });

  it('closes a flood of frames with 1008', async () => {
    const client = new LiveClient(mum);
    await client.opened;
    for (let i = 0; i < 60; i++) client.socket.send(JSON.stringify({ type: 'ping' }));
    await client.until(() => client.closed !== undefined, 'the flood to be closed');
    expect(client.closed!.code).toBe(1008);
  });

  it('closes the connection when its session is revoked, at once: the revocation is announced on the bus', async () => {
    const member = await registerMember(app);
    const client = new LiveClient(member);
    await client.opened;
    await client.ready();
    expect((await app.inject({ method: 'POST', url: '/v1/sessions/revoke-all', headers: bearer(member.token) })).statusCode).toBe(204);
    await client.until(() => client.closed !== undefined, 'the revoked session to be closed');
    expect(client.closed!.code).toBe(1008);
  });

  it('closes the connection when its session is revoked on another node: the bus carries the announcement', async () => {
    const member = await registerMember(app);
    const client = new LiveClient(member);
    await client.opened;
    await client.ready();
    // No heartbeat and no backstop sweep here: only the bus can tell this node.
    expect((await otherNode.inject({ method: 'POST', url: '/v1/sessions/revoke-all', headers: bearer(member.token) })).statusCode).toBe(204);
    await client.until(() => client.closed !== undefined, 'the session revoked elsewhere to be closed');
    expect(client.closed!.code).toBe(1008);
  });

  it('closes a connection whose session ended unannounced, at its backstop sweep', async () => {
    await withHeartbeats(async (beat) => {
      const member = await registerMember(app);
      const client = new LiveClient(member);
      await client.opened;
      await client.ready();
      // Gone from the database behind the server's back: only the backstop notices.
      await store.db.deleteFrom('sessions').where('account_id', '=', member.accountId).execute();
      let sweeps = 0;
      while (client.closed === undefined && sweeps < BACKSTOP_SWEEPS) {
        beat();
        sweeps++;
        // The pong of this ping frame leaves after any re-check the sweep queued (one queue per
        // connection), unless that re-check closed the connection.
        const pongs = client.frames.filter((f) => f.type === 'pong').length;
        client.socket.send(JSON.stringify({ type: 'ping' }));
        await client.until(() => client.closed !== undefined || client.frames.filter((f) => f.type === 'pong').length > pongs, 'a pong or the close');
      }
      await client.until(() => client.closed !== undefined, 'the ended session to be closed by the backstop');
      expect(client.closed!.code).toBe(1008);
      // Within one round of the backstop's slots.
      expect(sweeps).toBeLessThanOrEqual(BACKSTOP_SWEEPS);
    });
  });

  it('closes a connection at the first heartbeat after its session expires, without waiting for the backstop', async () => {
    await withHeartbeats(async (beat) => {
      const member = await registerMember(app);
      // The session expires a moment after the socket opens: no one announces an expiry.
      const expiresAt = Date.now() + 1_500;
      await store.db.updateTable('sessions').set({ expires_at: expiresAt }).where('account_id', '=', member.accountId).execute();
      const client = new LiveClient(member);
      await client.opened;
      await client.ready();
      beat();
      await roundTrip(client);
      expect(client.closed).toBeUndefined();
      // The connection keeps the expiry in whole seconds, rounded up.
      while (Date.now() < Math.ceil(expiresAt / 1000) * 1000) await new Promise((resolve) => setTimeout(resolve, 50));
      beat();
      await client.until(() => client.closed !== undefined, 'the expired session to be closed');
      // Closed by the heartbeat's own comparison (the backstop's re-check says "the session ended").
      expect(client.closed).toEqual({ code: 1008, reason: 'the session expired' });
    });
  });

  it('closes every connection of a principal whose session ended unannounced in the same backstop sweep', async () => {
    await withHeartbeats(async (beat) => {
      const member = await registerMember(app);
      const clients = [new LiveClient(member), new LiveClient(member), new LiveClient(member)];
      await Promise.all(clients.map((c) => c.opened));
      await Promise.all(clients.map((c) => c.ready()));
      await store.db.deleteFrom('sessions').where('account_id', '=', member.accountId).execute();
      let sweeps = 0;
      while (clients.every((c) => c.closed === undefined) && sweeps < BACKSTOP_SWEEPS) {
        beat();
        sweeps++;
        // Each client's pong leaves after any re-check that sweep queued for it, unless it closed.
        const pongs = clients.map((c) => c.frames.filter((f) => f.type === 'pong').length);
        for (const c of clients) c.socket.send(JSON.stringify({ type: 'ping' }));
        await Promise.all(clients.map((c, i) => c.until(() => c.closed !== undefined || c.frames.filter((f) => f.type === 'pong').length > pongs[i]!, 'a pong or the close')));
      }
      // The principal's slot is one for all its connections: the sweep that closed one closed all.
      expect(clients.map((c) => c.closed?.code)).toEqual([1008, 1008, 1008]);
      expect(sweeps).toBeLessThanOrEqual(BACKSTOP_SWEEPS);
    });
  });

  it('limits the live connections of one account', async () => {
    const member = await registerMember(app);
    const clients = Array.from({ length: 6 }, () => new LiveClient(member));
    await Promise.all(clients.map((c) => c.opened));
    await expect(new LiveClient(member).opened).rejects.toThrow('HTTP 429');
    await Promise.all(clients.map((c) => c.close()));
  });
});

describe('the AsyncAPI document', () => {
  it('describes every frame the server sent in these tests, and the tests saw every kind of frame', async () => {
    // The kinds the tests above do not make: a deleted message, a new child, an approval, a deleted family.
    const aunt = await registerMember(app);
    const kid = b64(16);
    const other = await seedFamily(store, { guardians: [mum], relatives: [{ member: aunt, children: [kid], needsApproval: true }], children: [kid] });
    const client = new LiveClient(mum);
    await client.opened;
    await client.ready();
    const messageId = await send(mum, [ada]);
    expect((await call(app, mum, 'DELETE', `/v1/families/${family.familyId}/messages/${messageId}`, {})).statusCode).toBe(204);
    const childId = b64(16);
    const profile = await sealProfile({ familyId: other.familyId, epoch: other.epoch, key: other.key, kind: 'child', objectId: childId, data: { name: 'Mia' }, signer: mum.identity });
    const child = await call(app, mum, 'POST', `/v1/families/${other.familyId}/children`, { childId, sealedProfile: toBase64Url(profile) });
    expect(child.statusCode, child.body).toBe(201);
    const sealed = await seal(aunt, other, [kid]);
    const uploaded = await upload(app, aunt, other.familyId, sealed.bytes);
    expect(uploaded.statusCode, uploaded.body).toBe(201);
    const approved = await call(app, mum, 'POST', `/v1/families/${other.familyId}/messages/${uploaded.json<{ messageId: string }>().messageId}/approvals`, await approvalBody(mum, other.familyId, sealed));
    expect(approved.statusCode, approved.body).toBe(200);
    expect((await call(app, mum, 'DELETE', `/v1/families/${other.familyId}`, { confirm: 'delete this family' })).statusCode).toBe(204);
    await client.until(() => client.events().some((e) => e.event === 'family-deleted' && e.familyId === other.familyId), 'the family\'s deletion');
    await client.close();
    const wrong = received.flatMap((frame) => documented.checkServerFrame(frame));
    expect(wrong).toEqual([]);
    const kinds = new Set(received.map((f) => (f.type === 'event' ? `event.${f.event}` : f.type)));
    expect([...kinds].sort()).toEqual(['error', 'event.approval', 'event.child', 'event.decline', 'event.family-deleted', 'event.message', 'event.message-deleted', 'event.receipt', 'event.roster', 'pong', 'ready']);
    // A frame outside the document is caught.
    expect(documented.checkServerFrame({ type: 'event', familyId: family.familyId, cursor: '1', event: 'message', data: { messageId, text: 'never sent' }, at: 1 })).toHaveLength(1);
  });
});
