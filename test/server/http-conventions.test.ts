import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, routesOf } from '../../src/server/app.js';
import { loadConfig } from '../../src/server/config.js';
import { b64, bearer, login, registerUser, startTestServer, type TestServer } from './helpers.js';

let server: TestServer;
beforeAll(async () => { server = await startTestServer(); });
afterAll(async () => { await server.close(); });

describe('every response', () => {
  it('carries the security headers, on success, on problems and on unknown paths', async () => {
    for (const url of ['/v1/openapi.json', '/v1/accounts/me', '/nowhere', '/healthz']) {
      const answer = await server.app.inject({ method: 'GET', url });
      expect(answer.headers['content-security-policy'], url).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(answer.headers['x-content-type-options'], url).toBe('nosniff');
      expect(answer.headers['x-frame-options'], url).toBe('DENY');
      expect(answer.headers['referrer-policy'], url).toBe('no-referrer');
      expect(answer.headers['cross-origin-opener-policy'], url).toBe('same-origin');
      expect(answer.headers['cross-origin-resource-policy'], url).toBe('same-origin');
      expect(answer.headers['permissions-policy'], url).toContain('microphone=(self)');
      expect(answer.headers['strict-transport-security'], url).toBeUndefined();
      expect(answer.headers['x-request-id'], url).toMatch(/^[A-Za-z0-9_-]{16}$/);
    }
    expect((await server.app.inject({ method: 'GET', url: '/v1/openapi.json' })).headers['cache-control']).toBe('no-store');
  });

  it('gets a request id of the server\'s choosing, not the client\'s', async () => {
    const answer = await server.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'forged-id' } });
    expect(answer.headers['x-request-id']).not.toBe('forged-id');
  });
});

describe('problems', () => {
  it('an unknown path is a 404 problem', async () => {
    const answer = await server.app.inject({ method: 'GET', url: '/v1/nothing-here' });
    expect(answer.statusCode).toBe(404);
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(answer.json()).toMatchObject({ type: 'urn:burrow:problem:not-found', status: 404, title: 'Not found' });
  });

  it('a known path with the wrong method is a 405 problem with Allow', async () => {
    const answer = await server.app.inject({ method: 'PUT', url: '/v1/accounts/me' });
    expect(answer.statusCode).toBe(405);
    expect(answer.headers.allow).toContain('GET');
    expect(answer.headers.allow).toContain('DELETE');
    expect(answer.json()).toMatchObject({ type: 'urn:burrow:problem:method-not-allowed' });
  });

  it('a validation failure names the field', async () => {
    const answer = await server.app.inject({ method: 'POST', url: '/v1/accounts/login/start', payload: { email: 'a@b.c', startLoginRequest: b64(32), extra: 1 } });
    expect(answer.statusCode).toBe(400);
    expect(answer.json()).toMatchObject({ type: 'urn:burrow:problem:bad-request', errors: [{ path: 'body/extra' }] });
  });

  it('an unexpected failure is a 500 with only the request id', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'burrow-boom-')), 'data');
    const config = loadConfig({ env: {}, flags: { data: dataDir } });
    const app = createServer({ config, store: server.store, secrets: server.secrets, blobs: server.backends.blobs, bus: server.backends.bus, log: false });
    app.get('/v1/test-failure', async () => { throw new Error('secret internal detail'); });
    await app.ready();
    const answer = await app.inject({ method: 'GET', url: '/v1/test-failure' });
    expect(answer.statusCode).toBe(500);
    expect(answer.body).not.toContain('secret internal detail');
    expect(answer.json()).toMatchObject({ type: 'urn:burrow:problem:internal', requestId: answer.headers['x-request-id'] });
    await app.close();
  });
});

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and lists every route with its schemas and problem responses', async () => {
    const answer = await server.app.inject({ method: 'GET', url: '/v1/openapi.json' });
    expect(answer.statusCode).toBe(200);
    const doc = answer.json<{ openapi: string; paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>> }>();
    expect(doc.openapi).toBe('3.1.0');
    for (const route of routesOf(server.app).filter((r) => r.method !== 'HEAD')) {
      const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const operation = doc.paths[path]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${route.url}`).toBeDefined();
      if (route.schema?.body !== undefined) expect(operation?.requestBody, route.url).toBeDefined();
      expect(Object.keys(operation!.responses)).toContain('400');
      expect(Object.keys(operation!.responses)).toContain('429');
      if (route.authenticated) expect(Object.keys(operation!.responses)).toContain('401');
    }
    expect(doc.paths['/v1/accounts/login/finish']?.post?.responses['401']).toBeDefined();
  });
});

describe('health', () => {
  it('/healthz and /readyz answer when the database is migrated', async () => {
    expect((await server.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await server.app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready' });
  });
});

describe('logs', () => {
  it('are JSON lines with a request id and never contain an email, password, token or cookie', async () => {
    const lines: string[] = [];
    const stream = new Writable({ write(chunk, _encoding, done) { lines.push(...String(chunk).split('\n').filter(Boolean)); done(); } });
    const logged = await startTestServer({ log: { stream, level: 'trace' } });
    try {
      const user = await registerUser(logged.app, 'Logged.Person@Example.org', 'correct horse battery');
      const cookieLogin = await login(logged.app, user.email, user.password, 'cookie');
      const cookie = String(cookieLogin.finish?.headers['set-cookie']).split(';')[0]!;
      await logged.app.inject({ method: 'GET', url: '/v1/accounts/me', headers: { ...bearer(user.token), cookie } });
      await login(logged.app, user.email, 'wrong password');
      expect(lines.length).toBeGreaterThan(5);
      const text = lines.join('\n').toLowerCase();
      for (const secret of ['logged.person', 'correct horse', 'wrong password', user.token.toLowerCase(), cookie.toLowerCase(), user.recoveryProof.toLowerCase()]) {
        expect(text).not.toContain(secret);
      }
      for (const line of lines) {
        const entry = JSON.parse(line) as { reqId?: string; req?: unknown };
        if (entry.req !== undefined) expect(entry.reqId).toBeDefined();
      }
    } finally {
      await logged.close();
    }
  });
});

describe('over TLS', () => {
  it('sends HSTS and marks the session cookie Secure', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'burrow-tls-'));
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    const tlsServer = await startTestServer({ overrides: { tls: { keyFile, certFile } } });
    try {
      const health = await tlsServer.app.inject({ method: 'GET', url: '/healthz' });
      expect(health.headers['strict-transport-security']).toContain('max-age=');
      const user = await registerUser(tlsServer.app);
      const { finish } = await login(tlsServer.app, user.email, user.password, 'cookie');
      expect(String(finish?.headers['set-cookie'])).toMatch(/; Secure$/);
    } finally {
      await tlsServer.close();
    }
  });
});
