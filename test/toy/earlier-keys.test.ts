/**
 * Messages sent before a toy is paired (issue #21, item 3), with the reference toy's own state
 * directory against a real server. A relative sends to a child who has no toy; when a guardian
 * pairs a toy for that child after the child's key was rotated (another relative of the child left),
 * the guardian's device wraps to it the earlier generations of the child's key those messages were
 * sealed under (and no others: never another child's key, nor the family-wide one), the toy checks
 * them against the signed roster and plays the messages, and the sender sees "Played" only once the
 * toy's signed receipt verifies.
 *
 * Then as a hostile server: withholding the wrapped earlier keys leaves the message waiting
 * (never "Played"), as does a key of the server's own wrapped to the toy in their place (the
 * signed key commitment refuses it) or for another child's conversation (the toy never takes it), and the toy's report reaches the guardians' security log in plain words; a
 * "played" receipt the server makes up, or a guardian's own listening, never shows as "Played".
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BurrowApi } from '../../src/client/api.js';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, loadFamily, removeMember, type ClientContext } from '../../src/client/families.js';
import { scopeKeyId, wrapToWire } from '../../src/client/key-ring.js';
import { readFamilyLog } from '../../src/client/family-log.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { getMessage, markReceipt, sendMessage } from '../../src/client/messages.js';
import { checkReceipts, receiptSummary } from '../../src/client/receipts.js';
import { describeLogEvent } from '../../src/client/family-log.js';
import { fromBase64Url, toBase64Url, utf8 } from '../../src/crypto/bytes.js';
import { scopeKeyOf } from '../../src/crypto/roster.js';
import { generateScopeKey, wrapScopeKey } from '../../src/crypto/scope-key.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { signReceipt } from '../../src/crypto/receipt.js';
import { ToyStateDir } from '../../src/toy/state.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, wavWith, type TestMember } from '../e2e/family-harness.js';
import { pairToy, toyRuntime } from './toy-harness.js';

type Json = Record<string, unknown>;

let server: RunningServer;
let dir: string;
let mum: TestMember;
let gran: TestMember;
let uncle: TestMember;

/** What the lying server does, per family. */
const attack = {
  /** Drops the wrapped keys of these `scopeKeyId`s (generation/scope) from what a toy reads of its family. */
  withhold: new Set<string>(),
  /** Wrapped keys the server adds to what a toy reads of its family (of its own making). */
  forged: [] as Json[],
  /** Adds receipts to the view of these messages. */
  receipts: new Map<string, Json[]>(),
};

const hostileFetch: typeof fetch = async (input, init) => {
  const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
  const response = await fetch(input, init);
  if ((init?.method ?? 'GET') !== 'GET' || !response.ok || !(response.headers.get('content-type') ?? '').includes('json')) return response;
  const body = (await response.json()) as Json;
  if (/^\/v1\/families\/[^/]+$/.test(url.pathname) && Array.isArray(body.wrappedKeys)) {
    body.wrappedKeys = [...(body.wrappedKeys as Json[]).filter((k) => !attack.withhold.has(scopeKeyId(k.scope as string, k.generation as number))), ...attack.forged];
  }
  const message = /^\/v1\/families\/[^/]+\/messages\/([^/]+)$/.exec(url.pathname);
  const extra = message === null ? undefined : attack.receipts.get(message[1]!);
  if (extra !== undefined) body.receipts = [...(body.receipts as Json[]), ...extra];
  return new Response(JSON.stringify(body), { status: response.status, headers: { 'content-type': 'application/json' } });
};

function through(member: TestMember): ClientContext {
  return { api: new BurrowApi({ baseUrl: server.url, token: member.token, fetch: hostileFetch }), me: member.me, store: member.store };
}

/** A family with children Mia and Leo, a relative (gran) who may message both, and one (uncle) who may message Mia. */
async function familyWithGran(name: string): Promise<{ familyId: string; mia: string; leo: string }> {
  const { familyId } = await createFamily(mum, { name });
  const mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  const leo = (await addChild(mum, { familyId, name: 'Leo', emoji: '🐻' })).childId;
  for (const [member, children] of [[gran, [mia, leo]], [uncle, [mia]]] as const) {
    const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [...children], needsApproval: false } });
    await acceptInvite(member, link);
  }
  await admitJoiners(mum, { familyId });
  return { familyId, mia, leo };
}

/** Mia's key generation at the family's head, as gran's device verifies it. */
async function miaGeneration(familyId: string, mia: string): Promise<number> {
  return scopeKeyOf((await loadFamily(gran, familyId)).roster.head, mia)!.generation;
}

/** Removes uncle: Mia's key (and the family-wide one) start a new generation; Leo's does not. Returns Mia's new generation. */
async function rotateMia(familyId: string, mia: string): Promise<number> {
  const before = await miaGeneration(familyId, mia);
  await removeMember(mum, { familyId, accountId: uncle.me.accountId });
  const after = await miaGeneration(familyId, mia);
  expect(after).toBeGreaterThan(before);
  return after;
}

/** What gran's device shows for her message. */
async function granSees(ctx: ClientContext, familyId: string, messageId: string, recipients: string[]): Promise<string> {
  const family = await loadFamily(gran, familyId);
  const view = await getMessage(ctx, { familyId, messageId });
  return receiptSummary(await checkReceipts(family.roster, view), { me: gran.me.accountId, roster: family.roster, recipients });
}

beforeAll(async () => {
  server = await startServer();
  dir = await mkdtemp(join(tmpdir(), 'burrow-earlier-keys-'));
  [mum, gran, uncle] = (await Promise.all(['mum', 'gran', 'uncle'].map((label) => registerMember(server.url, label)))) as [TestMember, TestMember, TestMember];
}, 90_000);

afterAll(async () => {
  await server?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('a message sent before the toy is paired', { timeout: 120_000 }, () => {
  it("plays on the toy paired later, which gets only the earlier generations of its child's key that messages waiting for it were sealed under", async () => {
    const { familyId, mia, leo } = await familyWithGran('Early Family');
    const early = await sendMessage(gran, { familyId, to: mia, audio: wavWith(utf8('before the toy'), 400), audioType: 'audio/wav', durationMs: 25 });
    const earlyGeneration = await miaGeneration(familyId, mia);
    expect(await granSees(gran, familyId, early.messageId, [mia])).toBe('Waiting for a toy');

    // Mia's key rotates; a message for Leo follows, under Leo's key: nothing of it waits for Mia.
    const currentGeneration = await rotateMia(familyId, mia);
    const forLeo = await sendMessage(gran, { familyId, to: leo, audio: wavWith(utf8('for leo'), 300), audioType: 'audio/wav', durationMs: 20 });

    const paired = await pairToy(server.url, mum, familyId, mia);
    const storage = new ToyStateDir(join(dir, 'early-toy'));
    const toy = await toyRuntime(paired, undefined, { storage });
    const family = await toy.runtime.start();
    expect(scopeKeyOf(family.roster.head, mia)!.generation).toBe(currentGeneration);
    const held = Object.keys((await storage.loadTrust())!.keys).sort();
    // Mia's generations only: no key of Leo's conversation, nor the family-wide one.
    expect(held).toEqual([scopeKeyId(mia, earlyGeneration), scopeKeyId(mia, currentGeneration)].sort());

    // Before the toy plays it the sender sees no "Played"; after, its signed receipt shows it.
    expect(await granSees(gran, familyId, early.messageId, [mia])).toBe('Sent');
    expect(await toy.runtime.sync()).toBe(1);
    expect(toy.played.map((p) => p.messageId)).toEqual([early.messageId]);
    expect(await granSees(gran, familyId, early.messageId, [mia])).toBe('Played');
    // Leo's message was never listed to Mia's toy, let alone opened.
    expect(toy.logs.some((l) => 'messageId' in l && l.messageId === forLeo.messageId)).toBe(false);
  });

  it('a message already played on the child’s first toy does not hand its generation to a second toy', async () => {
    const { familyId, mia } = await familyWithGran('Second Toy Family');
    const first = await toyRuntime(await pairToy(server.url, mum, familyId, mia));
    await first.runtime.start();
    const before = await sendMessage(gran, { familyId, to: mia, audio: wavWith(utf8('played on the first'), 300), audioType: 'audio/wav', durationMs: 20 });
    const sentUnder = await miaGeneration(familyId, mia);
    expect(await first.runtime.sync()).toBe(1);
    expect(await granSees(gran, familyId, before.messageId, [mia])).toBe('Played');
    const current = await rotateMia(familyId, mia);

    const storage = new ToyStateDir(join(dir, 'second-toy'));
    const second = await toyRuntime(await pairToy(server.url, mum, familyId, mia), undefined, { storage });
    const family = await second.runtime.start();
    expect(scopeKeyOf(family.roster.head, mia)!.generation).toBe(current);
    expect(Object.keys((await storage.loadTrust())!.keys)).toEqual([scopeKeyId(mia, current)]);
    expect(current).toBeGreaterThan(sentUnder);
  });

  it('a server that withholds the wrapped earlier keys gets the message a wait, a plain-words report and no "Played"', async () => {
    const { familyId, mia, leo } = await familyWithGran('Withheld Family');
    const early = await sendMessage(gran, { familyId, to: mia, audio: wavWith(utf8('withheld'), 300), audioType: 'audio/wav', durationMs: 20 });
    const earlyGeneration = await miaGeneration(familyId, mia);
    await rotateMia(familyId, mia);
    const earlyKey = scopeKeyId(mia, earlyGeneration);
    attack.withhold.add(earlyKey);
    try {
      const toy = await toyRuntime(await pairToy(server.url, mum, familyId, mia), hostileFetch);
      await toy.runtime.start();
      expect(await toy.runtime.sync()).toBe(0);
      expect(await toy.runtime.sync()).toBe(0);
      expect(toy.played).toEqual([]);
      const record = (await toy.storage.loadInbox())[early.messageId]!;
      expect(record).toMatchObject({ status: 'waiting', reason: 'envelope/no-key', reported: true });
      // No receipt at all: the toy never opened it.
      expect(await granSees(gran, familyId, early.messageId, [mia])).toBe('Sent');

      // The guardians read why, once, in plain words and without the code.
      const log = await readFamilyLog(mum, familyId);
      if (!log.ok) throw new Error(log.code);
      const reports = log.events.filter((e) => e.kind === 'client-refusal' && e.details.messageId === early.messageId);
      expect(reports).toHaveLength(1);
      expect(reports[0]!.details.code).toBe('envelope/no-key');
      const sentence = describeLogEvent(reports[0]!, mum.me.accountId);
      expect(sentence).toContain('sent before the toy was paired');
      expect(sentence).not.toContain('envelope/');

      // A key of the server's own, wrapped to the toy for that generation: the signed commitment refuses it.
      const recipient = { id: toy.paired.toyId, ...toy.paired.identity.publicKeys };
      attack.forged.push({ ...wrapToWire(await wrapScopeKey({ familyId, scope: mia, generation: earlyGeneration, key: generateScopeKey(), recipient })) });
      // And keys of Leo's conversation and the family-wide one (the server cannot make them open, but a toy must not even try).
      const leoGeneration = scopeKeyOf((await loadFamily(mum, familyId)).roster.head, leo)!.generation;
      attack.forged.push({ ...wrapToWire(await wrapScopeKey({ familyId, scope: leo, generation: leoGeneration, key: generateScopeKey(), recipient })) });
      attack.forged.push({ ...wrapToWire(await wrapScopeKey({ familyId, scope: '', generation: 0, key: generateScopeKey(), recipient })) });
      expect(await toy.runtime.sync()).toBe(0);
      expect(toy.played).toEqual([]);
      expect(toy.logs.some((l) => l.event === 'refused' && l.messageId === early.messageId)).toBe(false);
      const held = Object.keys((await toy.storage.loadTrust())!.keys);
      expect(held.every((id) => id.endsWith(`/${mia}`))).toBe(true);
      expect(held).not.toContain(earlyKey);
      attack.forged.length = 0;

      // Once the server stops withholding, the waiting message plays on the next sync.
      attack.withhold.delete(earlyKey);
      expect(await toy.runtime.sync()).toBe(1);
      expect(toy.played.map((p) => p.messageId)).toEqual([early.messageId]);
      expect(await granSees(gran, familyId, early.messageId, [mia])).toBe('Played');
    } finally {
      attack.withhold.delete(earlyKey);
      attack.forged.length = 0;
    }
  });

  it('a "played" receipt the server makes up, or a guardian listening, never shows as "Played"', async () => {
    const { familyId, mia } = await familyWithGran('Forged Receipt Family');
    const toy = await toyRuntime(await pairToy(server.url, mum, familyId, mia));
    await toy.runtime.start();
    const family = await loadFamily(gran, familyId);
    const early = await sendMessage(gran, { familyId, to: mia, audio: wavWith(utf8('forged receipt'), 300), audioType: 'audio/wav', durationMs: 20 });

    // The server passes off a receipt in the toy's name, signed by a key of its own.
    const forger = await generateIdentity();
    const fake = await signReceipt(forger, { familyId, messageId: fromBase64Url(early.messageId), kind: 'played', signerId: toy.paired.toyId, rosterEpoch: family.roster.epoch, rosterHead: family.roster.headHash, at: Date.now() });
    attack.receipts.set(early.messageId, [{ by: toy.paired.toyId, kind: 'played', at: Date.now(), signedAt: fake.at, rosterEpoch: fake.rosterEpoch, rosterHead: toBase64Url(fake.rosterHead), signature: toBase64Url(fake.signature) }]);
    try {
      expect(await granSees(through(gran), familyId, early.messageId, [mia])).toBe('Unverified receipt');
    } finally {
      attack.receipts.delete(early.messageId);
    }

    // A guardian's real, signed "played" is not the toy's: still not "Played".
    await markReceipt(mum, { familyId, messageId: early.messageId, kind: 'played' });
    expect(await granSees(gran, familyId, early.messageId, [mia])).toBe('Sent');
    expect(await toy.runtime.sync()).toBe(1);
    expect(await granSees(gran, familyId, early.messageId, [mia])).toBe('Played');
  });
});
