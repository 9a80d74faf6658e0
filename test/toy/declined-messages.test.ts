/**
 * A guardian's decline against a server that will not let go of the message: a real server, the
 * reference toy's state directory, and the toy's traffic rewritten in transit as a compromised
 * server would. An aunt who needs approval sends two messages; a guardian declines one (signed,
 * `burrow/decline/v1`) and approves the other. The honest server hides the declined one from the
 * toy; the lying one keeps offering it — without the decline (the toy waits, playing nothing), then
 * with the decline beside another guardian's valid approval (refused, `envelope/declined`), then
 * with the approval alone (the toy remembers the refusal). Only the approved message plays. Members'
 * clients judge the same from the roster head and the signatures, whatever the server's
 * `needsApproval` says.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, loadFamily } from '../../src/client/families.js';
import { readFamilyLog } from '../../src/client/family-log.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { approvalStateOf, approveMessage, declineMessage, downloadAndOpenMessage, getMessage, sendMessage, type MessageViewT } from '../../src/client/messages.js';
import { fromBase64Url, toBase64Url, utf8 } from '../../src/crypto/bytes.js';
import { approveMessage as signApproval, declineMessage as signDecline } from '../../src/crypto/envelope.js';
import { ToyStateDir } from '../../src/toy/state.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, wavWith, type TestMember } from '../e2e/family-harness.js';
import { pairToy, toyRuntime, type TestToy } from './toy-harness.js';

let server: RunningServer;
let mum: TestMember;
let dad: TestMember;
let aunt: TestMember;
let familyId: string;
let mia: string;
let toy: TestToy;
let dir: string;

/** The declined message as the lying server keeps offering it to the toy: a view (as a guardian sees it) and its envelope. */
const offered = {
  view: undefined as MessageViewT | undefined,
  envelope: undefined as Uint8Array | undefined,
  /** What of the guardians' decisions the view carries. */
  rewrite: (view: MessageViewT): MessageViewT => view,
};

const hostileFetch: typeof fetch = async (input, init) => {
  const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
  const path = url.pathname;
  const method = init?.method ?? 'GET';
  const view = offered.view;
  if (view !== undefined && method === 'GET') {
    const base = `/v1/families/${familyId}/messages`;
    if (path === `${base}/${view.messageId}/envelope`) {
      return new Response(new Uint8Array(offered.envelope!), { status: 200, headers: { 'content-type': 'application/octet-stream', 'content-length': String(offered.envelope!.length) } });
    }
    if (path === `${base}/${view.messageId}`) return Response.json(offered.rewrite(view));
    if (path === base) {
      const response = await fetch(input, init);
      const body = (await response.json()) as { messages: MessageViewT[] };
      // The honest server hid it from the toy; this one puts it back.
      expect(body.messages.map((m) => m.messageId)).not.toContain(view.messageId);
      body.messages.push(offered.rewrite(view));
      return Response.json(body);
    }
  }
  return fetch(input, init);
};

async function refusalsInFamilyLog(): Promise<Array<{ actorId: string; code: string; messageId?: string }>> {
  const log = await readFamilyLog(mum, familyId);
  if (!log.ok) throw new Error(`the family log must verify (${log.code})`);
  return log.events.filter((e) => e.kind === 'client-refusal').map((e) => ({ actorId: e.actorId, code: String(e.details.code), ...(e.details.messageId === undefined ? {} : { messageId: String(e.details.messageId) }) }));
}

beforeAll(async () => {
  server = await startServer();
  dir = await mkdtemp(join(tmpdir(), 'burrow-declines-'));
  [mum, dad, aunt] = (await Promise.all(['mum', 'dad', 'aunt'].map((label) => registerMember(server.url, label)))) as [TestMember, TestMember, TestMember];
  familyId = (await createFamily(mum, { name: 'Careful Family' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  for (const [member, terms] of [[dad, { role: 'guardian' as const, children: [], needsApproval: false }], [aunt, { role: 'relative' as const, children: [mia], needsApproval: true }]] as const) {
    const { link } = await createInvite(mum, { familyId, terms: { ...terms, children: [...terms.children] } });
    await acceptInvite(member, link);
    await admitJoiners(mum, { familyId });
  }
  const paired = await pairToy(server.url, mum, familyId, mia);
  toy = await toyRuntime(paired, hostileFetch, { storage: new ToyStateDir(join(dir, 'toy')) });
  await toy.runtime.start();
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('a declined message, offered by a server that keeps it', { timeout: 90_000 }, () => {
  it('the toy plays only the approved message; the declined one never plays, whatever the server relays with it', async () => {
    const declined = await sendMessage(aunt, { familyId, to: mia, audio: wavWith(utf8('please no'), 400), audioType: 'audio/wav', durationMs: 25 });
    const approved = await sendMessage(aunt, { familyId, to: mia, audio: wavWith(utf8('hello Mia'), 400), audioType: 'audio/wav', durationMs: 25 });
    expect(await toy.runtime.sync()).toBe(0);
    expect(toy.logs.filter((l) => l.event === 'waiting').map((l) => l.event === 'waiting' && [l.messageId, l.reason])).toEqual(
      expect.arrayContaining([[declined.messageId, 'envelope/needs-approval'], [approved.messageId, 'envelope/needs-approval']]),
    );

    await declineMessage(mum, { familyId, messageId: declined.messageId });
    await approveMessage(mum, { familyId, messageId: approved.messageId });
    const guardianView = await getMessage(mum, { familyId, messageId: declined.messageId });
    expect(guardianView.declines?.map((d) => d.guardianId)).toEqual([mum.me.accountId]);
    // The honest server no longer shows it to the toy.
    const asToy = await fetch(`${server.url}/v1/families/${familyId}/messages/${declined.messageId}`, { headers: { authorization: `Bearer ${toy.paired.deviceToken}` } });
    expect(asToy.status).toBe(404);
    offered.view = guardianView;
    offered.envelope = await mum.api.download(`/v1/families/${familyId}/messages/${declined.messageId}/envelope`, 1 << 20);

    // 1. The decline withheld, no approval: the declined message waits; the approved one plays.
    offered.rewrite = (view) => ({ ...view, declines: [] });
    expect(await toy.runtime.sync()).toBe(1);
    expect(toy.played.map((p) => p.messageId)).toEqual([approved.messageId]);

    // 2. The decline relayed beside a valid approval by the other guardian (one the server kept, say): refused.
    const family = await loadFamily(dad, familyId);
    const dadsApproval = await signApproval({ guardian: dad.me, familyId, messageId: fromBase64Url(declined.messageId), ciphertextHash: fromBase64Url(guardianView.ciphertextHash), rosterEpoch: family.roster.epoch, rosterHead: family.roster.headHash });
    const approvalWire = { guardianId: dad.me.accountId, rosterEpoch: dadsApproval.rosterEpoch, rosterHead: toBase64Url(dadsApproval.rosterHead), signature: toBase64Url(dadsApproval.signature) };
    offered.rewrite = (view) => ({ ...view, approvals: [approvalWire] });
    expect(await toy.runtime.sync()).toBe(0);
    expect(toy.logs.filter((l) => l.event === 'refused').map((l) => l.event === 'refused' && [l.messageId, l.reason])).toEqual([[declined.messageId, 'envelope/declined']]);

    // 3. Then the approval alone, the decline withheld again: the toy remembers what it refused.
    offered.rewrite = (view) => ({ ...view, approvals: [approvalWire], declines: [] });
    expect(await toy.runtime.sync()).toBe(0);
    await toy.runtime.playWaiting();
    expect(toy.played.map((p) => p.messageId)).toEqual([approved.messageId]);

    // The refusal is in the family's security log, from the toy.
    expect(await refusalsInFamilyLog()).toEqual(expect.arrayContaining([{ actorId: toy.paired.toyId, code: 'envelope/declined', messageId: declined.messageId }]));
  });

  it('members’ clients judge waiting, approved and declined from the roster head and the signatures, never from the server’s needsApproval', async () => {
    offered.view = undefined;
    const fromAunt = await sendMessage(aunt, { familyId, to: mia, audio: wavWith(utf8('judge me'), 400), audioType: 'audio/wav', durationMs: 25 });
    const fromMum = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('from mum'), 400), audioType: 'audio/wav', durationMs: 25 });
    const family = await loadFamily(mum, familyId);
    const auntView = await getMessage(mum, { familyId, messageId: fromAunt.messageId });
    const mumView = await getMessage(mum, { familyId, messageId: fromMum.messageId });
    // The server's flag, flipped either way, changes nothing.
    expect(await approvalStateOf(family, { ...auntView, needsApproval: false })).toEqual({ state: 'waiting' });
    expect(await approvalStateOf(family, { ...mumView, needsApproval: true })).toEqual({ state: 'not-needed' });
    // A decline signed by the aunt herself, or one over another message, declines nothing.
    const head = { rosterEpoch: family.roster.epoch, rosterHead: family.roster.headHash };
    const ids = { messageId: fromBase64Url(fromAunt.messageId), ciphertextHash: fromBase64Url(auntView.ciphertextHash) };
    const wire = (d: { rosterEpoch: number; rosterHead: Uint8Array; signature: Uint8Array }, guardianId: string) => ({ guardianId, rosterEpoch: d.rosterEpoch, rosterHead: toBase64Url(d.rosterHead), signature: toBase64Url(d.signature) });
    const byAunt = await signDecline({ guardian: aunt.me, familyId, ...ids, ...head });
    expect(await approvalStateOf(family, { ...auntView, declines: [wire(byAunt, aunt.me.accountId)] })).toEqual({ state: 'waiting' });
    const byDad = await signDecline({ guardian: dad.me, familyId, ...ids, ...head });
    expect(await approvalStateOf(family, { ...auntView, declines: [wire(byDad, dad.me.accountId)] })).toEqual({ state: 'declined', guardianId: dad.me.accountId });
    // Moved under another message's id (as a server might), it declines nothing.
    expect(await approvalStateOf(family, { ...auntView, messageId: fromMum.messageId, declines: [wire(byDad, dad.me.accountId)] })).toEqual({ state: 'waiting' });
    // The sender's app opens her waiting message to listen; another relative's app would not.
    const opened = await downloadAndOpenMessage(aunt, { familyId, messageId: fromAunt.messageId, openUnapproved: true });
    expect(opened.opened.ok && opened.opened.value.approval).toEqual({ state: 'waiting' });
    expect((await downloadAndOpenMessage(aunt, { familyId, messageId: fromAunt.messageId })).opened).toEqual({ ok: false, code: 'envelope/needs-approval' });
  });

  it('on the honest server, a declined message the toy was waiting on is withdrawn, and its sender still sees who declined it', async () => {
    offered.view = undefined;
    const message = await sendMessage(aunt, { familyId, to: mia, audio: wavWith(utf8('maybe later'), 400), audioType: 'audio/wav', durationMs: 25 });
    await toy.runtime.sync();
    expect(toy.logs.filter((l) => l.event === 'waiting' && l.messageId === message.messageId).map((l) => l.event === 'waiting' && l.reason)).toEqual(['envelope/needs-approval']);
    await declineMessage(dad, { familyId, messageId: message.messageId });
    expect(await toy.runtime.sync()).toBe(0);
    expect(toy.logs.filter((l) => l.event === 'refused' && l.messageId === message.messageId).map((l) => l.event === 'refused' && l.reason)).toEqual(['toy/withdrawn']);
    const seenBySender = await getMessage(aunt, { familyId, messageId: message.messageId });
    expect(seenBySender.declines?.map((d) => d.guardianId)).toEqual([dad.me.accountId]);
  });
});
