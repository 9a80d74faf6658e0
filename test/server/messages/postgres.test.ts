/** Voice messages on PostgreSQL: the same migration, queries, visibility, cursor, receipts, approvals, sweeper and purge as on SQLite. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localMessaging } from '../../support/backends.js';
import { toBase64Url } from '../../../src/crypto/bytes.js';
import { createServer } from '../../../src/server/app.js';
import { loadConfig } from '../../../src/server/config.js';
import type { BurrowApp } from '../../../src/server/http/types.js';
import { createMessagesRepository } from '../../../src/server/messages/repository.js';
import { createSweeper } from '../../../src/server/messages/sweeper.js';
import { loadOrCreateSecrets } from '../../../src/server/secrets.js';
import { FsBlobStore } from '../../../src/storage/blobs/fs-blob-store.js';
import type { SqlStore } from '../../../src/storage/database.js';
import { openPostgresStore } from '../../../src/storage/postgres.js';
import { createTestDatabase } from '../../support/postgres.js';
import { b64, manualClock } from '../helpers.js';
import { approvalBody, blobFiles, declineBody, call, messageCount, receiptBody, registerMember, seal, seedFamily, upload, type Member } from './fixtures.js';

const DAY = 24 * 3600_000;
let app: BurrowApp;
let messaging: ReturnType<typeof localMessaging>;
let store: SqlStore;
let drop: () => Promise<void>;
let dataDir: string;
const clock = manualClock(Date.now());

beforeAll(async () => {
  const database = await createTestDatabase();
  drop = database.drop;
  dataDir = join(mkdtempSync(join(tmpdir(), 'burrow-messages-pg-')), 'data');
  const config = loadConfig({ env: {}, flags: { data: dataDir, port: 0 }, overrides: { rateLimits: { globalPerIp: { max: 100_000, windowMs: 60_000 }, anonymousPerIp: { max: 100_000, windowMs: 60_000 }, perAccount: { max: 100_000, windowMs: 60_000 } } } });
  const { secrets } = await loadOrCreateSecrets({ dataDir: config.dataDir });
  store = await openPostgresStore(database.url, { poolSize: 4 });
  messaging = localMessaging(config.dataDir, () => clock.now());
  app = createServer({ config, store, secrets, blobs: messaging.blobs, bus: messaging.bus, clock, log: false });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await messaging?.close();
  await store?.close();
  await drop?.();
});

describe('voice messages on PostgreSQL', () => {
  it('upload, visibility, paging, receipts, approval, decline, save, expiry and family deletion', async () => {
    const [mum, gran, aunt] = await Promise.all([registerMember(app), registerMember(app), registerMember(app)]) as [Member, Member, Member];
    const ada = b64(16);
    const ben = b64(16);
    const family = await seedFamily(store, { guardians: [mum], relatives: [{ member: gran, children: [ada] }, { member: aunt, children: [ben], needsApproval: true }], children: [ada, ben], retentionDays: 3 });
    const base = `/v1/families/${family.familyId}/messages`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const sealed = await seal(mum, family, [i % 2 === 0 ? ada : ben]);
      const answer = await upload(app, mum, family.familyId, sealed.bytes);
      expect(answer.statusCode, answer.body).toBe(201);
      ids.push(answer.json<{ messageId: string }>().messageId);
      clock.advance(1);
    }
    const duplicate = await seal(mum, family, [ada]);
    expect((await upload(app, mum, family.familyId, duplicate.bytes)).statusCode).toBe(201);
    expect((await upload(app, mum, family.familyId, duplicate.bytes)).statusCode).toBe(409);

    const granSees = (await call(app, gran, 'GET', base)).json<{ messages: Array<{ messageId: string }> }>().messages.map((m) => m.messageId);
    expect(granSees).toEqual([toBase64Url(duplicate.header.messageId), ids[4], ids[2], ids[0]]);
    const page = (await call(app, mum, 'GET', `${base}?limit=2`)).json<{ messages: Array<{ messageId: string }>; nextCursor: string }>();
    const next = (await call(app, mum, 'GET', `${base}?limit=2&before=${page.nextCursor}`)).json<{ messages: Array<{ messageId: string }> }>();
    expect([...page.messages, ...next.messages].map((m) => m.messageId)).toEqual([toBase64Url(duplicate.header.messageId), ids[4], ids[3], ids[2]]);

    const played = await receiptBody(gran, family.familyId, ids[0]!, 'played');
    expect((await call(app, gran, 'POST', `${base}/${ids[0]}/receipts`, played)).statusCode).toBe(200);
    expect((await call(app, gran, 'POST', `${base}/${ids[0]}/receipts`, played)).statusCode).toBe(200);
    expect((await call(app, gran, 'GET', `${base}/${ids[0]}`)).json<{ receipts: unknown[] }>().receipts).toEqual([expect.objectContaining({ kind: 'played', rosterEpoch: 0, signedAt: played.signedAt, signature: played.signature })]);

    const fromAunt = await seal(aunt, family, [ben]);
    const auntId = (await upload(app, aunt, family.familyId, fromAunt.bytes)).json<{ messageId: string }>().messageId;
    expect((await call(app, mum, 'GET', `${base}?pendingApproval=true`)).json<{ messages: Array<{ messageId: string }> }>().messages.map((m) => m.messageId)).toEqual([auntId]);
    expect((await call(app, mum, 'POST', `${base}/${auntId}/approvals`, await approvalBody(mum, family.familyId, fromAunt))).statusCode).toBe(200);
    expect((await call(app, mum, 'GET', `${base}?pendingApproval=true`)).json<{ messages: unknown[] }>().messages).toEqual([]);
    const declined = await seal(aunt, family, [ben]);
    const declinedId = (await upload(app, aunt, family.familyId, declined.bytes)).json<{ messageId: string }>().messageId;
    expect((await call(app, mum, 'POST', `${base}/${declinedId}/declines`, await declineBody(mum, family.familyId, declined))).statusCode).toBe(200);
    expect((await call(app, mum, 'POST', `${base}/${declinedId}/approvals`, await approvalBody(mum, family.familyId, declined))).statusCode).toBe(409);
    expect((await call(app, mum, 'GET', `${base}?pendingApproval=true`)).json<{ messages: unknown[] }>().messages).toEqual([]);
    expect((await call(app, mum, 'GET', `${base}?pendingApproval=false`)).json<{ messages: Array<{ messageId: string }> }>().messages.map((m) => m.messageId)).toContain(declinedId);
    expect((await call(app, aunt, 'GET', `${base}/${declinedId}`)).json<{ declines: Array<{ guardianId: string }> }>().declines.map((d) => d.guardianId)).toEqual([mum.accountId]);

    expect((await call(app, mum, 'PUT', `${base}/${ids[1]}/saved`, { saved: true })).statusCode).toBe(200);
    const sweeper = createSweeper({ repository: createMessagesRepository(store.db), blobs: new FsBlobStore({ dir: join(dataDir, 'blobs') }), clock, intervalMs: 60_000, orphanGraceMs: 3600_000, onError: () => undefined });
    clock.advance(3 * DAY + 10);
    expect((await sweeper.runOnce()).expiredMessages).toBe(7);
    expect((await call(app, mum, 'GET', base)).json<{ messages: Array<{ messageId: string }> }>().messages.map((m) => m.messageId)).toEqual([ids[1]]);

    expect((await call(app, mum, 'DELETE', `/v1/families/${family.familyId}`, { confirm: 'delete this family' })).statusCode).toBe(204);
    expect(await messageCount(store)).toBe(0);
    expect(blobFiles(join(dataDir, 'blobs')).blobs).toEqual([]);
  });
});
