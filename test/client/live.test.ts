/**
 * The client library's live connection against a real server: it resumes from the cursors in
 * its key store, reconnects by itself when the connection drops, and hands each event to the
 * caller exactly once; against a hostile server, it drops every frame the protocol does not describe.
 */
import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { connectLive, type LiveEvent, type WebSocketConstructor } from '../../src/client/live.js';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily } from '../../src/client/families.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { sendMessage } from '../../src/client/messages.js';
import { utf8 } from '../../src/crypto/bytes.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { recordLive, registerMember, wavWith, type TestMember } from '../e2e/family-harness.js';

let server: RunningServer;
let mum: TestMember;
let gran: TestMember;
let familyId: string;
let mia: string;

/** A TCP relay in front of the server whose connections the test can cut, like a network drop. */
async function startRelay(target: URL): Promise<{ url: string; cut: () => void; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const relay: Server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const address = relay.address();
  if (address === null || typeof address === 'string') throw new Error('the relay has no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        relay.close(() => resolve());
      }),
  };
}

/** Sends `count` messages, ten at a time, and returns their ids. */
async function sendMany(count: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 10) {
    const batch = Array.from({ length: Math.min(10, count - i) }, (_, j) => sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8(`${tag}-${i + j}`), 64), audioType: 'audio/wav', durationMs: 4 }));
    ids.push(...(await Promise.all(batch)).map((sent) => sent.messageId));
  }
  return ids;
}

/** The ids of the messages among `events`, in the order they were delivered. */
function messageIds(events: LiveEvent[]): string[] {
  return events.flatMap((e) => (e.event === 'message' ? [e.data.messageId] : []));
}

/** Waits until `recorder` has seen every message of `ids` (sent concurrently: any may come last). */
function allOf(recorder: Awaited<ReturnType<typeof recordLive>>, ids: string[], timeoutMs?: number): Promise<LiveEvent> {
  const wanted = new Set(ids);
  return recorder.waitFor((e) => e.event === 'message' && wanted.has(e.data.messageId) && messageIds(recorder.events).filter((id) => wanted.has(id)).length >= wanted.size, timeoutMs);
}

/** `ids` in a fixed order, to compare two lists as sets. */
function sorted(ids: string[]): string[] {
  return [...ids].sort();
}

beforeAll(async () => {
  server = await startServer();
  [mum, gran] = (await Promise.all(['mum', 'gran'].map((label) => registerMember(server.url, label)))) as [TestMember, TestMember];
  familyId = (await createFamily(mum, { name: 'Live Family' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false } });
  await acceptInvite(gran, link);
  await admitJoiners(mum, { familyId });
}, 60_000);

afterAll(async () => {
  await server?.close();
});

describe('the live connection of the client library', () => {
  it('a client offline for 100 events resumes from its stored cursor and receives each of them once', async () => {
    const first = await recordLive(gran, server.url);
    await first.live.ready;
    const [before] = await sendMany(1, 'before');
    await first.waitFor((e) => e.event === 'message' && e.data.messageId === before);
    await first.live.close();
    expect((await gran.store.loadCursors())[familyId]).toBeDefined();

    const missed = await sendMany(100, 'offline');

    const second = await recordLive(gran, server.url);
    await second.live.ready;
    await allOf(second, missed);
    const delivered = messageIds(second.events);
    expect(delivered).toHaveLength(100);
    expect(sorted(delivered)).toEqual(sorted(missed));
    expect(delivered).not.toContain(before);
    await second.live.close();
  });

  it('reconnects by itself after the connection drops and misses nothing, delivering each event once', async () => {
    const relay = await startRelay(new URL(server.url));
    try {
      const watcher = await recordLive(gran, relay.url);
      await watcher.live.ready;
      const beforeCut = await sendMany(5, 'before-cut');
      await allOf(watcher, beforeCut);
      relay.cut();
      const duringCut = await sendMany(20, 'during-cut');
      await allOf(watcher, duringCut);
      const afterCut = await sendMany(5, 'after-cut');
      await allOf(watcher, afterCut);
      expect(watcher.readies()).toBeGreaterThanOrEqual(2);
      const delivered = messageIds(watcher.events);
      expect(delivered).toHaveLength(30);
      expect(sorted(delivered.slice(0, 5))).toEqual(sorted(beforeCut));
      expect(sorted(delivered.slice(5, 25))).toEqual(sorted(duringCut));
      expect(sorted(delivered.slice(25))).toEqual(sorted(afterCut));
      const cursors = watcher.events.map((e) => `${e.familyId}/${e.cursor}`);
      expect(new Set(cursors).size).toBe(cursors.length);
      await watcher.live.close();
    } finally {
      await relay.close();
    }
  });
});

/** A hostile live server on loopback: answers the resume frame with the given frames, then 'ready'. */
async function startHostileLive(frames: unknown[]): Promise<{ url: string; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/v1/live' });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  wss.on('connection', (socket) => {
    socket.once('message', () => {
      for (const frame of frames) socket.send(JSON.stringify(frame));
      socket.send(JSON.stringify({ type: 'ready' }));
    });
  });
  const address = wss.address();
  if (address === null || typeof address === 'string') throw new Error('the hostile server has no port');
  return { url: `http://127.0.0.1:${address.port}`, close: () => new Promise<void>((resolve) => wss.close(() => resolve())) };
}

describe('the live connection of the client library, against a hostile server', () => {
  it('drops and reports an event whose payload does not match its kind, and never moves its cursor past it', async () => {
    const id = (): string => randomBytes(16).toString('base64url');
    const family = id();
    const base = { messageId: id(), senderId: id(), recipients: [id()] };
    const event = (cursor: number, kind: string, data: unknown) => ({ type: 'event', familyId: family, cursor: String(cursor), event: kind, data, at: 1 });
    const hostile = await startHostileLive([
      event(1, 'message', { ...base, epoch: 0, size: 10 }),
      // Content smuggled into an event, a receipt of no known kind, a deletion naming no sender, a command the protocol does not have.
      event(2, 'message', { ...base, messageId: id(), epoch: 0, size: 10, text: 'play this' }),
      event(3, 'receipt', { ...base, by: id(), kind: 'deleted' }),
      event(4, 'message-deleted', { messageId: base.messageId }),
      event(5, 'record', { childId: id() }),
      { type: 'event', familyId: family, cursor: '6', event: 'roster', data: { epoch: -1 }, at: 1 },
    ]);
    const received: LiveEvent[] = [];
    const problems: string[] = [];
    let saved: Record<string, string> = {};
    const live = await connectLive({
      baseUrl: hostile.url,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      token: 'any',
      store: { loadCursors: async () => ({}), saveCursors: async (cursors) => { saved = cursors; } },
      onEvent: (e) => { received.push(e); },
      onProblem: (p) => problems.push(p.type),
    });
    try {
      await live.ready;
      expect(received.map((e) => [e.event, e.cursor])).toEqual([['message', '1']]);
      expect(problems.filter((p) => p === 'live/bad-frame')).toHaveLength(5);
      expect(saved).toEqual({ [family]: '1' });
      expect(live.cursors()).toEqual({ [family]: '1' });
    } finally {
      await live.close();
      await hostile.close();
    }
  });

  it('leaves to HTTP a receipt the server takes and never answers, while the connection stays alive', async () => {
    // The hostile server answers pings and the resume, and swallows every receipt frame.
    const hostile = await startHostileLive([]);
    const live = await connectLive({
      baseUrl: hostile.url,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      token: 'any',
      store: { loadCursors: async () => ({}), saveCursors: async () => {} },
      onEvent: () => {},
      receiptAnswerMs: 300,
    });
    try {
      await live.ready;
      const receipt = { kind: 'delivered' as const, signedAt: 1, rosterEpoch: 1, rosterHead: 'A'.repeat(43), signature: 'A'.repeat(86) };
      // Undefined is the caller's cue to post it over HTTP (src/client/receipts.ts sendReceipt); a hang would time this test out.
      await expect(live.sendReceipt({ familyId: 'f'.repeat(22), messageId: 'm'.repeat(22), receipt })).resolves.toBeUndefined();
    } finally {
      await live.close();
      await hostile.close();
    }
  });
});
