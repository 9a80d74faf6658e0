/**
 * The pairing relay driven end to end with the real pairing crypto: a toy's attempt, a guardian's
 * run, the roster entry that completes it, and the device token; then what the relay refuses —
 * the fourth guess whatever the code, a replayed answer, an expired attempt, keys or runs that do
 * not match the entry, full slots and the per-address limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64Url } from '../../../src/crypto/bytes.js';
import { generateScopeKey, wrapScopeKey } from '../../../src/crypto/scope-key.js';
import { scopeKeyId } from '../../../src/client/key-ring.js';
import { generateIdentity } from '../../../src/crypto/identity.js';
import { hashRosterEntry } from '../../../src/crypto/roster.js';
import { PAIRING_LIMITS, type GuardianRunView, type ToyPairingView } from '../../../src/protocol/toys.js';
import { bearer, manualClock, post, startTestServer, type TestServer } from '../helpers.js';
import { addChild, createFamily, newPerson, wireKeys, type Person, type TestFamily } from '../families/fixtures.js';
import { answerRun, guessCode, pairToy, poll, setToys, startAttempt, toysEntryBody } from './fixtures.js';

const clock = manualClock(Date.now());
let server: TestServer;
let guardian: Person;
let family: TestFamily;
let childId: string;

beforeAll(async () => {
  server = await startTestServer({ clock });
  guardian = await newPerson(server.app);
  family = await createFamily(server.app, guardian);
  childId = await addChild(server.app, family, guardian);
});
afterAll(async () => { await server.close(); });

/** A wrong code in the attempt's slot: the same first 3 digits, other last 5. */
function wrongCode(code: string): string {
  const last = (Number(code.slice(3)) + 1) % 100_000;
  return code.slice(0, 3) + String(last).padStart(5, '0');
}

describe('pairing a toy through the relay', () => {
  it("pairs with the right code: the toy learns the guardian's head hash and gets a device token that works once the roster adds it", async () => {
    const app = server.app;
    const toy = await pairToy(app, family, guardian, childId);
    expect(toy.deviceToken).toMatch(/^toy\.[A-Za-z0-9_-]{43}$/);
    // The anchor the toy verified is the head the guardian confirmed (the fixture's guardian signs on the head).
    expect(toBase64Url(toy.anchorHash)).toBe(toBase64Url(await hashRosterEntry(family.chain.at(-2)!)));

    // Until the toy uses a device token, each poll reissues it and voids the one before.
    const again = (await poll(app, toy)).json<ToyPairingView>();
    expect(again.state).toBe('paired');
    const fresh = again.paired!.deviceToken;
    expect(fresh).not.toBe(toy.deviceToken);
    expect((await app.inject({ method: 'GET', url: '/v1/toy', headers: bearer(toy.deviceToken) })).statusCode).toBe(401);
    const self = await app.inject({ method: 'GET', url: '/v1/toy', headers: bearer(fresh) });
    expect(self.statusCode).toBe(200);
    expect(self.json()).toEqual({ toyId: toy.toyId, familyId: family.familyId, childId, epoch: family.chain.length - 1 });
    // Once used, the pairing token is dead and no new device token is issued.
    expect((await poll(app, toy)).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/v1/toy', headers: bearer(fresh) })).statusCode).toBe(200);

    // The family as the toy reads it: role toy, its child only, keys wrapped to it.
    const view = await app.inject({ method: 'GET', url: `/v1/families/${family.familyId}`, headers: bearer(fresh) });
    expect(view.statusCode).toBe(200);
    const body = view.json<{ role: string; children: Array<{ childId: string }>; wrappedKeys: Array<{ recipientId: string }>; roster: string[] }>();
    expect(body.role).toBe('toy');
    expect(body.children.map((c) => c.childId)).toEqual([childId]);
    expect(body.wrappedKeys.length).toBeGreaterThan(0);
    expect(body.wrappedKeys.every((k) => k.recipientId === toy.toyId)).toBe(true);
    expect(body.roster.length).toBe(family.chain.length);
    expect((await app.inject({ method: 'GET', url: `/v1/families/${family.familyId}/roster?afterEpoch=0`, headers: bearer(fresh) })).statusCode).toBe(200);

    // The guardian sees the toy, and may name it (sealed).
    const list = await app.inject({ method: 'GET', url: `/v1/families/${family.familyId}/toys`, headers: bearer(guardian.token) });
    expect(list.statusCode).toBe(200);
    const toys = list.json<{ toys: Array<{ toyId: string; childId: string; lastSeenAt?: number; sealedProfile?: string }> }>().toys;
    expect(toys.map((t) => [t.toyId, t.childId])).toEqual([[toy.toyId, childId]]);
    expect(toys[0]!.lastSeenAt).toBe(clock.now());
    const sealedProfile = toBase64Url(new Uint8Array(40).fill(7));
    const named = await app.inject({ method: 'PUT', url: `/v1/families/${family.familyId}/toys/${toy.toyId}/profile`, headers: bearer(guardian.token), payload: { sealedProfile } });
    expect(named.statusCode).toBe(204);
    const listed = await app.inject({ method: 'GET', url: `/v1/families/${family.familyId}/toys`, headers: bearer(guardian.token) });
    expect(listed.json<{ toys: Array<{ sealedProfile?: string }> }>().toys[0]!.sealedProfile).toBe(sealedProfile);
  });

  it('refuses the fourth run with 410 whatever the code, after three wrong codes', async () => {
    const app = server.app;
    const toy = await startAttempt(app);
    for (let run = 1; run <= PAIRING_LIMITS.maxRuns; run++) {
      const result = await guessCode(app, family, guardian, toy, childId, wrongCode(toy.code));
      expect(result.toyKeys).toBeUndefined();
      const view = (await poll(app, toy)).json<ToyPairingView>();
      expect(view.runsLeft).toBe(PAIRING_LIMITS.maxRuns - run);
    }
    expect((await poll(app, toy)).json<ToyPairingView>().state).toBe('ended');
    const { pairingGuardianShare, sessionId } = await guardianShare(toy.code);
    const fourth = await post(app, `/v1/families/${family.familyId}/pairings`, { slot: toy.started.slot, childId, sessionId, guardianShare: pairingGuardianShare }, bearer(guardian.token));
    expect(fourth.statusCode).toBe(410);
    expect(fourth.json<{ type: string }>().type).toBe('urn:burrow:problem:pairing-ended');
    // The right code, in a run started some other way, cannot pair either: the toy does not offer runs any more.
    expect((await poll(app, toy)).json<ToyPairingView>().run).toBeUndefined();
  });

  it('refuses the fourth run with 410 while the attempt still holds its slot (runs that expired count)', async () => {
    const app = server.app;
    const toy = await startAttempt(app);
    for (let run = 1; run <= PAIRING_LIMITS.maxRuns; run++) {
      const { pairingGuardianShare, sessionId } = await guardianShare(wrongCode(toy.code));
      const started = await post(app, `/v1/families/${family.familyId}/pairings`, { slot: toy.started.slot, childId, sessionId, guardianShare: pairingGuardianShare }, bearer(guardian.token));
      expect(started.statusCode).toBe(201);
      // A second run while this one is going: 409.
      if (run === 1) {
        const busy = await post(app, `/v1/families/${family.familyId}/pairings`, { slot: toy.started.slot, childId, sessionId, guardianShare: pairingGuardianShare }, bearer(guardian.token));
        expect(busy.statusCode).toBe(409);
      }
      clock.advance(PAIRING_LIMITS.runTtlMs + 1);
      const runId = started.json<{ runId: string }>().runId;
      const view = await app.inject({ method: 'GET', url: `/v1/families/${family.familyId}/pairings/${runId}`, headers: bearer(guardian.token) });
      expect(view.json<GuardianRunView>().state).toBe('expired');
    }
    const { pairingGuardianShare, sessionId } = await guardianShare(toy.code);
    const fourth = await post(app, `/v1/families/${family.familyId}/pairings`, { slot: toy.started.slot, childId, sessionId, guardianShare: pairingGuardianShare }, bearer(guardian.token));
    expect(fourth.statusCode).toBe(410);
    expect(fourth.json<{ type: string }>().type).toBe('urn:burrow:problem:pairing-ended');
  });

  it('answers a replayed toy answer with 409, and a run of another attempt with 404', async () => {
    const app = server.app;
    const toy = await startAttempt(app);
    const other = await startAttempt(app);
    const { pairingGuardianShare, sessionId } = await guardianShare(toy.code);
    const started = await post(app, `/v1/families/${family.familyId}/pairings`, { slot: toy.started.slot, childId, sessionId, guardianShare: pairingGuardianShare }, bearer(guardian.token));
    expect(started.statusCode).toBe(201);
    const answered = await answerRun(app, toy);
    expect(answered.answer.statusCode).toBe(204);
    const replay = await post(app, `/v1/pairings/${toy.started.pairingId}/runs/${answered.runId}`, { toyShare: answered.toyShare, toyConfirm: answered.toyConfirm }, bearer(toy.started.pairingToken));
    expect(replay.statusCode).toBe(409);
    const foreign = await post(app, `/v1/pairings/${other.started.pairingId}/runs/${answered.runId}`, { toyShare: answered.toyShare, toyConfirm: answered.toyConfirm }, bearer(other.started.pairingToken));
    expect(foreign.statusCode).toBe(404);
    // Without (or with the wrong) pairing token: 401 problems.
    for (const headers of [{}, bearer(other.started.pairingToken), bearer(guardian.token)]) {
      const answer = await app.inject({ method: 'GET', url: `/v1/pairings/${toy.started.pairingId}`, headers });
      expect(answer.statusCode).toBe(401);
      expect(answer.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    expect((await app.inject({ method: 'DELETE', url: `/v1/pairings/${toy.started.pairingId}` })).statusCode).toBe(401);
    // The toy gives up: the attempt ends.
    expect((await app.inject({ method: 'DELETE', url: `/v1/pairings/${toy.started.pairingId}`, headers: bearer(toy.started.pairingToken) })).statusCode).toBe(204);
    expect((await poll(app, toy)).json<ToyPairingView>().state).toBe('ended');
  });

  it('ends an attempt after its time: the toy sees ended and the guardian cannot start a run', async () => {
    const app = server.app;
    const toy = await startAttempt(app);
    clock.advance(PAIRING_LIMITS.attemptTtlMs + 1);
    expect((await poll(app, toy)).json<ToyPairingView>().state).toBe('ended');
    const { pairingGuardianShare, sessionId } = await guardianShare(toy.code);
    const late = await post(app, `/v1/families/${family.familyId}/pairings`, { slot: toy.started.slot, childId, sessionId, guardianShare: pairingGuardianShare }, bearer(guardian.token));
    expect(late.statusCode).toBe(410);
    expect(late.json<{ type: string }>().type).toBe('urn:burrow:problem:pairing-ended');
  });

  it('refuses a roster entry adding a toy without a confirmed run, with other keys, or for another child', async () => {
    const app = server.app;
    const stranger = await generateIdentity();
    const head = () => family.chain[family.chain.length - 1]!;
    // No run at all.
    const unpaired = await setToys(app, family, guardian, [...head().toys, { toyId: toBase64Url(new Uint8Array(16).fill(3)), keys: stranger.publicKeys, childId }]);
    expect(unpaired.statusCode).toBe(400);
    expect(unpaired.json<{ type: string }>().type).toBe('urn:burrow:problem:invalid-roster');

    // A run the toy answered but the guardian did not confirm.
    const toy = await startAttempt(app);
    const { pairingGuardianShare, sessionId } = await guardianShare(toy.code);
    const started = await post(app, `/v1/families/${family.familyId}/pairings`, { slot: toy.started.slot, childId, sessionId, guardianShare: pairingGuardianShare }, bearer(guardian.token));
    const runId = started.json<{ runId: string }>().runId;
    expect((await answerRun(app, toy)).answer.statusCode).toBe(204);
    const unconfirmed = await setToys(app, family, guardian, [...head().toys, { toyId: toy.started.pairingId, keys: toy.identity.publicKeys, childId }], [runId]);
    expect(unconfirmed.statusCode).toBe(400);
    expect(unconfirmed.json<{ type: string }>().type).toBe('urn:burrow:problem:invalid-roster');

    // A confirmed run, but the entry carries other keys, or another child.
    const confirmedToy = await startAttempt(app);
    const confirmed = await guessCode(app, family, guardian, confirmedToy, childId, confirmedToy.code);
    expect(confirmed.toyKeys).toBeDefined();
    const wrongKeys = await setToys(app, family, guardian, [...head().toys, { toyId: confirmedToy.started.pairingId, keys: stranger.publicKeys, childId }], [confirmed.runId]);
    expect(wrongKeys.statusCode).toBe(400);
    expect(wrongKeys.json<{ detail: string }>().detail).toMatch(/keys/);
    const otherChild = await addChild(app, family, guardian);
    const wrongChild = await setToys(app, family, guardian, [...head().toys, { toyId: confirmedToy.started.pairingId, keys: confirmed.toyKeys!, childId: otherChild }], [confirmed.runId]);
    expect(wrongChild.statusCode).toBe(400);
    // A run named but no toy added.
    const nothingAdded = await setToys(app, family, guardian, [...head().toys], [confirmed.runId]);
    expect(nothingAdded.statusCode).toBe(400);
    // The right entry still goes in; the same run cannot pair twice.
    const right = await setToys(app, family, guardian, [...head().toys, { toyId: confirmedToy.started.pairingId, keys: confirmed.toyKeys!, childId }], [confirmed.runId]);
    expect(right.statusCode).toBe(201);
    const twice = await setToys(app, family, guardian, [...head().toys.filter((t) => t.toyId !== confirmedToy.started.pairingId), { toyId: confirmedToy.started.pairingId, keys: confirmed.toyKeys!, childId }], [confirmed.runId]);
    expect(twice.statusCode).toBe(400);
  });

  it("stores earlier keys only when wrapped to a toy the entry pairs, of its child's scope, for a generation before the entry's, under its suite", async () => {
    const app = server.app;
    const head = () => family.chain[family.chain.length - 1]!;
    // Removing the child's toy rotates (or ends) the child's scope: the generation it had is now an earlier one.
    expect(head().toys.some((t) => t.childId === childId)).toBe(true);
    const before = head().scopeKeys.find((k) => k.scope === childId)!.generation;
    expect((await setToys(app, family, guardian, head().toys.filter((t) => t.childId !== childId))).statusCode).toBe(201);
    const toy = await startAttempt(app);
    const confirmed = await guessCode(app, family, guardian, toy, childId, toy.code);
    const toyId = toy.started.pairingId;
    const toys = [...head().toys, { toyId, keys: confirmed.toyKeys!, childId }];
    const earlier = (generation: number, recipient: { id: string; agreementKey: Uint8Array; kemKey?: Uint8Array | undefined }, scope = childId) =>
      wrapScopeKey({ familyId: family.familyId, scope, generation, key: family.keys[scopeKeyId(scope, generation)] ?? generateScopeKey(), recipient }).then((k) => wireKeys([k])[0]!);
    const toToy = { id: toyId, ...confirmed.toyKeys! };
    const attempt = async (earlierKeys: unknown[]) => {
      const { body, entry, keys } = await toysEntryBody(family, guardian, toys, [confirmed.runId]);
      const answer = await post(app, `/v1/families/${family.familyId}/roster`, { ...body, earlierKeys }, bearer(guardian.token));
      if (answer.statusCode === 201) {
        family.chain.push(entry);
        Object.assign(family.keys, keys);
      }
      return answer;
    };
    const refused = [
      // To a member, not the toy being paired.
      [await earlier(before, { id: guardian.accountId, ...guardian.identity.publicKeys })],
      // For the entry's own generation of the scope (or later): those are the entry's wrapped keys.
      [await earlier(head().epoch + 1, toToy)],
      // Of another scope: the family-wide one, or another child's.
      [await earlier(before, toToy, '')],
      [await earlier(before, toToy, 'another-child')],
      // Twice for one generation.
      [await earlier(before, toToy), await earlier(before, toToy)],
      // Under the classical suite to a toy whose roster keys call for X-Wing.
      [await earlier(before, { id: toyId, agreementKey: confirmed.toyKeys!.agreementKey })],
    ];
    for (const earlierKeys of refused) {
      const answer = await attempt(earlierKeys);
      expect(answer.statusCode).toBe(400);
      expect(answer.json<{ type: string }>().type).toBe('urn:burrow:problem:invalid-roster');
    }
    const tooMany = await attempt(Array.from({ length: 65 }, () => refused[1]![0]));
    expect(tooMany.statusCode).toBe(400);
    expect((await attempt([await earlier(before, toToy)])).statusCode).toBe(201);
  });
});

/** A guardian's first message for `code` and a fresh session id, as wire strings. */
async function guardianShare(code: string): Promise<{ pairingGuardianShare: string; sessionId: string }> {
  const { randomBytes } = await import('../../../src/crypto/bytes.js');
  const { startGuardianPairing } = await import('../../../src/crypto/pairing.js');
  const sessionId = randomBytes(16);
  const pairing = startGuardianPairing({ code, sessionId, headHash: await hashRosterEntry(family.chain.at(-1)!) });
  return { pairingGuardianShare: toBase64Url(pairing.share), sessionId: toBase64Url(sessionId) };
}



describe('the relay’s limits', () => {
  it('limits pairing attempts per address, and runs per account', async () => {
    const limited = await startTestServer({ overrides: { rateLimits: { pairingStartsPerIp: { max: 3, windowMs: 10 * 60_000 }, perAccount: { max: 2, windowMs: 60_000 } } } });
    try {
      const app = limited.app;
      for (let i = 0; i < 3; i++) await startAttempt(app);
      const over = await app.inject({ method: 'POST', url: '/v1/pairings', payload: {} });
      expect(over.statusCode).toBe(429);
      expect(over.json<{ type: string; retryAfter: number }>().retryAfter).toBeGreaterThan(0);
      // Another address is not affected.
      const elsewhere = await app.inject({ method: 'POST', url: '/v1/pairings', payload: {}, remoteAddress: '127.0.0.2' });
      expect(elsewhere.statusCode).toBe(201);

      const person = await newPerson(app);
      const own = await createFamily(app, person);
      const child = await addChild(app, own, person);
      const body = { slot: '000', childId: child, sessionId: toBase64Url(new Uint8Array(16)), guardianShare: toBase64Url(new Uint8Array(40)) };
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push((await post(app, `/v1/families/${own.familyId}/pairings`, body, bearer(person.token))).statusCode);
      expect(answers.slice(0, 2).every((s) => s === 404 || s === 201 || s === 409 || s === 410)).toBe(true);
      expect(answers[2]).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it('answers 503 with retryAfter when every slot is held, and frees the slots of expired attempts', async () => {
    const slotClock = manualClock(Date.now());
    const full = await startTestServer({ clock: slotClock });
    try {
      const now = slotClock.now();
      const rows = Array.from({ length: 999 }, (_, i) => ({
        id: toBase64Url(new Uint8Array(16).fill(0).map((_v, j) => (j < 2 ? (i >> (8 * j)) & 0xff : 9))),
        slot: String(i).padStart(3, '0'),
        held_slot: String(i).padStart(3, '0'),
        token_hash: `filler-${i}`,
        state: 'waiting' as const,
        runs_started: 0,
        created_at: now,
        expires_at: now + PAIRING_LIMITS.attemptTtlMs,
        family_id: null,
        guardian_confirm: null,
      }));
      for (let i = 0; i < rows.length; i += 250) await full.store.db.insertInto('pairing_attempts').values(rows.slice(i, i + 250)).execute();
      const last = await startAttempt(full.app);
      expect(last.started.slot).toBe('999');
      const none = await full.app.inject({ method: 'POST', url: '/v1/pairings', payload: {} });
      expect(none.statusCode).toBe(503);
      expect(none.json<{ type: string; retryAfter: number }>()).toMatchObject({ type: 'urn:burrow:problem:unavailable', retryAfter: 30 });
      slotClock.advance(PAIRING_LIMITS.attemptTtlMs + 1);
      expect((await full.app.inject({ method: 'POST', url: '/v1/pairings', payload: {} })).statusCode).toBe(201);
    } finally {
      await full.close();
    }
  });
});
