/**
 * Group commit against SIGKILL: 16 senders upload back to back (so their rows share commits on
 * the SQLite worker) and the server is killed the moment the 60th acknowledgement arrives. After a
 * restart on the same data directory, every message the server acknowledged — including any
 * acknowledgement that arrived between the kill and the process's end — is listed and downloads
 * intact. Runs the built CLI (test/support/serve.ts; npm test builds it first).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { createFamily, loadFamily } from '../../src/client/families.js';
import { randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { sealMessage } from '../../src/crypto/envelope.js';
import { startBurrowServe, type ServeProcess } from '../support/serve.js';
import { registerMember } from './family-harness.js';

const SENDERS = 16;
const PER_SENDER = 12;
const KILL_AFTER = 60;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const servers: ServeProcess[] = [];

afterAll(async () => {
  await Promise.all(servers.map((server) => server.kill()));
});

describe('a server killed right after acknowledging messages under concurrent load', () => {
  it('has every acknowledged message after a restart', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'burrow-group-crash-')), 'data');
    const first = await startBurrowServe({ dataDir });
    servers.push(first);
    const mum = await registerMember(first.url, 'mum');
    const created = await createFamily(mum, { name: 'Group commit family' });
    const childId = (await addChild(mum, { familyId: created.familyId, name: 'Mia', emoji: '🦊' })).childId;
    // Adding Mia listed her in a new entry, with a conversation key of her own.
    const family = await loadFamily(mum, created.familyId);

    const sent = new Map<string, string>();
    const queues: Uint8Array[][] = Array.from({ length: SENDERS }, () => []);
    for (let i = 0; i < SENDERS * PER_SENDER; i++) {
      // Durability only: the server never opens an envelope, so any key of the family does.
      const sealed = await sealMessage({
        familyId: family.familyId, epoch: family.roster.epoch, rosterHead: family.roster.headHash, scope: childId, key: family.headKeyOf(childId)!, sender: mum.me, recipients: [childId],
        audio: randomBytes(8 * 1024), audioType: 'audio/wav', durationMs: 1_000, createdAt: Date.now(),
      });
      sent.set(toBase64Url(sealed.header.messageId), sha256(sealed.bytes));
      queues[i % SENDERS]!.push(sealed.bytes);
    }

    const acknowledged = new Set<string>();
    let killing: Promise<void> | undefined;
    const url = `${first.url}/v1/families/${family.familyId}/messages`;
    const sender = async (queue: Uint8Array[]): Promise<void> => {
      for (const bytes of queue) {
        if (killing !== undefined) return;
        let answer: Response;
        try {
          answer = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${mum.token}`, 'content-type': 'application/octet-stream' }, body: Buffer.from(bytes) });
        } catch {
          return; // Cut off by the kill: not acknowledged.
        }
        if (answer.status !== 201) return;
        acknowledged.add(((await answer.json()) as { messageId: string }).messageId);
        // Killed right away, while the other senders' writes are queued or being committed.
        if (acknowledged.size >= KILL_AFTER) killing ??= first.kill();
      }
    };
    await Promise.all(queues.map(sender));
    await killing;
    expect(acknowledged.size).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(acknowledged.size).toBeLessThan(SENDERS * PER_SENDER);

    const second = await startBurrowServe({ dataDir });
    servers.push(second);
    const listed = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await fetch(`${second.url}/v1/families/${family.familyId}/messages?limit=100${cursor === undefined ? '' : `&before=${cursor}`}`, { headers: { authorization: `Bearer ${mum.token}` } });
      expect(page.status).toBe(200);
      const body = (await page.json()) as { messages: Array<{ messageId: string }>; nextCursor?: string };
      for (const message of body.messages) listed.add(message.messageId);
      cursor = body.nextCursor;
    } while (cursor !== undefined);
    for (const id of acknowledged) expect(listed.has(id), `acknowledged ${id} is listed after the restart`).toBe(true);
    for (const id of listed) expect(sent.has(id), `listed ${id} was sent`).toBe(true);
    for (const id of acknowledged) {
      const download = await fetch(`${second.url}/v1/families/${family.familyId}/messages/${id}/envelope`, { headers: { authorization: `Bearer ${mum.token}` } });
      expect(download.status).toBe(200);
      expect(sha256(new Uint8Array(await download.arrayBuffer())), `acknowledged ${id} is intact`).toBe(sent.get(id));
    }
    await second.close();
  }, 240_000);
});
