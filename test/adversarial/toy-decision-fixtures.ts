/**
 * What the toy-decision attacks share, in Node (toy-decisions.test.ts, the client library's toy
 * behind a hostile fetch) and in the browser (web-toy-decisions.test.ts, the virtual toy behind a
 * hostile proxy): the family they run in, and the messages and approvals a colluding server
 * injects into the lists a toy reads.
 */
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, type OpenedFamily } from '../../src/client/families.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { fromBase64Url, toBase64Url } from '../../src/crypto/bytes.js';
import { approveMessage, sealMessage } from '../../src/crypto/envelope.js';
import { headSealing } from './forged-keys.js';
import type { Identity } from '../../src/crypto/identity.js';
import { registerMember, type TestMember } from '../support/members.js';

const DAY = 24 * 3600_000;

/**
 * Mum (the guardian) with Mia and Leo; Gran a relative for both, the aunt and the cousin for Mia,
 * the uncle a second guardian — none needing approval yet.
 */
export interface DecidedFamily {
  mum: TestMember;
  gran: TestMember;
  aunt: TestMember;
  uncle: TestMember;
  cousin: TestMember;
  familyId: string;
  mia: string;
  leo: string;
}

/** Registers the five members on the server at `url` and builds the family. */
export async function decidedFamily(url: string): Promise<DecidedFamily> {
  const [mum, gran, aunt, uncle, cousin] = (await Promise.all(['mum', 'gran', 'aunt', 'uncle', 'cousin'].map((label) => registerMember(url, label)))) as [TestMember, TestMember, TestMember, TestMember, TestMember];
  const { familyId } = await createFamily(mum, { name: 'Decided Family' });
  const { childId: mia } = await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' });
  const { childId: leo } = await addChild(mum, { familyId, name: 'Leo', emoji: '🐻' });
  const join = async (member: TestMember, terms: Parameters<typeof createInvite>[1]['terms']): Promise<void> => {
    const { link } = await createInvite(mum, { familyId, terms });
    await acceptInvite(member, link);
    await admitJoiners(mum, { familyId });
  };
  await join(gran, { role: 'relative', children: [mia, leo], needsApproval: false });
  await join(aunt, { role: 'relative', children: [mia], needsApproval: false });
  await join(uncle, { role: 'guardian', children: [], needsApproval: false });
  await join(cousin, { role: 'relative', children: [mia], needsApproval: false });
  return { mum, gran, aunt, uncle, cousin, familyId, mia, leo };
}

/** A message the server never accepted, as a colluding server lists and serves it. */
export interface Injected {
  messageId: string;
  /** The message's view in a list (and on its own). */
  view: Record<string, unknown>;
  envelope: Uint8Array;
}

/**
 * Seals, as `member`, a message to `to` under the epoch key they held in `old` (before a guardian's
 * change), with the view a server would list for it.
 */
export async function sealedUnderOldKey(old: OpenedFamily, member: TestMember, message: { familyId: string; to: string; audio: Uint8Array; durationMs: number }): Promise<Injected> {
  const { familyId, to } = message;
  const sealed = await sealMessage({ familyId, epoch: old.roster.epoch, rosterHead: old.roster.headHash, ...headSealing(old, member.me.accountId, [to]), sender: { accountId: member.me.accountId, identity: member.me.identity }, recipients: [to], audio: message.audio, audioType: 'audio/wav', durationMs: message.durationMs, createdAt: Date.now() });
  const messageId = toBase64Url(sealed.header.messageId);
  const now = Date.now();
  const view = {
    messageId, familyId, senderId: member.me.accountId, senderKind: 'member', recipients: [to], epoch: old.roster.epoch, size: sealed.bytes.length,
    ciphertextHash: toBase64Url(sealed.ciphertextHash), receivedAt: now, expiresAt: now + 30 * DAY, saved: false, needsApproval: false, approvals: [] as unknown[], receipts: [],
  };
  return { messageId, view, envelope: sealed.bytes };
}

/** Adds to an injected message's view an approval signed by `who` at `head`, as a guardian's client would sign it. */
export async function injectApproval(injected: Injected, who: { accountId: string; identity: Identity }, head: { epoch: number; headHash: Uint8Array }): Promise<void> {
  const { view } = injected;
  const approval = await approveMessage({ guardian: who, familyId: view.familyId as string, messageId: fromBase64Url(injected.messageId), ciphertextHash: fromBase64Url(view.ciphertextHash as string), rosterEpoch: head.epoch, rosterHead: head.headHash });
  view.approvals = [...(view.approvals as unknown[]), { guardianId: who.accountId, rosterEpoch: approval.rosterEpoch, rosterHead: toBase64Url(approval.rosterHead), signature: toBase64Url(approval.signature) }];
}
