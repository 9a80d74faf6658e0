/**
 * Receipts over the live channel from the client's side, against a real server with a really
 * paired toy: the toy runtime sends its `delivered` and `played` receipts over the connection the
 * shell holds while it is ready, and over HTTP when it is not, or when a frame got no answer
 * before the connection closed; the client keeps its receipt frames within the frame budget.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { addChild } from '../../src/client/children.js';
import { createFamily } from '../../src/client/families.js';
import { connectLive, type LiveConnection, type WebSocketConstructor, type WebSocketLike } from '../../src/client/live.js';
import { getMessage, sendMessage } from '../../src/client/messages.js';
import { signedReceiptBody } from '../../src/client/receipts.js';
import { utf8 } from '../../src/crypto/bytes.js';
import { LIVE_LIMITS } from '../../src/protocol/live.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, wavWith, type TestMember } from '../e2e/family-harness.js';
import { pairToy, toyRuntime } from '../toy/toy-harness.js';
import type { PairedToy } from '../../src/client/toys.js';

let server: RunningServer;
let mum: TestMember;
let familyId: string;
let mia: string;
let paired: PairedToy;

beforeAll(async () => {
  server = await startServer();
  mum = await registerMember(server.url, 'mum');
  familyId = (await createFamily(mum, { name: 'Live receipts' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  paired = await pairToy(server.url, mum, familyId, mia);
}, 60_000);

afterAll(async () => {
  await server?.close();
});

/** A fetch that counts the receipt POSTs that go over HTTP. */
function receiptCountingFetch(counter: { posts: number }): typeof fetch {
  return (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (init?.method === 'POST' && url.endsWith('/receipts')) counter.posts += 1;
    return fetch(input, init);
  };
}

/**
 * `ws` as the client's WebSocket; while `drop.receipts` is set, a receipt frame is not sent and the
 * socket is cut instead, as when the network drops between a frame and its answer.
 */
function droppingWebSocket(drop: { receipts: boolean }): WebSocketConstructor {
  return class extends (WebSocket as unknown as new (...args: unknown[]) => WebSocketLike & { terminate(): void }) {
    override send(data: string): void {
      if (drop.receipts && data.includes('"type":"receipt"')) {
        this.terminate();
        return;
      }
      super.send(data);
    }
  } as unknown as WebSocketConstructor;
}

async function connectToy(WebSocketImpl: WebSocketConstructor = WebSocket as unknown as WebSocketConstructor): Promise<LiveConnection> {
  const live = await connectLive({
    baseUrl: server.url,
    WebSocket: WebSocketImpl,
    token: paired.deviceToken,
    store: { loadCursors: async () => ({}), saveCursors: async () => undefined },
    onEvent: () => undefined,
    backoff: { initialMs: 20, maxMs: 100 },
  });
  await live.ready;
  return live;
}

async function receiptsOf(messageId: string): Promise<string[]> {
  return (await getMessage(mum, { familyId, messageId })).receipts.filter((r) => r.by === paired.toyId).map((r) => r.kind).sort();
}

function send(text: string): Promise<{ messageId: string }> {
  return sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8(text), 200), audioType: 'audio/wav', durationMs: 10 });
}

describe('the toy runtime on the live channel', { timeout: 60_000 }, () => {
  it('sends its delivered and played receipts over the live connection while it is ready, and over HTTP once it is closed', async () => {
    const http = { posts: 0 };
    const toy = await toyRuntime(paired, receiptCountingFetch(http));
    await toy.runtime.start();
    const live = await connectToy();
    toy.runtime.useLive(live);

    const first = await send('over the socket');
    expect(await toy.runtime.handle({ event: 'message' })).toEqual({ played: 1 });
    expect(await receiptsOf(first.messageId)).toEqual(['delivered', 'played']);
    expect(http.posts).toBe(0);

    await live.close();
    const second = await send('over HTTP');
    expect(await toy.runtime.handle({ event: 'message' })).toEqual({ played: 1 });
    expect(await receiptsOf(second.messageId)).toEqual(['delivered', 'played']);
    expect(http.posts).toBe(2);
  });

  it('posts over HTTP a receipt whose frame got no answer before the connection closed', async () => {
    const http = { posts: 0 };
    const toy = await toyRuntime(paired, receiptCountingFetch(http));
    await toy.runtime.start();
    const drop = { receipts: true };
    const live = await connectToy(droppingWebSocket(drop));
    toy.runtime.useLive(live);
    const message = await send('cut off');
    // A new toy's inbox: it also plays what the tests before sent. Every receipt frame is cut off
    // (or not sent while the connection is back to connecting), so each receipt goes over HTTP.
    const { played } = await toy.runtime.handle({ event: 'message' });
    expect(toy.played.map((p) => p.messageId)).toContain(message.messageId);
    expect(await receiptsOf(message.messageId)).toEqual(['delivered', 'played']);
    expect(http.posts).toBe(2 * played);
    await live.close();
  });
});

describe('receipts on a live connection', { timeout: 60_000 }, () => {
  it('a repeated receipt is answered as stored; past the budget of a minute, the client sends none and leaves it to HTTP', async () => {
    const message = await send('budget');
    const live = await connectToy();
    const receipt = await signedReceiptBody({ signer: { id: paired.toyId, identity: paired.identity }, roster: paired.roster, messageId: message.messageId, kind: 'delivered', at: Date.now() });
    const answers = await Promise.all(Array.from({ length: LIVE_LIMITS.receiptFramesPerMinute }, () => live.sendReceipt({ familyId, messageId: message.messageId, receipt })));
    expect(answers.every((a) => a?.messageId === message.messageId)).toBe(true);
    expect(await live.sendReceipt({ familyId, messageId: message.messageId, receipt })).toBeUndefined();
    expect(await receiptsOf(message.messageId)).toEqual(['delivered']);
    await live.close();
  });

  it('a receipt the server refuses rejects with its problem (another child\'s message is 404), and sends nothing when not connected', async () => {
    const ben = (await addChild(mum, { familyId, name: 'Ben', emoji: '🐻' })).childId;
    const forBen = await sendMessage(mum, { familyId, to: ben, audio: wavWith(utf8('not yours'), 200), audioType: 'audio/wav', durationMs: 10 });
    const live = await connectToy();
    const receipt = await signedReceiptBody({ signer: { id: paired.toyId, identity: paired.identity }, roster: paired.roster, messageId: forBen.messageId, kind: 'delivered', at: Date.now() });
    await expect(live.sendReceipt({ familyId, messageId: forBen.messageId, receipt })).rejects.toMatchObject({ name: 'ApiError', status: 404, code: 'burrow/not-found' });
    await live.close();
    expect(await live.sendReceipt({ familyId, messageId: forBen.messageId, receipt })).toBeUndefined();
  });
});
