/**
 * Issue #21 item 2, staged for real: a real server, the member client library, the reference toy's
 * runtime, real keys. The child's toy replies and a relative sends a message; a guardian removes
 * both. Their messages stay playable as history for members (also on a freshly signed-in device),
 * labelled with the signed removal; the toy that stays plays nothing of theirs. Then the removed
 * relative and the removed toy, with the real keys they kept, sign new envelopes committing to the
 * old head and dated before the removal (backdating), and a colluding server (a hostile fetch in
 * front of the real one) offers them — also under a kept message's own id: refused everywhere.
 * And a server that passes another member's message off as a removed toy's while a guardian removes
 * it gets nothing kept: the guardian's client keeps only envelopes it verified as the toy's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginAccount } from '../../src/client/account.js';
import { BurrowApi } from '../../src/client/api.js';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, loadFamily, removeMember, type ClientContext, type OpenedFamily } from '../../src/client/families.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { MemoryKeyStore } from '../../src/client/key-store.js';
import { downloadAndOpenMessage, sendMessage } from '../../src/client/messages.js';
import { removeToy, type PairedToy } from '../../src/client/toys.js';
import { fromBase64Url, toBase64Url, utf8 } from '../../src/crypto/bytes.js';
import { sealMessage } from '../../src/crypto/envelope.js';
import { headSealing } from './forged-keys.js';
import { MessageAccepted } from '../../src/protocol/messages.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, sameStretchingAs, wavWith, type TestMember } from '../e2e/family-harness.js';
import { pairToy, toyRuntime, type TestToy } from '../toy/toy-harness.js';

const DAY = 24 * 3600_000;
type Json = Record<string, unknown>;

let server: RunningServer;
let mum: TestMember;
let gran: TestMember;
let familyId: string;
let mia: string;
let bunny: PairedToy;
let bunnyToy: TestToy;
let fox: TestToy;
let owl: TestToy;
/** What gran and the Bunny toy held before the removal: the old epoch, its head and key. */
let gransView: OpenedFamily;
let reply: string;
let fromGran: string;
let removedAt: { epoch: number; at: number };

/** What the colluding server adds to, or swaps in, the real server's answers. */
const attack = {
  injected: new Map<string, { view: Json; envelope: Uint8Array }>(),
  /** Envelopes served in place of the stored one, by message id. */
  swapped: new Map<string, Uint8Array>(),
  /** Sender ids the list claims for messages, by message id. */
  relabelled: new Map<string, string>(),
};

const hostileFetch: typeof fetch = async (input, init) => {
  const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
  const path = url.pathname;
  const one = /^\/v1\/families\/[^/]+\/messages\/([^/]+)(\/envelope|\/receipts)?$/.exec(path);
  const injected = one === null ? undefined : attack.injected.get(one[1]!);
  const envelope = (bytes: Uint8Array) => new Response(bytes.slice(), { status: 200, headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) } });
  if (injected !== undefined) {
    if (one![2] === '/envelope') return envelope(injected.envelope);
    if (one![2] === '/receipts') return new Response(null, { status: 204 });
    return Response.json(injected.view);
  }
  const swapped = one === null ? undefined : attack.swapped.get(one[1]!);
  if (swapped !== undefined && one![2] === '/envelope') return envelope(swapped);
  const response = await fetch(input, init);
  if ((init?.method ?? 'GET') !== 'GET' || path !== `/v1/families/${familyId}/messages` || !response.ok) return response;
  const body = (await response.json()) as { messages: Json[] };
  body.messages = [...body.messages, ...[...attack.injected.values()].map((i) => i.view)];
  for (const m of body.messages) m.senderId = attack.relabelled.get(m.messageId as string) ?? m.senderId;
  return Response.json(body);
};

function behindHostileServer(member: ClientContext & { token?: string }, token: string): ClientContext {
  return { api: new BurrowApi({ baseUrl: server.url, token, fetch: hostileFetch }), me: member.me, store: member.store };
}

/** Seals, with keys a removed sender kept, a message at the old head dated before the removal; the colluding server lists it. */
async function backdate(sender: { accountId: string } | { toyId: string }, identity: PairedToy['identity'], options: { messageId?: Uint8Array; label: string; inject: boolean }) {
  const sealed = await sealMessage({
    familyId, epoch: gransView.roster.epoch, rosterHead: gransView.roster.headHash, ...headSealing(gransView, 'toyId' in sender ? sender.toyId : sender.accountId, [mia]),
    sender: 'toyId' in sender ? { toyId: sender.toyId, identity } : { accountId: sender.accountId, identity },
    recipients: [mia], audio: wavWith(utf8(options.label), 300), audioType: 'audio/wav', durationMs: 18,
    createdAt: removedAt.at - 2 * DAY, ...(options.messageId === undefined ? {} : { messageId: options.messageId }),
  });
  const messageId = toBase64Url(sealed.header.messageId);
  if (options.inject) {
    const now = Date.now() - 3 * DAY;
    attack.injected.set(messageId, {
      view: {
        messageId, familyId, senderId: sealed.header.senderId, senderKind: 'toyId' in sender ? 'toy' : 'member', recipients: [mia], epoch: sealed.header.epoch, size: sealed.bytes.length,
        ciphertextHash: toBase64Url(sealed.ciphertextHash), receivedAt: now, expiresAt: now + 30 * DAY, saved: false, needsApproval: false, approvals: [], receipts: [],
      },
      envelope: sealed.bytes,
    });
  }
  return { messageId, sealed };
}

async function opened(ctx: ClientContext, messageId: string) {
  const result = (await downloadAndOpenMessage(ctx, { familyId, messageId })).opened;
  return result.ok ? { ok: true, removed: result.value.removed, audio: result.value.audio } : { ok: false, code: result.code };
}

beforeAll(async () => {
  server = await startServer();
  [mum, gran] = (await Promise.all(['mum', 'gran'].map((label) => registerMember(server.url, label)))) as [TestMember, TestMember];
  familyId = (await createFamily(mum, { name: 'Kept Family' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false } });
  await acceptInvite(gran, link);
  await admitJoiners(mum, { familyId });
  bunny = await pairToy(server.url, mum, familyId, mia, 'Bunny');
  bunnyToy = await toyRuntime(bunny, hostileFetch);
  await bunnyToy.runtime.start();
  fox = await toyRuntime(await pairToy(server.url, mum, familyId, mia, 'Fox'), hostileFetch);
  await fox.runtime.start();
  await bunnyToy.runtime.refresh();

  // Before the removal: the toy replies, gran sends; the Fox toy plays gran's message.
  reply = (await bunnyToy.runtime.reply({ audio: wavWith(utf8('bunny reply'), 300), audioType: 'audio/wav', durationMs: 18 })).messageId;
  fromGran = (await sendMessage(gran, { familyId, to: mia, audio: wavWith(utf8('gran says hello'), 300), audioType: 'audio/wav', durationMs: 18 })).messageId;
  await fox.runtime.sync();
  gransView = await loadFamily(gran, familyId);

  await removeToy(mum, { familyId, toyId: bunny.toyId });
  const after = await removeMember(mum, { familyId, accountId: gran.me.accountId });
  removedAt = { epoch: after.roster.head.epoch, at: after.roster.head.createdAt };
  expect(removedAt.epoch).toBe(gransView.roster.epoch + 2);
}, 180_000);

afterAll(async () => {
  await server?.close();
});

describe('history after a removal, with a colluding server', { timeout: 120_000 }, () => {
  it('the removed toy’s reply and the removed relative’s message stay playable for members, labelled with the signed removal', async () => {
    const family = await loadFamily(mum, familyId);
    const toyRemoval = family.roster.entryAt(removedAt.epoch - 1)!;
    expect(toyRemoval.toys.some((t) => t.toyId === bunny.toyId)).toBe(false);
    const theReply = await opened(mum, reply);
    expect(theReply).toMatchObject({ ok: true, removed: { epoch: toyRemoval.epoch, at: toyRemoval.createdAt } });
    expect(new TextDecoder().decode((theReply as { audio: Uint8Array }).audio)).toContain('bunny reply');
    expect(await opened(mum, fromGran)).toMatchObject({ ok: true, removed: removedAt });
    // The entries that removed them each keep exactly their one message.
    expect(toyRemoval.kept.length).toBe(1);
    expect(family.roster.entryAt(removedAt.epoch)!.kept.length).toBe(1);
    expect(Math.abs(removedAt.at - Date.now())).toBeLessThan(DAY);
  });

  it('a freshly signed-in device (empty key store, the vault’s anchor) plays them too', async () => {
    const { session, identity } = await loginAccount({ api: new BurrowApi({ baseUrl: server.url }), email: mum.email, password: mum.password, sessionLabel: 'new phone', ...sameStretchingAs(mum) });
    const phone: ClientContext = { api: new BurrowApi({ baseUrl: server.url, token: session.token! }), me: { accountId: session.accountId, identity }, store: new MemoryKeyStore() };
    expect(await opened(phone, reply)).toMatchObject({ ok: true, removed: { epoch: removedAt.epoch - 1 } });
    expect(await opened(phone, fromGran)).toMatchObject({ ok: true, removed: removedAt });
  });

  it('backdating: new envelopes the removed relative and the removed toy sign at the old head, dated before the removal, are refused', async () => {
    // The real server refuses them (gran is no member; the toy's token was ended at its removal).
    const granTries = await backdate({ accountId: gran.me.accountId }, gran.me.identity, { label: 'come to the park', inject: true });
    await expect(gran.api.upload(`/v1/families/${familyId}/messages`, granTries.sealed.bytes, MessageAccepted)).rejects.toMatchObject({ status: 404 });
    const toyTries = await backdate({ toyId: bunny.toyId }, bunny.identity, { label: 'bunny again', inject: true });
    // Only a colluding server delivers them: a member's client refuses both.
    const mumsView = behindHostileServer(mum, mum.token);
    expect(await opened(mumsView, granTries.messageId)).toEqual({ ok: false, code: 'envelope/sender-removed' });
    expect(await opened(mumsView, toyTries.messageId)).toEqual({ ok: false, code: 'envelope/sender-removed' });

    // Under a kept message's own id, with new words: the server serves it in place of the real one. Refused.
    const swap = await backdate({ accountId: gran.me.accountId }, gran.me.identity, { label: 'new words', messageId: fromBase64Url(fromGran), inject: false });
    attack.swapped.set(fromGran, swap.sealed.bytes);
    expect(await opened(mumsView, fromGran)).toEqual({ ok: false, code: 'envelope/sender-removed' });
    attack.swapped.delete(fromGran);
    expect(await opened(mumsView, fromGran)).toMatchObject({ ok: true });
  });

  it('the toys play nothing from the removed relative or the removed toy: kept, backdated or swapped', async () => {
    // The Fox toy played gran's message while she was a member.
    expect(fox.played.map((p) => p.messageId)).toContain(fromGran);
    const playedBefore = fox.played.length;
    await fox.runtime.refresh();
    expect(fox.runtime.family!.roster.epoch).toBe(removedAt.epoch);
    // A toy paired after the removal sees everything in Mia's conversation for the first time.
    owl = await toyRuntime(await pairToy(server.url, mum, familyId, mia, 'Owl'), hostileFetch);
    await owl.runtime.start();
    await fox.runtime.refresh();
    attack.swapped.set(fromGran, (await backdate({ accountId: gran.me.accountId }, gran.me.identity, { label: 'swapped', messageId: fromBase64Url(fromGran), inject: false })).sealed.bytes);
    for (const toy of [fox, owl]) await toy.runtime.sync();
    attack.swapped.delete(fromGran);
    const refusedBy = (toy: TestToy) => Object.fromEntries(toy.logs.flatMap((l) => (l.event === 'refused' ? [[l.messageId, l.reason]] : [])));
    const backdated = [...attack.injected.keys()];
    expect(backdated.length).toBe(2);
    for (const id of backdated) {
      expect(refusedBy(fox)[id]).toBe('envelope/sender-removed');
      expect(refusedBy(owl)[id]).toBe('envelope/sender-removed');
    }
    // The kept ones, which members still play, are refused by the new toy as well.
    expect(refusedBy(owl)[fromGran]).toBe('envelope/sender-removed');
    expect(refusedBy(owl)[reply]).toBe('envelope/sender-removed');
    expect(fox.played.length).toBe(playedBefore);
    expect(owl.played).toEqual([]);
  });

  it('a server that passes another member’s message off as the removed toy’s while a guardian removes it gets nothing kept', async () => {
    const fromMum = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('mum, still here'), 300), audioType: 'audio/wav', durationMs: 18 });
    attack.relabelled.set(fromMum.messageId, owl.paired.toyId);
    const after = await removeToy(behindHostileServer(mum, mum.token), { familyId, toyId: owl.paired.toyId });
    attack.relabelled.clear();
    // The guardian's client verified the envelope itself: it is mum's, so the entry removing the Owl keeps nothing.
    expect(after.roster.head.toys.some((t) => t.toyId === owl.paired.toyId)).toBe(false);
    expect(after.roster.head.kept).toEqual([]);
    expect(await opened(mum, fromMum.messageId)).toMatchObject({ ok: true, removed: undefined });
  });
});
