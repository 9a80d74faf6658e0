/**
 * The upload's last membership check is its insert's own condition (src/server/messages/repository.ts
 * `insertWhileSenderInFamily`): staged here over HTTP, with the roster changed while the body is
 * held between the early checks and the blob store.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, toBase64Url } from '../../../src/crypto/bytes.js';
import { systemRandom } from '../../../src/server/deps.js';
import { DEVICE_TOKEN_PREFIX, hashPrefixedToken } from '../../../src/server/toys/service.js';
import { newSessionToken } from '../../../src/server/sessions/tokens.js';
import { FsBlobStore } from '../../../src/storage/blobs/fs-blob-store.js';
import type { BlobStore } from '../../../src/storage/blobs/blob-store.js';
import { b64, bearer, startTestServer, type TestServer } from '../helpers.js';
import { call, changeRoster, messageCount, registerMember, seal, seedFamily, upload, type FamilySpec, type Member, type TestFamily } from './fixtures.js';

/** The real directory store, whose next `put` can be held until the test lets it go on. */
class HeldBlobStore extends FsBlobStore {
  #next: { reached: () => void; release: Promise<void> } | undefined;

  /** Holds the next put: `reached` once an upload got there (its early checks passed), `release` lets it go on. */
  holdNextPut(): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const atPut = new Promise<void>((resolve) => (reached = resolve));
    this.#next = { reached, release: new Promise<void>((resolve) => (release = resolve)) };
    return { reached: atPut, release };
  }

  override async put(...args: Parameters<BlobStore['put']>): ReturnType<BlobStore['put']> {
    const held = this.#next;
    this.#next = undefined;
    if (held !== undefined) {
      held.reached();
      await held.release;
    }
    return super.put(...args);
  }
}

let server: TestServer;
let blobs: HeldBlobStore;
let mum: Member, gran: Member, aunt: Member;
const ada = b64(16);
const ben = b64(16);

beforeAll(async () => {
  blobs = new HeldBlobStore({ dir: join(mkdtempSync(join(tmpdir(), 'burrow-held-blobs-')), 'blobs') });
  server = await startTestServer({ blobs });
  [mum, gran, aunt] = await Promise.all([registerMember(server.app), registerMember(server.app), registerMember(server.app)]) as [Member, Member, Member];
});
afterAll(async () => {
  await server.close();
  await blobs.close();
});

async function storedBlobCount(): Promise<number> {
  let n = 0;
  for await (const blob of blobs.list()) if (blob.name !== '') n++;
  return n;
}

/** Uploads `bytes` as `token`, changes the roster to `after` while the body is held, then lets it finish. */
async function uploadWhileRosterChanges(token: string, family: TestFamily, bytes: Uint8Array, after: FamilySpec) {
  const held = blobs.holdNextPut();
  const answer = server.app.inject({
    method: 'POST',
    url: `/v1/families/${family.familyId}/messages`,
    headers: { ...bearer(token), 'content-type': 'application/octet-stream' },
    payload: Buffer.from(bytes),
  });
  await held.reached;
  await changeRoster(server.store, family, after);
  held.release();
  return answer;
}

describe('the roster changes while an upload streams', () => {
  it('a relative removed meanwhile gets 404 and nothing is stored', async () => {
    const spec = { guardians: [mum], relatives: [{ member: gran, children: [ada] }], children: [ada] };
    const family = await seedFamily(server.store, spec);
    const before = { messages: await messageCount(server.store), blobs: await storedBlobCount() };
    const sealed = await seal(gran, family, [ada]);
    const answer = await uploadWhileRosterChanges(gran.token, family, sealed.bytes, { guardians: [mum], children: [ada] });
    expect(answer.statusCode, answer.body).toBe(404);
    expect(answer.json<{ type: string }>().type).toMatch(/not-found$/);
    expect({ messages: await messageCount(server.store), blobs: await storedBlobCount() }).toEqual(before);
  });

  it('a guardian whose family moved to a new epoch meanwhile gets 409 stale-epoch and nothing is stored', async () => {
    const spec = { guardians: [mum], children: [ada] };
    const family = await seedFamily(server.store, spec);
    const before = { messages: await messageCount(server.store), blobs: await storedBlobCount() };
    const sealed = await seal(mum, family, [ada]);
    const answer = await uploadWhileRosterChanges(mum.token, family, sealed.bytes, spec);
    expect(answer.statusCode, answer.body).toBe(409);
    expect(answer.json<{ type: string }>().type).toMatch(/stale-epoch$/);
    expect({ messages: await messageCount(server.store), blobs: await storedBlobCount() }).toEqual(before);
  });

  it('a refused upload carrying the id of a message stored meanwhile adds none of its recipients to that message: Ben\'s relative still does not see a message for Ada', async () => {
    const spec = { guardians: [mum], relatives: [{ member: gran, children: [ada, ben] }, { member: aunt, children: [ben] }], children: [ada, ben] };
    const family = await seedFamily(server.store, spec);
    const messageId = randomBytes(16);
    const fromGran = await seal(gran, family, [ben], { messageId });
    // Gran's upload passes its early checks (the id is free) and is held before the blob store;
    // meanwhile Mum's message to Ada is stored under that id, and Gran is removed.
    const held = blobs.holdNextPut();
    const granAnswer = upload(server.app, gran, family.familyId, fromGran.bytes);
    await held.reached;
    const fromMum = await upload(server.app, mum, family.familyId, (await seal(mum, family, [ada], { messageId })).bytes);
    expect(fromMum.statusCode, fromMum.body).toBe(201);
    const after = await changeRoster(server.store, family, { guardians: [mum], relatives: [{ member: aunt, children: [ben] }], children: [ada, ben] });
    held.release();
    expect((await granAnswer).statusCode).toBe(404);
    const id = toBase64Url(messageId);
    const recipients = await server.store.db.selectFrom('message_recipients').select('recipient_id').where('message_id', '=', id).execute();
    expect(recipients.map((r) => r.recipient_id)).toEqual([ada]);
    const auntSees = (await call(server.app, aunt, 'GET', `/v1/families/${after.familyId}/messages`)).json<{ messages: Array<{ messageId: string }> }>().messages.map((m) => m.messageId);
    expect(auntSees).not.toContain(id);
    expect((await call(server.app, aunt, 'GET', `/v1/families/${after.familyId}/messages/${id}/envelope`)).statusCode).toBe(404);
  });

  it('a toy removed meanwhile (its membership read once, at authentication) gets 404 and nothing is stored', async () => {
    const toyId = b64(16);
    const spec = { guardians: [mum], children: [ada], toys: [{ toyId, childId: ada }] };
    const family = await seedFamily(server.store, spec);
    const deviceToken = DEVICE_TOKEN_PREFIX + newSessionToken(systemRandom);
    await server.store.db.insertInto('toy_devices').values({
      family_id: family.familyId, toy_id: toyId, child_id: ada, token_hash: hashPrefixedToken(deviceToken, DEVICE_TOKEN_PREFIX)!, token_used: 1, sealed_profile: null, paired_at: 1, last_seen_at: null, removed_at: null,
    }).execute();
    // The toy's token works before the change: it can send to its child.
    const first = await upload(server.app, { ...mum, token: deviceToken }, family.familyId, (await seal(mum, family, [ada], { senderId: toyId })).bytes);
    expect(first.statusCode, first.body).toBe(201);
    const before = { messages: await messageCount(server.store), blobs: await storedBlobCount() };
    const sealed = await seal(mum, family, [ada], { senderId: toyId });
    const answer = await uploadWhileRosterChanges(deviceToken, family, sealed.bytes, { guardians: [mum], children: [ada] });
    expect(answer.statusCode, answer.body).toBe(404);
    expect(answer.json<{ type: string }>().type).toMatch(/not-found$/);
    expect({ messages: await messageCount(server.store), blobs: await storedBlobCount() }).toEqual(before);
  });
});
