/**
 * https beyond loopback: the client library, the live channel, the burrow CLI and the reference
 * toy refuse plain http to any host that is not this machine unless the user opts in, and refuse
 * before a single byte (a token, an OPAQUE message) leaves: the recording fetch sees nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BurrowApi } from '../../src/client/api.js';
import { ClientError } from '../../src/client/client-error.js';
import { connectLive, type WebSocketConstructor } from '../../src/client/live.js';
import { isLoopbackHostname } from '../../src/client/transport.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { ToyStateDir } from '../../src/toy/state.js';
import { burrow as runBurrow } from '../support/cli.js';

/** TEST-NET-1 (RFC 5737): beyond loopback, and never contacted by these tests. */
const REMOTE = 'http://192.0.2.10:8080';

function recordingFetch(): { fetch: typeof globalThis.fetch; calls: string[] } {
  const calls: string[] = [];
  const fetch = (async (input: RequestInfo | URL) => {
    calls.push(String(input));
    return new Response('{"accountId":"a"}', { status: 500, headers: { 'content-type': 'application/json' } });
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

function refusal(run: () => unknown): ClientError {
  try {
    run();
  } catch (error) {
    if (error instanceof ClientError) return error;
    throw error;
  }
  throw new Error('not refused');
}

describe('the client library', () => {
  it('refuses plain http to a host beyond loopback, before any request, and says what to do', () => {
    for (const baseUrl of [REMOTE, 'http://burrow.example', 'http://[2001:db8::1]:8080', 'http://10.0.0.5']) {
      const { fetch, calls } = recordingFetch();
      const error = refusal(() => new BurrowApi({ baseUrl, fetch, token: 'secret-token' }));
      expect(error.code).toBe('client/insecure-http');
      expect(error.message).toMatch(/https:\/\//);
      expect(error.message).toMatch(/--insecure-http/);
      expect(error.message).not.toContain('secret-token');
      expect(calls).toEqual([]);
    }
  });

  it('talks https anywhere, plain http on loopback, and plain http beyond it only when the user opts in', async () => {
    for (const baseUrl of ['https://burrow.example', 'http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080', 'http://toy.localhost']) {
      expect(() => new BurrowApi({ baseUrl })).not.toThrow();
    }
    const { fetch, calls } = recordingFetch();
    const api = new BurrowApi({ baseUrl: REMOTE, fetch, allowInsecureHttp: true });
    await expect(api.me()).rejects.toThrow();
    expect(calls).toEqual([`${REMOTE}/v1/accounts/me`]);
    // The opt-in goes with the client when it takes a token.
    expect(() => api.withToken('t')).not.toThrow();
  });

  it('the live channel refuses ws:// beyond loopback without the opt-in, before connecting', async () => {
    const opened: string[] = [];
    const WebSocket = class {
      constructor(url: string) {
        opened.push(url);
        throw new Error('no network in this test');
      }
    } as unknown as WebSocketConstructor;
    const store = { loadCursors: async () => ({}), saveCursors: async () => {} };
    await expect(connectLive({ baseUrl: REMOTE, WebSocket, token: 't', store, onEvent: () => {} })).rejects.toMatchObject({ code: 'client/insecure-http' });
    expect(opened).toEqual([]);
  });

  it('knows which hosts are loopback', () => {
    expect(['localhost', '127.0.0.1', '127.1.2.3', '[::1]', 'a.localhost'].every(isLoopbackHostname)).toBe(true);
    expect(['192.0.2.1', 'localhost.example', '[2001:db8::1]', '128.0.0.1', 'burrow.example'].some(isLoopbackHostname)).toBe(false);
  });
});

describe('the burrow CLI and the reference toy', () => {
  let workDir: string;
  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'burrow-insecure-'));
  });
  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  function burrow(args: string[], extra: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
    return runBurrow(args, { env: { HOME: workDir, BURROW_PASSWORD: 'a long enough passphrase 42', ...extra } });
  }

  it('burrow account login refuses plain http beyond loopback and names the flag', async () => {
    const run = await burrow(['account', 'login', '--server', REMOTE, '--email', 'ada@example.org', '--profile', join(workDir, 'ada')]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/refusing plain http to 192\.0\.2\.10:8080.*--insecure-http/s);
  });

  it('burrow toy pair --server refuses it too', async () => {
    const run = await burrow(['toy', 'pair', '--server', REMOTE, '--state', join(workDir, 'toy-pair'), '--json']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('client/insecure-http');
  });

  it('burrow toy run refuses a paired state whose server is plain http beyond loopback', async () => {
    const state = new ToyStateDir(join(workDir, 'toy-run'));
    const id = 'AAAAAAAAAAAAAAAAAAAAAA';
    await state.savePaired({ version: 2, serverUrl: REMOTE, toyId: id, familyId: id, anchorHash: 'A'.repeat(43), deviceToken: `bt_${'A'.repeat(43)}` }, await generateIdentity({ extractable: true }));
    const run = await burrow(['toy', 'run', '--state', state.dir, '--save', join(workDir, 'saved'), '--once', '--json']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('client/insecure-http');
  });
});
