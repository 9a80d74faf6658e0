/**
 * Issue #15 items 4 and 5, staged for real against the reference toy (its runtime over its state
 * directory) and the member client library: a real server, real keys, and a colluding server (a
 * hostile fetch in front of the real one) that delivers what the real one would refuse.
 *
 * (a) a relative set to need approval at epoch N seals under the epoch N−1 key they still hold;
 * (b) a relative narrowed from two children to one sends under the old key to the child they lost;
 * (c) a guardian demoted to a relative does the same, and approves under their old role; a removed
 *     relative sends under the old key;
 * (d) the server sets expiresAt to now+1 ms and delivers a played message again, also to the toy
 *     restarted from its state directory;
 * (e) the server withholds a message and releases it after its signed retention;
 * (f) a member dates a message an hour ahead (a wrong clock, or colluding with the server);
 * and a server that answers 404 for a waiting message, then lists it again once approved.
 * The toy plays none of them (a waits for a guardian of the head), the member client refuses them,
 * and each refusal the toy reports is in the family security log.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BurrowApi } from '../../src/client/api.js';
import { changeRoster, loadFamily, type ClientContext, type OpenedFamily } from '../../src/client/families.js';
import { readFamilyLog } from '../../src/client/family-log.js';
import { approveMessage as approveAsGuardian, downloadAndOpenMessage, sendMessage } from '../../src/client/messages.js';
import type { InboxRecord } from '../../src/client/toy-runtime.js';
import { utf8 } from '../../src/crypto/bytes.js';
import { sealMessage } from '../../src/crypto/envelope.js';
import { headSealing } from './forged-keys.js';
import type { Identity } from '../../src/crypto/identity.js';
import { MessageAccepted } from '../../src/protocol/messages.js';
import { ToyStateDir } from '../../src/toy/state.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { wavWith, type TestMember } from '../e2e/family-harness.js';
import { pairToy, toyRuntime, type TestToy } from '../toy/toy-harness.js';
import { decidedFamily, injectApproval, sealedUnderOldKey, type Injected } from './toy-decision-fixtures.js';

const DAY = 24 * 3600_000;

let server: RunningServer;
let dir: string;
let mum: TestMember;
let gran: TestMember;
let aunt: TestMember;
let uncle: TestMember;
let cousin: TestMember;
let familyId: string;
let mia: string;
let leo: string;
let toy: TestToy;
let state: ToyStateDir;
/** What each relative held before the guardian's change: the old epoch and its key. */
const before = new Map<string, OpenedFamily>();
/** How far the toy's own clock is ahead of the real one. */
let toyClockAhead = 0;

/** What the colluding server does to the answers its clients get. */
const attack = {
  /** Message views it lists (with their envelopes) that the real server never accepted. */
  injected: new Map<string, Injected>(),
  /** Ids it withholds from every list. */
  withheld: new Set<string>(),
  /** Whether it says every message expires 1 ms from now. */
  expiresAtOnce: false,
  /** Ids it answers 404 for, as if they were deleted. */
  gone: new Set<string>(),
};

const hostileFetch: typeof fetch = async (input, init) => {
  const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
  const path = url.pathname;
  const method = init?.method ?? 'GET';
  const one = /^\/v1\/families\/[^/]+\/messages\/([^/]+)(\/envelope|\/receipts)?$/.exec(path);
  const injected = one === null ? undefined : attack.injected.get(one[1]!);
  if (injected !== undefined) {
    if (one![2] === '/envelope') return new Response(injected.envelope.slice(), { status: 200, headers: { 'content-type': 'application/octet-stream', 'content-length': String(injected.envelope.length) } });
    if (one![2] === '/receipts') return new Response(null, { status: 204 });
    return Response.json(injected.view);
  }
  if (one !== null && one[2] === undefined && attack.gone.has(one[1]!)) return Response.json({ type: 'https://burrow.invalid/problems/not-found', title: 'Not found', status: 404 }, { status: 404, headers: { 'content-type': 'application/problem+json' } });
  const response = await fetch(input, init);
  if (method !== 'GET' || path !== `/v1/families/${familyId}/messages` || !response.ok) return response;
  const body = (await response.json()) as { messages: Array<Record<string, unknown>>; nextCursor?: string };
  body.messages = [...body.messages.filter((m) => !attack.withheld.has(m.messageId as string)), ...[...attack.injected.values()].map((i) => i.view)];
  if (attack.expiresAtOnce) for (const m of body.messages) m.expiresAt = Date.now() + 1;
  return Response.json(body);
};

/** A member's client whose every answer comes through the colluding server. */
function behindHostileServer(member: TestMember): ClientContext {
  return { api: new BurrowApi({ baseUrl: server.url, token: member.token, fetch: hostileFetch }), me: member.me, store: member.store };
}

/** Seals, as `member`, a message to Mia under the epoch key they held before the change, and has the server deliver it. */
async function sealUnderOldKey(member: TestMember, label: string): Promise<string> {
  const injected = await sealedUnderOldKey(before.get(member.label)!, member, { familyId, to: mia, audio: wavWith(utf8(label), 300), durationMs: 18 });
  attack.injected.set(injected.messageId, injected);
  return injected.messageId;
}

/** Adds a guardian-style approval signed by `who`, at the family's current head, to an injected message's view. */
async function approveInjected(messageId: string, who: { accountId: string; identity: Identity }): Promise<void> {
  await injectApproval(attack.injected.get(messageId)!, who, (await loadFamily(mum, familyId)).roster);
}

function refusalsLogged(): Record<string, string> {
  return Object.fromEntries(toy.logs.flatMap((l) => (l.event === 'refused' ? [[l.messageId, l.reason]] : [])));
}

/** The toy's refusals as the guardians read them in the verified family security log. */
async function refusalsInFamilyLog(): Promise<Array<{ actorId: string; code: string; messageId?: string }>> {
  const log = await readFamilyLog(mum, familyId);
  if (!log.ok) throw new Error(`the family log must verify (${log.code})`);
  return log.events.filter((e) => e.kind === 'client-refusal').map((e) => ({ actorId: e.actorId, code: String(e.details.code), ...(e.details.messageId === undefined ? {} : { messageId: String(e.details.messageId) }) }));
}


beforeAll(async () => {
  server = await startServer();
  dir = await mkdtemp(join(tmpdir(), 'burrow-toy-decisions-'));
  ({ mum, gran, aunt, uncle, cousin, familyId, mia, leo } = await decidedFamily(server.url));
  const paired = await pairToy(server.url, mum, familyId, mia);
  state = new ToyStateDir(join(dir, 'toy'));
  toy = await toyRuntime(paired, hostileFetch, { storage: state, now: () => Date.now() + toyClockAhead });
  await toy.runtime.start();
  for (const member of [gran, aunt, uncle, cousin]) before.set(member.label, await loadFamily(member, familyId));
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('the head decides, and the toy keeps what it played until the signed retention', { timeout: 90_000 }, () => {
  it('(a–c) a relative set to need approval, one narrowed, a demoted guardian and a removed relative sealing under the old key: nothing plays unapproved', async () => {
    // One signed entry: the aunt now needs approval, the gran and the (demoted) uncle talk only to Leo, the cousin is gone.
    await changeRoster(mum, familyId, (family) => ({
      members: family.roster.members
        .filter((m) => m.accountId !== cousin.me.accountId)
        .map((m) => {
          if (m.accountId === aunt.me.accountId) return { ...m, needsApproval: true };
          if (m.accountId === gran.me.accountId) return { ...m, children: [leo] };
          if (m.accountId === uncle.me.accountId) return { accountId: m.accountId, role: 'relative' as const, keys: m.keys, children: [leo] };
          return m;
        }),
      toys: [...family.roster.toys],
      settings: family.roster.settings,
    }));
    await toy.runtime.refresh();
    expect(toy.runtime.family!.roster.epoch).toBe(before.get('aunt')!.roster.epoch + 1);

    const fromAunt = await sealUnderOldKey(aunt, 'aunt, before approval was needed');
    const fromGran = await sealUnderOldKey(gran, 'gran, to the child she lost');
    const fromUncle = await sealUnderOldKey(uncle, 'uncle, as the guardian he was');
    const fromCousin = await sealUnderOldKey(cousin, 'cousin, removed');
    // The honest server refuses an upload under the old epoch: only a colluding one delivers it.
    await expect(aunt.api.upload(`/v1/families/${familyId}/messages`, attack.injected.get(fromAunt)!.envelope, MessageAccepted)).rejects.toMatchObject({ status: 409 });

    const played = toy.played.length;
    await toy.runtime.sync();
    expect(toy.played.length).toBe(played);
    expect(refusalsLogged()).toMatchObject({ [fromGran]: 'envelope/recipient-not-allowed', [fromUncle]: 'envelope/recipient-not-allowed', [fromCousin]: 'envelope/sender-removed' });
    expect(toy.logs.filter((l) => l.event === 'waiting' && l.messageId === fromAunt)).toEqual([{ event: 'waiting', messageId: fromAunt, reason: 'envelope/needs-approval' }]);

    // The member client judges the same way.
    const mumsView = behindHostileServer(mum);
    const opened = async (messageId: string) => {
      const result = (await downloadAndOpenMessage(mumsView, { familyId, messageId })).opened;
      return result.ok ? 'ok' : result.code;
    };
    expect(await opened(fromAunt)).toBe('envelope/needs-approval');
    expect(await opened(fromGran)).toBe('envelope/recipient-not-allowed');
    expect(await opened(fromUncle)).toBe('envelope/recipient-not-allowed');
    expect(await opened(fromCousin)).toBe('envelope/sender-removed');

    // An approval from the uncle, a guardian at the message's epoch but not at the head, counts for nothing.
    await approveInjected(fromAunt, uncle.me);
    await toy.runtime.sync();
    expect(toy.played.some((p) => p.messageId === fromAunt)).toBe(false);
    expect(await opened(fromAunt)).toBe('envelope/needs-approval');
    // A guardian of the head approves it: now it plays.
    await approveInjected(fromAunt, mum.me);
    await toy.runtime.sync();
    expect(toy.played.at(-1)).toMatchObject({ messageId: fromAunt });
    expect(await opened(fromAunt)).toBe('ok');

    const toyId = toy.paired.toyId;
    expect(await refusalsInFamilyLog()).toEqual(
      expect.arrayContaining([
        { actorId: toyId, code: 'envelope/recipient-not-allowed', messageId: fromGran },
        { actorId: toyId, code: 'envelope/recipient-not-allowed', messageId: fromUncle },
        { actorId: toyId, code: 'envelope/sender-removed', messageId: fromCousin },
      ]),
    );
    attack.injected.clear();
  });

  it('a waiting message the server claims is gone is remembered as withdrawn: listed again later with an approval, it does not play', async () => {
    const sent = await sendMessage(aunt, { familyId, to: mia, audio: wavWith(utf8('aunt, waiting'), 300), audioType: 'audio/wav', durationMs: 18 });
    await toy.runtime.sync();
    expect(toy.logs.at(-1)).toMatchObject({ event: 'waiting', messageId: sent.messageId });
    attack.withheld.add(sent.messageId);
    attack.gone.add(sent.messageId);
    await toy.runtime.sync();
    expect(refusalsLogged()[sent.messageId]).toBe('toy/withdrawn');
    attack.withheld.delete(sent.messageId);
    attack.gone.delete(sent.messageId);
    await approveAsGuardian(mum, { familyId, messageId: sent.messageId });
    await toy.runtime.sync();
    expect(toy.played.some((p) => p.messageId === sent.messageId)).toBe(false);
  });

  it('(d) a played message delivered again with expiresAt = now + 1 ms does not play again, not even after a restart from the state directory', async () => {
    // From the first time the toy sees it, the server says it expires at once.
    attack.expiresAtOnce = true;
    const sent = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('play me once'), 300), audioType: 'audio/wav', durationMs: 18 });
    await toy.runtime.sync();
    expect(toy.played.filter((p) => p.messageId === sent.messageId)).toHaveLength(1);

    const forgotten = await toy.runtime.expire();
    await toy.runtime.sync();
    expect(toy.played.filter((p) => p.messageId === sent.messageId)).toHaveLength(1);
    expect(forgotten).toBe(0);

    // The reference toy restarted: a new runtime over the same state directory.
    const restarted = await toyRuntime(toy.paired, hostileFetch, { storage: state, now: () => Date.now() + toyClockAhead });
    await restarted.runtime.start();
    expect(await restarted.runtime.expire()).toBe(0);
    await restarted.runtime.sync();
    expect(restarted.played).toEqual([]);
    const inbox = JSON.parse(await readFile(join(state.dir, 'inbox.json'), 'utf8')) as Record<string, InboxRecord>;
    const record = inbox[sent.messageId]!;
    expect(record.status).toBe('played');
    expect(record.createdAt).toBeLessThanOrEqual(Date.now());
    expect(record).not.toHaveProperty('expiresAt');
    attack.expiresAtOnce = false;
  });

  it('(e) a message withheld until its signed retention has passed is refused, and a played one delivered again then is refused too', async () => {
    const played = toy.played.map((p) => p.messageId);
    const withheld = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('withheld'), 300), audioType: 'audio/wav', durationMs: 18 });
    attack.withheld.add(withheld.messageId);
    await toy.runtime.sync();
    expect(toy.played.map((p) => p.messageId)).toEqual(played);

    // The toy's own clock moves past the signed retention (30 days); the server releases the message.
    const retentionDays = toy.runtime.family!.settings.retentionDays;
    toyClockAhead = retentionDays * DAY + 60_000;
    attack.withheld.delete(withheld.messageId);
    // The toy now forgets what it played (its ids are past the longest signed retention)…
    expect(await toy.runtime.expire()).toBeGreaterThan(0);
    await toy.runtime.sync();
    // …and so refuses them, like the withheld one, instead of playing them again.
    expect(toy.played.map((p) => p.messageId)).toEqual(played);
    expect(refusalsLogged()[withheld.messageId]).toBe('envelope/expired');
    const lastPlayed = played.at(-1)!;
    expect(refusalsLogged()[lastPlayed]).toBe('envelope/expired');
    expect(await refusalsInFamilyLog()).toEqual(expect.arrayContaining([{ actorId: toy.paired.toyId, code: 'envelope/expired', messageId: withheld.messageId }]));
    toyClockAhead = 0;
  });

  it('(f) a message dated an hour ahead is refused by the toy and by the member client', async () => {
    const family = await loadFamily(mum, familyId);
    const sealed = await sealMessage({ familyId, epoch: family.roster.epoch, rosterHead: family.roster.headHash, ...headSealing(family, mum.me.accountId, [mia]), sender: mum.me, recipients: [mia], audio: wavWith(utf8('from the future'), 300), audioType: 'audio/wav', durationMs: 18, createdAt: Date.now() + 3600_000 });
    // The server stores it as it stores any envelope: the date is for the clients to judge.
    const accepted = await mum.api.upload(`/v1/families/${familyId}/messages`, sealed.bytes, MessageAccepted);
    const played = toy.played.length;
    await toy.runtime.sync();
    expect(toy.played.length).toBe(played);
    expect(refusalsLogged()[accepted.messageId]).toBe('envelope/from-the-future');
    const mine = (await downloadAndOpenMessage(mum, { familyId, messageId: accepted.messageId })).opened;
    expect(mine).toEqual({ ok: false, code: 'envelope/from-the-future' });
    const events = await refusalsInFamilyLog();
    expect(events).toEqual(expect.arrayContaining([
      { actorId: toy.paired.toyId, code: 'envelope/from-the-future', messageId: accepted.messageId },
      { actorId: mum.me.accountId, code: 'envelope/from-the-future', messageId: accepted.messageId },
    ]));
  });
});
