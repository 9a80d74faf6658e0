/**
 * Receipts over the live channel (`receipt` frames), staged for real against a server on
 * 127.0.0.1 with paired toys: the same service call, answers and rate limit as
 * `POST …/receipts`, refused for what the principal cannot see, for a bad signature, for a
 * malformed frame, past the limits, and for a toy removed from its family while connected. Every
 * frame received is checked against the AsyncAPI document the server serves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { fromBase64Url, randomBytes, toBase64Url } from '../../../src/crypto/bytes.js';
import { sealMessage } from '../../../src/crypto/envelope.js';
import { signReceipt } from '../../../src/crypto/receipt.js';
import { hashRosterEntry } from '../../../src/crypto/roster.js';
import { createAsyncApiConformance, type AsyncApiConformance } from '../../support/api-conformance.js';
import { sealingKey } from '../../support/scope-keys.js';
import { addChild, createFamily, join, newPerson, type Person, type TestFamily } from '../families/fixtures.js';
import { bearer, manualClock, startTestServer, type TestServer } from '../helpers.js';
import { pairToy, setToys, type PairedToy } from '../toys/fixtures.js';

interface Problem { type: string; status: number; detail: string; retryAfter?: number }
type Frame = { type: string; ref?: string; message?: { messageId: string; receipts: Array<{ by: string; kind: string }> }; problem?: Problem; event?: string; data?: Record<string, unknown> };

const clock = manualClock(Date.now());
let server: TestServer;
let port: number;
let documented: AsyncApiConformance;
const received: Frame[] = [];
let guardian: Person;
let relative: Person;
let family: TestFamily;
let ada: string;
let ben: string;
let adaToy: PairedToy;
let stranger: Person;
let otherFamily: TestFamily;
let otherKid: string;

beforeAll(async () => {
  server = await startTestServer({ clock, overrides: { live: { maxFramesPerMinute: 60 } } });
  const app = server.app;
  [guardian, relative, stranger] = await Promise.all([newPerson(app), newPerson(app), newPerson(app)]);
  family = await createFamily(app, guardian);
  ada = await addChild(app, family, guardian);
  ben = await addChild(app, family, guardian);
  await join(app, family, guardian, relative, { role: 'relative', children: [ada], needsApproval: false });
  adaToy = await pairToy(app, family, guardian, ada);
  otherFamily = await createFamily(app, stranger);
  otherKid = await addChild(app, otherFamily, stranger);
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  port = Number(new URL(address).port);
  documented = createAsyncApiConformance((await app.inject({ method: 'GET', url: '/v1/asyncapi.json' })).json());
});
afterAll(async () => {
  await server.close();
});

/** Uploads a message from `sender` (a member of `into`) to `recipients`; answers its id. */
async function send(sender: Person, into: TestFamily, recipients: string[]): Promise<string> {
  const epoch = into.chain.length - 1;
  const sealed = await sealMessage({
    familyId: into.familyId, epoch, rosterHead: await hashRosterEntry(into.chain[epoch]!),
    ...sealingKey(into.chain[epoch]!, into.keys, sender.accountId, recipients),
    sender: { accountId: sender.accountId, identity: sender.identity },
    recipients, audio: randomBytes(300), audioType: 'audio/webm', durationMs: 800, createdAt: clock.now(),
  });
  const uploaded = await server.app.inject({ method: 'POST', url: `/v1/families/${into.familyId}/messages`, headers: { ...bearer(sender.token), 'content-type': 'application/octet-stream' }, payload: Buffer.from(sealed.bytes) });
  expect(uploaded.statusCode, uploaded.body).toBe(201);
  return toBase64Url(sealed.header.messageId);
}

/** A receipt body signed by `signer` (a toy or a member) at `into`'s head, as the HTTP route takes it. */
async function receiptOf(signer: { id: string; identity: Person['identity'] }, into: TestFamily, messageId: string, kind: 'delivered' | 'played' = 'delivered') {
  const head = into.chain.at(-1)!;
  const receipt = await signReceipt(signer.identity, { familyId: into.familyId, messageId: fromBase64Url(messageId), kind, signerId: signer.id, rosterEpoch: head.epoch, rosterHead: await hashRosterEntry(head), at: clock.now() });
  return { kind, signedAt: receipt.at, rosterEpoch: receipt.rosterEpoch, rosterHead: toBase64Url(receipt.rosterHead), signature: toBase64Url(receipt.signature) };
}

const toySigner = () => ({ id: adaToy.toyId, identity: adaToy.identity });
const memberSigner = (person: Person) => ({ id: person.accountId, identity: person.identity });

function postReceipt(token: string, familyId: string, messageId: string, body: unknown) {
  return server.app.inject({ method: 'POST', url: `/v1/families/${familyId}/messages/${messageId}/receipts`, headers: bearer(token), payload: body as Record<string, unknown> });
}

async function storedReceipts(messageId: string): Promise<Array<{ by_id: string; kind: string }>> {
  return server.store.db.selectFrom('message_receipts').select(['by_id', 'kind']).where('message_id', '=', messageId).execute();
}

/** A live connection that records every frame and answers requests by ref. */
class Live {
  readonly frames: Frame[] = [];
  readonly socket: WebSocket;
  readonly closed: Promise<number>;
  #refs = 0;

  private constructor(token: string) {
    this.socket = new WebSocket(`ws://127.0.0.1:${port}/v1/live`, { headers: bearer(token) });
    this.closed = new Promise((resolve) => this.socket.once('close', (code) => resolve(code)));
    this.socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      this.frames.push(frame);
      received.push(frame);
    });
  }

  static async open(token: string): Promise<Live> {
    const live = new Live(token);
    await new Promise<void>((resolve, reject) => {
      live.socket.once('open', () => live.socket.send(JSON.stringify({ type: 'resume', cursors: {} })));
      live.socket.once('error', reject);
      live.socket.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
      live.socket.on('message', (data) => { if ((JSON.parse(String(data)) as Frame).type === 'ready') resolve(); });
    });
    return live;
  }

  /** The first frame after the `skip` first that `predicate` matches; fails after 10 s (only a failing test waits that long). */
  async until(predicate: (frame: Frame) => boolean, what: string): Promise<Frame> {
    const end = Date.now() + 10_000;
    for (;;) {
      const frame = this.frames.find(predicate);
      if (frame !== undefined) return frame;
      if (Date.now() > end) throw new Error(`never saw ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Sends `frame` as text and waits for the answer naming `ref`. */
  async request(frame: unknown, ref: string): Promise<Frame> {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    return this.until((f) => f.ref === ref && (f.type === 'receipt-stored' || f.type === 'error'), `the answer to ${ref}`);
  }

  /** Sends a receipt frame and waits for its answer. */
  receipt(familyId: string, messageId: string, receipt: unknown): Promise<Frame> {
    const ref = `r${this.#refs++}`;
    return this.request({ type: 'receipt', ref, familyId, messageId, receipt }, ref);
  }

  async pong(): Promise<void> {
    const before = this.frames.filter((f) => f.type === 'pong').length;
    this.socket.send(JSON.stringify({ type: 'ping' }));
    await this.until(() => this.frames.filter((f) => f.type === 'pong').length > before, 'a pong');
  }

  close(): void {
    this.socket.close();
  }
}

describe('a receipt over the live channel', () => {
  it('a toy stores its receipt over its live connection: answered with the message view, heard by the guardian as an event', async () => {
    const messageId = await send(guardian, family, [ada]);
    const [toy, mum] = await Promise.all([Live.open(adaToy.deviceToken), Live.open(guardian.token)]);
    const answer = await toy.receipt(family.familyId, messageId, await receiptOf(toySigner(), family, messageId));
    expect(answer.type).toBe('receipt-stored');
    expect(answer.message?.messageId).toBe(messageId);
    expect(answer.message?.receipts.map((r) => [r.by, r.kind])).toEqual([[adaToy.toyId, 'delivered']]);
    // The same view the HTTP route answers for it.
    const viaHttp = await server.app.inject({ method: 'GET', url: `/v1/families/${family.familyId}/messages/${messageId}`, headers: bearer(guardian.token) });
    expect(answer.message).toEqual(viaHttp.json());
    const heard = await mum.until((f) => f.type === 'event' && f.event === 'receipt' && f.data?.messageId === messageId, 'the receipt event');
    expect(heard.data).toMatchObject({ by: adaToy.toyId, kind: 'delivered' });
    expect(await storedReceipts(messageId)).toEqual([{ by_id: adaToy.toyId, kind: 'delivered' }]);
    toy.close();
    mum.close();
  });

  it('a repeated receipt is answered as stored, and stored once (a client that lost the answer retries safely, over either channel)', async () => {
    const messageId = await send(guardian, family, [ada]);
    const toy = await Live.open(adaToy.deviceToken);
    const body = await receiptOf(toySigner(), family, messageId, 'played');
    expect((await toy.receipt(family.familyId, messageId, body)).type).toBe('receipt-stored');
    expect((await toy.receipt(family.familyId, messageId, body)).type).toBe('receipt-stored');
    expect((await postReceipt(adaToy.deviceToken, family.familyId, messageId, body)).statusCode).toBe(200);
    expect(await storedReceipts(messageId)).toEqual([{ by_id: adaToy.toyId, kind: 'played' }]);
    toy.close();
  });

  it('a member stores a receipt signed with their own key', async () => {
    const messageId = await send(guardian, family, [ada]);
    const gran = await Live.open(relative.token);
    const answer = await gran.receipt(family.familyId, messageId, await receiptOf(memberSigner(relative), family, messageId, 'played'));
    expect(answer.type).toBe('receipt-stored');
    expect(await storedReceipts(messageId)).toEqual([{ by_id: relative.accountId, kind: 'played' }]);
    gran.close();
  });
});

describe('a receipt over the live channel is refused as over HTTP', () => {
  /** Sends `body` for the message both ways and expects the same problem, and nothing stored. */
  async function refusedBothWays(live: Live, token: string, familyId: string, messageId: string, body: unknown, type: string, status: number): Promise<void> {
    const answer = await live.receipt(familyId, messageId, body);
    expect(answer.type).toBe('error');
    expect(answer.problem).toMatchObject({ type, status });
    const viaHttp = await postReceipt(token, familyId, messageId, body);
    expect(viaHttp.statusCode).toBe(status);
    expect(viaHttp.json()).toMatchObject({ type: answer.problem!.type, title: expect.any(String) });
    expect(await storedReceipts(messageId)).toEqual([]);
  }

  it("a toy's receipt for another family's message is 404, under either family's id", async () => {
    const theirs = await send(stranger, otherFamily, [otherKid]);
    const toy = await Live.open(adaToy.deviceToken);
    const body = await receiptOf(toySigner(), family, theirs);
    await refusedBothWays(toy, adaToy.deviceToken, otherFamily.familyId, theirs, body, 'urn:burrow:problem:not-found', 404);
    await refusedBothWays(toy, adaToy.deviceToken, family.familyId, theirs, body, 'urn:burrow:problem:not-found', 404);
    await toy.pong();
    toy.close();
  });

  it("a toy's receipt for a message to another child of its family (not visible to it) is 404", async () => {
    const forBen = await send(guardian, family, [ben]);
    const toy = await Live.open(adaToy.deviceToken);
    await refusedBothWays(toy, adaToy.deviceToken, family.familyId, forBen, await receiptOf(toySigner(), family, forBen), 'urn:burrow:problem:not-found', 404);
    toy.close();
  });

  it("a relative's receipt for a message to a child that is not theirs is 404", async () => {
    const forBen = await send(guardian, family, [ben]);
    const gran = await Live.open(relative.token);
    await refusedBothWays(gran, relative.token, family.familyId, forBen, await receiptOf(memberSigner(relative), family, forBen), 'urn:burrow:problem:not-found', 404);
    gran.close();
  });

  it("a member's receipt with a forged signature (another key, another message's, a flipped bit) is invalid-receipt", async () => {
    const messageId = await send(guardian, family, [ada]);
    const other = await send(guardian, family, [ada]);
    const gran = await Live.open(relative.token);
    const forged = await receiptOf({ id: relative.accountId, identity: guardian.identity }, family, messageId);
    const replayed = await receiptOf(memberSigner(relative), family, other);
    const flipped = await receiptOf(memberSigner(relative), family, messageId);
    const sig = fromBase64Url(flipped.signature);
    sig[0] = sig[0]! ^ 1;
    for (const body of [forged, replayed, { ...flipped, signature: toBase64Url(sig) }]) {
      await refusedBothWays(gran, relative.token, family.familyId, messageId, body, 'urn:burrow:problem:invalid-receipt', 400);
    }
    gran.close();
  });

  it('a toy removed from its family while connected: its receipt is never stored', async () => {
    const toy = await pairToy(server.app, family, guardian, ada);
    const messageId = await send(guardian, family, [ada]);
    const live = await Live.open(toy.deviceToken);
    const body = await receiptOf({ id: toy.toyId, identity: toy.identity }, family, messageId);
    const head = family.chain.at(-1)!;
    const removed = await setToys(server.app, family, guardian, head.toys.filter((t) => t.toyId !== toy.toyId));
    expect(removed.statusCode, removed.body).toBe(201);
    // Sent before its connection hears of the removal, or after it closed: refused either way.
    live.socket.send(JSON.stringify({ type: 'receipt', ref: 'late', familyId: family.familyId, messageId, receipt: body }));
    expect(await live.closed).toBe(1008);
    const answer = live.frames.find((f) => f.ref === 'late');
    if (answer !== undefined) expect(answer.problem).toMatchObject({ status: 404 });
    expect(await storedReceipts(messageId)).toEqual([]);
  });
});

describe('malformed receipt frames', () => {
  it('get an error frame naming their ref when it is well-formed, and the connection stays open', async () => {
    const messageId = await send(guardian, family, [ada]);
    const good = await receiptOf(toySigner(), family, messageId);
    const toy = await Live.open(adaToy.deviceToken);
    const bad: Array<[string, unknown]> = [
      ['a', { type: 'receipt', ref: 'a', familyId: family.familyId, messageId }],
      ['b', { type: 'receipt', ref: 'b', familyId: family.familyId, messageId, receipt: { ...good, kind: 'heard' } }],
      ['c', { type: 'receipt', ref: 'c', familyId: family.familyId, messageId, receipt: { ...good, extra: 1 } }],
      ['d', { type: 'receipt', ref: 'd', familyId: 'not an id!', messageId, receipt: good }],
      ['e', { type: 'receipt', ref: 'e', familyId: family.familyId, messageId, receipt: { ...good, signature: 'AAAA' } }],
      ['f', { type: 'receipt', ref: 'f', familyId: family.familyId, messageId, receipt: good, more: true }],
    ];
    for (const [ref, frame] of bad) {
      const answer = await toy.request(frame, ref);
      expect(answer.problem, ref).toMatchObject({ type: 'urn:burrow:problem:bad-request', status: 400 });
    }
    // A ref that is not one (too long, bad characters, not a string) is not echoed.
    for (const ref of ['x'.repeat(65), 'no spaces', 7, '']) {
      const before = toy.frames.length;
      toy.socket.send(JSON.stringify({ type: 'receipt', ref, familyId: family.familyId, messageId, receipt: good }));
      const answer = await toy.until((f) => toy.frames.indexOf(f) >= before && f.type === 'error', 'an error frame');
      expect(answer.ref).toBeUndefined();
      expect(answer.problem?.status).toBe(400);
    }
    toy.socket.send('{"type":"receipt",');
    await toy.until((f) => f.type === 'error' && f.problem?.detail === 'The frame is not JSON', 'the not-JSON error');
    await toy.pong();
    expect(await storedReceipts(messageId)).toEqual([]);
    toy.close();
  });
});

describe('limits', () => {
  it('a flood of receipt frames past the frame limit is closed with 1008', async () => {
    const messageId = await send(guardian, family, [ada]);
    const body = await receiptOf(toySigner(), family, messageId);
    const toy = await Live.open(adaToy.deviceToken);
    for (let i = 0; i < 61; i++) toy.socket.send(JSON.stringify({ type: 'receipt', ref: `f${i}`, familyId: family.familyId, messageId, receipt: body }));
    expect(await toy.closed).toBe(1008);
  });

  it('receipt frames take from the per-address budget of HTTP: over it, a 429 problem with its wait, and the connection stays open', async () => {
    const limited = await startTestServer({ clock, overrides: { rateLimits: { globalPerIp: { max: 60, windowMs: 60_000 } } } });
    try {
      const app = limited.app;
      // The server's own clock: the first window starts at its first request, here.
      const mum = await newPerson(app);
      const home = await createFamily(app, mum);
      const kid = await addChild(app, home, mum);
      const messageId = await (async () => {
        const epoch = home.chain.length - 1;
        const sealed = await sealMessage({ familyId: home.familyId, epoch, rosterHead: await hashRosterEntry(home.chain[epoch]!), ...sealingKey(home.chain[epoch]!, home.keys, mum.accountId, [kid]), sender: { accountId: mum.accountId, identity: mum.identity }, recipients: [kid], audio: randomBytes(100), audioType: 'audio/webm', durationMs: 500, createdAt: clock.now() });
        const up = await app.inject({ method: 'POST', url: `/v1/families/${home.familyId}/messages`, headers: { ...bearer(mum.token), 'content-type': 'application/octet-stream' }, payload: Buffer.from(sealed.bytes) });
        expect(up.statusCode, up.body).toBe(201);
        return toBase64Url(sealed.header.messageId);
      })();
      const address = await app.listen({ host: '127.0.0.1', port: 0 });
      const previousPort = port;
      port = Number(new URL(address).port);
      const live = await Live.open(mum.token);
      port = previousPort;
      const body = await receiptOf(memberSigner(mum), home, messageId);
      // Use up the address's budget over HTTP, as any other requests from it would.
      let status = 0;
      for (let i = 0; i < 60 && status !== 429; i++) status = (await app.inject({ method: 'GET', url: '/v1/families', headers: bearer(mum.token) })).statusCode;
      expect(status).toBe(429);
      const answer = await live.receipt(home.familyId, messageId, body);
      expect(answer.problem).toMatchObject({ type: 'urn:burrow:problem:rate-limited', status: 429 });
      expect(answer.problem?.retryAfter).toBeGreaterThanOrEqual(1);
      expect(await limited.store.db.selectFrom('message_receipts').select('by_id').where('message_id', '=', messageId).execute()).toEqual([]);
      await live.pong();
      // Once the window has passed, the same frame is stored.
      clock.advance(61_000);
      expect((await live.receipt(home.familyId, messageId, body)).type).toBe('receipt-stored');
      live.close();
    } finally {
      await limited.close();
    }
  });
});

describe('the AsyncAPI document', () => {
  it('describes every frame these tests received, receipt-stored and error frames with refs among them', () => {
    expect(received.flatMap((frame) => documented.checkServerFrame(frame))).toEqual([]);
    expect(received.some((f) => f.type === 'receipt-stored')).toBe(true);
    expect(received.some((f) => f.type === 'error' && f.ref !== undefined)).toBe(true);
  });
});
