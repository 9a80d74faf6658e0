/**
 * Credential stuffing against the production rate limits (the defaults of src/server/config.ts):
 * 1,000 login attempts over 100 real accounts from one address, with 5 correct passwords among
 * them (a leaked list has some). Reported: how many attempts got through to a password check
 * (login/finish evaluated by OPAQUE), how many accounts were taken over, how many were refused
 * with 429 — once as a burst and once paced over an hour, each on its own server.
 *
 * The accounts use a cheap OPAQUE key-stretching setting so that 200 of them register quickly;
 * the server cannot tell (stretching is client-side) and checks them exactly as any other.
 */
import * as opaque from '@serenity-kit/opaque';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/server/config.js';
import { b64, manualClock, startTestServer, type TestServer } from '../server/helpers.js';
import { CHEAP_STRETCHING, registerCheaply } from './cheap-accounts.js';
import { recordFigures } from './figures.js';

const ACCOUNTS = 100;
const ATTEMPTS = 1_000;
const CORRECT = 5;
const ATTACKER = '198.51.100.7';
const production = loadConfig({ env: {} }).rateLimits;

interface Outcome { checked: number; takenOver: number; refused429: number; otherStatuses: Record<string, number> }

/** One attempt: login/start, and when that is let through, a password check at login/finish. */
async function attempt(server: TestServer, email: string, password: string, correct: boolean, outcome: Outcome): Promise<void> {
  const { clientLoginState, startLoginRequest } = opaque.client.startLogin({ password });
  const start = await server.app.inject({ method: 'POST', url: '/v1/accounts/login/start', payload: { email, startLoginRequest }, remoteAddress: ATTACKER });
  if (start.statusCode === 429) {
    outcome.refused429++;
    return;
  }
  expect(start.statusCode, start.body).toBe(200);
  const { loginId, loginResponse } = start.json<{ loginId: string; loginResponse: string }>();
  // A wrong guess: a well-formed finish the server must check (the real client would stop early).
  const finishLoginRequest = correct ? opaque.client.finishLogin({ clientLoginState, loginResponse, password, keyStretching: CHEAP_STRETCHING })!.finishLoginRequest : b64(64);
  const finish = await server.app.inject({ method: 'POST', url: '/v1/accounts/login/finish', payload: { loginId, finishLoginRequest, tokenDelivery: 'bearer' }, remoteAddress: ATTACKER });
  if (finish.statusCode === 429) {
    outcome.refused429++;
    return;
  }
  outcome.checked++;
  if (finish.statusCode === 200) outcome.takenOver++;
  else if (finish.statusCode !== 401) outcome.otherStatuses[finish.statusCode] = (outcome.otherStatuses[finish.statusCode] ?? 0) + 1;
}

/** 100 accounts, and the attacker's list: 10 pairs per account, shuffled, 5 of them right. */
async function seed(label: string): Promise<{ server: TestServer; clock: ReturnType<typeof manualClock>; list: Array<{ email: string; password: string; correct: boolean }> }> {
  const clock = manualClock();
  const server = await startTestServer({ clock, overrides: { rateLimits: production } });
  const accounts = Array.from({ length: ACCOUNTS }, (_, i) => ({ email: `stuffed-${label}-${i}-${b64(4)}@example.org`, password: `pw-${b64(12)}` }));
  // Sign-ups come from many addresses over time, as real users' do.
  for (const [i, account] of accounts.entries()) {
    await registerCheaply(server.app, { ...account, remoteAddress: `10.0.${i}.1` });
    if (i % 10 === 9) clock.advance(61_000);
  }
  clock.advance(24 * 60 * 60_000);
  const list = accounts.flatMap((account, i) => Array.from({ length: ATTEMPTS / ACCOUNTS }, (_, k) => ({
    email: account.email,
    correct: i < CORRECT && k === 9,
    password: i < CORRECT && k === 9 ? account.password : `guess-${k}-${b64(6)}`,
  })));
  // Interleave accounts the way stuffing tools do: every account's first guess, then every second guess…
  list.sort((a, b) => list.indexOf(a) % 10 - list.indexOf(b) % 10 || list.indexOf(a) - list.indexOf(b));
  return { server, clock, list };
}

describe('credential stuffing from one address', () => {
  it(`${ATTEMPTS} attempts over ${ACCOUNTS} accounts in one burst: stopped by the per-address limit`, async () => {
    const { server, list } = await seed('burst');
    try {
      const outcome: Outcome = { checked: 0, takenOver: 0, refused429: 0, otherStatuses: {} };
      for (const entry of list) await attempt(server, entry.email, entry.password, entry.correct, outcome);
      expect(outcome.otherStatuses).toEqual({});
      // Each attempt costs two anonymous requests: at most half the per-address window gets to a check.
      expect(outcome.checked).toBeLessThanOrEqual(Math.ceil(production.anonymousPerIp.max / 2));
      expect(outcome.takenOver).toBe(0);
      expect(outcome.refused429).toBe(ATTEMPTS - outcome.checked);
      recordFigures('credentialStuffingBurst', { accounts: ACCOUNTS, attempts: ATTEMPTS, correctPasswordsInList: CORRECT, reachedPasswordCheck: outcome.checked, accountsTakenOver: outcome.takenOver, refused429: outcome.refused429, limits: production });
    } finally {
      await server.close();
    }
  }, 120_000);

  it(`${ATTEMPTS} attempts over ${ACCOUNTS} accounts paced over an hour: stopped by the per-address failure budget`, async () => {
    const { server, clock, list } = await seed('paced');
    try {
      const outcome: Outcome = { checked: 0, takenOver: 0, refused429: 0, otherStatuses: {} };
      const spacing = (60 * 60_000) / ATTEMPTS;
      for (const entry of list) {
        await attempt(server, entry.email, entry.password, entry.correct, outcome);
        clock.advance(spacing);
      }
      expect(outcome.otherStatuses).toEqual({});
      // One window of failed logins per address: every attempt is a failure, so at most its budget gets to a check.
      expect(outcome.checked).toBeLessThanOrEqual(production.loginFailuresPerIp.max);
      expect(outcome.takenOver).toBe(0);
      expect(outcome.refused429).toBe(ATTEMPTS - outcome.checked);
      recordFigures('credentialStuffingPaced', {
        accounts: ACCOUNTS, attempts: ATTEMPTS, overMinutes: 60, correctPasswordsInList: CORRECT, reachedPasswordCheck: outcome.checked,
        accountsTakenOver: outcome.takenOver, refused429: outcome.refused429, limits: production,
      });
    } finally {
      await server.close();
    }
  }, 120_000);
});
