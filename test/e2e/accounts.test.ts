import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AccountError,
  deleteAccount,
  listSessions,
  loginAccount,
  logout,
  recoverAccount,
  registerAccount,
  resumeSession,
  revokeAllSessions,
  revokeSession,
} from '../../src/client/account.js';
import { ApiError, BurrowApi, NetworkError } from '../../src/client/api.js';
import { MemorySessionStore } from '../../src/client/session-store.js';
import { randomBytes, toBase64Url, toHex } from '../../src/crypto/bytes.js';
import { exportIdentitySecret, type Identity } from '../../src/crypto/identity.js';
import { fetchWithoutKeepAlive, startServer, type RunningServer } from './accounts-harness.js';

let server: RunningServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.close();
});

let counter = 0;
/** A fresh email and a password that passes the policy. */
function newUser(): { email: string; password: string } {
  counter += 1;
  return { email: `user-${counter}-${toHex(randomBytes(4))}@example.org`, password: `amber ${toHex(randomBytes(3))} lantern orbit ${counter}` };
}

function api(options: { fetch?: typeof fetch } = {}): BurrowApi {
  return new BurrowApi({ baseUrl: server.url, fetch: fetchWithoutKeepAlive, ...options });
}

async function secretOf(identity: Identity): Promise<string> {
  return toHex(await exportIdentitySecret(identity));
}

/** The parts of an error a caller (or an attacker) can observe. */
function observable(error: unknown): unknown {
  if (!(error instanceof ApiError)) return { notAnApiError: String(error) };
  return { name: error.name, message: error.message, problem: error.problem, code: error.code, status: error.status, keys: Object.keys(error).sort() };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('accounts through the client library against a real server', { timeout: 120_000 }, () => {
  it('register, logout, then login on a second profile restores the same identity', async () => {
    const user = newUser();
    const firstProfile = new MemorySessionStore();
    const first = api();
    const registration = await registerAccount({ api: first, ...user, sessionLabel: 'first device', store: firstProfile });
    expect(registration.session.token).toBeDefined();
    expect((await first.me()).accountId).toBe(registration.session.accountId);
    expect((await firstProfile.load())?.accountId).toBe(registration.session.accountId);

    await logout({ api: first, store: firstProfile });
    expect(await firstProfile.load()).toBeUndefined();
    const stale = api().withToken(registration.session.token);
    expect(await failure(stale.me())).toMatchObject({ code: 'burrow/unauthenticated', status: 401 });

    const secondProfile = new MemorySessionStore();
    const second = api();
    const login = await loginAccount({ api: second, ...user, sessionLabel: 'second device', store: secondProfile });
    expect(login.session.accountId).toBe(registration.session.accountId);
    expect(login.session.identity).toEqual(registration.session.identity);
    expect(toHex(login.identity.publicKeys.signingKey)).toBe(toHex(registration.identity.publicKeys.signingKey));
    expect(toHex(login.identity.publicKeys.agreementKey)).toBe(toHex(registration.identity.publicKeys.agreementKey));
    expect(await secretOf(login.identity)).toBe(await secretOf(registration.identity));

    const resumed = await resumeSession(secondProfile);
    expect(resumed.session.accountId).toBe(registration.session.accountId);
    expect(await secretOf(resumed.identity)).toBe(await secretOf(registration.identity));
    expect((await resumed.api.me()).accountId).toBe(registration.session.accountId);
  });

  it('a wrong password fails with burrow/login-failed and grants no session', async () => {
    const user = newUser();
    await registerAccount({ api: api(), ...user });
    const store = new MemorySessionStore();
    const client = api();
    const error = await failure(loginAccount({ api: client, email: user.email, password: `${user.password}!`, store }));
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'burrow/login-failed', status: 401 });
    expect(client.token).toBeUndefined();
    expect(await store.load()).toBeUndefined();
  });

  it('an unknown email and a wrong password get identical answers', async () => {
    const user = newUser();
    await registerAccount({ api: api(), ...user });
    const wrongPassword = await failure(loginAccount({ api: api(), email: user.email, password: 'not the right passphrase at all' }));
    const unknownEmail = await failure(loginAccount({ api: api(), email: newUser().email, password: 'not the right passphrase at all' }));
    expect(observable(unknownEmail)).toEqual(observable(wrongPassword));
    expect(wrongPassword).toMatchObject({ code: 'burrow/login-failed' });
  });

  it('the first login step answers a known and an unknown email alike', async () => {
    const user = newUser();
    await registerAccount({ api: api(), ...user });
    const opaque = await import('@serenity-kit/opaque');
    await opaque.ready;
    const answers = [];
    for (const email of [user.email, newUser().email]) {
      const { startLoginRequest } = opaque.client.startLogin({ password: 'whatever it is' });
      const response = await fetchWithoutKeepAlive(`${server.url}/v1/accounts/login/start`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, startLoginRequest }),
      });
      const body = (await response.json()) as Record<string, string>;
      answers.push({ status: response.status, keys: Object.keys(body).sort(), lengths: Object.values(body).map((v) => v.length) });
    }
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[0]!.status).toBe(200);
  });

  it('a second registration with the same email is refused', async () => {
    const user = newUser();
    await registerAccount({ api: api(), ...user });
    const error = await failure(registerAccount({ api: api(), email: user.email.toUpperCase(), password: user.password }));
    expect(error).toMatchObject({ code: 'burrow/account-exists', status: 409 });
  });

  it('a weak password is refused before anything is sent to the server', async () => {
    let requests = 0;
    const counting: typeof fetch = (input, init) => {
      requests += 1;
      return fetchWithoutKeepAlive(input, init);
    };
    for (const password of ['qwe', '123456', 'password', 'cloudpets']) {
      const error = await failure(registerAccount({ api: api({ fetch: counting }), email: newUser().email, password }));
      expect(error).toBeInstanceOf(AccountError);
      expect(error).toMatchObject({ code: 'client/weak-password' });
      expect((error as AccountError).feedback.length).toBeGreaterThan(0);
    }
    expect(requests).toBe(0);
  });

  it('the recovery code sets a new password, keeps the identity and ends the other sessions', async () => {
    const user = newUser();
    const registration = await registerAccount({ api: api(), ...user });
    const otherDevice = api();
    await loginAccount({ api: otherDevice, ...user });

    const newPassword = 'quiet harbour violin seventeen';
    const typedSloppily = registration.recoveryCode.toLowerCase().replace(/-/g, ' ').replace(/0/g, 'o');
    const recovered = await recoverAccount({ api: api(), email: user.email, recoveryCode: typedSloppily, newPassword });
    expect(recovered.session.accountId).toBe(registration.session.accountId);
    expect(await secretOf(recovered.identity)).toBe(await secretOf(registration.identity));
    expect(recovered.recoveryCode).not.toBe(registration.recoveryCode);

    expect(await failure(otherDevice.me())).toMatchObject({ code: 'burrow/unauthenticated' });
    expect(await failure(loginAccount({ api: api(), ...user }))).toMatchObject({ code: 'burrow/login-failed' });
    const login = await loginAccount({ api: api(), email: user.email, password: newPassword });
    expect(await secretOf(login.identity)).toBe(await secretOf(registration.identity));

    const oldCode = await failure(recoverAccount({ api: api(), email: user.email, recoveryCode: registration.recoveryCode, newPassword: 'another long unusual passphrase' }));
    expect(oldCode).toMatchObject({ code: 'burrow/recovery-failed' });
    const again = await recoverAccount({ api: api(), email: user.email, recoveryCode: recovered.recoveryCode, newPassword: 'another long unusual passphrase' });
    expect(await secretOf(again.identity)).toBe(await secretOf(registration.identity));
  });

  it('a wrong recovery code and an unknown email get identical answers', async () => {
    const user = newUser();
    await registerAccount({ api: api(), ...user });
    const { generateRecoveryCode } = await import('../../src/client/recovery-code.js');
    const wrongCode = await failure(recoverAccount({ api: api(), email: user.email, recoveryCode: generateRecoveryCode(), newPassword: 'quiet harbour violin seventeen' }));
    const unknownEmail = await failure(recoverAccount({ api: api(), email: newUser().email, recoveryCode: generateRecoveryCode(), newPassword: 'quiet harbour violin seventeen' }));
    expect(wrongCode).toMatchObject({ code: 'burrow/recovery-failed', status: 401 });
    expect(observable(unknownEmail)).toEqual(observable(wrongCode));
    expect(await loginAccount({ api: api(), ...user })).toBeDefined();
  });

  it('sessions are listed with the current one marked, and can be revoked one by one or all at once', async () => {
    const user = newUser();
    const laptop = api();
    const registration = await registerAccount({ api: laptop, ...user, sessionLabel: 'laptop' });
    const phone = api();
    const phoneLogin = await loginAccount({ api: phone, ...user, sessionLabel: 'phone' });
    const tablet = api();
    await loginAccount({ api: tablet, ...user, sessionLabel: 'tablet' });

    const sessions = await listSessions(laptop);
    expect(sessions.map((s) => s.label).sort()).toEqual(['laptop', 'phone', 'tablet']);
    expect(sessions.filter((s) => s.current).map((s) => s.sessionId)).toEqual([registration.session.sessionId]);

    await revokeSession(laptop, phoneLogin.session.sessionId);
    expect(await failure(phone.me())).toMatchObject({ code: 'burrow/unauthenticated' });
    expect((await listSessions(laptop)).map((s) => s.label).sort()).toEqual(['laptop', 'tablet']);

    await revokeAllSessions(tablet);
    expect(await failure(laptop.me())).toMatchObject({ code: 'burrow/unauthenticated' });
    expect(await failure(tablet.me())).toMatchObject({ code: 'burrow/unauthenticated' });
  });

  it('works in cookie mode: the token stays out of the body and the cookie authenticates', async () => {
    let cookie: string | undefined;
    const jar: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers);
      if (cookie !== undefined) headers.set('cookie', cookie);
      const response = await fetchWithoutKeepAlive(input, { ...init, headers });
      const set = response.headers.get('set-cookie');
      if (set !== null) cookie = set.split(';')[0];
      return response;
    };
    const browser = new BurrowApi({ baseUrl: server.url, auth: 'cookie', fetch: jar });
    const user = newUser();
    const registration = await registerAccount({ api: browser, ...user });
    expect(registration.session.token).toBeUndefined();
    expect(cookie).toMatch(/^burrow_session=[A-Za-z0-9_-]{43}$/);
    expect((await browser.me()).accountId).toBe(registration.session.accountId);
    await logout({ api: browser });
    expect(await failure(browser.me())).toMatchObject({ code: 'burrow/unauthenticated' });

    const login = await loginAccount({ api: browser, ...user });
    expect(login.session.token).toBeUndefined();
    expect(await secretOf(login.identity)).toBe(await secretOf(registration.identity));
    expect((await browser.me()).accountId).toBe(registration.session.accountId);

    const phone = api();
    const phoneLogin = await loginAccount({ api: phone, ...user });
    await revokeSession(browser, phoneLogin.session.sessionId);
    expect(await failure(phone.me())).toMatchObject({ code: 'burrow/unauthenticated' });
    await revokeAllSessions(browser);
    expect(await failure(browser.me())).toMatchObject({ code: 'burrow/unauthenticated' });
  });

  it("one account cannot revoke another account's session", async () => {
    const alice = api();
    await registerAccount({ api: alice, ...newUser() });
    const bob = api();
    const bobs = await registerAccount({ api: bob, ...newUser() });
    expect(await failure(revokeSession(alice, bobs.session.sessionId))).toMatchObject({ status: 404 });
    expect((await bob.me()).accountId).toBe(bobs.session.accountId);
  });

  it('a deleted account can no longer sign in, and its email can register again', async () => {
    const user = newUser();
    const client = api();
    const store = new MemorySessionStore();
    const registration = await registerAccount({ api: client, ...user, store });
    const stale = api().withToken(registration.session.token);
    await deleteAccount({ api: client, store });
    expect(await store.load()).toBeUndefined();
    expect(await failure(stale.me())).toMatchObject({ code: 'burrow/unauthenticated' });
    expect(await failure(loginAccount({ api: api(), ...user }))).toMatchObject({ code: 'burrow/login-failed' });
    const again = await registerAccount({ api: api(), ...user });
    expect(again.session.accountId).not.toBe(registration.session.accountId);
  });
});

describe('the client against a hostile server', { timeout: 120_000 }, () => {
  /** A fetch that rewrites the JSON answer of one route. */
  function rewriting(path: string, rewrite: (body: Record<string, unknown>) => Record<string, unknown>): typeof fetch {
    return async (input, init) => {
      const response = await fetchWithoutKeepAlive(input, init);
      if (!String(input).endsWith(path) || !response.ok) return response;
      const body = rewrite((await response.json()) as Record<string, unknown>);
      return new Response(JSON.stringify(body), { status: response.status, headers: { 'content-type': 'application/json' } });
    };
  }

  it("refuses a login whose sealed identity is another account's", async () => {
    const victim = newUser();
    await registerAccount({ api: api(), ...victim });
    const other = newUser();
    const otherAccount = await registerAccount({ api: api(), ...other });
    const othersSealed = (await api().withToken(otherAccount.session.token).me()).sealedIdentity;
    const hostile = rewriting('/v1/accounts/login/finish', (body) => ({ ...body, sealedIdentity: othersSealed }));
    const error = await failure(loginAccount({ api: api({ fetch: hostile }), ...victim }));
    expect(error).toBeInstanceOf(AccountError);
    expect(error).toMatchObject({ code: 'client/unseal-failed' });
  });

  it('refuses a login whose public keys are not those of the sealed identity', async () => {
    const victim = newUser();
    await registerAccount({ api: api(), ...victim });
    const impostor = await registerAccount({ api: api(), ...newUser() });
    const hostile = rewriting('/v1/accounts/login/finish', (body) => ({ ...body, identity: impostor.session.identity }));
    const error = await failure(loginAccount({ api: api({ fetch: hostile }), ...victim }));
    expect(error).toMatchObject({ code: 'client/identity-mismatch' });
  });

  it('refuses a login whose sealed identity has one byte changed', async () => {
    const victim = newUser();
    await registerAccount({ api: api(), ...victim });
    const hostile = rewriting('/v1/accounts/login/finish', (body) => {
      const sealed = String(body.sealedIdentity);
      const flipped = sealed.slice(0, 10) + (sealed[10] === 'A' ? 'B' : 'A') + sealed.slice(11);
      return { ...body, sealedIdentity: flipped };
    });
    expect(await failure(loginAccount({ api: api({ fetch: hostile }), ...victim }))).toMatchObject({ code: 'client/unseal-failed' });
  });

  it('refuses an answer of the wrong shape', async () => {
    const victim = newUser();
    await registerAccount({ api: api(), ...victim });
    const hostile = rewriting('/v1/accounts/login/start', (body) => ({ ...body, loginId: 42 }));
    expect(await failure(loginAccount({ api: api({ fetch: hostile }), ...victim }))).toBeInstanceOf(NetworkError);
  });

  it('says clearly when the server cannot be reached', async () => {
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const unreachable = new BurrowApi({ baseUrl: `http://127.0.0.1:${port}` });
    const error = await failure(loginAccount({ api: unreachable, email: 'nobody@example.org', password: toBase64Url(randomBytes(16)) }));
    expect(error).toBeInstanceOf(NetworkError);
    expect(String((error as Error).message)).toMatch(new RegExp(`^cannot reach the server at http://127\\.0\\.0\\.1:${port}: `));
  });
});
