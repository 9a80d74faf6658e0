/**
 * PostgreSQL restarting under two running nodes: while it is away, requests fail fast with 503
 * problems and /readyz says not ready; when it is back, both nodes serve again and live events
 * cross between them again, without restarting either node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BurrowApi } from '../../src/client/api.js';
import { addChild } from '../../src/client/children.js';
import { createFamily } from '../../src/client/families.js';
import { sendMessage } from '../../src/client/messages.js';
import { utf8 } from '../../src/crypto/bytes.js';
import { recordLive, registerMember, wavWith, type TestMember } from '../e2e/family-harness.js';
import { startCluster, type Cluster, type Node } from './nodes.js';

let cluster: Cluster;
let a: Node;
let b: Node;
let mum: TestMember;

beforeAll(async () => {
  cluster = await startCluster({ throughProxy: true });
  [a, b] = await Promise.all([cluster.startNode(), cluster.startNode()]);
  mum = await registerMember(a.url, 'mum');
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

async function problemType(response: Response): Promise<string | undefined> {
  return response.headers.get('content-type')?.startsWith('application/problem+json') === true ? (await response.json() as { type?: string }).type : undefined;
}

describe('two nodes while PostgreSQL restarts', () => {
  it('answer 503 problems while it is away and serve again, live across nodes, once it is back', { timeout: 120_000 }, async () => {
    const familyId = (await createFamily(mum, { name: 'Restart' })).familyId;
    const mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
    const proxy = cluster.proxy!;

    proxy.cut();
    try {
      for (const node of [a, b]) {
        expect((await fetch(`${node.url}/readyz`)).status).toBe(503);
        const families = await fetch(`${node.url}/v1/families`, { headers: { authorization: `Bearer ${mum.token}` } });
        expect(families.status).toBe(503);
        expect(await problemType(families)).toBe('urn:burrow:problem:unavailable');
        expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
      }
    } finally {
      proxy.restore();
    }

    for (const node of [a, b]) {
      let ready = 0;
      for (let i = 0; i < 100 && ready !== 200; i++) {
        ready = (await fetch(`${node.url}/readyz`)).status;
        if (ready !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(ready).toBe(200);
    }
    const live = await recordLive(mum, a.url);
    try {
      await live.live.ready;
      const onB = { ...mum, api: new BurrowApi({ baseUrl: b.url, token: mum.token }) };
      const sent = await sendMessage(onB, { familyId, to: mia, audio: wavWith(utf8('after-restart'), 128), audioType: 'audio/wav', durationMs: 8 });
      await live.waitFor((e) => e.event === 'message' && e.data.messageId === sent.messageId, 30_000);
    } finally {
      live.live.close();
    }
  });
});
