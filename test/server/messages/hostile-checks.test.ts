/**
 * Hostile callers against the upload's recipient and id checks (one read) and the receipt's
 * visibility check (inside its insert), over HTTP on whichever store the project runs: a family
 * member naming other families' children and toys, reusing another family's message id, and
 * receipting messages they may not see; on PostgreSQL, a receipt racing its message's deletion or
 * decline, and an approval racing a deletion or another guardian's decline.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url } from '../../../src/crypto/bytes.js';
import { TEST_BACKEND } from '../../support/backends.js';
import { b64, startTestServer, type TestServer } from '../helpers.js';
import { approvalBody, call, declineBody, messageCount, receiptBody, registerMember, seal, seedFamily, upload, type Member, type TestFamily } from './fixtures.js';

interface View {
  messageId: string;
  recipients: string[];
  receipts: Array<{ by: string; kind: string }>;
  approvals: unknown[];
  declines: unknown[];
}

let server: TestServer;
let mum: Member, gran: Member, aunt: Member, stranger: Member;
let family: TestFamily;
let other: TestFamily;
const ada = b64(16);
const ben = b64(16);
const adaToy = b64(16);
const otherChild = b64(16);
const otherToy = b64(16);

beforeAll(async () => {
  server = await startTestServer();
  [mum, gran, aunt, stranger] = await Promise.all([1, 2, 3, 4].map(() => registerMember(server.app))) as [Member, Member, Member, Member];
  family = await seedFamily(server.store, {
    guardians: [mum],
    relatives: [{ member: gran, children: [ada] }, { member: aunt, children: [ada], needsApproval: true }],
    children: [ada, ben],
    toys: [{ toyId: adaToy, childId: ada }],
  });
  other = await seedFamily(server.store, { guardians: [stranger], children: [otherChild], toys: [{ toyId: otherToy, childId: otherChild }] });
});
afterAll(async () => { await server.close(); });

const base = (f: TestFamily) => `/v1/families/${f.familyId}/messages`;

async function send(from: Member, to: TestFamily, recipients: string[], options: { messageId?: Uint8Array } = {}) {
  const sealed = await seal(from, to, recipients, options);
  return { sealed, answer: await upload(server.app, from, to.familyId, sealed.bytes) };
}

async function sent(from: Member, to: TestFamily, recipients: string[]) {
  const { sealed, answer } = await send(from, to, recipients);
  expect(answer.statusCode, answer.body).toBe(201);
  return { sealed, messageId: answer.json<{ messageId: string }>().messageId };
}

async function receiptsOf(messageId: string) {
  return server.store.db.selectFrom('message_receipts').select(['by_id', 'kind']).where('message_id', '=', messageId).execute();
}

/** A problem without what differs per request (its instance and request id). */
function problemOf(answer: { statusCode: number; body: string }) {
  const { type, title, status, detail } = JSON.parse(answer.body) as Record<string, unknown>;
  return { statusCode: answer.statusCode, type, title, status, detail };
}

describe('an upload naming recipients it may not', () => {
  it("another family's child or toy, alone or beside valid ones, is 404 and stores nothing; the family's own toy is a recipient", async () => {
    for (const recipients of [[otherToy], [ada, otherToy], [adaToy, otherToy], [otherChild, adaToy], [ada, adaToy, ben, otherChild]]) {
      const rows = await messageCount(server.store);
      const { answer } = await send(mum, family, recipients);
      expect(answer.statusCode, `${recipients.length} recipients`).toBe(404);
      expect(answer.json<{ type: string }>().type).toBe('urn:burrow:problem:not-found');
      expect(await messageCount(server.store)).toBe(rows);
    }
    // A relative reaches their child's toy, and nobody else's.
    await sent(gran, family, [ada, adaToy]);
    expect((await send(gran, family, [adaToy, otherToy])).answer.statusCode).toBe(404);
    expect((await send(gran, family, [ben, adaToy])).answer.statusCode).toBe(404);
  });

  it("a child whose id is another family's toy id is that family's business only: a recipient in its own family, 404 in the toy's", async () => {
    const mirror = await seedFamily(server.store, { guardians: [mum], children: [otherToy] });
    const { messageId } = await sent(mum, mirror, [otherToy]);
    // The toy of the other family does not come to see it: its family is not this one.
    expect((await call(server.app, stranger, 'GET', `${base(other)}/${messageId}`)).statusCode).toBe(404);
    // And in `family`, where the id is nobody, it is still 404.
    expect((await send(mum, family, [otherToy])).answer.statusCode).toBe(404);
  });

  it("a message id already used in another family is 409 here, and the other family's message keeps its family and recipients", async () => {
    const theirs = await sent(stranger, other, [otherChild]);
    const rows = await messageCount(server.store);
    const { answer } = await send(mum, family, [ada], { messageId: fromBase64Url(theirs.messageId) });
    expect(answer.statusCode, answer.body).toBe(409);
    expect(answer.json<{ type: string }>().type).toBe('urn:burrow:problem:conflict');
    expect(await messageCount(server.store)).toBe(rows);
    const stored = await server.store.db.selectFrom('messages').select(['family_id']).where('id', '=', theirs.messageId).executeTakeFirstOrThrow();
    expect(stored.family_id).toBe(other.familyId);
    const recipients = await server.store.db.selectFrom('message_recipients').select('recipient_id').where('message_id', '=', theirs.messageId).execute();
    expect(recipients.map((r) => r.recipient_id)).toEqual([otherChild]);
    // A recipient this caller may not name is still 404 before the used id's 409.
    expect((await send(mum, family, [otherChild], { messageId: fromBase64Url(theirs.messageId) })).answer.statusCode).toBe(404);
  });
});

describe('a receipt on a message the caller may not see', () => {
  it("another child's message, a declined one, another family's through one's own family's route, or none at all: the same 404, nothing stored, the signature never judged", async () => {
    const toBen = (await sent(mum, family, [ben])).messageId;
    const theirs = (await sent(stranger, other, [otherChild])).messageId;
    const fromAunt = await sent(aunt, family, [ada]);
    expect((await call(server.app, mum, 'POST', `${base(family)}/${fromAunt.messageId}/declines`, await declineBody(mum, family.familyId, fromAunt.sealed))).statusCode).toBe(200);
    const missing = b64(16);

    const answers = [];
    for (const messageId of [toBen, theirs, fromAunt.messageId, missing]) {
      const url = `${base(family)}/${messageId}/receipts`;
      const signed = await call(server.app, gran, 'POST', url, await receiptBody(gran, family.familyId, messageId, 'played'));
      // Signed for the message's own family: no better.
      const forTheirFamily = await call(server.app, gran, 'POST', url, await receiptBody(gran, other.familyId, messageId, 'played'));
      // Signed by someone else: 404 still, not 400, so the answer says nothing about the message.
      const forged = await call(server.app, gran, 'POST', url, await receiptBody(gran, family.familyId, messageId, 'played', mum.identity));
      answers.push(...[signed, forTheirFamily, forged].map(problemOf));
      expect(await receiptsOf(messageId)).toEqual([]);
    }
    expect(answers[0]?.statusCode).toBe(404);
    expect(answers[0]?.type).toBe('urn:burrow:problem:not-found');
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    // Through the other family's route gran is nobody: the same answer.
    const viaTheirs = await call(server.app, gran, 'POST', `${base(other)}/${theirs}/receipts`, await receiptBody(gran, other.familyId, theirs, 'played'));
    expect(viaTheirs.statusCode).toBe(404);
    expect(await receiptsOf(theirs)).toEqual([]);
    // The declined message's sender still receipts it, and sees the decline.
    const bySender = await call(server.app, aunt, 'POST', `${base(family)}/${fromAunt.messageId}/receipts`, await receiptBody(aunt, family.familyId, fromAunt.messageId, 'delivered'));
    expect(bySender.statusCode, bySender.body).toBe(200);
    expect(bySender.json<View>().declines).toHaveLength(1);
  });

  it('a message waiting for approval is visible to its child\'s relatives, so they may receipt it; the answer shows what a read shows', async () => {
    const waiting = await sent(aunt, family, [ada]);
    const answer = await call(server.app, gran, 'POST', `${base(family)}/${waiting.messageId}/receipts`, await receiptBody(gran, family.familyId, waiting.messageId, 'delivered'));
    expect(answer.statusCode, answer.body).toBe(200);
    const read = await call(server.app, gran, 'GET', `${base(family)}/${waiting.messageId}`);
    expect(answer.json<View>()).toEqual(read.json<View>());
    expect(answer.body).not.toContain('blob');
  });

  it('a relative left with no children still reaches their own messages (read, receipt) and no one else\'s', async () => {
    const lonely = await registerMember(server.app);
    const fresh = await seedFamily(server.store, { guardians: [mum], relatives: [{ member: lonely, children: [ada] }], children: [ada] });
    const own = await sent(lonely, fresh, [ada]);
    const mums = await sent(mum, fresh, [ada]);
    await server.store.db.updateTable('family_members').set({ children: '[]' }).where('family_id', '=', fresh.familyId).where('account_id', '=', lonely.accountId).execute();
    expect((await call(server.app, lonely, 'GET', `${base(fresh)}/${own.messageId}`)).statusCode).toBe(200);
    const receipt = await call(server.app, lonely, 'POST', `${base(fresh)}/${own.messageId}/receipts`, await receiptBody(lonely, fresh.familyId, own.messageId, 'played'));
    expect(receipt.statusCode, receipt.body).toBe(200);
    expect(receipt.json<View>().receipts).toEqual([expect.objectContaining({ by: lonely.accountId, kind: 'played' })]);
    expect((await call(server.app, lonely, 'GET', `${base(fresh)}/${mums.messageId}`)).statusCode).toBe(404);
    expect((await call(server.app, lonely, 'POST', `${base(fresh)}/${mums.messageId}/receipts`, await receiptBody(lonely, fresh.familyId, mums.messageId, 'played'))).statusCode).toBe(404);
    expect(await receiptsOf(mums.messageId)).toEqual([]);
  });
});

/** Deletes `messageId` as deleting a message does, in a transaction held open while `whileHeld` runs; commits after it. */
async function holdDeletion(messageId: string, whileHeld: () => Promise<void>): Promise<void> {
  await server.store.db.transaction().execute(async (tx) => {
    for (const table of ['message_receipts', 'message_approvals', 'message_declines', 'message_recipients'] as const) {
      await tx.deleteFrom(table).where('message_id', '=', messageId).execute();
    }
    await tx.deleteFrom('messages').where('id', '=', messageId).execute();
    await whileHeld();
  });
}

describe.runIf(TEST_BACKEND === 'postgres-s3')('a receipt racing its message on PostgreSQL', () => {
  // The receipt's INSERT ... SELECT reads the message as committed when it starts; the message's
  // deletion (uncommitted) holds the row, so the insert's foreign-key check waits for it. When the
  // deletion commits the check fails (23503). Unmapped, that was a 500 (on main too: its insert was
  // the same statement); the message is gone, so the answer is 404.
  it('a receipt whose message is deleted while it is written is 404, not 500, and nothing is left behind', async () => {
    const { messageId } = await sent(mum, family, [ada]);
    const body = await receiptBody(mum, family.familyId, messageId, 'played');
    let answer: Promise<{ statusCode: number; body: string }> | undefined;
    // What deleting the message does, held open while the receipt arrives.
    await holdDeletion(messageId, async () => {
      answer = call(server.app, mum, 'POST', `${base(family)}/${messageId}/receipts`, body);
      // Until the receipt's insert waits on the deletion's row lock.
      for (;;) {
        const waiting = await sql<{ n: string }>`select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like 'insert into "message_receipts"%'`.execute(server.store.db);
        if (Number(waiting.rows[0]?.n) > 0) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    const settled = await answer!;
    expect(await receiptsOf(messageId)).toEqual([]);
    expect(settled.statusCode, settled.body).toBe(404);
  });

  // The receipt's insert and its read back are separate statements with no common snapshot on
  // PostgreSQL (three statements, no transaction). A decline committing between them would leave the
  // receipt stored (the insert saw the message visible) and the restricted read back empty: the
  // repository then reads the row unrestricted, so the answer is 200 with the decline shown, as a
  // check before the insert would give. The wait is staged with an uncommitted receipt of the same
  // key, which the insert waits on after reading the message.
  it('a receipt raced by a decline is either stored and 200, or not stored and 404', async () => {
    const { messageId } = await sent(aunt, family, [ada]);
    const body = await receiptBody(gran, family.familyId, messageId, 'played');
    let answer: Promise<{ statusCode: number; body: string }> | undefined;
    const staged = server.store.db.transaction().execute(async (hold) => {
      await hold.insertInto('message_receipts').values({ message_id: messageId, by_id: gran.accountId, kind: 'played', at: 1, signed_at: 1, roster_epoch: 0, roster_head: b64(32), signature: b64(64) }).execute();
      answer = call(server.app, gran, 'POST', `${base(family)}/${messageId}/receipts`, body);
      for (;;) {
        const waiting = await sql<{ n: string }>`select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like 'insert into "message_receipts"%'`.execute(server.store.db);
        if (Number(waiting.rows[0]?.n) > 0) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      // A guardian declines it meanwhile (committed on its own), then the held receipt goes away.
      await server.store.db.insertInto('message_declines').values({ message_id: messageId, guardian_id: mum.accountId, signature: b64(64), at: 1, roster_epoch: 0, roster_head: b64(32) }).execute();
      throw new Error('rolled back on purpose');
    });
    await expect(staged).rejects.toThrow('rolled back on purpose');
    const settled = await answer!;
    const stored = (await receiptsOf(messageId)).length;
    expect({ status: settled.statusCode, stored }).toSatisfy(({ status, stored: n }) => (status === 200 && n === 1) || (status === 404 && n === 0));
  });
});

describe.runIf(TEST_BACKEND === 'postgres-s3')('an approval or a decline racing on PostgreSQL', () => {
  /**
   * Resolves once `answer` has settled or one of the server's statements on the message tables
   * waits on a lock (the held transaction's): whichever comes first, so a server that takes no lock
   * answers at once instead of leaving the test waiting.
   */
  async function blockedOrAnswered(answer: Promise<unknown>): Promise<void> {
    let settled = false;
    void answer.finally(() => { settled = true; });
    while (!settled) {
      const waiting = await sql<{ n: string }>`select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and (query like 'update "messages"%' or query like 'insert into "message_approvals"%')`.execute(server.store.db);
      if (Number(waiting.rows[0]?.n) > 0) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  // Each looked for the message, then inserted: a deletion committing in between failed the
  // insert's foreign-key check, a 500. Both now take the message row's lock first.
  it('an approval whose message is deleted meanwhile is 404, not 500, and nothing is left behind', async () => {
    const { sealed, messageId } = await sent(aunt, family, [ada]);
    const body = await approvalBody(mum, family.familyId, sealed);
    let answer: Promise<{ statusCode: number; body: string }> | undefined;
    await holdDeletion(messageId, async () => {
      answer = call(server.app, mum, 'POST', `${base(family)}/${messageId}/approvals`, body);
      await blockedOrAnswered(answer);
    });
    const settled = await answer!;
    expect(settled.statusCode, settled.body).toBe(404);
    expect(await server.store.db.selectFrom('message_approvals').select('message_id').where('message_id', '=', messageId).execute()).toEqual([]);
  });

  // Two guardians answering one message at once: without a common lock each saw no answer of the
  // other (uncommitted) and both were stored, a message approved and declined.
  it('an approval and a decline at once: the second to reach the message is refused with 409', async () => {
    const { sealed, messageId } = await sent(aunt, family, [ada]);
    const declining = await declineBody(mum, family.familyId, sealed);
    const approving = await approvalBody(mum, family.familyId, sealed);
    let approval: Promise<{ statusCode: number; body: string }> | undefined;
    // The decline's request held open after its insert: what addDecline does, in one transaction.
    await server.store.db.transaction().execute(async (tx) => {
      await tx.updateTable('messages').set((eb) => ({ saved: eb.ref('saved') })).where('id', '=', messageId).execute();
      await tx.insertInto('message_declines').values({ message_id: messageId, guardian_id: mum.accountId, signature: String(declining.signature), at: 1, roster_epoch: 0, roster_head: b64(32) }).execute();
      approval = call(server.app, mum, 'POST', `${base(family)}/${messageId}/approvals`, approving);
      await blockedOrAnswered(approval);
    });
    const settled = await approval!;
    expect(settled.statusCode, settled.body).toBe(409);
    expect(await server.store.db.selectFrom('message_approvals').select('message_id').where('message_id', '=', messageId).execute()).toEqual([]);
  });
});
