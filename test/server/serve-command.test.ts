/**
 * The built CLI, as an operator runs it: `burrow serve --data <tmp> --port 0` in a child process
 * (test/support/serve.ts). Needs `dist/` (npm test builds it first).
 */
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as opaque from '@serenity-kit/opaque';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForOutput } from '../support/cli.js';
import { startBurrowServe, type ServeProcess } from '../support/serve.js';
import { b64, sha256b64 } from './helpers.js';

let server: ServeProcess;
let baseUrl: string;
let dataDir: string;

async function postJson(url: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const answer = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: answer.status, json: await answer.json() };
}

beforeAll(async () => {
  dataDir = join(mkdtempSync(join(tmpdir(), 'burrow-cli-')), 'data');
  server = await startBurrowServe({ dataDir, env: { BURROW_METRICS_LISTEN: '127.0.0.1:0' } });
  baseUrl = server.url;
}, 60_000);

afterAll(async () => {
  await server?.kill();
});

describe('burrow serve', () => {
  it('serves /healthz and the OpenAPI document', async () => {
    const health = await fetch(`${baseUrl}/healthz`);
    expect(health.status).toBe(200);
    const doc = await fetch(`${baseUrl}/v1/openapi.json`);
    expect(doc.status).toBe(200);
    expect(((await doc.json()) as { openapi: string }).openapi).toBe('3.1.0');
  });

  it('creates the data directory 0700, the secrets file 0600 and the database 0600', () => {
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dataDir, 'secrets.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'burrow.db')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'blobs')).isDirectory()).toBe(true);
  });

  it('keeps every secret of the secrets file, and the email, out of the database files', async () => {
    await opaque.ready;
    const email = 'Dump.Marker.Person@Example.org';
    const password = 'dump marker password';
    const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({ password });
    const start = await postJson(`${baseUrl}/v1/accounts/register/start`, { email, registrationRequest });
    expect(start.status).toBe(200);
    const { registrationRecord } = opaque.client.finishRegistration({ clientRegistrationState, registrationResponse: (start.json as { registrationResponse: string }).registrationResponse, password });
    const finish = await postJson(`${baseUrl}/v1/accounts/register/finish`, {
      email, registrationRecord, identity: { signingKey: b64(32), agreementKey: b64(32) }, sealedIdentity: b64(64),
      recoverySealedIdentity: b64(64), recoveryVerifier: sha256b64(b64(32)), tokenDelivery: 'bearer',
    });
    expect(finish.status).toBe(201);
    const token = (finish.json as { token: string }).token;

    const secrets = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as Record<string, string>;
    const needles: string[] = [];
    for (const field of ['serverSetup', 'cookieKey', 'emailKey']) {
      const bytes = Buffer.from(secrets[field]!, 'base64url');
      needles.push(secrets[field]!, bytes.toString('base64'), bytes.toString('base64').replace(/=+$/, ''), bytes.toString('hex'), bytes.toString('hex').toUpperCase());
      // Any 16-byte window of the raw secret.
      needles.push(bytes.subarray(0, 16).toString('latin1'), bytes.subarray(bytes.length - 16).toString('latin1'));
    }
    needles.push(email.toLowerCase(), email, token, password);
    const files = ['burrow.db', 'burrow.db-wal', 'burrow.db-shm'].map((f) => join(dataDir, f)).filter((f) => existsSync(f));
    const haystack = files.map((f) => readFileSync(f).toString('latin1')).join('\n');
    expect(haystack.length).toBeGreaterThan(0);
    for (const needle of needles) expect(haystack.includes(needle), 'a secret is in the database files').toBe(false);
    // The account really is in there (so the search would have found something).
    expect(haystack).toContain(registrationRecord.slice(0, 40));
  });

  it('serves Prometheus metrics on their own listener when BURROW_METRICS_LISTEN is set', async () => {
    const url = (await waitForOutput(server.stdout, /Prometheus metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/, server.exited))[1]!;
    expect(new URL(url).port).not.toBe(new URL(baseUrl).port);
    const text = await (await fetch(url)).text();
    expect(text).toMatch(/^burrow_http_requests_total\{route="\/v1\/accounts\/register\/finish",method="POST",status="201"\} 1$/m);
    expect(text).toMatch(/^burrow_sweeper_runs_total\{sweeper="messages",result="ok"\} [1-9]/m);
    expect(text).toMatch(/^burrow_db_statement_duration_seconds_count\{dialect="sqlite",kind="insert",result="ok"\} [1-9]/m);
    expect(text).not.toContain('Example.org');
  });

  it('finishes a request in flight on SIGTERM, then exits 0', async () => {
    await opaque.ready;
    const { startLoginRequest } = opaque.client.startLogin({ password: 'x' });
    const body = JSON.stringify({ email: 'slow@example.org', startLoginRequest });
    const { port } = new URL(baseUrl);
    const answered = new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/accounts/login/start', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      // Half the body now, the rest after the server was told to stop: a slow client mid-request.
      req.write(body.slice(0, 20));
      setTimeout(() => {
        server.child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(20)), 300);
      }, 300);
    });
    expect(await answered).toBe(200);
    expect(await server.exited).toBe(0);
  });
});
