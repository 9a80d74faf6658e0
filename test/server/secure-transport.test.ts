/**
 * Behind a TLS proxy: when the client came over https (an https public origin, or a listed proxy's
 * X-Forwarded-Proto), the session cookie is `__Host-` and Secure and every answer carries HSTS;
 * a peer that is no listed proxy cannot claim https, and a plain-named cookie (one a sibling
 * subdomain could plant) is not accepted over https.
 */
import * as opaque from '@serenity-kit/opaque';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config, DeepPartial } from '../../src/server/config.js';
import { registerUser, startTestServer, TEST_KEY_STRETCHING, type TestServer } from './helpers.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(overrides: DeepPartial<Config>): Promise<TestServer> {
  server = await startTestServer({ overrides });
  return server;
}

/** Logs in with cookie delivery from `remoteAddress` with `headers`; returns the Set-Cookie header and the HSTS header. */
async function cookieLogin(s: TestServer, options: { remoteAddress?: string; headers?: Record<string, string> } = {}) {
  const user = await registerUser(s.app);
  await opaque.ready;
  const { clientLoginState, startLoginRequest } = opaque.client.startLogin({ password: user.password });
  const request = { remoteAddress: options.remoteAddress ?? '127.0.0.1', headers: options.headers ?? {} };
  const begun = await s.app.inject({ method: 'POST', url: '/v1/accounts/login/start', payload: { email: user.email, startLoginRequest }, ...request });
  const { loginId, loginResponse } = begun.json<{ loginId: string; loginResponse: string }>();
  const finishLoginRequest = opaque.client.finishLogin({ clientLoginState, loginResponse, password: user.password, keyStretching: TEST_KEY_STRETCHING })!.finishLoginRequest;
  const finished = await s.app.inject({ method: 'POST', url: '/v1/accounts/login/finish', payload: { loginId, finishLoginRequest, tokenDelivery: 'cookie' }, ...request });
  expect(finished.statusCode).toBe(200);
  const setCookie = String(finished.headers['set-cookie']);
  const token = /=([A-Za-z0-9_-]{43});/.exec(setCookie)?.[1];
  return { setCookie, token: token!, hsts: finished.headers['strict-transport-security'], request };
}

function me(s: TestServer, cookie: string, request: { remoteAddress: string; headers: Record<string, string> }) {
  return s.app.inject({ method: 'GET', url: '/v1/accounts/me', ...request, headers: { ...request.headers, cookie } });
}

describe('the session cookie and HSTS', () => {
  it('with an https public origin: __Host- prefix, Secure, Path=/, no Domain, HSTS; a plain-named cookie is not accepted', async () => {
    // Registration stays open here: an https origin alone would make it invite-only.
    const s = await start({ live: { publicOrigin: 'https://burrow.example' }, registration: 'open' });
    const { setCookie, token, hsts, request } = await cookieLogin(s);
    expect(setCookie).toMatch(/^__Host-burrow_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict; Secure$/);
    expect(setCookie).not.toMatch(/domain=/i);
    expect(hsts).toBe('max-age=63072000; includeSubDomains');
    expect((await s.app.inject({ method: 'GET', url: '/healthz' })).headers['strict-transport-security']).toBeDefined();
    expect((await me(s, `__Host-burrow_session=${token}`, request)).statusCode).toBe(200);
    // A cookie without the prefix could have been set by a sibling subdomain or a plain-HTTP page.
    expect((await me(s, `burrow_session=${token}`, request)).statusCode).toBe(401);
    const out = await s.app.inject({ method: 'POST', url: '/v1/accounts/logout', ...request, headers: { cookie: `__Host-burrow_session=${token}`, 'content-type': 'application/json' }, payload: {} });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^__Host-burrow_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict; Secure$/);
  });

  it('behind a listed proxy that says X-Forwarded-Proto: https, the same', async () => {
    const s = await start({ trustProxy: ['127.0.0.1'] });
    const { setCookie, token, hsts, request } = await cookieLogin(s, { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '192.0.2.44' } });
    expect(setCookie).toMatch(/^__Host-burrow_session=.*; Secure$/);
    expect(hsts).toBeDefined();
    expect((await me(s, `__Host-burrow_session=${token}`, request)).statusCode).toBe(200);
  });

  it('a peer that is no listed proxy cannot claim https: plain cookie, no Secure, no HSTS', async () => {
    const s = await start({ trustProxy: ['10.9.9.9'] });
    const { setCookie, hsts } = await cookieLogin(s, { remoteAddress: '127.0.0.5', headers: { 'x-forwarded-proto': 'https' } });
    expect(setCookie).toMatch(/^burrow_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
    expect(hsts).toBeUndefined();
  });

  it('over plain HTTP on loopback (development): burrow_session, not Secure, no HSTS', async () => {
    const s = await start({});
    const { setCookie, token, hsts, request } = await cookieLogin(s);
    expect(setCookie).toMatch(/^burrow_session=.*SameSite=Strict$/);
    expect(hsts).toBeUndefined();
    expect((await me(s, `burrow_session=${token}`, request)).statusCode).toBe(200);
    expect((await me(s, `__Host-burrow_session=${token}`, request)).statusCode).toBe(401);
  });
});
