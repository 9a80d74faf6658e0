/** Retention and clean-up: expired messages, orphan blobs, interrupted uploads. */
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from '../../../src/crypto/bytes.js';
import { createMessagesRepository } from '../../../src/server/messages/repository.js';
import { createSweeper, type Sweeper } from '../../../src/server/messages/sweeper.js';
import { FsBlobStore } from '../../../src/storage/blobs/fs-blob-store.js';
import { b64, manualClock, startTestServer, type TestServer } from '../helpers.js';
import { blobFiles, call, messageCount, registerMember, seal, seedFamily, upload, type Member, type TestFamily } from './fixtures.js';
import { waitUntil } from '../../support/wait.js';

const DAY = 24 * 3600_000;
const HOUR = 3600_000;

let server: TestServer;
let clock: ReturnType<typeof manualClock>;
let sweeper: Sweeper;
let blobs: FsBlobStore;
let mum: Member;
let family: TestFamily;
const ada = b64(16);

beforeAll(async () => {
  // The clock starts at the real time because blob files carry real modification times.
  clock = manualClock(Date.now());
  server = await startTestServer({ clock });
  blobs = new FsBlobStore({ dir: join(server.dataDir, 'blobs') });
  sweeper = createSweeper({ repository: createMessagesRepository(server.store.db), blobs, clock, intervalMs: 60_000, orphanGraceMs: HOUR, onError: () => undefined });
  mum = await registerMember(server.app);
  family = await seedFamily(server.store, { guardians: [mum], children: [ada], retentionDays: 7 });
});
afterAll(async () => {
  await sweeper.stop();
  await server.close();
});

async function send(): Promise<string> {
  const sealed = await seal(mum, family, [ada]);
  const answer = await upload(server.app, mum, family.familyId, sealed.bytes);
  expect(answer.statusCode, answer.body).toBe(201);
  return answer.json<{ messageId: string }>().messageId;
}

async function blobOf(messageId: string): Promise<string> {
  return (await server.store.db.selectFrom('messages').select('blob_name').where('id', '=', messageId).executeTakeFirstOrThrow()).blob_name;
}

describe('the sweeper', () => {
  it('deletes messages past the family retention with their blobs, and keeps saved ones', async () => {
    const kept = await send();
    const expired = await send();
    expect((await call(server.app, mum, 'PUT', `/v1/families/${family.familyId}/messages/${kept}/saved`, { saved: true })).statusCode).toBe(200);
    const expiredBlob = await blobOf(expired);
    const keptBlob = await blobOf(kept);

    clock.advance(6 * DAY);
    expect((await sweeper.runOnce()).expiredMessages).toBe(0);
    clock.advance(1 * DAY + 1);
    const report = await sweeper.runOnce();
    expect(report.expiredMessages).toBe(1);
    expect((await call(server.app, mum, 'GET', `/v1/families/${family.familyId}/messages/${expired}`)).statusCode).toBe(404);
    expect((await call(server.app, mum, 'GET', `/v1/families/${family.familyId}/messages/${kept}`)).statusCode).toBe(200);
    const files = blobFiles(join(server.dataDir, 'blobs')).blobs;
    expect(files).not.toContain(expiredBlob);
    expect(files).toContain(keptBlob);
  });

  it('deletes blobs no message references once they are older than the grace period, and leaves the rest', async () => {
    const messageId = await send();
    const referenced = await blobOf(messageId);
    const orphan = await blobs.put((async function* () { yield randomBytes(1000); })(), { maxBytes: 10_000 });
    // Stored "now" by the test's clock, which earlier tests moved ahead of the real one.
    const now = clock.now() / 1000;
    utimesSync(join(server.dataDir, 'blobs', orphan.name.slice(0, 2), orphan.name), now, now);
    expect((await sweeper.runOnce()).orphanBlobs).toBe(0);
    expect(blobFiles(join(server.dataDir, 'blobs')).blobs).toContain(orphan.name);
    clock.advance(2 * HOUR);
    expect((await sweeper.runOnce()).orphanBlobs).toBe(1);
    const files = blobFiles(join(server.dataDir, 'blobs')).blobs;
    expect(files).not.toContain(orphan.name);
    expect(files).toContain(referenced);
  });

  it('deletes the temp files of uploads a crash interrupted', async () => {
    const tempDir = join(server.dataDir, 'blobs', 'tmp');
    mkdirSync(tempDir, { recursive: true });
    const temp = join(tempDir, `${b64(24)}.part`);
    writeFileSync(temp, randomBytes(100));
    const old = (clock.now() - 2 * HOUR) / 1000;
    utimesSync(temp, old, old);
    expect((await sweeper.runOnce()).incompleteUploads).toBe(1);
    expect(blobFiles(join(server.dataDir, 'blobs')).temps).toEqual([]);
  });
});

describe('an upload cut off halfway', () => {
  it('leaves no message, no blob and no temp file', async () => {
    const address = await server.app.listen({ host: '127.0.0.1', port: 0 });
    const port = Number(new URL(address).port);
    const before = { rows: await messageCount(server.store), blobs: blobFiles(join(server.dataDir, 'blobs')).blobs.length };
    const sealed = await seal(mum, family, [ada], { audioBytes: 200_000 });
    const half = Math.floor(sealed.bytes.length / 2);
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.write([
          `POST /v1/families/${family.familyId}/messages HTTP/1.1`,
          `Host: 127.0.0.1:${port}`,
          `Authorization: Bearer ${mum.token}`,
          'Content-Type: application/octet-stream',
          `Content-Length: ${sealed.bytes.length}`,
          '', '',
        ].join('\r\n'));
        socket.write(sealed.bytes.subarray(0, half), () => {
          // Wait until the server has started storing the body, then vanish.
          const poll = setInterval(() => {
            if (blobFiles(join(server.dataDir, 'blobs')).temps.length > 0) {
              clearInterval(poll);
              socket.destroy();
              resolve();
            }
          }, 5);
        });
      });
      socket.on('error', reject);
    });
    // The server notices the reset and removes what it wrote.
    await waitUntil(() => blobFiles(join(server.dataDir, 'blobs')).temps.length === 0);
    expect(blobFiles(join(server.dataDir, 'blobs')).temps).toEqual([]);
    expect(await messageCount(server.store)).toBe(before.rows);
    expect(blobFiles(join(server.dataDir, 'blobs')).blobs.length).toBe(before.blobs);
    await sweeper.runOnce();
    expect(blobFiles(join(server.dataDir, 'blobs')).temps).toEqual([]);
  });
});
