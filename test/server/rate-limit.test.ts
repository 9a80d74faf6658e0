import * as opaque from '@serenity-kit/opaque';
import { describe, expect, it } from 'vitest';
import { b64, login, manualClock, post, registerUser, startTestServer, TEST_KEY_STRETCHING } from './helpers.js';

/**
 * A login start of the right length (96 bytes: blinded element, nonce, key share) that is never a
 * valid one: 0xff… is no canonical ristretto255 encoding. Random bytes would decode as group
 * elements now and then (both points, about one run in a few hundred) and pass.
 */
const MALFORMED_KE1 = Buffer.alloc(96, 0xff).toString('base64url');

async function startLogin(server: Awaited<ReturnType<typeof startTestServer>>, email: string, remoteAddress = '127.0.0.1') {
  await opaque.ready;
  const { startLoginRequest } = opaque.client.startLogin({ password: 'guess' });
  return server.app.inject({ method: 'POST', url: '/v1/accounts/login/start', payload: { email, startLoginRequest }, remoteAddress });
}

/** Both login steps from `remoteAddress`; a wrong password still sends a well-formed finish, as an attacker would. */
async function loginFrom(server: Awaited<ReturnType<typeof startTestServer>>, email: string, password: string, remoteAddress: string) {
  await opaque.ready;
  const { clientLoginState, startLoginRequest } = opaque.client.startLogin({ password });
  const start = await server.app.inject({ method: 'POST', url: '/v1/accounts/login/start', payload: { email, startLoginRequest }, remoteAddress });
  if (start.statusCode !== 200) return { start, finish: undefined };
  const { loginId, loginResponse } = start.json<{ loginId: string; loginResponse: string }>();
  const finishLoginRequest = opaque.client.finishLogin({ clientLoginState, loginResponse, password, keyStretching: TEST_KEY_STRETCHING })?.finishLoginRequest ?? b64(64);
  const finish = await server.app.inject({ method: 'POST', url: '/v1/accounts/login/finish', payload: { loginId, finishLoginRequest, tokenDelivery: 'bearer' }, remoteAddress });
  return { start, finish };
}

describe('rate limits', () => {
  it('answer 429 with Retry-After per client address on the routes strangers use', async () => {
    const server = await startTestServer({ overrides: { rateLimits: { anonymousPerIp: { max: 3, windowMs: 60_000 } } } });
    try {
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await startLogin(server, `someone-${i}@example.org`, '127.0.0.9'));
      expect(answers.slice(0, 3).map((a) => a.statusCode)).toEqual([200, 200, 200]);
      const limited = answers[3]!;
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.json()).toMatchObject({ type: 'urn:burrow:problem:rate-limited', retryAfter: Number(limited.headers['retry-after']) });
      // Another address is not affected.
      expect((await startLogin(server, 'someone@example.org', '127.0.0.10')).statusCode).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('apply a global per-address limit to every route', async () => {
    const server = await startTestServer({ overrides: { rateLimits: { globalPerIp: { max: 2, windowMs: 60_000 } } } });
    try {
      const codes = [];
      for (let i = 0; i < 3; i++) codes.push((await server.app.inject({ method: 'GET', url: '/v1/openapi.json', remoteAddress: '127.0.0.7' })).statusCode);
      expect(codes).toEqual([200, 200, 429]);
      expect((await server.app.inject({ method: 'GET', url: '/healthz', remoteAddress: '127.0.0.7' })).statusCode).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('limit one account across many addresses, whether or not the account exists', async () => {
    const server = await startTestServer({ overrides: { rateLimits: { perAccount: { max: 2, windowMs: 60_000 } } } });
    try {
      const email = `target-${b64(6)}@example.org`;
      const codes = [];
      for (let i = 0; i < 3; i++) codes.push((await startLogin(server, email, `127.0.1.${i + 1}`)).statusCode);
      expect(codes).toEqual([200, 200, 429]);
      // Registration for that email is limited the same way.
      const { registrationRequest } = opaque.client.startRegistration({ password: 'x' });
      expect((await post(server.app, '/v1/accounts/register/start', { email, registrationRequest })).statusCode).toBe(429);
    } finally {
      await server.close();
    }
  });

  it('slow down further logins for an account after repeated failures, growing exponentially, and reset on success', async () => {
    const clock = manualClock();
    const server = await startTestServer({ clock, overrides: { rateLimits: { loginSlowdown: { freeFailures: 2, baseDelayMs: 10_000, maxDelayMs: 600_000 } } } });
    try {
      const user = await registerUser(server.app);
      // Two free failures.
      expect((await login(server.app, user.email, 'wrong 1')).finish?.statusCode).toBe(401);
      expect((await login(server.app, user.email, 'wrong 2')).finish?.statusCode).toBe(401);
      // The third attempt must wait 10 s; even the right password is refused until then.
      const blocked = await login(server.app, user.email, user.password);
      expect(blocked.start.statusCode).toBe(429);
      expect(Number(blocked.start.headers['retry-after'])).toBe(10);
      // Another account is not affected.
      const other = await registerUser(server.app);
      expect((await login(server.app, other.email, other.password)).finish?.statusCode).toBe(200);

      clock.advance(10_000);
      expect((await login(server.app, user.email, 'wrong 3')).finish?.statusCode).toBe(401);
      const longer = await login(server.app, user.email, user.password);
      expect(longer.start.statusCode).toBe(429);
      expect(Number(longer.start.headers['retry-after'])).toBe(20);

      clock.advance(20_000);
      expect((await login(server.app, user.email, user.password)).finish?.statusCode).toBe(200);
      // Success forgets the failures.
      expect((await login(server.app, user.email, 'wrong again')).finish?.statusCode).toBe(401);
      expect((await login(server.app, user.email, user.password)).finish?.statusCode).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('slow down an unknown email exactly like a known one', async () => {
    const clock = manualClock();
    const server = await startTestServer({ clock, overrides: { rateLimits: { loginSlowdown: { freeFailures: 1, baseDelayMs: 5_000, maxDelayMs: 600_000 } } } });
    try {
      const user = await registerUser(server.app);
      const ghost = `ghost-${b64(6)}@example.org`;
      for (const email of [user.email, ghost]) expect((await login(server.app, email, 'wrong')).finish?.statusCode).toBe(401);
      const known = await startLogin(server, user.email);
      const unknown = await startLogin(server, ghost);
      expect(unknown.statusCode).toBe(429);
      expect(unknown.json()).toEqual(known.json());
      expect(unknown.headers['retry-after']).toBe(known.headers['retry-after']);
    } finally {
      await server.close();
    }
  });

  describe('failed logins per address', () => {
    const HOUR = 60 * 60_000;

    it('refuse an address after its budget of failures, before any OPAQUE work, whatever the email; successes are free', async () => {
      const clock = manualClock();
      const server = await startTestServer({ clock, overrides: { rateLimits: { loginFailuresPerIp: { max: 3, windowMs: HOUR } } } });
      try {
        const user = await registerUser(server.app);
        const household = '127.0.2.1';
        // A household logging in again and again behind one address uses none of the budget.
        for (let i = 0; i < 5; i++) expect((await loginFrom(server, user.email, user.password, household)).finish?.statusCode).toBe(200);
        // Three failures: a wrong password, an email without an account, a login started and never finished.
        expect((await loginFrom(server, user.email, 'wrong', household)).finish?.statusCode).toBe(401);
        expect((await loginFrom(server, `ghost-${b64(6)}@example.org`, 'wrong', household)).finish?.statusCode).toBe(401);
        expect((await startLogin(server, user.email, household)).statusCode).toBe(200);

        clock.advance(10 * 60_000);
        // Now even the right password is refused from that address, for the rest of the hour.
        const refused = await loginFrom(server, user.email, user.password, household);
        expect(refused.start.statusCode).toBe(429);
        expect(refused.start.json()).toMatchObject({ type: 'urn:burrow:problem:rate-limited' });
        expect(Number(refused.start.headers['retry-after'])).toBe(50 * 60);
        // A known and an unknown email get the same answer.
        const known = await startLogin(server, user.email, household);
        const unknown = await startLogin(server, `ghost-${b64(6)}@example.org`, household);
        expect(unknown.statusCode).toBe(429);
        expect(unknown.json()).toEqual(known.json());
        expect(unknown.headers['retry-after']).toBe(known.headers['retry-after']);
        // Checked first: a start OPAQUE would reject as malformed is refused for the budget instead.
        const malformed = await server.app.inject({ method: 'POST', url: '/v1/accounts/login/start', payload: { email: user.email, startLoginRequest: MALFORMED_KE1 }, remoteAddress: household });
        expect(malformed.statusCode).toBe(429);
        // Recovery from that address is refused too.
        const { registrationRequest } = opaque.client.startRegistration({ password: 'new password' });
        const recovery = await server.app.inject({ method: 'POST', url: '/v1/accounts/recover/start', payload: { email: user.email, recoveryProof: user.recoveryProof, registrationRequest }, remoteAddress: household });
        expect(recovery.statusCode).toBe(429);

        // Another address is not affected, and the account itself is not locked.
        expect((await loginFrom(server, user.email, user.password, '127.0.2.2')).finish?.statusCode).toBe(200);
        clock.advance(50 * 60_000);
        expect((await loginFrom(server, user.email, user.password, household)).finish?.statusCode).toBe(200);
      } finally {
        await server.close();
      }
    });

    it('count failed recoveries in the same budget, and attempts refused for other reasons not at all', async () => {
      const clock = manualClock();
      const server = await startTestServer({
        clock,
        overrides: { rateLimits: { loginFailuresPerIp: { max: 2, windowMs: HOUR }, loginSlowdown: { freeFailures: 1, baseDelayMs: 60_000, maxDelayMs: HOUR } } },
      });
      try {
        const user = await registerUser(server.app);
        const address = '127.0.3.1';
        // A malformed start and starts the per-account slow-down refuses reach no password check: free.
        const malformed = await server.app.inject({ method: 'POST', url: '/v1/accounts/login/start', payload: { email: user.email, startLoginRequest: MALFORMED_KE1 }, remoteAddress: address });
        expect(malformed.statusCode).toBe(400);
        expect((await loginFrom(server, user.email, 'wrong', address)).finish?.statusCode).toBe(401);
        for (let i = 0; i < 3; i++) expect((await startLogin(server, user.email, address)).statusCode).toBe(429);
        // One failed recovery uses the second unit.
        const { registrationRequest } = opaque.client.startRegistration({ password: 'new password' });
        const recover = (proof: string) => server.app.inject({ method: 'POST', url: '/v1/accounts/recover/start', payload: { email: user.email, recoveryProof: proof, registrationRequest }, remoteAddress: address });
        expect((await recover(b64(32))).statusCode).toBe(401);
        // The budget is spent: the right recovery code is refused from this address until the window ends.
        const refused = await recover(user.recoveryProof);
        expect(refused.statusCode).toBe(429);
        expect(refused.json()).toMatchObject({ type: 'urn:burrow:problem:rate-limited' });
        clock.advance(HOUR);
        expect((await recover(user.recoveryProof)).statusCode).toBe(200);
      } finally {
        await server.close();
      }
    });
  });
});
