/**
 * Edges a scanner or an outage shows (issue #20 item 5), each on a real server: live connections
 * closed as "going away" (1001) on shutdown; an object store that is down (a stopped s3rver, a
 * blob directory that is no longer usable) named in the problem and in /readyz; request logs
 * without client addresses unless the operator opts in.
 */
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/server/config.js';
import { FsBlobStore } from '../../src/storage/blobs/fs-blob-store.js';
import { S3BlobStore } from '../../src/storage/blobs/s3-blob-store.js';
import { S3RVER_CREDENTIALS, startS3rver } from '../support/backends.js';
import { b64, bearer, startTestServer, type TestServer } from './helpers.js';
import { call, registerMember, seal, seedFamily, upload, type Member, type TestFamily } from './messages/fixtures.js';

interface ProblemBody { type: string; status: number; detail: string; unavailable?: string[] }

async function familyWithMessage(server: TestServer): Promise<{ mum: Member; family: TestFamily; child: string; messageId: string }> {
  const mum = await registerMember(server.app);
  const child = b64(16);
  const family = await seedFamily(server.store, { guardians: [mum], children: [child] });
  const sent = await upload(server.app, mum, family.familyId, (await seal(mum, family, [child])).bytes);
  expect(sent.statusCode, sent.body).toBe(201);
  return { mum, family, child, messageId: sent.json<{ messageId: string }>().messageId };
}

/** Uploading and downloading while the object store is down: both 503 problems that name it, not the database. */
async function expectObjectStoreProblems(server: TestServer, setup: Awaited<ReturnType<typeof familyWithMessage>>): Promise<void> {
  const { mum, family, child, messageId } = setup;
  const answers = [
    await upload(server.app, mum, family.familyId, (await seal(mum, family, [child])).bytes),
    await call(server.app, mum, 'GET', `/v1/families/${family.familyId}/messages/${messageId}/envelope`),
  ];
  for (const answer of answers) {
    expect(answer.statusCode, answer.body).toBe(503);
    expect(answer.headers['retry-after']).toBe('1');
    const problem = answer.json<ProblemBody>();
    expect(problem.type).toBe('urn:burrow:problem:unavailable');
    expect(problem.detail).toMatch(/object store/i);
    expect(problem.detail).not.toMatch(/database/i);
  }
  const ready = await server.app.inject({ method: 'GET', url: '/readyz' });
  expect(ready.statusCode).toBe(503);
  expect(ready.json<ProblemBody>()).toMatchObject({ type: 'urn:burrow:problem:unavailable', unavailable: ['object-store'] });
  expect(ready.json<ProblemBody>().detail).toMatch(/object store/);
  // The rest of the API does not depend on blobs and keeps answering.
  expect((await call(server.app, mum, 'GET', `/v1/families/${family.familyId}/messages`)).statusCode).toBe(200);
}

describe('an object store that is down', () => {
  it('a stopped S3 endpoint on loopback: uploads and downloads are 503 problems naming the object store, and /readyz says which dependency is down', async () => {
    const s3 = await startS3rver();
    const bucket = await s3.newBucket();
    const blobs = new S3BlobStore({ bucket, prefix: 'blobs/', endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, ...S3RVER_CREDENTIALS });
    const server = await startTestServer({ blobs });
    try {
      const setup = await familyWithMessage(server);
      expect((await server.app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready' });
      await s3.close();
      await expectObjectStoreProblems(server, setup);
    } finally {
      await server.close();
      await blobs.close();
    }
  }, 60_000);

  it('an S3 endpoint on loopback that accepts connections and never answers: a 503 naming the object store, not a request held for ever', async () => {
    const held: Socket[] = [];
    const silent = createTcpServer((socket) => { held.push(socket); socket.on('error', () => undefined); });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const blobs = new S3BlobStore({ bucket: 'burrow-silent', endpoint, region: 'us-east-1', forcePathStyle: true, idleTimeoutMs: 300, connectTimeoutMs: 300, ...S3RVER_CREDENTIALS });
    const server = await startTestServer({ blobs });
    try {
      const mum = await registerMember(server.app);
      const child = b64(16);
      const family = await seedFamily(server.store, { guardians: [mum], children: [child] });
      const answer = await upload(server.app, mum, family.familyId, (await seal(mum, family, [child])).bytes);
      expect(answer.statusCode, answer.body).toBe(503);
      expect(answer.json<ProblemBody>().detail).toMatch(/object store/i);
      const ready = await server.app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json<ProblemBody>().unavailable).toEqual(['object-store']);
    } finally {
      await server.close();
      await blobs.close();
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  }, 60_000);

  it('a blob directory that is no longer a usable directory: the same 503 problems, and /readyz recovers once it is back', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'burrow-edges-')), 'blobs');
    const blobs = new FsBlobStore({ dir });
    const own = await startTestServer({ blobs });
    try {
      const setup = await familyWithMessage(own);
      expect((await own.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      // A mount gone wrong: the directory is replaced by a file. (Tests run as root here, for whom
      // permission bits are no obstacle, so a chmod 000 would prove nothing.)
      renameSync(dir, `${dir}.away`);
      writeFileSync(dir, 'not a directory');
      await expectObjectStoreProblems(own, setup);
      renameSync(dir, `${dir}.file`);
      renameSync(`${dir}.away`, dir);
      expect((await own.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      const back = await call(own.app, setup.mum, 'GET', `/v1/families/${setup.family.familyId}/messages/${setup.messageId}/envelope`);
      expect(back.statusCode).toBe(200);
    } finally {
      await own.close();
    }
  });

  it('a database that is gone is still named as the database, in the problem and in /readyz', async () => {
    const server = await startTestServer();
    try {
      await server.store.close();
      const ready = await server.app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json<ProblemBody>().unavailable).toEqual(['database']);
    } finally {
      await server.close();
    }
  });
});

describe('shutdown', () => {
  it('closes every live WebSocket with 1001 (going away)', async () => {
    const server = await startTestServer({ overrides: { live: { heartbeatMs: 60_000 } } });
    const member = await registerMember(server.app);
    const address = await server.app.listen({ host: '127.0.0.1', port: 0 });
    const sockets = [0, 1, 2].map(() => new WebSocket(`${address.replace('http:', 'ws:')}/v1/live`, { headers: bearer(member.token) }));
    const closes = sockets.map((socket) => new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) }))));
    await Promise.all(sockets.map((socket) => new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    })));
    await server.close();
    for (const closed of await Promise.all(closes)) expect(closed).toEqual({ code: 1001, reason: 'server shutting down' });
  });
});

function logCollector(): { stream: Writable; text: () => string; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const stream = new Writable({ write(chunk, _encoding, done) { raw.push(...String(chunk).split('\n').filter(Boolean)); done(); } });
  return { stream, text: () => raw.join('\n'), lines: () => raw.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('request logs', () => {
  it('carry no client address or port unless the operator opts in (over real HTTP, from 127.0.0.2)', async () => {
    for (const optIn of [false, true]) {
      const log = logCollector();
      const server = await startTestServer({ log: { stream: log.stream, level: 'info' }, overrides: { logClientAddresses: optIn } });
      try {
        const address = await server.app.listen({ host: '127.0.0.1', port: 0 });
        const port = new URL(address).port;
        // A client address that appears nowhere else in a log line (the server listens on 127.0.0.1).
        await new Promise<void>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path: '/healthz', localAddress: '127.0.0.2' }, (res) => { res.resume(); res.on('end', resolve); });
          req.on('error', reject);
          req.end();
        });
        await server.app.close();
        const incoming = log.lines().filter((line) => line.msg === 'incoming request');
        expect(incoming.length).toBeGreaterThan(0);
        if (optIn) {
          expect(incoming[0]!.req).toMatchObject({ method: 'GET', url: '/healthz', remoteAddress: '127.0.0.2' });
        } else {
          expect(incoming[0]!.req).toEqual({ method: 'GET', url: '/healthz', host: `127.0.0.1:${port}` });
          expect(log.text()).not.toContain('127.0.0.2');
          expect(log.text()).not.toContain('remoteAddress');
          expect(log.text()).not.toContain('remotePort');
        }
      } finally {
        await server.close();
      }
    }
  });

  it('BURROW_LOG_CLIENT_ADDRESSES is off by default and takes true or false only', () => {
    expect(loadConfig({ env: {} }).logClientAddresses).toBe(false);
    expect(loadConfig({ env: { BURROW_LOG_CLIENT_ADDRESSES: 'true' } }).logClientAddresses).toBe(true);
    expect(() => loadConfig({ env: { BURROW_LOG_CLIENT_ADDRESSES: 'yes please' } })).toThrow(/BURROW_LOG_CLIENT_ADDRESSES/);
  });
});
