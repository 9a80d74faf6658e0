/** Voice messages over the API: uploads, listing, downloads, receipts, approvals, saving and deletion. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url, randomBytes, toBase64Url } from '../../../src/crypto/bytes.js';
import { b64 } from '../helpers.js';
import { startTestServer, type TestServer } from '../helpers.js';
import { createMessagesRepository } from '../../../src/server/messages/repository.js';
import { isUniqueViolation } from '../../../src/storage/errors.js';
import { approvalBody, blobFiles, declineBody, call, changeRoster, messageCount, receiptBody, registerMember, seal, seedFamily, upload, type Member, type TestFamily } from './fixtures.js';

interface View {
  messageId: string;
  senderId: string;
  recipients: string[];
  size: number;
  ciphertextHash: string;
  needsApproval: boolean;
  saved: boolean;
  expiresAt?: number;
  receivedAt: number;
  approvals: Array<{ guardianId: string; signature: string }>;
  declines: Array<{ guardianId: string; rosterEpoch: number; rosterHead: string; signature: string }>;
  receipts: Array<{ by: string; kind: string; signedAt: number; rosterEpoch: number; rosterHead: string; signature: string }>;
}

let server: TestServer;
let mum: Member, dad: Member, gran: Member, aunt: Member, stranger: Member;
let family: TestFamily;
let other: TestFamily;
const ada = b64(16);
const ben = b64(16);
const otherChild = b64(16);

beforeAll(async () => {
  server = await startTestServer({ overrides: { limits: { maxMessageBytes: 64 * 1024 } } });
  [mum, dad, gran, aunt, stranger] = await Promise.all([1, 2, 3, 4, 5].map(() => registerMember(server.app))) as [Member, Member, Member, Member, Member];
  family = await seedFamily(server.store, {
    guardians: [mum, dad],
    relatives: [{ member: gran, children: [ada] }, { member: aunt, children: [ada, ben], needsApproval: true }],
    children: [ada, ben],
  });
  other = await seedFamily(server.store, { guardians: [stranger], children: [otherChild] });
});
afterAll(async () => { await server.close(); });

const blobsDir = () => join(server.dataDir, 'blobs');
/** The stored blobs' names, through the blob port, so the check holds on a directory and on S3 alike. */
async function storedBlobs(): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of server.backends.blobs.list()) names.push(blob.name);
  return names;
}
const base = (f = family) => `/v1/families/${f.familyId}/messages`;

async function send(from: Member, recipients: string[], audioBytes = 2000) {
  const sealed = await seal(from, family, recipients, { audioBytes });
  const answer = await upload(server.app, from, family.familyId, sealed.bytes);
  expect(answer.statusCode, answer.body).toBe(201);
  return { sealed, messageId: answer.json<{ messageId: string }>().messageId };
}

async function expectNothingStored(run: () => Promise<{ statusCode: number; body: string }>, status: number, type?: string) {
  const rows = await messageCount(server.store);
  const files = (await storedBlobs()).length;
  const answer = await run();
  expect(answer.statusCode, answer.body).toBe(status);
  if (type !== undefined) expect(JSON.parse(answer.body).type).toBe(type);
  expect(await messageCount(server.store)).toBe(rows);
  expect((await storedBlobs()).length).toBe(files);
  expect(blobFiles(blobsDir()).temps).toEqual([]);
}

describe('uploading and downloading', () => {
  it('a guardian uploads an envelope that lists and downloads byte for byte', async () => {
    const { sealed, messageId } = await send(mum, [ada], 30_000);
    expect(messageId).toBe(toBase64Url(sealed.header.messageId));
    const list = await call(server.app, dad, 'GET', base());
    expect(list.statusCode).toBe(200);
    const view = list.json<{ messages: View[] }>().messages.find((m) => m.messageId === messageId)!;
    expect(view.senderId).toBe(mum.accountId);
    expect(view.recipients).toEqual([ada]);
    expect(view.size).toBe(sealed.bytes.length);
    expect(view.ciphertextHash).toBe(toBase64Url(sealed.ciphertextHash));
    expect(view.needsApproval).toBe(false);
    expect(view.saved).toBe(false);
    expect(view.expiresAt).toBe(view.receivedAt + 30 * 24 * 3600_000);
    const download = await call(server.app, dad, 'GET', `${base()}/${messageId}/envelope`);
    expect(download.statusCode).toBe(200);
    expect(download.headers['content-type']).toBe('application/octet-stream');
    expect(Number(download.headers['content-length'])).toBe(sealed.bytes.length);
    expect(new Uint8Array(download.rawPayload)).toEqual(sealed.bytes);
  });

  it('the blob is named at random, unrelated to the message id', async () => {
    const { messageId } = await send(mum, [ben]);
    const row = await server.store.db.selectFrom('messages').select('blob_name').where('id', '=', messageId).executeTakeFirstOrThrow();
    expect(row.blob_name).not.toContain(messageId);
    expect(await storedBlobs()).toContain(row.blob_name);
    const view = await call(server.app, mum, 'GET', `${base()}/${messageId}`);
    expect(view.body).not.toContain(row.blob_name);
  });

  it('an envelope naming another family, another sender or an old epoch is refused and nothing is stored', async () => {
    const wrongFamily = await seal(mum, family, [ada], { familyId: other.familyId });
    await expectNothingStored(() => upload(server.app, mum, family.familyId, wrongFamily.bytes), 400, 'urn:burrow:problem:invalid-envelope');
    const wrongSender = await seal(mum, family, [ada], { senderId: dad.accountId });
    await expectNothingStored(() => upload(server.app, mum, family.familyId, wrongSender.bytes), 400, 'urn:burrow:problem:invalid-envelope');
    const oldEpoch = await seal(mum, family, [ada], { epoch: family.epoch + 5 });
    await expectNothingStored(() => upload(server.app, mum, family.familyId, oldEpoch.bytes), 409, 'urn:burrow:problem:stale-epoch');
    const noChild = await seal(mum, family, [b64(16)]);
    await expectNothingStored(() => upload(server.app, mum, family.familyId, noChild.bytes), 404, 'urn:burrow:problem:not-found');
  });

  it('bytes that are not an envelope, or whose end is cut or padded, are refused and nothing is stored', async () => {
    await expectNothingStored(() => upload(server.app, mum, family.familyId, randomBytes(5000)), 400, 'urn:burrow:problem:invalid-envelope');
    const sealed = await seal(mum, family, [ada]);
    await expectNothingStored(() => upload(server.app, mum, family.familyId, sealed.bytes.subarray(0, sealed.bytes.length - 10)), 400);
    const padded = new Uint8Array(sealed.bytes.length + 3);
    padded.set(sealed.bytes);
    await expectNothingStored(() => upload(server.app, mum, family.familyId, padded), 400);
    const broken = sealed.bytes.slice();
    // The signature's length prefix sits 68 bytes before the end.
    broken[broken.length - 65] = 65;
    await expectNothingStored(() => upload(server.app, mum, family.familyId, broken), 400, 'urn:burrow:problem:invalid-envelope');
  });

  it('a browser uploads with its session cookie as application/octet-stream, but not as a type a form can send', async () => {
    const sealed = await seal(mum, family, [ada]);
    const cookie = { cookie: `burrow_session=${mum.token}` };
    await expectNothingStored(() => server.app.inject({ method: 'POST', url: base(), headers: { ...cookie, 'content-type': 'text/plain' }, payload: Buffer.from(sealed.bytes) }), 403, 'urn:burrow:problem:forbidden');
    const answer = await server.app.inject({ method: 'POST', url: base(), headers: { ...cookie, 'content-type': 'application/octet-stream' }, payload: Buffer.from(sealed.bytes) });
    expect(answer.statusCode, answer.body).toBe(201);
  });

  it('the OpenAPI document describes the upload body as application/octet-stream', async () => {
    const doc = (await server.app.inject({ method: 'GET', url: '/v1/openapi.json' })).json<{ paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>> }>();
    expect(Object.keys(doc.paths['/v1/families/{familyId}/messages']!.post!.requestBody!.content)).toEqual(['application/octet-stream']);
  });

  it('a body sent as JSON is refused with 415', async () => {
    await expectNothingStored(() => call(server.app, mum, 'POST', base(), { envelope: 'x' }), 415, 'urn:burrow:problem:unsupported-media-type');
  });

  it('an envelope larger than the limit is refused with 413 and nothing is stored', async () => {
    const big = await seal(mum, family, [ada], { audioBytes: 70 * 1024 });
    await expectNothingStored(() => upload(server.app, mum, family.familyId, big.bytes), 413, 'urn:burrow:problem:payload-too-large');
  });

  it('a message id used before is refused with 409', async () => {
    const { sealed } = await send(mum, [ada]);
    await expectNothingStored(() => upload(server.app, mum, family.familyId, sealed.bytes), 409, 'urn:burrow:problem:conflict');
  });

  it('one read answers the recipients and the id: a recipient not in the family is 404 before a used id is 409', async () => {
    const { sealed } = await send(mum, [ada, ben]);
    const messageId = sealed.header.messageId;
    const strangers = [b64(16), otherChild];
    for (const recipients of [[ada, strangers[0]!], [strangers[1]!], [ben, ada, strangers[1]!]]) {
      const fresh = await seal(mum, family, recipients);
      await expectNothingStored(() => upload(server.app, mum, family.familyId, fresh.bytes), 404, 'urn:burrow:problem:not-found');
      const reused = await seal(mum, family, recipients, { messageId });
      await expectNothingStored(() => upload(server.app, mum, family.familyId, reused.bytes), 404, 'urn:burrow:problem:not-found');
    }
    const reused = await seal(mum, family, [ben, ada], { messageId });
    await expectNothingStored(() => upload(server.app, mum, family.familyId, reused.bytes), 409, 'urn:burrow:problem:conflict');
    // A relative's own limit is checked before the read, with the same answer.
    const notGrans = await seal(gran, family, [ada, ben], { messageId });
    await expectNothingStored(() => upload(server.app, gran, family.familyId, notGrans.bytes), 404, 'urn:burrow:problem:not-found');
  });

  it('a stranger, or a relative addressing a child not theirs, gets 404 and nothing is stored', async () => {
    const sealed = await seal(stranger, family, [ada]);
    await expectNothingStored(() => upload(server.app, stranger, family.familyId, sealed.bytes), 404, 'urn:burrow:problem:not-found');
    const toBen = await seal(gran, family, [ben]);
    await expectNothingStored(() => upload(server.app, gran, family.familyId, toBen.bytes), 404, 'urn:burrow:problem:not-found');
    const anonymous = await seal(mum, family, [ada]);
    await expectNothingStored(() => server.app.inject({ method: 'POST', url: base(), headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.from(anonymous.bytes) }), 401);
  });
});

describe('who sees what', () => {
  it('a relative sees only messages for their children and their own; guardians see all', async () => {
    const toBen = await send(mum, [ben]);
    const toAda = await send(dad, [ada]);
    const fromGran = await send(gran, [ada]);
    const granList = (await call(server.app, gran, 'GET', base())).json<{ messages: View[] }>().messages.map((m) => m.messageId);
    expect(granList).toContain(toAda.messageId);
    expect(granList).toContain(fromGran.messageId);
    expect(granList).not.toContain(toBen.messageId);
    expect((await call(server.app, gran, 'GET', `${base()}/${toBen.messageId}`)).statusCode).toBe(404);
    expect((await call(server.app, gran, 'GET', `${base()}/${toBen.messageId}/envelope`)).statusCode).toBe(404);
    expect((await call(server.app, gran, 'POST', `${base()}/${toBen.messageId}/receipts`, await receiptBody(gran, family.familyId, toBen.messageId, 'played'))).statusCode).toBe(404);
    const mumList = (await call(server.app, mum, 'GET', base())).json<{ messages: View[] }>().messages.map((m) => m.messageId);
    expect(mumList).toEqual(expect.arrayContaining([toBen.messageId, toAda.messageId, fromGran.messageId]));
  });

  it('nobody reaches another family: its messages and its list answer 404', async () => {
    const { messageId } = await send(mum, [ada]);
    expect((await call(server.app, stranger, 'GET', base())).statusCode).toBe(404);
    expect((await call(server.app, stranger, 'GET', `${base()}/${messageId}`)).statusCode).toBe(404);
    expect((await call(server.app, stranger, 'GET', `${base(other)}/${messageId}`)).statusCode).toBe(404);
    expect((await call(server.app, stranger, 'GET', `${base(other)}/${messageId}/envelope`)).statusCode).toBe(404);
    expect((await call(server.app, stranger, 'DELETE', `${base(other)}/${messageId}`)).statusCode).toBe(404);
  });

  it('lists newest first in pages with a cursor, and filters by conversation', async () => {
    const fresh = await seedFamily(server.store, { guardians: [mum], children: [ada, ben] });
    const sent: string[] = [];
    for (let i = 0; i < 7; i++) {
      const sealed = await seal(mum, fresh, [i % 2 === 0 ? ada : ben]);
      const answer = await upload(server.app, mum, fresh.familyId, sealed.bytes);
      expect(answer.statusCode).toBe(201);
      sent.push(answer.json<{ messageId: string }>().messageId);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const answer = await call(server.app, mum, 'GET', `${base(fresh)}?limit=3${cursor === undefined ? '' : `&before=${cursor}`}`);
      expect(answer.statusCode).toBe(200);
      const page = answer.json<{ messages: View[]; nextCursor?: string }>();
      seen.push(...page.messages.map((m) => m.messageId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== undefined);
    expect(pages).toBe(3);
    expect(new Set(seen)).toEqual(new Set(sent));
    expect(seen).toHaveLength(7);
    const received = await server.store.db.selectFrom('messages').select(['id', 'received_at']).where('family_id', '=', fresh.familyId).execute();
    const order = [...received].sort((a, b) => Number(b.received_at) - Number(a.received_at) || (a.id < b.id ? 1 : -1)).map((r) => r.id);
    expect(seen).toEqual(order);
    const forBen = (await call(server.app, mum, 'GET', `${base(fresh)}?conversation=${ben}`)).json<{ messages: View[] }>().messages;
    expect(forBen.map((m) => m.messageId).sort()).toEqual(sent.filter((_, i) => i % 2 === 1).sort());
    expect((await call(server.app, mum, 'GET', `${base(fresh)}?before=bm90LWEtY3Vyc29y`)).statusCode).toBe(400);
  });
});

describe('receipts, approvals, saving and deleting', () => {
  it('receipts are recorded once per member and kind', async () => {
    const { messageId } = await send(mum, [ada]);
    for (let i = 0; i < 2; i++) expect((await call(server.app, gran, 'POST', `${base()}/${messageId}/receipts`, await receiptBody(gran, family.familyId, messageId, 'delivered'))).statusCode).toBe(200);
    const body = await receiptBody(dad, family.familyId, messageId, 'played');
    const answer = await call(server.app, dad, 'POST', `${base()}/${messageId}/receipts`, body);
    const receipts = answer.json<View>().receipts;
    expect(receipts.map((r) => `${r.by}/${r.kind}`).sort()).toEqual([`${dad.accountId}/played`, `${gran.accountId}/delivered`].sort());
    // Relayed as signed, so every client can check it.
    expect(receipts.find((r) => r.by === dad.accountId)).toMatchObject({ signature: body.signature, signedAt: body.signedAt, rosterEpoch: 0, rosterHead: body.rosterHead });
  });

  it('a receipt is one write that keeps its first time and answers the message as stored; a receipt for a message that is gone, hidden or in another family is not stored', async () => {
    const repository = createMessagesRepository(server.store.db);
    const { messageId } = await send(mum, [ada]);
    const receiptsOf = async (id: string) => server.store.db.selectFrom('message_receipts').selectAll().where('message_id', '=', id).execute();
    const granSees = { all: false, principalId: gran.accountId, conversations: [ada] } as const;
    const receipt = { message_id: messageId, by_id: gran.accountId, kind: 'delivered' as const, at: 1000, signed_at: 900, roster_epoch: 0, roster_head: b64(32), signature: b64(64) };
    const first = await repository.addReceipt(family.familyId, granSees, receipt);
    expect(first?.row).toMatchObject({ id: messageId, sender_id: mum.accountId, recipients: JSON.stringify([ada]) });
    expect(first?.receipts).toEqual([receipt]);
    const again = await repository.addReceipt(family.familyId, { all: true }, { ...receipt, at: 2000 });
    expect(again?.receipts.map((r) => r.at)).toEqual([1000]);
    expect((await receiptsOf(messageId)).map((r) => Number(r.at))).toEqual([1000]);

    // Ben's relatives and toys do not see a message for Ada; nor does a family it is not in.
    for (const [familyId, visibility] of [[family.familyId, { all: false, principalId: b64(16), conversations: [ben] }], [other.familyId, { all: true }]] as const) {
      expect(await repository.addReceipt(familyId, visibility, { ...receipt, by_id: b64(16) })).toBeUndefined();
    }
    expect(await receiptsOf(messageId)).toHaveLength(1);

    // A declined message is hidden from the child's relatives (not from its sender).
    const fromAunt = (await send(aunt, [ada])).messageId;
    await server.store.db.insertInto('message_declines').values({ message_id: fromAunt, guardian_id: mum.accountId, signature: b64(64), at: 1, roster_epoch: 0, roster_head: b64(32) }).execute();
    expect(await repository.addReceipt(family.familyId, granSees, { ...receipt, message_id: fromAunt })).toBeUndefined();
    expect(await receiptsOf(fromAunt)).toEqual([]);
    const bySender = await repository.addReceipt(family.familyId, { all: false, principalId: aunt.accountId, conversations: [] }, { ...receipt, message_id: fromAunt, by_id: aunt.accountId });
    expect(bySender?.declines.map((d) => d.guardian_id)).toEqual([mum.accountId]);

    expect((await call(server.app, mum, 'DELETE', `${base()}/${messageId}`)).statusCode).toBe(204);
    expect(await repository.addReceipt(family.familyId, { all: true }, { ...receipt, kind: 'played' })).toBeUndefined();
    expect(await receiptsOf(messageId)).toEqual([]);
  });

  it('a receipt for a message the member cannot see is 404 and not stored, even signed well', async () => {
    const toBen = (await send(mum, [ben])).messageId;
    const answer = await call(server.app, gran, 'POST', `${base()}/${toBen}/receipts`, await receiptBody(gran, family.familyId, toBen, 'delivered'));
    expect(answer.statusCode).toBe(404);
    expect((await call(server.app, mum, 'GET', `${base()}/${toBen}`)).json<View>().receipts).toEqual([]);
  });

  it('a message is stored only while its sender is in the family at its epoch: the upload\'s last check and its insert are one write', async () => {
    const repository = createMessagesRepository(server.store.db);
    const { epoch } = await server.store.db.selectFrom('families').select('epoch').where('id', '=', family.familyId).executeTakeFirstOrThrow();
    const row = (sender: Member, overrides: { epoch?: number; sender_kind?: 'member' | 'toy' } = {}) => ({
      id: b64(16), family_id: family.familyId, sender_id: sender.accountId, sender_kind: overrides.sender_kind ?? 'member', recipients: JSON.stringify([ada, ben]),
      epoch: overrides.epoch ?? Number(epoch), size: 1, ciphertext_hash: b64(32), blob_name: b64(24), received_at: 1000, expires_at: 2000, saved: 0, needs_approval: 0,
    });
    const recipientsOf = async (id: string) => (await server.store.db.selectFrom('message_recipients').select('recipient_id').where('message_id', '=', id).orderBy('recipient_id').execute()).map((r) => r.recipient_id);
    const refused = [row(stranger), row(mum, { epoch: Number(epoch) + 1 }), row(mum, { sender_kind: 'toy' }), { ...row(mum), family_id: other.familyId }];
    for (const attempt of refused) {
      expect(await repository.insertWhileSenderInFamily(attempt)).toBe(false);
      expect(await server.store.db.selectFrom('messages').select('id').where('id', '=', attempt.id).executeTakeFirst()).toBe(undefined);
      expect(await recipientsOf(attempt.id)).toEqual([]);
    }
    const stored = row(mum);
    expect(await repository.insertWhileSenderInFamily(stored)).toBe(true);
    expect((await repository.findRow(family.familyId, stored.id, { all: true }))?.epoch).toBe(Number(epoch));
    expect(await recipientsOf(stored.id)).toEqual([ada, ben].sort());
    await expect(repository.insertWhileSenderInFamily({ ...row(mum), id: stored.id })).rejects.toSatisfy(isUniqueViolation);
    expect(await recipientsOf(stored.id)).toEqual([ada, ben].sort());
    expect((await call(server.app, mum, 'DELETE', `${base()}/${stored.id}`)).statusCode).toBe(204);
  });

  it('a refused insert that reuses a stored message\'s id adds no recipient to that message (nobody else comes to see it)', async () => {
    const repository = createMessagesRepository(server.store.db);
    const { epoch } = await server.store.db.selectFrom('families').select('epoch').where('id', '=', family.familyId).executeTakeFirstOrThrow();
    const row = (sender: Member, recipients: string[], overrides: { epoch?: number; sender_kind?: 'member' | 'toy'; family_id?: string } = {}) => ({
      id: b64(16), family_id: overrides.family_id ?? family.familyId, sender_id: sender.accountId, sender_kind: overrides.sender_kind ?? 'member', recipients: JSON.stringify(recipients),
      epoch: overrides.epoch ?? Number(epoch), size: 1, ciphertext_hash: b64(32), blob_name: b64(24), received_at: 1000, expires_at: 2000, saved: 0, needs_approval: 0,
    });
    const recipientsOf = async (id: string) => (await server.store.db.selectFrom('message_recipients').select('recipient_id').where('message_id', '=', id).orderBy('recipient_id').execute()).map((r) => r.recipient_id);
    const stored = row(mum, [ada]);
    expect(await repository.insertWhileSenderInFamily(stored)).toBe(true);
    // Each of these passed the upload's early checks before `stored` went in (the id was free then),
    // and is refused at its insert: removed meanwhile, a new epoch begun, another kind, another family.
    const refused = [row(stranger, [ben]), row(mum, [ben], { epoch: Number(epoch) + 1 }), row(mum, [ben], { sender_kind: 'toy' }), row(mum, [ben], { family_id: other.familyId })];
    for (const attempt of refused) {
      expect(await repository.insertWhileSenderInFamily({ ...attempt, id: stored.id })).toBe(false);
      expect(await recipientsOf(stored.id)).toEqual([ada]);
    }
    // Ben's toys and relatives still do not see a message for Ada.
    expect(await repository.findRow(family.familyId, stored.id, { all: false, principalId: b64(16), conversations: [ben] })).toBeUndefined();
    expect((await call(server.app, mum, 'DELETE', `${base()}/${stored.id}`)).statusCode).toBe(204);
  });

  it('a receipt not signed by the member who posts it is refused with 400 and not stored', async () => {
    const { messageId } = await send(mum, [ada]);
    const forged = await call(server.app, gran, 'POST', `${base()}/${messageId}/receipts`, await receiptBody(gran, family.familyId, messageId, 'played', dad.identity));
    expect(forged.statusCode).toBe(400);
    expect(forged.json<{ type: string }>().type).toBe('urn:burrow:problem:invalid-receipt');
    const otherMessage = (await send(mum, [ada])).messageId;
    const replayed = await call(server.app, gran, 'POST', `${base()}/${otherMessage}/receipts`, await receiptBody(gran, family.familyId, messageId, 'played'));
    expect(replayed.statusCode).toBe(400);
    expect((await call(server.app, mum, 'GET', `${base()}/${messageId}`)).json<View>().receipts).toEqual([]);
  });

  it('a message from a relative who needs approval waits in the queue until a guardian signs it', async () => {
    const { sealed, messageId } = await send(aunt, [ben]);
    const queue = (await call(server.app, mum, 'GET', `${base()}?pendingApproval=true`)).json<{ messages: View[] }>().messages;
    expect(queue.map((m) => m.messageId)).toContain(messageId);
    expect(queue.every((m) => m.needsApproval && m.approvals.length === 0)).toBe(true);

    const self = await call(server.app, aunt, 'POST', `${base()}/${messageId}/approvals`, await approvalBody(aunt, family.familyId, sealed));
    expect(self.statusCode).toBe(403);

    const forged = await call(server.app, mum, 'POST', `${base()}/${messageId}/approvals`, await approvalBody(mum, family.familyId, sealed, { signer: dad.identity }));
    expect(forged.statusCode).toBe(400);
    expect(forged.json<{ type: string }>().type).toBe('urn:burrow:problem:invalid-approval');

    expect((await call(server.app, mum, 'POST', `${base()}/${messageId}/approvals`, await approvalBody(mum, family.familyId, sealed, { ciphertextHash: randomBytes(32) }))).statusCode).toBe(400);
    // The head is inside what is signed: another head under the same signature does not verify.
    const real = await approvalBody(mum, family.familyId, sealed);
    expect((await call(server.app, mum, 'POST', `${base()}/${messageId}/approvals`, { ...real, rosterEpoch: 1 })).statusCode).toBe(400);

    const approved = await call(server.app, mum, 'POST', `${base()}/${messageId}/approvals`, real);
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json<View>().approvals).toEqual([{ guardianId: mum.accountId, ...real }]);
    expect(fromBase64Url(approved.json<View>().ciphertextHash)).toEqual(sealed.ciphertextHash);
    const after = (await call(server.app, mum, 'GET', `${base()}?pendingApproval=true`)).json<{ messages: View[] }>().messages;
    expect(after.map((m) => m.messageId)).not.toContain(messageId);
  });

  it('a message that needs no approval cannot be approved', async () => {
    const { sealed, messageId } = await send(gran, [ada]);
    expect((await call(server.app, mum, 'POST', `${base()}/${messageId}/approvals`, await approvalBody(mum, family.familyId, sealed))).statusCode).toBe(409);
  });

  it('a guardian declines a waiting message with a signed decline: the queue drops it, other relatives no longer see it, its sender and the guardians do', async () => {
    const { sealed, messageId } = await send(aunt, [ada]);
    expect((await call(server.app, gran, 'GET', `${base()}/${messageId}`)).statusCode).toBe(200);

    const self = await call(server.app, aunt, 'POST', `${base()}/${messageId}/declines`, await declineBody(aunt, family.familyId, sealed));
    expect(self.statusCode).toBe(403);
    expect(self.json<{ type: string }>().type).toBe('urn:burrow:problem:forbidden');
    expect((await call(server.app, gran, 'POST', `${base()}/${messageId}/declines`, await declineBody(gran, family.familyId, sealed))).statusCode).toBe(403);
    expect((await call(server.app, stranger, 'POST', `${base()}/${messageId}/declines`, await declineBody(stranger, family.familyId, sealed))).statusCode).toBe(404);
    const forged = await call(server.app, mum, 'POST', `${base()}/${messageId}/declines`, await declineBody(mum, family.familyId, sealed, { signer: dad.identity }));
    expect(forged.statusCode).toBe(400);
    expect(forged.json<{ type: string }>().type).toBe('urn:burrow:problem:invalid-decline');
    // An approval's signature is no decline (the labels differ), and another message's hash is not this one's.
    expect((await call(server.app, mum, 'POST', `${base()}/${messageId}/declines`, await approvalBody(mum, family.familyId, sealed))).statusCode).toBe(400);
    expect((await call(server.app, mum, 'POST', `${base()}/${messageId}/declines`, await declineBody(mum, family.familyId, sealed, { ciphertextHash: randomBytes(32) }))).statusCode).toBe(400);
    const malformed = await call(server.app, mum, 'POST', `${base()}/${messageId}/declines`, { signature: 'not base64url!', rosterEpoch: -1, rosterHead: b64(8), extra: true });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.headers['content-type']).toContain('application/problem+json');
    expect((await call(server.app, mum, 'GET', `${base()}/${messageId}`)).json<View>().declines).toEqual([]);

    const real = await declineBody(mum, family.familyId, sealed);
    const declined = await call(server.app, mum, 'POST', `${base()}/${messageId}/declines`, real);
    expect(declined.statusCode, declined.body).toBe(200);
    expect(declined.json<View>().declines).toEqual([{ guardianId: mum.accountId, ...real }]);
    expect((await call(server.app, mum, 'GET', `${base()}?pendingApproval=true`)).json<{ messages: View[] }>().messages.map((m) => m.messageId)).not.toContain(messageId);
    // Hidden from the child's other relatives; its sender and the guardians still see it, with the decline.
    expect((await call(server.app, gran, 'GET', `${base()}/${messageId}`)).statusCode).toBe(404);
    expect((await call(server.app, gran, 'GET', `${base()}/${messageId}/envelope`)).statusCode).toBe(404);
    expect((await call(server.app, gran, 'GET', base())).json<{ messages: View[] }>().messages.map((m) => m.messageId)).not.toContain(messageId);
    for (const member of [aunt, dad]) expect((await call(server.app, member, 'GET', `${base()}/${messageId}`)).json<View>().declines.map((d) => d.guardianId)).toEqual([mum.accountId]);
    // Decided: it cannot be approved afterwards.
    const late = await call(server.app, dad, 'POST', `${base()}/${messageId}/approvals`, await approvalBody(dad, family.familyId, sealed));
    expect(late.statusCode).toBe(409);
    expect(late.json<{ type: string }>().type).toBe('urn:burrow:problem:conflict');
  });

  it('a message that needs no approval, or that a guardian approved, cannot be declined', async () => {
    const plain = await send(gran, [ada]);
    expect((await call(server.app, mum, 'POST', `${base()}/${plain.messageId}/declines`, await declineBody(mum, family.familyId, plain.sealed))).statusCode).toBe(409);
    const waiting = await send(aunt, [ben]);
    expect((await call(server.app, mum, 'POST', `${base()}/${waiting.messageId}/approvals`, await approvalBody(mum, family.familyId, waiting.sealed))).statusCode).toBe(200);
    expect((await call(server.app, dad, 'POST', `${base()}/${waiting.messageId}/declines`, await declineBody(dad, family.familyId, waiting.sealed))).statusCode).toBe(409);
  });

  it('a saved message has no expiry; unsaved, it expires again after the retention period', async () => {
    const { messageId } = await send(gran, [ada]);
    const saved = await call(server.app, gran, 'PUT', `${base()}/${messageId}/saved`, { saved: true });
    expect(saved.statusCode).toBe(200);
    expect(saved.json<View>().saved).toBe(true);
    expect(saved.json<View>().expiresAt).toBeUndefined();
    const unsaved = (await call(server.app, mum, 'PUT', `${base()}/${messageId}/saved`, { saved: false })).json<View>();
    expect(unsaved.saved).toBe(false);
    expect(unsaved.expiresAt).toBe(unsaved.receivedAt + 30 * 24 * 3600_000);
  });

  it('the sender or a guardian deletes a message with its blob; another relative gets 403, a stranger 404', async () => {
    const first = await send(gran, [ada]);
    expect((await call(server.app, aunt, 'DELETE', `${base()}/${first.messageId}`)).statusCode).toBe(403);
    expect((await call(server.app, stranger, 'DELETE', `${base()}/${first.messageId}`)).statusCode).toBe(404);
    const blob = (await server.store.db.selectFrom('messages').select('blob_name').where('id', '=', first.messageId).executeTakeFirstOrThrow()).blob_name;
    expect((await call(server.app, gran, 'DELETE', `${base()}/${first.messageId}`)).statusCode).toBe(204);
    expect(await storedBlobs()).not.toContain(blob);
    expect((await call(server.app, gran, 'GET', `${base()}/${first.messageId}`)).statusCode).toBe(404);
    const second = await send(gran, [ada]);
    expect((await call(server.app, dad, 'DELETE', `${base()}/${second.messageId}`)).statusCode).toBe(204);
    expect((await call(server.app, dad, 'DELETE', `${base()}/${second.messageId}`)).statusCode).toBe(404);
  });
});

describe('epochs and removal', () => {
  it('a removed relative can neither post nor read, and a new epoch refuses envelopes sealed for the old one', async () => {
    const fresh = await seedFamily(server.store, { guardians: [mum], relatives: [{ member: gran, children: [ada] }], children: [ada] });
    const before = await seal(gran, fresh, [ada]);
    const accepted = await upload(server.app, gran, fresh.familyId, before.bytes);
    expect(accepted.statusCode).toBe(201);
    const next = await changeRoster(server.store, fresh, { guardians: [mum], children: [ada] });
    const late = await seal(gran, next, [ada]);
    expect((await upload(server.app, gran, fresh.familyId, late.bytes)).statusCode).toBe(404);
    expect((await call(server.app, gran, 'GET', base(fresh))).statusCode).toBe(404);
    expect((await call(server.app, gran, 'GET', `${base(fresh)}/${accepted.json<{ messageId: string }>().messageId}`)).statusCode).toBe(404);
    const stale = await seal(mum, fresh, [ada]);
    const refused = await upload(server.app, mum, fresh.familyId, stale.bytes);
    expect(refused.statusCode).toBe(409);
    const current = await seal(mum, next, [ada]);
    expect((await upload(server.app, mum, fresh.familyId, current.bytes)).statusCode).toBe(201);
  });
});

describe('deleting a family', () => {
  it('removes every message row and blob of the family, and only those', async () => {
    const doomed = await seedFamily(server.store, { guardians: [mum], relatives: [{ member: gran, children: [ada] }], children: [ada] });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const sealed = await seal(i === 0 ? gran : mum, doomed, [ada]);
      const answer = await upload(server.app, i === 0 ? gran : mum, doomed.familyId, sealed.bytes);
      expect(answer.statusCode).toBe(201);
      ids.push(answer.json<{ messageId: string }>().messageId);
    }
    expect((await call(server.app, mum, 'POST', `${base(doomed)}/${ids[0]}/receipts`, await receiptBody(mum, doomed.familyId, ids[0]!, 'played'))).statusCode).toBe(200);
    const blobNames = (await server.store.db.selectFrom('messages').select('blob_name').where('family_id', '=', doomed.familyId).execute()).map((r) => r.blob_name);
    const kept = await send(mum, [ada]);
    const deleted = await call(server.app, mum, 'DELETE', `/v1/families/${doomed.familyId}`, { confirm: 'delete this family' });
    expect(deleted.statusCode, deleted.body).toBe(204);
    expect(await server.store.db.selectFrom('messages').select('id').where('id', 'in', ids).execute()).toEqual([]);
    expect(await server.store.db.selectFrom('message_receipts').select('message_id').where('message_id', 'in', ids).execute()).toEqual([]);
    expect(await server.store.db.selectFrom('message_recipients').select('message_id').where('message_id', 'in', ids).execute()).toEqual([]);
    const files = await storedBlobs();
    for (const name of blobNames) expect(files).not.toContain(name);
    expect((await call(server.app, mum, 'GET', `${base()}/${kept.messageId}/envelope`)).statusCode).toBe(200);
  });
});
