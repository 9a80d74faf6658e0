/**
 * Sign-up control (BURROW_REGISTRATION): who may create an account in each mode, one-time operator
 * codes, invites as passes, and disabled accounts. Runs on the embedded store and on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as opaque from '@serenity-kit/opaque';
import { issueRegistrationCode } from '../../src/server/accounts/registration.js';
import { loadConfig } from '../../src/server/config.js';
import { systemClock, systemRandom } from '../../src/server/deps.js';
import { b64, bearer, login, post, registerUser, startTestServer, type TestServer } from './helpers.js';
import { createFamily, createInvite, newPerson } from './families/fixtures.js';

async function tryRegister(server: TestServer, registrationPass?: string): Promise<number> {
  await opaque.ready;
  const { registrationRequest } = opaque.client.startRegistration({ password: 'a password for the test' });
  const start = await post(server.app, '/v1/accounts/register/start', { email: `someone-${b64(6)}@example.org`, registrationRequest, ...(registrationPass === undefined ? {} : { registrationPass }) });
  return start.statusCode;
}

describe('BURROW_REGISTRATION', () => {
  it('defaults to invite when the public origin is https, open otherwise, and refuses unknown modes', () => {
    expect(loadConfig({ env: {} }).registration).toBe('open');
    expect(loadConfig({ env: { BURROW_PUBLIC_ORIGIN: 'https://burrow.example' } }).registration).toBe('invite');
    expect(loadConfig({ env: { BURROW_PUBLIC_ORIGIN: 'https://burrow.example', BURROW_REGISTRATION: 'open' } }).registration).toBe('open');
    expect(() => loadConfig({ env: { BURROW_REGISTRATION: 'everyone' } })).toThrow(/BURROW_REGISTRATION must be one of open, invite, closed/);
  });
});

describe('an invite-only server', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ overrides: { registration: 'invite' } });
  });
  afterAll(async () => {
    await server.close();
  });

  it('says so to clients, and refuses a stranger without a pass before looking at the email', async () => {
    expect((await server.app.inject({ method: 'GET', url: '/v1/accounts/registration' })).json()).toEqual({ mode: 'invite' });
    await opaque.ready;
    const { registrationRequest } = opaque.client.startRegistration({ password: 'x' });
    const answer = await post(server.app, '/v1/accounts/register/start', { email: 'stranger@example.org', registrationRequest });
    expect(answer.statusCode).toBe(403);
    expect(answer.json()).toMatchObject({ type: 'urn:burrow:problem:registration-closed' });
    expect(await tryRegister(server, `reg_${b64(32)}`)).toBe(403);
  });

  it('lets in whoever holds an operator code, once', async () => {
    const { code } = await issueRegistrationCode({ db: server.store.db, clock: systemClock, random: systemRandom, hours: 1 });
    const user = await registerUser(server.app, undefined, undefined, { registrationPass: code });
    expect(user.accountId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await tryRegister(server, code)).toBe(403);
    const log = await server.store.db.selectFrom('operator_log').select('action').execute();
    expect(log.map((r) => r.action)).toContain('code-issued');
  });

  it('lets in whoever holds an open family invite, and not after it is revoked', async () => {
    const { code } = await issueRegistrationCode({ db: server.store.db, clock: systemClock, random: systemRandom, hours: 1 });
    const guardian = await newPerson(server.app, { registrationPass: code });
    const family = await createFamily(server.app, guardian);
    const inviteId = await createInvite(server.app, family, guardian, { role: 'relative', children: [], needsApproval: false });
    await registerUser(server.app, undefined, undefined, { registrationPass: inviteId });
    const revoked = await server.app.inject({ method: 'DELETE', url: `/v1/families/${family.familyId}/invites/${inviteId}`, headers: bearer(guardian.token) });
    expect(revoked.statusCode).toBe(204);
    expect(await tryRegister(server, inviteId)).toBe(403);
  });
});

describe('a closed server', () => {
  it('refuses everyone, codes included', async () => {
    const server = await startTestServer({ overrides: { registration: 'closed' } });
    try {
      const { code } = await issueRegistrationCode({ db: server.store.db, clock: systemClock, random: systemRandom, hours: 1 });
      expect(await tryRegister(server)).toBe(403);
      expect(await tryRegister(server, code)).toBe(403);
    } finally {
      await server.close();
    }
  });
});

describe('a disabled account', () => {
  it('cannot sign in (told so only after the password is proven) and can again once enabled', async () => {
    const server = await startTestServer();
    try {
      const user = await registerUser(server.app);
      await server.store.db.updateTable('accounts').set({ disabled_at: Date.now() }).where('id', '=', user.accountId).execute();
      const refused = await login(server.app, user.email, user.password);
      expect(refused.finish?.statusCode).toBe(403);
      expect(refused.finish?.json()).toMatchObject({ type: 'urn:burrow:problem:account-disabled' });
      const wrong = await login(server.app, user.email, 'not the password');
      expect(wrong.finish?.statusCode).toBe(401);
      await server.store.db.updateTable('accounts').set({ disabled_at: null }).where('id', '=', user.accountId).execute();
      expect((await login(server.app, user.email, user.password)).finish?.statusCode).toBe(200);
    } finally {
      await server.close();
    }
  });
});
