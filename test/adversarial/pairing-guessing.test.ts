/**
 * Pairing-code guessing against the production limits: a toy is waiting with its code; an attacker
 * — a guardian of their own family, who even knows the slot (the code's first 3 digits, say
 * overheard) — sends guesses of the other 5 digits with the real pairing crypto: 1,000 as a burst,
 * then 1,000 paced over an hour against a toy that keeps starting new attempts. Reported: how many
 * guesses reached a toy (a run started), how many paired (none may), how many were refused because
 * the attempt ended (3 runs per attempt, whatever the code) or by the rate limits.
 */
import { describe, expect, it } from 'vitest';
import { fromBase64Url, randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { hashRosterEntry } from '../../src/crypto/roster.js';
import { generateIdentity, type Identity } from '../../src/crypto/identity.js';
import { pairingCodeForSlot, startGuardianPairing } from '../../src/crypto/pairing.js';
import { loadConfig } from '../../src/server/config.js';
import { PAIRING_LIMITS, type GuardianRunView, type PairingStarted } from '../../src/protocol/toys.js';
import { addChild, createFamily, newPerson, type Person, type TestFamily } from '../server/families/fixtures.js';
import { bearer, manualClock, post, startTestServer, type TestServer } from '../server/helpers.js';
import { answerRun, startAttempt, type PairingToy } from '../server/toys/fixtures.js';
import { recordFigures } from './figures.js';

const GUESSES = 1_000;
const PACED_GUESSES = 1_000;
const production = loadConfig({ env: {} }).rateLimits;

interface Tally { reachedToy: number; paired: number; ended410: number; limited429: number; noAttempt404: number; other: Record<string, number> }

/** One guess: a run with `code`; when the server lets it through, the toy answers and the attacker checks the toy's confirmation. */
async function guess(server: TestServer, family: TestFamily, attacker: Person, childId: string, toy: PairingToy, code: string, tally: Tally, full = true): Promise<void> {
  const sessionId = randomBytes(16);
  const pairing = startGuardianPairing({ code, sessionId, headHash: await hashRosterEntry(family.chain.at(-1)!) });
  const start = await post(server.app, `/v1/families/${family.familyId}/pairings`, { slot: code.slice(0, 3), childId, sessionId: toBase64Url(sessionId), guardianShare: toBase64Url(pairing.share) }, bearer(attacker.token));
  if (start.statusCode === 410) { tally.ended410++; return; }
  if (start.statusCode === 429) { tally.limited429++; return; }
  if (start.statusCode === 404) { tally.noAttempt404++; return; }
  if (start.statusCode !== 201) { tally.other[start.statusCode] = (tally.other[start.statusCode] ?? 0) + 1; return; }
  tally.reachedToy++;
  const { runId } = start.json<{ runId: string }>();
  if (!full) {
    // Counted as a guess that reached the toy; the run is given up at once (it still counts against the attempt).
    expect((await post(server.app, `/v1/families/${family.familyId}/pairings/${runId}/fail`, {}, bearer(attacker.token))).statusCode).toBe(204);
    return;
  }
  const answered = await answerRun(server.app, toy);
  expect(answered.answer.statusCode).toBe(204);
  const run = (await server.app.inject({ method: 'GET', url: `/v1/families/${family.familyId}/pairings/${runId}`, headers: bearer(attacker.token) })).json<GuardianRunView>();
  const confirm = await pairing.receiveToyShare(fromBase64Url(run.toyShare!));
  const keys = confirm.ok ? await pairing.receiveToyConfirmation(fromBase64Url(run.toyConfirm!)) : confirm;
  if (keys.ok) {
    tally.paired++;
    return;
  }
  expect((await post(server.app, `/v1/families/${family.familyId}/pairings/${runId}/fail`, {}, bearer(attacker.token))).statusCode).toBe(204);
}

/** Toys make fresh keys per attempt; the same keys for every attempt here keep the test fast and change nothing the server sees. */
let toyIdentity: Identity | undefined;

/** A toy starting an attempt from its own address (toys are many; one address may start 10 per 10 minutes). */
async function toyAttempt(server: TestServer, n: number): Promise<PairingToy> {
  const answer = await server.app.inject({ method: 'POST', url: '/v1/pairings', payload: {}, remoteAddress: `192.0.2.${n % 250}` });
  expect(answer.statusCode, answer.body).toBe(201);
  const started = answer.json<PairingStarted>();
  toyIdentity ??= await generateIdentity();
  return { started, code: pairingCodeForSlot(started.slot), identity: toyIdentity };
}

function wrongCode(toy: PairingToy, i: number): string {
  const digits = String((Number(toy.code.slice(3)) + 1 + i * 7_919) % 100_000).padStart(5, '0');
  return `${toy.code.slice(0, 3)}${digits}`;
}

async function seed(): Promise<{ server: TestServer; clock: ReturnType<typeof manualClock>; attacker: Person; family: TestFamily; childId: string }> {
  const clock = manualClock(Date.now());
  const server = await startTestServer({ clock, overrides: { rateLimits: production } });
  const attacker = await newPerson(server.app);
  const family = await createFamily(server.app, attacker);
  const childId = await addChild(server.app, family, attacker);
  return { server, clock, attacker, family, childId };
}

describe('pairing-code guessing', () => {
  it(`${GUESSES} guesses at one waiting toy in a burst: ${PAIRING_LIMITS.maxRuns} reach it, none pairs`, async () => {
    const { server, attacker, family, childId } = await seed();
    try {
      const toy = await startAttempt(server.app, {});
      const tally: Tally = { reachedToy: 0, paired: 0, ended410: 0, limited429: 0, noAttempt404: 0, other: {} };
      for (let i = 0; i < GUESSES; i++) await guess(server, family, attacker, childId, toy, wrongCode(toy, i), tally);
      expect(tally.other).toEqual({});
      expect(tally.paired).toBe(0);
      expect(tally.reachedToy).toBe(PAIRING_LIMITS.maxRuns);
      // The toy's own code is refused now too: the attempt ended.
      await guess(server, family, attacker, childId, toy, toy.code, tally);
      expect(tally.paired).toBe(0);
      recordFigures('pairingGuessingBurst', { guesses: GUESSES, knownSlot: true, reachedToy: tally.reachedToy, paired: tally.paired, refusedAttemptEnded410: tally.ended410, refusedRateLimited429: tally.limited429, rightCodeAfterwards: 'refused (410)', limits: { maxRunsPerAttempt: PAIRING_LIMITS.maxRuns, runsPerAccountAndAddress: production.perAccount } });
    } finally {
      await server.close();
    }
  }, 120_000);

  it(`${PACED_GUESSES} guesses paced over an hour while the toy keeps showing new codes: none pairs`, async () => {
    const { server, clock, attacker, family, childId } = await seed();
    try {
      const tally: Tally = { reachedToy: 0, paired: 0, ended410: 0, limited429: 0, noAttempt404: 0, other: {} };
      let attempts = 0;
      let toy = await toyAttempt(server, attempts++);
      for (let i = 0; i < PACED_GUESSES; i++) {
        const before = tally.ended410;
        // The first 30 guesses run the whole protocol with the toy; later ones are given up once started (same count, less CPU).
        await guess(server, family, attacker, childId, toy, wrongCode(toy, i), tally, i < 30);
        // An ended attempt: the toy shows a new code (a new attempt, perhaps in another slot), which the attacker learns at once.
        if (tally.ended410 > before) {
          await server.app.inject({ method: 'DELETE', url: `/v1/pairings/${toy.started.pairingId}`, headers: bearer(toy.started.pairingToken) });
          toy = await toyAttempt(server, attempts++);
        }
        clock.advance((60 * 60_000) / PACED_GUESSES);
      }
      expect(tally.other).toEqual({});
      expect(tally.paired).toBe(0);
      recordFigures('pairingGuessingPaced', { guesses: PACED_GUESSES, overMinutes: 60, knownSlot: true, toyAttempts: attempts, reachedToy: tally.reachedToy, paired: tally.paired, refusedAttemptEnded410: tally.ended410, refusedRateLimited429: tally.limited429, chanceOfSuccessPerGuessThatReachesAToy: '1 in 100,000' });
    } finally {
      await server.close();
    }
  }, 180_000);
});
