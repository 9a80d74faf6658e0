import * as opaque from '@serenity-kit/opaque';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailLookupHash, normaliseEmail, openEmail } from '../../src/server/secrets.js';
import { b64, bearer, login, post, registerUser, sha256b64, startTestServer, TEST_KEY_STRETCHING, type TestServer } from './helpers.js';

let server: TestServer;
beforeAll(async () => { server = await startTestServer(); });
afterAll(async () => { await server.close(); });

function keysOf(value: unknown): string[] {
  return Object.keys(value as object).sort();
}

describe('registration', () => {
  it('creates an account and a bearer session that can read the account', async () => {
    const user = await registerUser(server.app);
    const me = await server.app.inject({ method: 'GET', url: '/v1/accounts/me', headers: bearer(user.token) });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ accountId: user.accountId, sealedIdentity: user.sealedIdentity });
  });

  it('refuses a second account for the same email, whatever its case and spaces', async () => {
    const user = await registerUser(server.app, 'Twice@Example.org');
    await opaque.ready;
    const { registrationRequest } = opaque.client.startRegistration({ password: 'another' });
    const again = await post(server.app, '/v1/accounts/register/start', { email: `  ${user.email.toUpperCase()} `, registrationRequest });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ type: 'urn:burrow:problem:account-exists' });
  });

  it('stores the email only sealed and as a keyed hash, openable with the server key', async () => {
    const user = await registerUser(server.app, 'Sealed.Person@Example.org');
    const row = await server.store.db.selectFrom('accounts').selectAll().where('id', '=', user.accountId).executeTakeFirstOrThrow();
    expect(JSON.stringify(row).toLowerCase()).not.toContain('sealed.person');
    expect(row.email_lookup).toBe(emailLookupHash(server.secrets, normaliseEmail(user.email)));
    expect(openEmail(server.secrets, user.accountId, row.email_sealed)).toBe('sealed.person@example.org');
  });

  it('hands a web session over as an HttpOnly SameSite=Strict cookie and leaves the token out of the body', async () => {
    await opaque.ready;
    const email = `cookie-${b64(6)}@example.org`;
    const password = 'cookie password';
    const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({ password });
    const start = await post(server.app, '/v1/accounts/register/start', { email, registrationRequest });
    const { registrationRecord } = opaque.client.finishRegistration({ clientRegistrationState, registrationResponse: start.json<{ registrationResponse: string }>().registrationResponse, password, keyStretching: TEST_KEY_STRETCHING });
    const proof = b64(32);
    const finish = await post(server.app, '/v1/accounts/register/finish', {
      email, registrationRecord, identity: { signingKey: b64(32), agreementKey: b64(32) }, sealedIdentity: b64(64),
      recoverySealedIdentity: b64(64), recoveryVerifier: sha256b64(proof), tokenDelivery: 'cookie',
    });
    expect(finish.statusCode).toBe(201);
    expect(finish.json()).not.toHaveProperty('token');
    const cookie = String(finish.headers['set-cookie']);
    expect(cookie).toMatch(/^burrow_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
    const token = /burrow_session=([^;]+)/.exec(cookie)![1]!;
    const me = await server.app.inject({ method: 'GET', url: '/v1/accounts/me', headers: { cookie: `burrow_session=${token}` } });
    expect(me.statusCode).toBe(200);
  });

  it('refuses a registration record the OPAQUE library cannot use, and stores nothing', async () => {
    const before = await server.store.db.selectFrom('accounts').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    const proof = b64(32);
    const finish = await post(server.app, '/v1/accounts/register/finish', {
      email: `bad-record-${b64(6)}@example.org`, registrationRecord: b64(100), identity: { signingKey: b64(32), agreementKey: b64(32) },
      sealedIdentity: b64(64), recoverySealedIdentity: b64(64), recoveryVerifier: sha256b64(proof), tokenDelivery: 'bearer',
    });
    expect(finish.statusCode).toBe(400);
    const after = await server.store.db.selectFrom('accounts').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });
});

describe('login', () => {
  it('succeeds with the right password and returns the sealed identity', async () => {
    const user = await registerUser(server.app);
    const { finish, clientResult } = await login(server.app, user.email, user.password);
    expect(clientResult).toBeDefined();
    expect(finish?.statusCode).toBe(200);
    expect(finish?.json()).toMatchObject({ accountId: user.accountId, sealedIdentity: user.sealedIdentity });
    expect(finish?.json<{ token: string }>().token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('answers an unknown email exactly like a wrong password, at every step the server sees', async () => {
    const user = await registerUser(server.app);
    const wrong = await login(server.app, user.email, 'not the password');
    const unknown = await login(server.app, `nobody-${b64(6)}@example.org`, 'not the password');
    expect(unknown.start.statusCode).toBe(wrong.start.statusCode);
    expect(keysOf(unknown.start.json())).toEqual(keysOf(wrong.start.json()));
    expect(unknown.start.json<{ loginResponse: string }>().loginResponse.length).toBe(wrong.start.json<{ loginResponse: string }>().loginResponse.length);
    expect(unknown.finish?.statusCode).toBe(401);
    expect(wrong.finish?.statusCode).toBe(401);
    expect(unknown.finish?.json()).toEqual(wrong.finish?.json());
    expect(keysOf(unknown.finish?.headers)).toEqual(keysOf(wrong.finish?.headers));
  });

  it('cannot be finished for an unknown email, even with a well-formed finish message', async () => {
    await opaque.ready;
    const { startLoginRequest } = opaque.client.startLogin({ password: 'anything' });
    const start = await post(server.app, '/v1/accounts/login/start', { email: `ghost-${b64(6)}@example.org`, startLoginRequest });
    const { loginId } = start.json<{ loginId: string }>();
    const finish = await post(server.app, '/v1/accounts/login/finish', { loginId, finishLoginRequest: b64(64), tokenDelivery: 'bearer' });
    expect(finish.statusCode).toBe(401);
    expect(finish.json()).toMatchObject({ type: 'urn:burrow:problem:login-failed' });
  });

  it('answers login-expired for an unknown login id, and a login id works only once', async () => {
    const unknown = await post(server.app, '/v1/accounts/login/finish', { loginId: b64(16), finishLoginRequest: b64(64), tokenDelivery: 'bearer' });
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json()).toMatchObject({ type: 'urn:burrow:problem:login-expired' });

    const user = await registerUser(server.app);
    await opaque.ready;
    const { clientLoginState, startLoginRequest } = opaque.client.startLogin({ password: user.password });
    const start = await post(server.app, '/v1/accounts/login/start', { email: user.email, startLoginRequest });
    const { loginId, loginResponse } = start.json<{ loginId: string; loginResponse: string }>();
    const result = opaque.client.finishLogin({ clientLoginState, loginResponse, password: user.password, keyStretching: TEST_KEY_STRETCHING })!;
    const first = await post(server.app, '/v1/accounts/login/finish', { loginId, finishLoginRequest: result.finishLoginRequest, tokenDelivery: 'bearer' });
    expect(first.statusCode).toBe(200);
    const replay = await post(server.app, '/v1/accounts/login/finish', { loginId, finishLoginRequest: result.finishLoginRequest, tokenDelivery: 'bearer' });
    expect(replay.json()).toMatchObject({ type: 'urn:burrow:problem:login-expired' });
  });
  /** A login with the right password, its start and its finish apart, so a test can act in between. */
  async function startedLogin(email: string, password: string) {
    await opaque.ready;
    const { clientLoginState, startLoginRequest } = opaque.client.startLogin({ password });
    const start = await post(server.app, '/v1/accounts/login/start', { email, startLoginRequest });
    const { loginId, loginResponse } = start.json<{ loginId: string; loginResponse: string }>();
    const result = opaque.client.finishLogin({ clientLoginState, loginResponse, password, keyStretching: TEST_KEY_STRETCHING })!;
    return { finish: () => post(server.app, '/v1/accounts/login/finish', { loginId, finishLoginRequest: result.finishLoginRequest, tokenDelivery: 'bearer' }) };
  }

  async function sessionsOf(accountId: string): Promise<number> {
    const rows = await server.store.db.selectFrom('sessions').select('id').where('account_id', '=', accountId).execute();
    return rows.length;
  }

  it('a login started before the account was disabled does not finish, and starts no session', async () => {
    const user = await registerUser(server.app);
    const pending = await startedLogin(user.email, user.password);
    await server.store.db.updateTable('accounts').set({ disabled_at: 1 }).where('id', '=', user.accountId).execute();
    await server.store.db.deleteFrom('sessions').where('account_id', '=', user.accountId).execute();
    const finish = await pending.finish();
    expect(finish.statusCode).toBe(403);
    expect(finish.json()).toMatchObject({ type: 'urn:burrow:problem:account-disabled' });
    expect(await sessionsOf(user.accountId)).toBe(0);
  });

  it('a login started with the old password before a recovery replaced it does not finish', async () => {
    const user = await registerUser(server.app);
    const pending = await startedLogin(user.email, user.password);
    const other = await registerUser(server.app);
    // What a recovery writes: a new OPAQUE record (here another account's, as good as any) and no sessions.
    const replaced = await server.store.db.selectFrom('accounts').select('opaque_record').where('id', '=', other.accountId).executeTakeFirstOrThrow();
    await server.store.db.updateTable('accounts').set({ opaque_record: replaced.opaque_record }).where('id', '=', user.accountId).execute();
    await server.store.db.deleteFrom('sessions').where('account_id', '=', user.accountId).execute();
    const finish = await pending.finish();
    expect(finish.statusCode).toBe(401);
    expect(finish.json()).toMatchObject({ type: 'urn:burrow:problem:login-failed' });
    expect(await sessionsOf(user.accountId)).toBe(0);
  });

  it('a login whose account was deleted after its start does not finish', async () => {
    const user = await registerUser(server.app);
    const pending = await startedLogin(user.email, user.password);
    await server.store.db.deleteFrom('sessions').where('account_id', '=', user.accountId).execute();
    await server.store.db.deleteFrom('accounts').where('id', '=', user.accountId).execute();
    const finish = await pending.finish();
    expect(finish.statusCode).toBe(401);
    expect(await sessionsOf(user.accountId)).toBe(0);
  });
});

describe('recovery', () => {
  async function recover(email: string, proof: string, newPassword: string) {
    await opaque.ready;
    const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({ password: newPassword });
    const start = await post(server.app, '/v1/accounts/recover/start', { email, recoveryProof: proof, registrationRequest });
    if (start.statusCode !== 200) return { start, finish: undefined };
    const { registrationRecord } = opaque.client.finishRegistration({ clientRegistrationState, registrationResponse: start.json<{ registrationResponse: string }>().registrationResponse, password: newPassword, keyStretching: TEST_KEY_STRETCHING });
    const newProof = b64(32);
    const finish = await post(server.app, '/v1/accounts/recover/finish', {
      email, recoveryProof: proof, registrationRecord, sealedIdentity: b64(80), recoverySealedIdentity: b64(80),
      recoveryVerifier: sha256b64(newProof), tokenDelivery: 'bearer',
    });
    return { start, finish, newProof };
  }

  it('sets a new password with the recovery code and ends every earlier session', async () => {
    const user = await registerUser(server.app);
    const { start, finish } = await recover(user.email, user.recoveryProof, 'brand new password');
    expect(start.json()).toHaveProperty('recoverySealedIdentity');
    expect(finish?.statusCode).toBe(200);
    const old = await server.app.inject({ method: 'GET', url: '/v1/accounts/me', headers: bearer(user.token) });
    expect(old.statusCode).toBe(401);
    expect((await login(server.app, user.email, 'brand new password')).finish?.statusCode).toBe(200);
    expect((await login(server.app, user.email, user.password)).finish?.statusCode).toBe(401);
  });

  it('answers a wrong code exactly like an unknown email', async () => {
    const user = await registerUser(server.app);
    const wrong = await recover(user.email, b64(32), 'x');
    const unknown = await recover(`nobody-${b64(6)}@example.org`, b64(32), 'x');
    expect(wrong.start.statusCode).toBe(401);
    expect(unknown.start.json()).toEqual(wrong.start.json());
    expect(wrong.start.json()).toMatchObject({ type: 'urn:burrow:problem:recovery-failed' });
  });
});

describe('the signed-in account', () => {
  it('can log out, after which its token no longer works and the cookie is cleared', async () => {
    const user = await registerUser(server.app);
    const out = await post(server.app, '/v1/accounts/logout', undefined, bearer(user.token));
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    const me = await server.app.inject({ method: 'GET', url: '/v1/accounts/me', headers: bearer(user.token) });
    expect(me.statusCode).toBe(401);
  });

  it('is deleted with every session only when the body confirms it', async () => {
    const user = await registerUser(server.app);
    const unconfirmed = await server.app.inject({ method: 'DELETE', url: '/v1/accounts/me', headers: bearer(user.token), payload: { confirm: 'yes' } });
    expect(unconfirmed.statusCode).toBe(400);
    const deleted = await server.app.inject({ method: 'DELETE', url: '/v1/accounts/me', headers: bearer(user.token), payload: { confirm: 'delete my account' } });
    expect(deleted.statusCode).toBe(204);
    expect(await server.store.db.selectFrom('accounts').selectAll().where('id', '=', user.accountId).execute()).toEqual([]);
    expect(await server.store.db.selectFrom('sessions').selectAll().where('account_id', '=', user.accountId).execute()).toEqual([]);
    expect((await login(server.app, user.email, user.password)).finish?.statusCode).toBe(401);
  });

  it('refuses a cookie-authenticated change that is not sent as JSON (CSRF)', async () => {
    const user = await registerUser(server.app);
    const { finish } = await login(server.app, user.email, user.password, 'cookie');
    const token = /burrow_session=([^;]+)/.exec(String(finish?.headers['set-cookie']))![1]!;
    const forged = await server.app.inject({ method: 'POST', url: '/v1/accounts/logout', headers: { cookie: `burrow_session=${token}` } });
    expect(forged.statusCode).toBe(403);
    const asForm = await server.app.inject({ method: 'POST', url: '/v1/sessions/revoke-all', headers: { cookie: `burrow_session=${token}`, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=b' });
    expect(asForm.statusCode).toBeGreaterThanOrEqual(400);
    expect(asForm.statusCode).toBeLessThan(500);
    const me = await server.app.inject({ method: 'GET', url: '/v1/accounts/me', headers: { cookie: `burrow_session=${token}` } });
    expect(me.statusCode).toBe(200);
    const real = await server.app.inject({ method: 'POST', url: '/v1/accounts/logout', headers: { cookie: `burrow_session=${token}`, 'content-type': 'application/json' }, payload: '{}' });
    expect(real.statusCode).toBe(204);
  });

  it('is refused without a session', async () => {
    const me = await server.app.inject({ method: 'GET', url: '/v1/accounts/me' });
    expect(me.statusCode).toBe(401);
    expect(me.headers['content-type']).toMatch(/^application\/problem\+json/);
    const forged = await server.app.inject({ method: 'GET', url: '/v1/accounts/me', headers: bearer(b64(32)) });
    expect(forged.statusCode).toBe(401);
    // Non-canonical base64url (non-zero unused bits) in a token or a cookie is a 401, not a 500.
    for (const headers of [bearer(`${'A'.repeat(42)}B`), { cookie: `burrow_session=${'A'.repeat(42)}B` }, { authorization: 'Basic abc' }]) {
      const answer = await server.app.inject({ method: 'GET', url: '/v1/accounts/me', headers });
      expect(answer.statusCode).toBe(401);
    }
  });
});
