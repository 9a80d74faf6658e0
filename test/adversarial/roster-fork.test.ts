/**
 * Equivocation, frozen rosters and fake receipts (issue #15 items 3 and 6), staged for real: a real
 * server, with a hostile relay in front of it rewriting what the reference toy runtime and member
 * clients receive, and a removed guardian's real keys.
 *
 * - Fork: a guardian removed at epoch N signs N′ on top of N−1 (themselves the only guardian, the
 *   toy kept, volume 100); the relay serves N′ to a toy and a member anchored before N. A real
 *   member's message commits to N: both refuse it `envelope/roster-fork` and the refusals are in the
 *   family security log a guardian reads.
 * - Frozen roster: the relay withholds the entry that removes a relative and keeps delivering that
 *   relative's messages. A guardian's message commits to the newer head: the toy fetches the roster
 *   and, while the entry stays withheld, plays nothing; once it holds the entry, the removed
 *   relative's messages are refused. A member client holds back the same way.
 * - Fake receipts: the relay makes up a 'played' receipt (and alters a real one): the client library
 *   shows it unverified, never 'Played'; the toy's real receipt verifies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BurrowApi } from '../../src/client/api.js';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, loadFamily, removeMember, type ClientContext, type OpenedFamily } from '../../src/client/families.js';
import { readFamilyLog } from '../../src/client/family-log.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { downloadAndOpenMessage, getMessage, sendMessage } from '../../src/client/messages.js';
import { checkReceipts, receiptSummary } from '../../src/client/receipts.js';
import { fromBase64Url, randomBytes, toBase64Url, utf8 } from '../../src/crypto/bytes.js';
import { sealMessage } from '../../src/crypto/envelope.js';
import { generateScopeKey } from '../../src/crypto/scope-key.js';
import { freshScopeKeys, headSealing, wrapsToAllHolders } from './forged-keys.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { signReceipt } from '../../src/crypto/receipt.js';
import { appendRosterEntry, encodeRosterEntry, type Member } from '../../src/crypto/roster.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, wavWith, type TestMember } from '../e2e/family-harness.js';
import { pairToy, toyRuntime, type TestToy } from '../toy/toy-harness.js';

type Json = Record<string, unknown>;

/** What the relay does, per family. */
interface Attack {
  /** Rewrites GET /v1/families/:id (roster and wrapped keys). */
  family?: (body: Json) => Promise<void> | void;
  /** Extra message views listed, with the envelopes served for them. */
  injected: Map<string, { view: Json; envelope: Uint8Array }>;
  /** Rewrites the receipts of each message view. */
  receipts?: (view: Json) => Promise<void> | void;
}

let server: RunningServer;
const attacks = new Map<string, Attack>();

function attackOn(familyId: string): Attack {
  let attack = attacks.get(familyId);
  if (attack === undefined) attacks.set(familyId, (attack = { injected: new Map() }));
  return attack;
}

/** A fetch that passes everything through the real server, then lets the relay rewrite it. */
const hostileFetch: typeof fetch = async (input, init) => {
  const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
  const method = init?.method ?? 'GET';
  const match = /^\/v1\/families\/([^/]+)(?:\/messages(?:\/([^/]+)(\/envelope|\/receipts)?)?)?$/.exec(url.pathname);
  const attack = match === null ? undefined : attacks.get(match[1]!);
  const messageId = match?.[2];
  const injected = messageId === undefined ? undefined : attack?.injected.get(messageId);
  if (injected !== undefined && match?.[3] === '/envelope') {
    return new Response(new Uint8Array(injected.envelope), { status: 200, headers: { 'content-type': 'application/octet-stream', 'content-length': String(injected.envelope.length) } });
  }
  if (injected !== undefined && match?.[3] === '/receipts') return new Response(null, { status: 204 });
  if (injected !== undefined && method === 'GET' && match?.[3] === undefined) return Response.json(injected.view);
  const response = await fetch(input, init);
  if (attack === undefined || method !== 'GET' || !response.ok || !(response.headers.get('content-type') ?? '').includes('json')) return response;
  const body = (await response.json()) as Json;
  if (url.pathname === `/v1/families/${match![1]}`) await attack.family?.(body);
  if (url.pathname.endsWith('/messages')) {
    body.messages = [...(body.messages as Json[]), ...[...attack.injected.values()].map((i) => i.view)];
    for (const view of body.messages as Json[]) await attack.receipts?.(view);
  } else if (messageId !== undefined) await attack.receipts?.(body);
  return Response.json(body, { status: response.status });
};

/** The same member's client, talking through the relay. */
function throughRelay(member: TestMember): ClientContext {
  return { api: new BurrowApi({ baseUrl: server.url, token: member.token, fetch: hostileFetch }), me: member.me, store: member.store };
}

/** A server view of an envelope the relay injects (the real server would refuse the upload). */
function viewOf(familyId: string, sealed: Awaited<ReturnType<typeof sealMessage>>, receivedAt: number): Json {
  return {
    messageId: toBase64Url(sealed.header.messageId), familyId, senderId: sealed.header.senderId, senderKind: 'member', recipients: sealed.header.recipients,
    epoch: sealed.header.epoch, size: sealed.bytes.length, ciphertextHash: toBase64Url(sealed.ciphertextHash), receivedAt, expiresAt: receivedAt + 86_400_000,
    saved: false, needsApproval: false, approvals: [], receipts: [],
  };
}

async function invite(guardian: TestMember, member: TestMember, familyId: string, terms: { role: 'guardian' | 'relative'; children: string[] }): Promise<void> {
  const { link } = await createInvite(guardian, { familyId, terms: { ...terms, needsApproval: false } });
  await acceptInvite(member, link);
  await admitJoiners(guardian, { familyId });
}

async function refusalsIn(guardian: TestMember, familyId: string): Promise<Array<{ actorId: string; details: Record<string, string | number> }>> {
  const log = await readFamilyLog(guardian, familyId);
  if (!log.ok) throw new Error(`the family log does not verify: ${log.code}`);
  return log.events.filter((e) => e.kind === 'client-refusal');
}

beforeAll(async () => {
  server = await startServer();
}, 60_000);

afterAll(async () => {
  await server?.close();
});

describe('a removed guardian forks the roster', { timeout: 120_000 }, () => {
  let mum: TestMember;
  let dad: TestMember;
  let gran: TestMember;
  let familyId: string;
  let mia: string;
  let toy: TestToy;

  beforeAll(async () => {
    [mum, dad, gran] = (await Promise.all(['mum', 'dad', 'gran'].map((label) => registerMember(server.url, label)))) as [TestMember, TestMember, TestMember];
    familyId = (await createFamily(mum, { name: 'Forked Family' })).familyId;
    mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
    await invite(mum, dad, familyId, { role: 'guardian', children: [] });
    await invite(mum, gran, familyId, { role: 'relative', children: [mia] });
    toy = await toyRuntime(await pairToy(server.url, mum, familyId, mia), hostileFetch);
    // The toy and gran's device are anchored at N−1, the head before dad is removed.
    await toy.runtime.start();
    await loadFamily(throughRelay(gran), familyId);
  }, 120_000);

  it("a real member's message committing to N is refused on the toy and the member client, and both refusals reach the family log", async () => {
    const before = await loadFamily(mum, familyId);
    const removedAt = (await removeMember(mum, { familyId, accountId: dad.me.accountId })).roster.epoch;
    // Dad, with his real keys, signs another N on top of N−1 where he was still a guardian.
    const forkMembers: Member[] = [{ accountId: dad.me.accountId, role: 'guardian', keys: dad.me.identity.publicKeys }, before.roster.members.find((m) => m.accountId === gran.me.accountId)!];
    const forkKeys = freshScopeKeys({ members: forkMembers, toys: before.roster.toys }, removedAt, before.roster.head);
    const forged = await appendRosterEntry(before.roster.entries, {
      scopeKeys: forkKeys,
      signer: dad.me,
      members: forkMembers,
      toys: [...before.roster.toys],
      settings: { ...before.roster.settings, volumeLimit: 100 },
    });
    expect(forged.epoch).toBe(removedAt);
    const forgedKeys = await wrapsToAllHolders(forged, forkKeys);
    attackOn(familyId).family = (body) => {
      body.roster = [...(body.roster as string[]).slice(0, removedAt), toBase64Url(encodeRosterEntry(forged))];
      body.wrappedKeys = [...(body.wrappedKeys as Array<{ generation: number }>).filter((k) => k.generation < removedAt), ...forgedKeys];
      body.epoch = removedAt;
    };

    const sent = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('the real epoch N'), 300), audioType: 'audio/wav', durationMs: 18 });
    expect(sent.epoch).toBe(removedAt);

    await toy.runtime.sync();
    expect(toy.runtime.family?.roster.head.signerId).toBe(dad.me.accountId);
    expect(toy.played.map((p) => p.messageId)).not.toContain(sent.messageId);
    expect(toy.logs).toContainEqual(expect.objectContaining({ event: 'refused', messageId: sent.messageId, reason: 'envelope/roster-fork' }));

    const atGran = await downloadAndOpenMessage(throughRelay(gran), { familyId, messageId: sent.messageId });
    expect(atGran.opened).toEqual({ ok: false, code: 'envelope/roster-fork' });

    const refusals = await refusalsIn(mum, familyId);
    expect(refusals).toContainEqual(expect.objectContaining({ actorId: toy.paired.toyId, details: { code: 'envelope/roster-fork', epoch: removedAt, messageId: sent.messageId } }));
    expect(refusals).toContainEqual(expect.objectContaining({ actorId: gran.me.accountId, details: { code: 'envelope/roster-fork', epoch: removedAt, messageId: sent.messageId } }));
  });
});

describe('a server freezes the roster to keep a removed relative talking', { timeout: 120_000 }, () => {
  let mum: TestMember;
  let uncle: TestMember;
  let aunt: TestMember;
  let familyId: string;
  let mia: string;
  let toy: TestToy;
  let uncleView: OpenedFamily;
  let withheldFrom: number;

  beforeAll(async () => {
    [mum, uncle, aunt] = (await Promise.all(['mum', 'uncle', 'aunt'].map((label) => registerMember(server.url, label)))) as [TestMember, TestMember, TestMember];
    familyId = (await createFamily(mum, { name: 'Frozen Family' })).familyId;
    mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
    await invite(mum, uncle, familyId, { role: 'relative', children: [mia] });
    await invite(mum, aunt, familyId, { role: 'relative', children: [mia] });
    toy = await toyRuntime(await pairToy(server.url, mum, familyId, mia), hostileFetch);
    await toy.runtime.start();
    await loadFamily(throughRelay(aunt), familyId);
    // The uncle keeps the key of the last epoch he was in; then mum removes him.
    uncleView = await loadFamily(uncle, familyId);
    withheldFrom = (await removeMember(mum, { familyId, accountId: uncle.me.accountId })).roster.epoch;
    attackOn(familyId).family = (body) => {
      body.roster = (body.roster as string[]).slice(0, withheldFrom);
      body.wrappedKeys = (body.wrappedKeys as Array<{ generation: number }>).filter((k) => k.generation < withheldFrom);
      body.epoch = withheldFrom - 1;
    };
  }, 120_000);

  async function fromUncle(receivedAt: number): Promise<string> {
    const sealed = await sealMessage({
      familyId, epoch: uncleView.roster.epoch, rosterHead: uncleView.roster.headHash, ...headSealing(uncleView, uncle.me.accountId, [mia]), sender: uncle.me,
      recipients: [mia], audio: wavWith(utf8('still here'), 300), audioType: 'audio/wav', durationMs: 18, createdAt: Date.now(),
    });
    const id = toBase64Url(sealed.header.messageId);
    attackOn(familyId).injected.set(id, { view: viewOf(familyId, sealed, receivedAt), envelope: sealed.bytes });
    return id;
  }

  it("a guardian's message at the newer head holds the toy back until it holds that head; then the removed relative is refused", async () => {
    const early = await fromUncle(Date.now() - 60_000);
    const fromMum = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('after the removal'), 300), audioType: 'audio/wav', durationMs: 18 });
    expect(fromMum.epoch).toBe(withheldFrom);

    // The uncle's message is listed first, but nothing plays while the newer head is withheld.
    expect(await toy.runtime.sync()).toBe(0);
    expect(await toy.runtime.sync()).toBe(0);
    expect(await toy.runtime.playWaiting()).toBe(0);
    expect(toy.played).toEqual([]);
    expect(toy.runtime.family?.roster.epoch).toBe(withheldFrom - 1);
    expect(toy.logs).toContainEqual(expect.objectContaining({ event: 'waiting', reason: 'envelope/roster-behind' }));
    const inbox = await toy.storage.loadInbox();
    expect([inbox[early]?.status, inbox[early]?.reason]).toEqual(['waiting', 'envelope/roster-behind']);

    // The member client holds back the same way: mum's message cannot open yet, nor then the uncle's.
    const aunts = throughRelay(aunt);
    expect((await downloadAndOpenMessage(aunts, { familyId, messageId: fromMum.messageId })).opened).toEqual({ ok: false, code: 'envelope/roster-behind' });
    expect((await downloadAndOpenMessage(aunts, { familyId, messageId: early })).opened).toEqual({ ok: false, code: 'envelope/roster-behind' });

    // The entry reaches the toy (the relay gives up, or the toy reaches an honest server).
    attackOn(familyId).family = undefined;
    const late = await fromUncle(Date.now());
    expect(await toy.runtime.sync()).toBe(1);
    expect(toy.runtime.family?.roster.epoch).toBe(withheldFrom);
    expect(toy.played.map((p) => p.messageId)).toEqual([fromMum.messageId]);
    const refused = Object.fromEntries(toy.logs.flatMap((l) => (l.event === 'refused' ? [[l.messageId, l.reason]] : [])));
    expect(refused).toMatchObject({ [early]: 'envelope/sender-removed', [late]: 'envelope/sender-removed' });

    expect((await downloadAndOpenMessage(aunts, { familyId, messageId: early })).opened).toEqual({ ok: false, code: 'envelope/sender-removed' });
    expect((await downloadAndOpenMessage(aunts, { familyId, messageId: fromMum.messageId })).opened.ok).toBe(true);
  });

  it("a stranger's claim of a newer head does not hold the toy back", async () => {
    const stranger = await generateIdentity();
    const sealed = await sealMessage({
      familyId, epoch: withheldFrom + 5, rosterHead: randomBytes(32), scope: mia, key: generateScopeKey(), sender: { accountId: mum.me.accountId, identity: stranger },
      recipients: [mia], audio: wavWith(utf8('made up'), 300), audioType: 'audio/wav', durationMs: 18, createdAt: Date.now(),
    });
    const id = toBase64Url(sealed.header.messageId);
    attackOn(familyId).injected.set(id, { view: viewOf(familyId, sealed, Date.now()), envelope: sealed.bytes });
    const good = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('plays anyway'), 300), audioType: 'audio/wav', durationMs: 18 });
    await toy.runtime.sync();
    expect(toy.played.at(-1)?.messageId).toBe(good.messageId);
    expect(toy.logs).toContainEqual(expect.objectContaining({ event: 'refused', messageId: id, reason: 'envelope/bad-signature' }));
  });
});

describe('a server fakes receipts', { timeout: 120_000 }, () => {
  it("a made-up or altered 'played' receipt shows as unverified; the toy's own signed receipt as Played", async () => {
    const [mum, gran] = (await Promise.all(['mum', 'gran'].map((label) => registerMember(server.url, label)))) as [TestMember, TestMember];
    const familyId = (await createFamily(mum, { name: 'Receipt Family' })).familyId;
    const mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
    await invite(mum, gran, familyId, { role: 'relative', children: [mia] });
    const toy = await toyRuntime(await pairToy(server.url, mum, familyId, mia));
    await toy.runtime.start();
    const family = await loadFamily(mum, familyId);
    const mums = throughRelay(mum);

    // Never delivered: the toy is offline, and the server claims it played the message.
    const hidden = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('never arrived'), 300), audioType: 'audio/wav', durationMs: 18 });
    const stranger = await generateIdentity();
    const fake = await signReceipt(stranger, { familyId, messageId: fromBase64Url(hidden.messageId), kind: 'played', signerId: toy.paired.toyId, rosterEpoch: family.roster.epoch, rosterHead: family.roster.headHash, at: Date.now() });
    attackOn(familyId).receipts = (view) => {
      if (view.messageId !== hidden.messageId) return;
      view.receipts = [
        { by: toy.paired.toyId, kind: 'played', at: Date.now(), signedAt: fake.at, rosterEpoch: fake.rosterEpoch, rosterHead: toBase64Url(fake.rosterHead), signature: toBase64Url(fake.signature) },
        { by: gran.me.accountId, kind: 'played', at: Date.now(), signedAt: Date.now(), rosterEpoch: family.roster.epoch, rosterHead: toBase64Url(family.roster.headHash), signature: toBase64Url(randomBytes(64)) },
      ];
    };
    const faked = await checkReceipts(family.roster, await getMessage(mums, { familyId, messageId: hidden.messageId }));
    expect(faked.map((r) => r.verified)).toEqual([false, false]);
    expect(receiptSummary(faked, { me: mum.me.accountId, roster: family.roster, recipients: [mia] })).toBe('Unverified receipt');

    // A real one: the toy plays a message and signs 'delivered' and 'played'.
    const real = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('arrived'), 300), audioType: 'audio/wav', durationMs: 18 });
    await toy.runtime.sync();
    const honest = await checkReceipts(family.roster, await getMessage(mums, { familyId, messageId: real.messageId }));
    expect(honest.filter((r) => r.by === toy.paired.toyId).map((r) => [r.kind, r.verified])).toEqual(expect.arrayContaining([['delivered', true], ['played', true]]));
    expect(receiptSummary(honest, { me: mum.me.accountId, roster: family.roster, recipients: [mia] })).toBe('Played');

    // The server passes the toy's real 'delivered' receipt off as 'played' (dropping the real one): unverified.
    attackOn(familyId).receipts = (view) => {
      if (view.messageId !== real.messageId) return;
      view.receipts = (view.receipts as Json[]).filter((r) => r.kind === 'delivered').map((r) => ({ ...r, kind: 'played' }));
    };
    const altered = await checkReceipts(family.roster, await getMessage(mums, { familyId, messageId: real.messageId }));
    expect(altered.map((r) => [r.kind, r.verified])).toEqual([['played', false]]);
    expect(receiptSummary(altered, { me: mum.me.accountId, roster: family.roster, recipients: [mia] })).toBe('Unverified receipt');
    attackOn(familyId).receipts = undefined;
  });
});
