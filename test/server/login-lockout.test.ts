/**
 * The per-account login slow-down counts failed finishes only: a stranger who starts logins for
 * someone's email and never finishes them cannot lock the owner out, while wrong passwords that
 * are finished still slow the account down.
 */
import * as opaque from '@serenity-kit/opaque';
import { describe, expect, it } from 'vitest';
import { login, manualClock, registerUser, startTestServer } from './helpers.js';

describe('login lockout', () => {
  it('50 login starts without a finish, from many addresses, do not slow down the owner', async () => {
    const clock = manualClock();
    // The per-account window on starts (10 a minute as shipped) is a separate, fixed limit; it is
    // raised here so that only the slow-down is under test.
    const rateLimits = { perAccount: { max: 1_000, windowMs: 60_000 }, loginSlowdown: { freeFailures: 2, baseDelayMs: 10_000, maxDelayMs: 600_000 } };
    const server = await startTestServer({ clock, overrides: { rateLimits } });
    try {
      const owner = await registerUser(server.app);
      await opaque.ready;
      for (let i = 0; i < 50; i++) {
        const { startLoginRequest } = opaque.client.startLogin({ password: `guess ${i}` });
        const started = await server.app.inject({ method: 'POST', url: '/v1/accounts/login/start', payload: { email: owner.email, startLoginRequest }, remoteAddress: `127.0.${i}.9` });
        expect(started.statusCode).toBe(200);
      }
      expect((await login(server.app, owner.email, owner.password)).finish?.statusCode).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('failed finishes still slow the account down, and a success forgets them', async () => {
    const clock = manualClock();
    const server = await startTestServer({ clock, overrides: { rateLimits: { loginSlowdown: { freeFailures: 2, baseDelayMs: 10_000, maxDelayMs: 600_000 } } } });
    try {
      const owner = await registerUser(server.app);
      expect((await login(server.app, owner.email, 'wrong 1')).finish?.statusCode).toBe(401);
      expect((await login(server.app, owner.email, 'wrong 2')).finish?.statusCode).toBe(401);
      const slowed = await login(server.app, owner.email, owner.password);
      expect(slowed.start.statusCode).toBe(429);
      expect(Number(slowed.start.headers['retry-after'])).toBe(10);
      clock.advance(10_000);
      expect((await login(server.app, owner.email, owner.password)).finish?.statusCode).toBe(200);
      expect((await login(server.app, owner.email, 'wrong 3')).finish?.statusCode).toBe(401);
      expect((await login(server.app, owner.email, owner.password)).finish?.statusCode).toBe(200);
    } finally {
      await server.close();
    }
  });
});
