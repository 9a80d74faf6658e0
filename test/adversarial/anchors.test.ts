/**
 * Anchors at the head (issue #15 items 2 and 3a), staged for real: a real server, with a hostile
 * relay (a fetch that rewrites what one device receives, as a compromised server would) and a
 * removed guardian's real keys.
 *
 * 1. The relay offers a toy a fourth, fifth… pairing run for one code, with made-up runs left and
 *    expiry: the toy answers three (each lets the relay test one guess of the code) and none after
 *    ten minutes by its own clock, then shows a new code.
 * 2. A guardian removed at epoch N signs a different N′ on top of N−1 (themself as the only
 *    guardian, the toy, volume 100) and the server serves that chain: a toy paired afterwards
 *    (anchored by the pairing confirmation at the real head), a joiner through an invite (anchored
 *    by the invite proof), a member and a toy that stored the head N all refuse it, and the
 *    refusal reaches the family security log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { ClientError } from '../../src/client/client-error.js';
import { admitJoiners, createFamily, loadFamily, removeMember, setSettings, type ClientContext } from '../../src/client/families.js';
import { readFamilyLog } from '../../src/client/family-log.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { BurrowApi } from '../../src/client/api.js';
import { addToy, decodeRosterChain, pairToy as pairToyWithCodes, TOY_PAIRING_LIMITS, type ToyPairingCode } from '../../src/client/toys.js';
import { fromBase64Url, randomBytes, toBase64Url, utf8 } from '../../src/crypto/bytes.js';
import { sealMessage } from '../../src/crypto/envelope.js';
import { generateScopeKey } from '../../src/crypto/scope-key.js';
import { freshScopeKeys } from './forged-keys.js';
import { startGuardianPairing } from '../../src/crypto/pairing.js';
import { appendRosterEntry, encodeRosterEntry, hashRosterEntry, verifyRoster, type Member, type RosterEntry, type Toy } from '../../src/crypto/roster.js';
import { FamilyView } from '../../src/protocol/families.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, wavWith, type TestMember } from '../e2e/family-harness.js';
import { pairToy, toyRuntime } from '../toy/toy-harness.js';

let server: RunningServer;
let mum: TestMember;
let exDad: TestMember;
let gran: TestMember;
let auntie: TestMember;
let familyId: string;
let mia: string;
/** The real chain up to N−1, the last epoch in which the ex-guardian was a guardian. */
let beforeRemoval: RosterEntry[];

const urlOf = (input: Parameters<typeof fetch>[0]): URL => new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
const jsonAnswer = (value: unknown, status = 200): Response => new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json' } });

/**
 * The removed guardian's fork: N′ signed with their real keys on top of N−1, where they still were
 * a guardian, making themself the only guardian, with `toys` and `members`, at volume 100.
 */
async function forkedChain(options: { toys?: Toy[]; members?: Member[] } = {}): Promise<string[]> {
  const self: Member = { accountId: exDad.me.accountId, role: 'guardian', keys: exDad.me.identity.publicKeys };
  const members = [self, ...(options.members ?? [])];
  const toys = options.toys ?? [];
  const forked = await appendRosterEntry(beforeRemoval, {
    scopeKeys: freshScopeKeys({ members, toys }, beforeRemoval.at(-1)!.epoch + 1, beforeRemoval.at(-1)!),
    signer: exDad.me,
    members,
    toys,
    settings: { ...beforeRemoval.at(-1)!.settings, volumeLimit: 100 },
  });
  return [...beforeRemoval, forked].map((entry) => toBase64Url(encodeRosterEntry(entry)));
}

/** A client for `member` whose answers to GET /v1/families/:familyId pass through `roster` first. */
function servedFork(member: TestMember, roster: (real: string[]) => Promise<string[]>): ClientContext {
  const hostileFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if ((init?.method ?? 'GET') !== 'GET' || urlOf(input).pathname !== `/v1/families/${familyId}` || !response.ok) return response;
    const body = (await response.json()) as { roster: string[] };
    return jsonAnswer({ ...body, roster: await roster(body.roster) });
  };
  return { api: new BurrowApi({ baseUrl: server.url, token: member.token, fetch: hostileFetch }), me: member.me, store: member.store };
}

/** The toys of the real head the server answers with (the toy just added among them). */
function toysOfRealHead(real: string[]): Toy[] {
  return [...decodeRosterChain(real).at(-1)!.toys];
}

/** The `client-refusal` events in the family security log, as a guardian's client reads and verifies them. */
async function refusals(): Promise<Array<{ actorId: string; code: unknown; epoch: unknown }>> {
  const log = await readFamilyLog(mum, familyId);
  if (!log.ok) throw new Error(`the family log must verify: ${log.code}`);
  return log.events.filter((e) => e.kind === 'client-refusal').map((e) => ({ actorId: e.actorId, code: e.details.code, epoch: e.details.epoch }));
}

async function refusalOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    if (error instanceof ClientError) return error.code;
    throw error;
  }
}

beforeAll(async () => {
  server = await startServer();
  [mum, exDad, gran, auntie] = (await Promise.all(['mum', 'exdad', 'gran', 'auntie'].map((label) => registerMember(server.url, label)))) as [TestMember, TestMember, TestMember, TestMember];
  familyId = (await createFamily(mum, { name: 'Anchored Family' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  for (const [member, terms] of [
    [exDad, { role: 'guardian' as const, children: [], needsApproval: false }],
    [gran, { role: 'relative' as const, children: [mia], needsApproval: false }],
  ] as const) {
    const { link } = await createInvite(mum, { familyId, terms });
    await acceptInvite(member, link);
    await admitJoiners(mum, { familyId });
    await loadFamily(member, familyId);
  }
  await setSettings(mum, { familyId, settings: { volumeLimit: 30 } });
  beforeRemoval = [...(await loadFamily(exDad, familyId)).roster.entries];
  // Epoch N: the ex-guardian is removed; gran's device stores N as its anchor.
  await removeMember(mum, { familyId, accountId: exDad.me.accountId });
  await loadFamily(gran, familyId);
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('a toy counts its own pairing runs and time', { timeout: 60_000 }, () => {
  /**
   * A relay that, for every poll of the toy's attempt, offers a new run made with the next guess of
   * the code (the slot's digits and 00000, 00001, …), claiming 99 runs left and an expiry a year
   * away, and takes the toy's answers itself. `afterAnswer` runs after each answer it takes.
   */
  function guessingRelay(options: { afterAnswer?: () => void } = {}) {
    const answered = new Map<string, string[]>();
    const guesses = new Map<string, number>();
    const attempts: Array<{ pairingId: string; slot: string }> = [];
    const relayFetch: typeof fetch = async (input, init) => {
      const path = urlOf(input).pathname;
      const method = init?.method ?? 'GET';
      if (method === 'POST' && path === '/v1/pairings') {
        const response = await fetch(input, init);
        const started = (await response.clone().json()) as { pairingId: string; slot: string };
        attempts.push(started);
        return response;
      }
      const run = /^\/v1\/pairings\/([^/]+)\/runs\/([^/]+)$/.exec(path);
      if (method === 'POST' && run !== null) {
        answered.set(run[1]!, [...(answered.get(run[1]!) ?? []), run[2]!]);
        options.afterAnswer?.();
        return new Response(null, { status: 204 });
      }
      const poll = /^\/v1\/pairings\/([^/]+)$/.exec(path);
      if (method === 'GET' && poll !== null) {
        const pairingId = poll[1]!;
        const attempt = attempts.find((a) => a.pairingId === pairingId)!;
        const n = guesses.get(pairingId) ?? 0;
        guesses.set(pairingId, n + 1);
        const code = attempt.slot + String(n).padStart(5, '0');
        const sessionId = randomBytes(16);
        const guardian = startGuardianPairing({ code, sessionId, headHash: randomBytes(32) });
        return jsonAnswer({
          pairingId,
          state: 'run',
          expiresAt: Date.now() + 365 * 86_400_000,
          runsLeft: 99,
          run: { runId: toBase64Url(randomBytes(16)), sessionId: toBase64Url(sessionId), guardianShare: toBase64Url(guardian.share) },
        });
      }
      return fetch(input, init);
    };
    return { relayFetch, answered, guesses, attempts };
  }

  it('answers at most 3 runs per code whatever runs left the relay claims, then shows a new code', async () => {
    const relay = guessingRelay();
    const codes: ToyPairingCode[] = [];
    const runsLeftSeen: number[] = [];
    const ended: string[] = [];
    const result = await refusalOf(
      pairToyWithCodes({ baseUrl: server.url, fetch: relay.relayFetch, pollMs: 10, maxAttempts: 2, onCode: (c) => codes.push(c), onRun: (r) => runsLeftSeen.push(r.runsLeft), onAttemptEnded: (e) => ended.push(e.code) }),
    );
    expect(result).toBe('client/pairing-ended');
    // Two codes shown, each answered exactly 3 times, although the relay offered a 4th run for each.
    expect(codes).toHaveLength(2);
    expect(codes[0]!.code).not.toBe(codes[1]!.code);
    expect(codes.map((c) => c.runsLeft)).toEqual([3, 3]);
    for (const { pairingId } of relay.attempts) {
      expect(relay.answered.get(pairingId)).toHaveLength(TOY_PAIRING_LIMITS.maxRuns);
      expect(relay.guesses.get(pairingId)).toBeGreaterThan(TOY_PAIRING_LIMITS.maxRuns);
    }
    // The toy showed its own count, never the relay's 99.
    expect(runsLeftSeen).toEqual([2, 1, 0, 2, 1, 0]);
    expect(ended).toEqual(['client/pairing-ended', 'client/pairing-ended']);
  });

  it('answers no run after 10 minutes by its own clock, whatever expiry the relay claims, then shows a new code', async () => {
    let now = 1_800_000_000_000;
    // The toy's clock jumps 10 minutes right after its first answer: the relay's next run comes too late.
    const relay = guessingRelay({ afterAnswer: () => (now += TOY_PAIRING_LIMITS.attemptMs) });
    const codes: ToyPairingCode[] = [];
    const ended: string[] = [];
    const result = await refusalOf(
      pairToyWithCodes({ baseUrl: server.url, fetch: relay.relayFetch, now: () => now, pollMs: 10, maxAttempts: 2, onCode: (c) => codes.push(c), onAttemptEnded: (e) => ended.push(e.message) }),
    );
    expect(result).toBe('client/pairing-ended');
    expect(codes).toHaveLength(2);
    // The expiry shown is the toy's own: 10 minutes after it showed the code by its clock.
    expect(codes[0]!.expiresAt).toBe(1_800_000_000_000 + TOY_PAIRING_LIMITS.attemptMs);
    for (const { pairingId } of relay.attempts) expect(relay.answered.get(pairingId)).toHaveLength(1);
    expect(ended.every((message) => message.includes('expired'))).toBe(true);
  });
});

describe('a removed guardian forks the roster', { timeout: 90_000 }, () => {
  it('the fork is a real threat: it verifies from the genesis hash, and the removed guardian signed it with their real keys', async () => {
    const fork = decodeRosterChain(await forkedChain());
    const fromGenesis = await verifyRoster(fork, { genesisHash: await hashRosterEntry(fork[0]!) });
    expect(fromGenesis.ok && fromGenesis.value.settings.volumeLimit).toBe(100);
    expect(fork.at(-1)!.signerId).toBe(exDad.me.accountId);
  });

  it('a toy paired afterwards refuses the fork: the pairing confirmation anchored it at the real head', async () => {
    const honest = await loadFamily(mum, familyId);
    // The toy's traffic passes a server that serves the fork, with the new toy (keys as the relay saw them) in N′.
    const toyFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if ((init?.method ?? 'GET') !== 'GET' || urlOf(input).pathname !== `/v1/families/${familyId}` || !response.ok) return response;
      const body = (await response.json()) as { roster: string[] };
      return jsonAnswer({ ...body, roster: await forkedChain({ toys: toysOfRealHead(body.roster) }) });
    };
    const codes: string[] = [];
    const ended: string[] = [];
    let toyId: string | undefined;
    const pairing = refusalOf(
      pairToyWithCodes({
        baseUrl: server.url,
        fetch: toyFetch,
        pollMs: 50,
        maxAttempts: 1,
        onCode: (c) => {
          codes.push(c.code);
          toyId = c.pairingId;
        },
        onAttemptEnded: (e) => ended.push(e.code),
      }),
    );
    await expect.poll(() => codes.length, { timeout: 20_000 }).toBe(1);
    await addToy(mum, { familyId, code: codes[0]!, childId: mia, pollMs: 50 });
    expect(await pairing).toBe('client/pairing-ended');
    expect(ended).toEqual(['client/roster-untrusted']);
    // The guardian confirmed the head it verified, not the genesis.
    expect(honest.roster.epoch).toBeGreaterThan(0);
    expect(await refusals()).toContainEqual({ actorId: toyId, code: 'pairing/roster-not-anchored', epoch: beforeRemoval.at(-1)!.epoch + 1 });
  });

  it('a joiner through an invite refuses the fork: the invite proof anchored them at the inviter\'s head', async () => {
    const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false } });
    const joinerSelf: Member = { accountId: auntie.me.accountId, role: 'relative', keys: auntie.me.identity.publicKeys, children: [mia] };
    const hostile = servedFork(auntie, () => forkedChain({ members: [joinerSelf] }));
    await acceptInvite(hostile, link);
    await admitJoiners(mum, { familyId });
    // The fork holds entries the inviting guardian signed (the genesis): the earlier "an entry the
    // inviter signed" anchor accepted it.
    const fork = decodeRosterChain(await forkedChain({ members: [joinerSelf] }));
    expect(fork.some((entry) => entry.signerId === mum.me.accountId)).toBe(true);
    expect(await refusalOf(loadFamily(hostile, familyId))).toBe('client/roster-untrusted');
    expect((await auntie.store.loadFamily(familyId))?.anchor).toBeUndefined();
    expect(await refusals()).toContainEqual({ actorId: auntie.me.accountId, code: 'roster/not-anchored', epoch: beforeRemoval.at(-1)!.epoch + 1 });
    // The honest chain still verifies for the joiner from the same anchor.
    const real = await loadFamily(auntie, familyId);
    expect(real.roster.members.some((m) => m.accountId === exDad.me.accountId)).toBe(false);
  });

  it('a member whose stored anchor is N refuses a chain ending at N′, and keeps its anchor', async () => {
    const stored = (await gran.store.loadFamily(familyId))!.anchor!;
    const hostile = servedFork(gran, () => forkedChain({ members: [{ accountId: gran.me.accountId, role: 'relative', keys: gran.me.identity.publicKeys, children: [mia] }] }));
    expect(await refusalOf(loadFamily(hostile, familyId))).toBe('client/roster-untrusted');
    expect(toBase64Url((await gran.store.loadFamily(familyId))!.anchor!)).toBe(toBase64Url(stored));
    expect(await refusals()).toContainEqual({ actorId: gran.me.accountId, code: 'roster/not-anchored', epoch: beforeRemoval.at(-1)!.epoch + 1 });
  });

  it('a stored anchor never moves back: a load that verified an older head does not overwrite a newer one saved meanwhile', async () => {
    await setSettings(mum, { familyId, settings: { retentionDays: 20 } });
    await setSettings(mum, { familyId, settings: { retentionDays: 21 } });
    // While this load is under way, another load in the same process stores the newest head; the
    // server then answers this one with the chain cut one entry short (it still holds the anchor
    // this load started from, so it verifies).
    const racing: typeof fetch = async (input, init) => {
      if ((init?.method ?? 'GET') !== 'GET' || urlOf(input).pathname !== `/v1/families/${familyId}`) return fetch(input, init);
      const response = await fetch(input, init);
      const body = (await response.json()) as { roster: string[] };
      await loadFamily(gran, familyId);
      return jsonAnswer({ ...body, roster: body.roster.slice(0, -1) });
    };
    const older = await loadFamily({ api: new BurrowApi({ baseUrl: server.url, token: gran.token, fetch: racing }), me: gran.me, store: gran.store }, familyId);
    const newest = await loadFamily(mum, familyId);
    expect(older.roster.epoch).toBe(newest.roster.epoch - 1);
    expect(toBase64Url((await gran.store.loadFamily(familyId))!.anchor!)).toBe(toBase64Url(encodeRosterEntry(newest.roster.head)));
  });

  it('a toy that stored a head after N refuses a chain ending at N′ and plays nothing the removed guardian sent', async () => {
    const paired = await pairToy(server.url, mum, familyId, mia);
    const forkKey = generateScopeKey();
    const forkEpoch = beforeRemoval.at(-1)!.epoch + 1;
    // The head the removed guardian signs from: their N′ (the toy refuses the chain before any message).
    const forkHead = await hashRosterEntry(decodeRosterChain(await forkedChain()).at(-1)!);
    const sealed = await sealMessage({ familyId, epoch: forkEpoch, scope: mia, key: forkKey, rosterHead: forkHead, sender: { accountId: exDad.me.accountId, identity: exDad.me.identity }, recipients: [mia], audio: wavWith(utf8('from the fork'), 400), audioType: 'audio/wav', durationMs: 25, createdAt: Date.now() });
    const forgedId = toBase64Url(sealed.header.messageId);
    const now = Date.now();
    const view = { messageId: forgedId, familyId, senderId: exDad.me.accountId, senderKind: 'member', recipients: [mia], epoch: forkEpoch, size: sealed.bytes.length, ciphertextHash: toBase64Url(sealed.ciphertextHash), receivedAt: now, expiresAt: now + 86_400_000, saved: false, needsApproval: false, approvals: [], receipts: [] };
    let serveFork = false;
    const toyFetch: typeof fetch = async (input, init) => {
      const path = urlOf(input).pathname;
      const method = init?.method ?? 'GET';
      if (serveFork && path === `/v1/families/${familyId}/messages/${forgedId}/envelope`) return new Response(new Uint8Array(sealed.bytes), { status: 200, headers: { 'content-type': 'application/octet-stream', 'content-length': String(sealed.bytes.length) } });
      if (serveFork && path.startsWith(`/v1/families/${familyId}/messages/${forgedId}/`)) return new Response(null, { status: 204 });
      const response = await fetch(input, init);
      if (!serveFork || method !== 'GET' || !response.ok) return response;
      if (path === `/v1/families/${familyId}`) {
        const body = (await response.json()) as { roster: string[] };
        return jsonAnswer({ ...body, roster: await forkedChain({ toys: toysOfRealHead(body.roster) }) });
      }
      if (path === `/v1/families/${familyId}/messages`) {
        const body = (await response.json()) as { messages: unknown[] };
        return jsonAnswer({ ...body, messages: [...body.messages, view] });
      }
      return response;
    };
    const toy = await toyRuntime(paired, toyFetch);
    await toy.runtime.start();
    const realHead = toy.runtime.family!.roster.headHash;
    serveFork = true;
    await toy.runtime.refresh();
    expect(toy.logs.some((l) => l.event === 'roster-refused' && l.reason.includes('roster/not-anchored'))).toBe(true);
    expect(toBase64Url(toy.runtime.family!.roster.headHash)).toBe(toBase64Url(realHead));
    expect(toy.runtime.family!.settings.volumeLimit).toBe(30);
    const stored = await toy.storage.loadTrust();
    expect(toBase64Url(stored!.chain!.at(-1)!)).toBe(toBase64Url(encodeRosterEntry(toy.runtime.family!.roster.head)));
    await toy.runtime.sync();
    expect(toy.played).toEqual([]);
    expect(toy.logs.some((l) => l.event === 'refused' && l.messageId === forgedId)).toBe(true);
    expect(await refusals()).toContainEqual({ actorId: paired.toyId, code: 'roster/not-anchored', epoch: forkEpoch });
    // Nothing about the real family changed meanwhile.
    const real = await mum.api.call('GET', `/v1/families/${familyId}`, FamilyView);
    expect(decodeRosterChain(real.roster).at(-1)!.settings.volumeLimit).toBe(30);
    expect(fromBase64Url(real.roster.at(-1)!).length).toBeGreaterThan(0);
  });
});
