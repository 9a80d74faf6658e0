/**
 * The family story of issue 4, over real HTTP and WebSocket against a real server: two guardians,
 * a grandparent limited to one of two children, and an aunt whose messages need approval exchange
 * voice messages; each sees exactly what they may; the approval path works; removing the
 * grandparent starts a new epoch whose messages she cannot open.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/client/api.js';
import { addChild } from '../../src/client/children.js';
import { ClientError } from '../../src/client/client-error.js';
import { admitJoiners, createFamily, deleteFamily, loadFamily, removeMember, type OpenedFamily } from '../../src/client/families.js';
import { acceptInvite, createInvite, inspectInvite } from '../../src/client/invites.js';
import { approveMessage, downloadAndOpenMessage, downloadEnvelope, getMessage, listAllMessages, sendMessage } from '../../src/client/messages.js';
import { toBase64Url, utf8 } from '../../src/crypto/bytes.js';
import { openAndVerifyMessage, sealMessage } from '../../src/crypto/envelope.js';
import { FAMILY_SCOPE } from '../../src/crypto/key-scopes.js';
import { commitmentsOf, unwrapAndCheckScopeKey } from '../../src/crypto/scope-key.js';
import { wrapFromWire } from '../../src/client/key-ring.js';
import { MessageAccepted } from '../../src/protocol/messages.js';
import { FamilyView } from '../../src/protocol/families.js';
import { startServer, type RunningServer } from './accounts-harness.js';
import { recordLive, registerMember, wavWith, type TestMember } from './family-harness.js';

let server: RunningServer;
let mum: TestMember;
let dad: TestMember;
let gran: TestMember;
let aunt: TestMember;
let stranger: TestMember;
let familyId: string;
let mia: string;
let leo: string;

async function status(promise: Promise<unknown>): Promise<number | string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    if (error instanceof ApiError) return error.status;
    if (error instanceof ClientError) return error.code;
    throw error;
  }
}

/** Every regular file in the server's blob store. */
/** Every stored blob, through the blob port (a directory or S3). */
async function blobFiles(): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of server.blobs.list()) names.push(blob.name);
  return names;
}

async function invite(guardian: TestMember, joiner: TestMember, terms: { role: 'guardian' | 'relative'; children: string[]; needsApproval: boolean }): Promise<void> {
  const { link } = await createInvite(guardian, { familyId, terms });
  const seen = await inspectInvite(joiner, link);
  expect(seen.guardian.accountId).toBe(guardian.me.accountId);
  await acceptInvite(joiner, link);
}

beforeAll(async () => {
  server = await startServer();
  const members = await Promise.all(['mum', 'dad', 'gran', 'aunt', 'stranger'].map((label) => registerMember(server.url, label)));
  [mum, dad, gran, aunt, stranger] = members as [TestMember, TestMember, TestMember, TestMember, TestMember];
  const family = await createFamily(mum, { name: 'The Burrows' });
  familyId = family.familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  leo = (await addChild(mum, { familyId, name: 'Leo', emoji: '🐢' })).childId;
  await invite(mum, dad, { role: 'guardian', children: [], needsApproval: false });
  await invite(mum, gran, { role: 'relative', children: [mia], needsApproval: false });
  await invite(mum, aunt, { role: 'relative', children: [mia, leo], needsApproval: true });
  const admitted = await admitJoiners(mum, { familyId });
  expect(admitted.refused).toEqual([]);
  expect(admitted.admitted.map((a) => a.accountId).sort()).toEqual([dad, gran, aunt].map((m) => m.me.accountId).sort());
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('a family of two guardians and two relatives', () => {
  it('every member verifies the same roster and sees their role, the name and the children they may', async () => {
    const views = new Map<string, OpenedFamily>();
    for (const member of [mum, dad, gran, aunt]) views.set(member.label, await loadFamily(member, familyId));
    const heads = [...views.values()].map((v) => toBase64Url(v.roster.headHash));
    expect(new Set(heads).size).toBe(1);
    expect(views.get('dad')!.self.role).toBe('guardian');
    expect(views.get('gran')!.self).toMatchObject({ role: 'relative', children: [mia] });
    expect(views.get('aunt')!.self).toMatchObject({ role: 'relative', needsApproval: true });
    for (const view of views.values()) expect(view.name).toBe('The Burrows');
    expect(views.get('dad')!.children.map((c) => c.name).sort()).toEqual(['Leo', 'Mia']);
    expect(views.get('gran')!.children.map((c) => c.name)).toEqual(['Mia']);
    expect(views.get('aunt')!.children.map((c) => c.name).sort()).toEqual(['Leo', 'Mia']);
  });

  it('a stranger reaches nothing of the family: 404, as for an id that does not exist', async () => {
    expect(await status(stranger.api.call('GET', `/v1/families/${familyId}`, FamilyView))).toBe(404);
    expect(await status(stranger.api.call('GET', `/v1/families/${familyId}/messages`, undefined))).toBe(404);
    expect(await status(stranger.api.upload(`/v1/families/${familyId}/messages`, new Uint8Array(200), MessageAccepted))).toBe(404);
  });

  it("a guardian's message to Leo reaches the guardians and the aunt, never the grandmother", async () => {
    const granLive = await recordLive(gran, server.url);
    const dadLive = await recordLive(dad, server.url);
    await Promise.all([granLive.live.ready, dadLive.live.ready]);
    const toLeo = wavWith(utf8('for-leo-only'));
    const sentToLeo = await sendMessage(mum, { familyId, to: leo, audio: toLeo, audioType: 'audio/wav', durationMs: 250, caption: 'Sleep well, Leo' });
    const toMia = wavWith(utf8('for-mia'));
    const sentToMia = await sendMessage(mum, { familyId, to: mia, audio: toMia, audioType: 'audio/wav', durationMs: 250, caption: 'Hello Mia' });

    const forDad = await downloadAndOpenMessage(dad, { familyId, messageId: sentToLeo.messageId });
    expect(forDad.opened.ok && forDad.opened.value.audio).toEqual(toLeo);
    expect(forDad.opened.ok && forDad.opened.value.caption).toBe('Sleep well, Leo');
    const forAunt = await downloadAndOpenMessage(aunt, { familyId, messageId: sentToLeo.messageId });
    expect(forAunt.opened.ok).toBe(true);

    const granList = await listAllMessages(gran, { familyId });
    expect(granList.map((m) => m.messageId)).toContain(sentToMia.messageId);
    expect(granList.map((m) => m.messageId)).not.toContain(sentToLeo.messageId);
    expect(await status(getMessage(gran, { familyId, messageId: sentToLeo.messageId }))).toBe(404);
    expect(await status(downloadEnvelope(gran, { familyId, messageId: sentToLeo.messageId }))).toBe(404);
    const forGran = await downloadAndOpenMessage(gran, { familyId, messageId: sentToMia.messageId });
    expect(forGran.opened.ok && forGran.opened.value.audio).toEqual(toMia);

    await dadLive.waitFor((e) => e.event === 'message' && e.data.messageId === sentToLeo.messageId);
    await dadLive.waitFor((e) => e.event === 'message' && e.data.messageId === sentToMia.messageId);
    await granLive.waitFor((e) => e.event === 'message' && e.data.messageId === sentToMia.messageId);
    // The Mia event came after the Leo one on the same family's ordered stream: had gran been sent it, it would be here.
    expect(granLive.events.some((e) => 'messageId' in e.data && e.data.messageId === sentToLeo.messageId)).toBe(false);
    await Promise.all([granLive.live.close(), dadLive.live.close()]);
  });

  it('the grandmother cannot send to a child beyond hers: refused by her client, and by the server when forced', async () => {
    expect(await status(sendMessage(gran, { familyId, to: leo, audio: wavWith(utf8('x')), audioType: 'audio/wav', durationMs: 1 }))).toBe('client/unknown-recipient');
    const family = await loadFamily(gran, familyId);
    const forced = await sealMessage({ familyId, epoch: family.roster.epoch, rosterHead: family.roster.headHash, scope: leo, key: family.headKeyOf(FAMILY_SCOPE)!, sender: gran.me, recipients: [leo], audio: wavWith(utf8('x')), audioType: 'audio/wav', durationMs: 1, createdAt: Date.now() });
    const refused = await status(gran.api.upload(`/v1/families/${familyId}/messages`, forced.bytes, MessageAccepted));
    expect([400, 403, 404]).toContain(refused);
    expect((await listAllMessages(mum, { familyId })).map((m) => m.messageId)).not.toContain(toBase64Url(forced.header.messageId));
  });

  it("the aunt's message plays only after a guardian approves it", async () => {
    const audio = wavWith(utf8('aunt-says-hi'));
    const sent = await sendMessage(aunt, { familyId, to: mia, audio, audioType: 'audio/wav', durationMs: 250, caption: 'From your aunt' });
    const before = await downloadAndOpenMessage(gran, { familyId, messageId: sent.messageId });
    expect(before.view.needsApproval).toBe(true);
    expect(before.opened).toEqual({ ok: false, code: 'envelope/needs-approval' });
    const queue = await listAllMessages(dad, { familyId, pendingApproval: true });
    expect(queue.map((m) => m.messageId)).toContain(sent.messageId);
    expect(await status(approveMessage(gran, { familyId, messageId: sent.messageId }))).toBe('client/not-a-guardian');
    // A relative forcing an approval through the API is refused by the server too.
    expect(await status(gran.api.call('POST', `/v1/families/${familyId}/messages/${sent.messageId}/approvals`, undefined, { signature: toBase64Url(new Uint8Array(64)) }))).not.toBe('resolved');

    const heard = await approveMessage(dad, { familyId, messageId: sent.messageId });
    expect(heard.audio).toEqual(audio);
    const after = await downloadAndOpenMessage(gran, { familyId, messageId: sent.messageId });
    expect(after.opened.ok && after.opened.value.audio).toEqual(audio);
    expect(after.opened.ok && after.opened.value.caption).toBe('From your aunt');
    expect((await listAllMessages(dad, { familyId, pendingApproval: true })).map((m) => m.messageId)).not.toContain(sent.messageId);
  });

  it('removing the grandmother starts a new epoch whose messages and key she cannot open', async () => {
    const before = await loadFamily(gran, familyId);
    const oldEpoch = before.roster.epoch;
    const after = await removeMember(mum, { familyId, accountId: gran.me.accountId });
    expect(after.roster.epoch).toBe(oldEpoch + 1);
    expect(after.roster.members.map((m) => m.accountId)).not.toContain(gran.me.accountId);

    expect(await status(loadFamily(gran, familyId))).toBe(404);
    const audio = wavWith(utf8('after-gran-left'));
    const sent = await sendMessage(mum, { familyId, to: mia, audio, audioType: 'audio/wav', durationMs: 250 });
    expect(sent.epoch).toBe(oldEpoch + 1);
    expect(await status(getMessage(gran, { familyId, messageId: sent.messageId }))).toBe(404);
    expect(await status(downloadEnvelope(gran, { familyId, messageId: sent.messageId }))).toBe(404);

    // Given the envelope and the new wrapped keys anyway (say, from a leaked backup), she opens neither.
    const envelope = await downloadEnvelope(mum, { familyId, messageId: sent.messageId });
    const opened = await openAndVerifyMessage(envelope, { roster: before.roster, keyFor: before.keyFor });
    expect(opened.ok).toBe(false);
    const view = await mum.api.call('GET', `/v1/families/${familyId}`, FamilyView);
    // Her leaving rotates the family-wide key and Mia's (hers), not Leo's.
    const newWraps = view.wrappedKeys.filter((w) => w.generation === oldEpoch + 1);
    expect(newWraps.map((w) => w.scope).sort()).toEqual([FAMILY_SCOPE, mia].sort());
    const commitments = commitmentsOf(after.roster.entries);
    for (const wire of newWraps) {
      const asHerself = await unwrapAndCheckScopeKey({ wrap: wrapFromWire(wire), familyId, recipientId: gran.me.accountId, identity: gran.me.identity, commitments });
      const asAddressee = await unwrapAndCheckScopeKey({ wrap: wrapFromWire(wire), familyId, recipientId: wire.recipientId, identity: gran.me.identity, commitments });
      expect(asHerself).toEqual({ ok: false, code: 'scope-key/wrong-recipient' });
      expect(asAddressee).toEqual({ ok: false, code: 'scope-key/unwrap-failed' });
    }
    // The members who remain open it.
    for (const member of [dad, aunt]) {
      const got = await downloadAndOpenMessage(member, { familyId, messageId: sent.messageId });
      expect(got.opened.ok && got.opened.value.audio).toEqual(audio);
    }
  });

  it('an invite works once', async () => {
    const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false } });
    await acceptInvite(stranger, link);
    expect(await status(acceptInvite(stranger, link))).toBe('client/invite-unavailable');
  });

  it('deleting the family removes it, its messages and their blobs for every member; live members hear it', async () => {
    const dadLive = await recordLive(dad, server.url);
    await dadLive.live.ready;
    expect(await blobFiles()).not.toEqual([]);
    await deleteFamily(mum, { familyId });
    await dadLive.waitFor((e) => e.event === 'family-deleted' && e.familyId === familyId);
    await dadLive.live.close();
    for (const member of [mum, dad, aunt]) expect(await status(member.api.call('GET', `/v1/families/${familyId}`, FamilyView))).toBe(404);
    expect(await mum.store.loadFamily(familyId)).toBeUndefined();
    expect(await blobFiles()).toEqual([]);
  });
});
