/**
 * Killing the server (SIGKILL) in the middle of 50 concurrent uploads: after a restart on the same
 * data directory every acknowledged message is listed and downloads with the SHA-256 of what was
 * sent, nothing that was not sent is visible, and the start-up sweep leaves no orphan blob and no
 * temp file. Runs the built CLI (test/support/serve.ts; npm test builds it first). Its figures are
 * part of the adversarial suite's report (docs/security-testing.md).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { createFamily, loadFamily } from '../../src/client/families.js';
import { randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { sealMessage } from '../../src/crypto/envelope.js';
import { recordFigures } from '../adversarial/figures.js';
import { blobFiles } from '../server/messages/fixtures.js';
import { startBurrowServe, type ServeProcess } from '../support/serve.js';
import { registerMember, type TestMember } from './family-harness.js';

const UPLOADS = 50;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Uploads an envelope over a raw HTTP request; `held` sends the first half of the body and then
 * nothing more, so the upload is still in flight whenever the server dies.
 */
function uploadRaw(url: string, token: string, familyId: string, bytes: Uint8Array, held: boolean): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/families/${familyId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (held) req.write(Buffer.from(bytes.subarray(0, bytes.length >> 1)));
    else req.end(Buffer.from(bytes));
  });
}

async function getJson<T>(url: string, token: string): Promise<T> {
  const answer = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (!answer.ok) throw new Error(`GET ${url} answered ${answer.status}`);
  return answer.json() as Promise<T>;
}

let dataDir: string;
let mum: TestMember;
let familyId: string;
const servers: ServeProcess[] = [];

/** `burrow serve` on the one data directory of this file, stopped after the file. */
async function startServe(env: Record<string, string> = {}): Promise<ServeProcess> {
  const server = await startBurrowServe({ dataDir, env });
  servers.push(server);
  return server;
}

/** Polls `done` (the state of files and uploads, never the time). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 20));
}

beforeAll(() => {
  dataDir = join(mkdtempSync(join(tmpdir(), 'burrow-crash-')), 'data');
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.kill()));
});

describe('a server killed during 50 concurrent uploads', () => {
  it('keeps every acknowledged message intact, shows nothing it was not sent, and sweeps the leftovers on restart', async () => {
    const first = await startServe();
    mum = await registerMember(first.url, 'mum');
    familyId = (await createFamily(mum, { name: 'Crash family' })).familyId;
    const childId = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
    // Adding Mia listed her in a new entry, with a conversation key of her own.
    const family = await loadFamily(mum, familyId);

    const sent = new Map<string, string>();
    const envelopes: Uint8Array[] = [];
    for (let i = 0; i < UPLOADS; i++) {
      // Durability only: the server never opens an envelope, so any key of the family does.
      const sealed = await sealMessage({
        familyId, epoch: family.roster.epoch, rosterHead: family.roster.headHash, scope: childId, key: family.headKeyOf(childId)!, sender: mum.me, recipients: [childId],
        audio: randomBytes(200 * 1024), audioType: 'audio/wav', durationMs: 12_000, createdAt: Date.now(),
      });
      sent.set(toBase64Url(sealed.header.messageId), sha256(sealed.bytes));
      envelopes.push(sealed.bytes);
    }

    const acknowledged = new Map<string, string>();
    let killed = false;
    const uploads = envelopes.map(async (bytes, i) => {
      try {
        const answer = await uploadRaw(first.url, mum.token, familyId, bytes, i % 2 === 1);
        if (answer.status === 201 && !killed) {
          const { messageId } = JSON.parse(answer.body) as { messageId: string };
          acknowledged.set(messageId, sha256(bytes));
        }
      } catch {
        // Cut off by the kill: not acknowledged.
      }
    });
    // Killed once some are acknowledged and the held half is being written to temp files.
    await until(() => acknowledged.size >= 10 && blobFiles(join(dataDir, 'blobs')).temps.length > 0);
    killed = true;
    await first.kill();
    await Promise.all(uploads);
    expect(acknowledged.size).toBeGreaterThanOrEqual(10);
    expect(acknowledged.size).toBeLessThan(UPLOADS);
    // The slow half was cut off mid-stream: their temp files are what a crash leaves behind.
    const leftovers = blobFiles(join(dataDir, 'blobs'));
    expect(leftovers.temps.length).toBeGreaterThan(0);

    // Restart with no grace period: the start-up sweep runs before the server listens, so no upload is in flight.
    const second = await startServe({ BURROW_ORPHAN_GRACE_SECONDS: '0' });
    const listed: Array<{ messageId: string; size: number }> = [];
    let cursor: string | undefined;
    do {
      const page = await getJson<{ messages: Array<{ messageId: string; size: number }>; nextCursor?: string }>(
        `${second.url}/v1/families/${familyId}/messages?limit=100${cursor === undefined ? '' : `&before=${cursor}`}`, mum.token);
      listed.push(...page.messages);
      cursor = page.nextCursor;
    } while (cursor !== undefined);

    const listedIds = new Set(listed.map((m) => m.messageId));
    for (const id of acknowledged.keys()) expect(listedIds.has(id), `acknowledged ${id} is listed`).toBe(true);
    for (const message of listed) {
      expect(sent.has(message.messageId), `listed ${message.messageId} was sent`).toBe(true);
      const download = await fetch(`${second.url}/v1/families/${familyId}/messages/${message.messageId}/envelope`, { headers: { authorization: `Bearer ${mum.token}` } });
      expect(download.status).toBe(200);
      const bytes = new Uint8Array(await download.arrayBuffer());
      expect(sha256(bytes), `message ${message.messageId} is intact`).toBe(sent.get(message.messageId));
    }

    const files = blobFiles(join(dataDir, 'blobs'));
    expect(files.temps).toEqual([]);
    expect(files.blobs).toHaveLength(listed.length);
    recordFigures('crashDuringUploads', {
      concurrentUploads: UPLOADS, signal: 'SIGKILL', acknowledgedBeforeKill: acknowledged.size, listedAfterRestart: listed.length,
      acknowledgedLost: [...acknowledged.keys()].filter((id) => !listedIds.has(id)).length, partialOrCorrupt: 0, tempFilesLeftByTheCrash: leftovers.temps.length, tempFilesAfterRestartSweep: files.temps.length,
    });

    await second.close();
  }, 180_000);
});
