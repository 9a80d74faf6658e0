/**
 * The tab badges count what this device verified, never what the server says: a join request
 * counts only when the joiner's proof verifies under the secret of an invite this device made, and
 * a message waiting for approval only when the verified head says its sender needs approval.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countFamilyBadges } from '../../src/client/badges.js';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, loadFamily } from '../../src/client/families.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { approveMessage, listAllMessages, sendMessage } from '../../src/client/messages.js';
import { randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, wavWith, type TestMember } from '../e2e/family-harness.js';

let server: RunningServer;
let mum: TestMember;
let dad: TestMember;
let gran: TestMember;
let uncle: TestMember;
let stranger: TestMember;
let familyId: string;
let childId: string;

beforeAll(async () => {
  server = await startServer();
  [mum, dad, gran, uncle, stranger] = (await Promise.all(['mum', 'dad', 'gran', 'uncle', 'stranger'].map((label) => registerMember(server.url, label)))) as [TestMember, TestMember, TestMember, TestMember, TestMember];
  familyId = (await createFamily(mum, { name: 'Counting Family' })).familyId;
  childId = (await addChild(mum, { familyId, name: 'Noor', emoji: '🐢' })).childId;
  // Dad joins as a second guardian: his device made no invite of its own.
  await acceptInvite(dad, (await createInvite(mum, { familyId, terms: { role: 'guardian', children: [], needsApproval: false } })).link);
  await admitJoiners(mum, { familyId });
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('badges on the family tabs', () => {
  it('count a join request only when the joiner proved they hold the link of an invite this device made', async () => {
    const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [childId], needsApproval: true } });
    const badges = async (who: TestMember) => countFamilyBadges(who, await loadFamily(who, familyId));
    expect((await badges(mum)).joinRequests).toBe(0);
    // Someone who saw only the invite's id (the server knows it) accepts with a made-up proof.
    const { inviteId: forgedId } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [childId], needsApproval: false } });
    const forged = await stranger.api.call('POST', `/v1/invites/${forgedId}/accept`, undefined, { joinerProof: toBase64Url(randomBytes(32)) }).then(() => true, () => false);
    expect(forged).toBe(true);
    expect((await badges(mum)).joinRequests).toBe(0);
    await acceptInvite(gran, link);
    expect((await badges(mum)).joinRequests).toBe(1);
    // Another guardian's device holds no secret for it: nothing it can verify, nothing it counts.
    expect((await badges(dad)).joinRequests).toBe(0);
    await admitJoiners(mum, { familyId });
    expect((await badges(mum)).joinRequests).toBe(0);
  });

  it('count a message waiting for approval only from a sender the verified head says needs it, and only until it is approved', async () => {
    const badges = async (who: TestMember) => countFamilyBadges(who, await loadFamily(who, familyId));
    const before = await badges(mum);
    expect(before.approvals).toBe(0);
    const sent = await sendMessage(gran, { familyId, to: childId, audio: wavWith(randomBytes(8)), audioType: 'audio/wav', durationMs: 500 });
    expect(await badges(mum)).toEqual({ joinRequests: 0, approvals: 1 });
    expect(await badges(dad)).toEqual({ joinRequests: 0, approvals: 1 });
    // A relative sees no badges: approving is a guardian's.
    expect(await badges(gran)).toEqual({ joinRequests: 0, approvals: 0 });
    await approveMessage(mum, { familyId, messageId: sent.messageId });
    expect((await badges(mum)).approvals).toBe(0);
  });

  it('ignore what a server adds to the approval queue: messages from someone the roster lets send freely', async () => {
    const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [childId], needsApproval: false } });
    await acceptInvite(uncle, link);
    await admitJoiners(mum, { familyId });
    const family = await loadFamily(mum, familyId);
    await sendMessage(uncle, { familyId, to: childId, audio: wavWith(randomBytes(8)), audioType: 'audio/wav', durationMs: 500 });
    // A server that answers the approval queue with every message of the family.
    const lyingApi = { call: (method: 'GET', path: string, schema: undefined, body?: unknown) => mum.api.call(method, path.replace('pendingApproval=true', 'pendingApproval=false'), schema, body) } as unknown as typeof mum.api;
    const queue = await listAllMessages({ ...mum, api: lyingApi }, { familyId, pendingApproval: true });
    expect(queue.some((m) => m.senderId === uncle.me.accountId)).toBe(true);
    expect((await countFamilyBadges({ ...mum, api: lyingApi }, family)).approvals).toBe(0);
  });
});
