/**
 * The API documents: the OpenAPI 3.1 document is valid (@seriousme/openapi-schema-validator), the
 * AsyncAPI 3.0 document is valid (the official JSON schema from @asyncapi/specs, with ajv), both
 * pass `redocly lint`; every route of the registry is described (a new route without what the
 * document needs fails here, naming what to add); and the conformance check that every test
 * server (test/server/helpers.ts), the authorisation matrix and the live tests run on every answer
 * really fails on an undocumented one.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest, Agent } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { schemasWithoutId as asyncApiSchemas } from '@asyncapi/specs';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, routesOf } from '../../src/server/app.js';
import { loadConfig } from '../../src/server/config.js';
import { openApiPath, TAGS } from '../../src/server/http/openapi.js';
import { addFormats, createOpenApiConformance } from '../support/api-conformance.js';
import { bearer, startTestServer, type TestServer } from './helpers.js';

type Json = Record<string, unknown>;
interface Operation { operationId?: string; summary?: string; description?: string; tags?: string[]; security?: unknown[]; responses: Record<string, Json> }

let server: TestServer;
let openApi: Json;
let asyncApi: Json;
beforeAll(async () => {
  server = await startTestServer();
  openApi = (await server.app.inject({ method: 'GET', url: '/v1/openapi.json' })).json();
  asyncApi = (await server.app.inject({ method: 'GET', url: '/v1/asyncapi.json' })).json();
});
afterAll(async () => { await server.close(); });

const copy = <T>(value: T): T => structuredClone(value);

function validateAsyncApi(doc: unknown): { valid: boolean; errors: string } {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const validate = ajv.compile(asyncApiSchemas['3.0.0'] as object);
  const valid = validate(doc);
  return { valid, errors: ajv.errorsText(validate.errors) };
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1, and the validator refuses a broken copy', async () => {
    expect(openApi.openapi).toBe('3.1.0');
    const result = await new Validator().validate(copy(openApi));
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    expect(result.valid).toBe(true);
    const broken = copy(openApi) as { paths: Record<string, Record<string, { responses: unknown }>> };
    broken.paths['/healthz']!.get!.responses = 'none';
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it('describes every registered route: operation id, summary, description, a described tag, security, a success answer and the common problems', () => {
    const missing: string[] = [];
    const paths = openApi.paths as Record<string, Record<string, Operation>>;
    const ids = new Set<string>();
    for (const route of routesOf(server.app).filter((r) => r.method !== 'HEAD')) {
      const where = `${route.method} ${route.url}`;
      const operation = paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
      if (operation === undefined) {
        missing.push(`${where}: not in the document`);
        continue;
      }
      if (operation.summary === undefined) missing.push(`${where}: add config.summary`);
      if (operation.operationId === undefined || ids.has(operation.operationId)) missing.push(`${where}: no unique operationId`);
      ids.add(operation.operationId ?? '');
      if ((operation.description ?? '').length < 40) missing.push(`${where}: add config.summary or config.docs.description`);
      for (const tag of operation.tags ?? []) if (TAGS[tag] === undefined) missing.push(`${where}: its tag '${tag}' has no description: add it to TAGS in src/server/http/openapi.ts, or set config.docs.tag to one there`);
      if (!Array.isArray(operation.security)) missing.push(`${where}: no security requirement`);
      const statuses = Object.keys(operation.responses).map(Number);
      if (!statuses.some((s) => s >= 100 && s < 300)) missing.push(`${where}: no success answer: declare schema.response, or config.docs.success for a body that is not JSON`);
      for (const status of [400, 408, 429, 500, 503]) if (!statuses.includes(status)) missing.push(`${where}: no ${status}`);
      if ((route.authenticated || route.pairingToken) && !statuses.includes(401)) missing.push(`${where}: no 401`);
      if (['POST', 'PUT', 'DELETE'].includes(route.method) && !(statuses.includes(413) && statuses.includes(415))) missing.push(`${where}: no 413 or 415`);
    }
    expect(missing, 'what the OpenAPI document lacks, and what to add').toEqual([]);
  });

  it('gives sessions, device tokens and pairing tokens separate security schemes, as each route takes them', () => {
    const paths = openApi.paths as Record<string, Record<string, Operation>>;
    const schemesOf = (path: string, method: string) => (paths[path]![method]!.security as Array<Record<string, unknown>>).flatMap((r) => Object.keys(r)).sort();
    expect(schemesOf('/v1/accounts/me', 'get')).toEqual(['secureSessionCookie', 'sessionBearer', 'sessionCookie']);
    expect(schemesOf('/v1/families/{familyId}/messages', 'get')).toEqual(['deviceToken', 'secureSessionCookie', 'sessionBearer', 'sessionCookie']);
    expect(schemesOf('/v1/toy', 'get')).toEqual(['deviceToken']);
    expect(schemesOf('/v1/pairings/{pairingId}', 'get')).toEqual(['pairingToken']);
    expect(schemesOf('/v1/accounts/login/start', 'post')).toEqual([]);
    const schemes = (openApi.components as { securitySchemes: Record<string, Json> }).securitySchemes;
    expect(Object.keys(schemes).sort()).toEqual(['deviceToken', 'pairingToken', 'secureSessionCookie', 'sessionBearer', 'sessionCookie']);
  });
});

describe('the AsyncAPI document', () => {
  it('is valid AsyncAPI 3.0 against the official schema, and a broken copy is not', () => {
    expect(asyncApi.asyncapi).toBe('3.0.0');
    const result = validateAsyncApi(copy(asyncApi));
    expect(result.errors).toBe('No errors');
    expect(result.valid).toBe(true);
    const broken = copy(asyncApi) as { operations: Record<string, { action: string }> };
    broken.operations.sendPing!.action = 'publish';
    expect(validateAsyncApi(broken).valid).toBe(false);
  });

  it('has a message for every client frame and every kind of server frame of src/protocol/live.ts', async () => {
    const { ClientFrame, LiveEventType, ServerFrame } = await import('../../src/protocol/live.js');
    const messages = Object.keys((asyncApi.components as { messages: Json }).messages).sort();
    expect(messages).toEqual(['error', ...LiveEventType.anyOf.map((l) => `event.${l.const}`), 'ping', 'pong', 'ready', 'receipt', 'receipt-stored', 'resume'].sort());
    expect(ClientFrame.anyOf.length + ServerFrame.anyOf.length).toBe(messages.length);
  });
});

describe('redocly lint', () => {
  it('finds no error and no warning but the one the WebSocket upgrade must give (a 101, no 2xx)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'burrow-apidoc-'));
    writeFileSync(join(dir, 'openapi.json'), JSON.stringify(openApi));
    writeFileSync(join(dir, 'asyncapi.json'), JSON.stringify(asyncApi));
    const cli = createRequire(import.meta.url).resolve('@redocly/cli/bin/cli.js');
    const lint = (file: string): string[] => {
      // Offline: no telemetry, no update check; the built-in recommended rules.
      const run = spawnSync(process.execPath, [cli, 'lint', file, '--format=json'], {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
        timeout: 120_000,
      });
      expect(run.status, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as { totals: { errors: number }; problems: Array<{ ruleId: string; location: Array<{ pointer: string }> }> };
      expect(report.totals.errors, file).toBe(0);
      return report.problems.map((p) => `${p.ruleId} at ${p.location[0]?.pointer ?? '?'}`);
    };
    expect(lint('openapi.json')).toEqual(['operation-2xx-response at #/paths/~1v1~1live/get/responses']);
    expect(lint('asyncapi.json')).toEqual([]);
  });
});

describe('the conformance check', () => {
  it('fails an answer whose status, content type or body the document does not describe', async () => {
    const conformance = createOpenApiConformance(openApi);
    const health = await server.app.inject({ method: 'GET', url: '/healthz' });
    expect(conformance.check({ method: 'GET', url: '/healthz' }, health)).toEqual([]);
    expect(conformance.check({ method: 'GET', url: '/healthz' }, { ...health, statusCode: 418 })[0]).toMatch(/answered 418, which its operation does not document/);
    expect(conformance.check({ method: 'GET', url: '/healthz' }, { ...health, headers: { ...health.headers, 'content-type': 'text/html' } })[0]).toMatch(/is text\/html, not one the document names/);
    expect(conformance.check({ method: 'GET', url: '/healthz' }, { ...health, body: '{"state":"ok"}' })[0]).toMatch(/does not match its schema/);
    const { 'x-request-id': _dropped, ...withoutId } = health.headers;
    expect(conformance.check({ method: 'GET', url: '/healthz' }, { ...health, headers: withoutId })[0]).toMatch(/lacks the header X-Request-Id/);
  });

  it('fails a real route that answers a status its declaration does not name', async () => {
    const config = loadConfig({ env: {}, flags: { data: join(mkdtempSync(join(tmpdir(), 'burrow-teapot-')), 'data') } });
    const app = createServer({ config, store: server.store, secrets: server.secrets, blobs: server.backends.blobs, bus: server.backends.bus, log: false });
    app.get('/v1/teapot', { config: { summary: 'A route that answers what it never declared' } }, async (_request, reply) => reply.code(418).send({ short: 'and stout' }));
    await app.ready();
    try {
      const doc = (await app.inject({ method: 'GET', url: '/v1/openapi.json' })).json<Json>();
      const answer = await app.inject({ method: 'GET', url: '/v1/teapot' });
      expect(answer.statusCode).toBe(418);
      expect(createOpenApiConformance(doc).check({ method: 'GET', url: '/v1/teapot' }, answer)).toEqual([expect.stringMatching(/^GET \/v1\/teapot answered 418, which its operation does not document/)]);
    } finally {
      await app.close();
    }
  });
});

describe('the answers the document promises', () => {
  it('a 401 carries WWW-Authenticate, for a missing session and for a refused device token', async () => {
    const conformance = createOpenApiConformance(openApi);
    for (const [url, headers] of [['/v1/accounts/me', {}], ['/v1/accounts/me', bearer('toy.not-a-real-device-token')], ['/v1/toy', bearer('not-a-session')]] as const) {
      const answer = await server.app.inject({ method: 'GET', url, headers });
      expect(answer.statusCode).toBe(401);
      expect(answer.headers['www-authenticate']).toBe('Bearer realm="burrow"');
      expect(conformance.check({ method: 'GET', url }, answer)).toEqual([]);
    }
  });

  it('a request arriving while the server shuts down gets a 503 problem with Retry-After and Connection: close', async () => {
    const config = loadConfig({ env: {}, flags: { data: join(mkdtempSync(join(tmpdir(), 'burrow-closing-')), 'data') } });
    const app = createServer({ config, store: server.store, secrets: server.secrets, blobs: server.backends.blobs, bus: server.backends.bus, log: false });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    let port = 0;
    const get = (path: string) => new Promise<{ statusCode: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => { body += chunk; });
        res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
    // Runs after the app's own preClose hook: the app is closing, this keep-alive connection is still open.
    let during: Awaited<ReturnType<typeof get>> | undefined;
    app.addHook('preClose', async () => { during = await get('/v1/accounts/registration'); });
    port = Number(new URL(await app.listen({ host: '127.0.0.1', port: 0 })).port);
    expect((await get('/v1/accounts/registration')).statusCode).toBe(200);
    await app.close();
    agent.destroy();
    expect(during?.statusCode).toBe(503);
    expect(during?.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(during?.headers['retry-after']).toBe('1');
    expect(during?.headers.connection).toBe('close');
    expect(JSON.parse(during!.body)).toMatchObject({ type: 'urn:burrow:problem:unavailable', status: 503 });
    expect(createOpenApiConformance(openApi).check({ method: 'GET', url: '/v1/accounts/registration' }, during!)).toEqual([]);
  });
});
