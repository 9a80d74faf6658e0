/**
 * Two `burrow serve` processes share one PostgreSQL database and one S3 bucket, as behind a load
 * balancer. A member's live connection stands for a toy in most cases (the same WebSocket, events
 * and resumable cursor); one case pairs a real toy through node A and connects it live on node B.
 */
import { createHash } from 'node:crypto';
import * as opaque from '@serenity-kit/opaque';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginAccount } from '../../src/client/account.js';
import { BurrowApi } from '../../src/client/api.js';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily } from '../../src/client/families.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { downloadAndOpenMessage, sendMessage } from '../../src/client/messages.js';
import { utf8 } from '../../src/crypto/bytes.js';
import WebSocket from 'ws';
import { MemoryKeyStore } from '../../src/client/key-store.js';
import { connectLive, type WebSocketConstructor } from '../../src/client/live.js';
import { recordLive, registerMember, sameStretchingAs, wavWith, type TestMember } from '../e2e/family-harness.js';
import { pairToy, toyRuntime } from '../toy/toy-harness.js';
import { startCluster, type Cluster, type Node } from './nodes.js';
import { waitUntil } from '../support/wait.js';
import { TEST_KEY_STRETCHING } from '../server/helpers.js';

let cluster: Cluster;
let a: Node;
let b: Node;
let mum: TestMember;
let gran: TestMember;
let familyId: string;
let mia: string;

/** `member` as seen through another node: same keys and session, another base URL. */
function via(member: TestMember, node: Node): TestMember {
  return { ...member, api: new BurrowApi({ baseUrl: node.url, token: member.token }) };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** SHA-256 of the audio gran downloads and opens through node B (signature and roster checked). */
async function audioHash(messageId: string): Promise<string> {
  const downloaded = await downloadAndOpenMessage(via(gran, b), { familyId, messageId });
  if (!downloaded.opened.ok) throw new Error(`message ${messageId} did not open: ${downloaded.opened.code}`);
  return sha256(downloaded.opened.value.audio);
}

async function send(member: TestMember, tag: string): Promise<{ messageId: string; audio: Uint8Array }> {
  const audio = wavWith(utf8(tag), 256);
  const sent = await sendMessage(member, { familyId, to: mia, audio, audioType: 'audio/wav', durationMs: 16 });
  return { messageId: sent.messageId, audio };
}

beforeAll(async () => {
  cluster = await startCluster();
  // Both nodes start at once on the empty database: one migrates under the lock, the other waits.
  [a, b] = await Promise.all([cluster.startNode(), cluster.startNode()]);
  mum = await registerMember(a.url, 'mum');
  gran = await registerMember(b.url, 'gran');
  familyId = (await createFamily(via(mum, b), { name: 'Two Nodes' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false } });
  await acceptInvite(via(gran, a), link);
  await admitJoiners(via(mum, b), { familyId });
}, 180_000);

afterAll(async () => {
  await cluster?.close();
});

describe('two nodes on one PostgreSQL and one S3 bucket', () => {
  it('an account registered on node A logs in on node B', async () => {
    const api = new BurrowApi({ baseUrl: b.url });
    const signedIn = await loginAccount({ api, email: mum.email, password: mum.password, sessionLabel: 'on B', ...sameStretchingAs(mum) });
    expect(signedIn.session.accountId).toBe(mum.me.accountId);
  });

  it('a login started on node A finishes on node B, and only once', async () => {
    await opaque.ready;
    const { clientLoginState, startLoginRequest } = opaque.client.startLogin({ password: gran.password });
    const start = await fetch(`${a.url}/v1/accounts/login/start`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: gran.email, startLoginRequest }) });
    expect(start.status).toBe(200);
    const { loginId, loginResponse } = await start.json() as { loginId: string; loginResponse: string };
    // Gran was registered with the harness's cheap key stretching (test/support/members.ts).
    const result = opaque.client.finishLogin({ clientLoginState, loginResponse, password: gran.password, keyStretching: TEST_KEY_STRETCHING });
    expect(result).toBeDefined();
    const body = JSON.stringify({ loginId, finishLoginRequest: result!.finishLoginRequest, tokenDelivery: 'bearer' });
    const finish = await fetch(`${b.url}/v1/accounts/login/finish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(finish.status).toBe(200);
    expect((await finish.json() as { accountId: string }).accountId).toBe(gran.me.accountId);
    const again = await fetch(`${a.url}/v1/accounts/login/finish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(again.status).toBeGreaterThanOrEqual(400);
  });

  it('a live connection on node A receives, live, a message uploaded through node B', async () => {
    const live = await recordLive(gran, a.url);
    try {
      await live.live.ready;
      const sent = await send(via(mum, b), 'across-nodes');
      const event = await live.waitFor((e) => e.event === 'message' && (e.data as { messageId?: string }).messageId === sent.messageId, 20_000);
      expect(event.familyId).toBe(familyId);
    } finally {
      live.live.close();
    }
  });

  it('a client that reconnects to the other node resumes from its cursor: every missed message once, nothing twice', async () => {
    const first = await recordLive(gran, a.url);
    await first.live.ready;
    const before = await send(mum, 'before-drop');
    await first.waitFor((e) => e.event === 'message' && (e.data as { messageId?: string }).messageId === before.messageId, 20_000);
    first.live.close();
    const seenBefore = new Set(first.events.map((e) => (e.data as { messageId?: string }).messageId));

    const missed: string[] = [];
    for (let i = 0; i < 8; i++) missed.push((await send(mum, `missed-${i}`)).messageId);

    const second = await recordLive(gran, b.url);
    try {
      await second.live.ready;
      await second.waitFor((e) => (e.data as { messageId?: string }).messageId === missed.at(-1), 20_000);
      const after = await send(via(mum, b), 'after-resume');
      await second.waitFor((e) => (e.data as { messageId?: string }).messageId === after.messageId, 20_000);
      const received = second.events.filter((e) => e.event === 'message').map((e) => (e.data as { messageId: string }).messageId);
      expect(received).toEqual([...missed, after.messageId]);
      for (const id of received) expect(seenBefore.has(id)).toBe(false);
    } finally {
      second.live.close();
    }
  });

  it('a toy paired through node A and connected live on node B plays a message sent through node A', async () => {
    const paired = await pairToy(a.url, via(mum, a), familyId, mia);
    const toy = await toyRuntime({ ...paired, baseUrl: b.url });
    await toy.runtime.start();
    await toy.runtime.sync();
    // The backlog replays older messages first; wait for this one.
    const heardIds = new Set<string>();
    let wanted: string | undefined;
    let resolveEvent: () => void = () => undefined;
    const heard = new Promise<void>((resolve) => {
      resolveEvent = resolve;
    });
    const live = await connectLive({
      baseUrl: b.url,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      token: paired.deviceToken,
      store: new MemoryKeyStore(),
      onEvent: (event) => {
        if (event.event === 'message' && typeof event.data.messageId === 'string') heardIds.add(event.data.messageId);
        if (wanted !== undefined && heardIds.has(wanted)) resolveEvent();
      },
    });
    try {
      await live.ready;
      const sent = await send(via(mum, a), 'to-the-toy');
      wanted = sent.messageId;
      if (heardIds.has(wanted)) resolveEvent();
      await heard;
      await toy.runtime.sync();
      const played = toy.played.find((p) => p.messageId === sent.messageId);
      expect(played !== undefined && sha256(played.audio)).toBe(sha256(sent.audio));
    } finally {
      await live.close();
    }
  });

  it('killing node A during uploads loses no acknowledged message, and node B keeps serving', { timeout: 120_000 }, async () => {
    const acknowledged: Array<{ messageId: string; audio: Uint8Array }> = [];
    const failures = { a: 0, b: [] as unknown[] };
    let acknowledgedByA = 0;
    const uploads = async (node: Node, count: number, tag: string): Promise<void> => {
      for (let i = 0; i < count; i++) {
        try {
          acknowledged.push(await send(via(mum, node), `${tag}-${i}`));
          if (node === a) acknowledgedByA += 1;
        } catch (error) {
          if (node === a) failures.a += 1;
          else failures.b.push(error);
        }
      }
    };
    const onA = uploads(a, 40, 'a');
    const onB = uploads(b, 15, 'b');
    // Let a few uploads through A complete, then kill it mid-batch.
    await waitUntil(() => acknowledgedByA >= 3, { intervalMs: 50 });
    expect(acknowledgedByA).toBeGreaterThanOrEqual(3);
    await a.kill();
    await Promise.all([onA, onB]);
    expect(failures.a).toBeGreaterThan(0);
    expect(failures.b).toEqual([]);

    for (const sent of acknowledged) {
      expect(await audioHash(sent.messageId)).toBe(sha256(sent.audio));
    }
    const ready = await fetch(`${b.url}/readyz`);
    expect(ready.status).toBe(200);
    const last = await send(via(mum, b), 'after-kill');
    expect(await audioHash(last.messageId)).toBe(sha256(last.audio));
  });
});
