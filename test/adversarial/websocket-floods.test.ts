/**
 * WebSocket floods against the live channel (limits per connection, src/server/live and
 * config.live): frames beyond the per-minute limit close the connection with 1008 after at most
 * that many answers, an oversized frame closes it with 1009, connections beyond the per-account
 * limit are refused with 429 — and a bystander's connection stays open and answered throughout,
 * also past the HTTP request timeout (an upgraded connection is not a slow request).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../server/helpers.js';
import { recordFigures } from './figures.js';

const REQUEST_TIMEOUT_MS = 1_000;
let server: TestServer;
let port: number;
let attacker: TestUser;
let bystander: TestUser;

beforeAll(async () => {
  server = await startTestServer({ overrides: { limits: { headersTimeoutMs: REQUEST_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS } } });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const address = server.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  port = address.port;
  [attacker, bystander] = await Promise.all([registerUser(server.app), registerUser(server.app)]);
});
afterAll(async () => { await server.close(); });

interface Live {
  socket: WebSocket;
  pongs: number;
  closed: Promise<{ code: number }>;
}

function open(token: string): Promise<Live> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/v1/live`, { headers: { authorization: `Bearer ${token}` } });
  const live: Live = {
    socket,
    pongs: 0,
    closed: new Promise((resolve) => socket.on('close', (code) => resolve({ code }))),
  };
  socket.on('message', (data) => { if ((JSON.parse(String(data)) as { type: string }).type === 'pong') live.pongs++; });
  socket.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(live));
    socket.once('unexpected-response', (request, response) => {
      request.destroy();
      reject(new Error(`HTTP ${response.statusCode}`));
    });
  });
}

/** Sends a ping frame and resolves with the milliseconds until its pong (for the figures only). */
async function pingPong(live: Live): Promise<number> {
  const start = Date.now();
  const pong = new Promise<void>((resolve, reject) => {
    const onMessage = (data: WebSocket.RawData): void => {
      if ((JSON.parse(String(data)) as { type: string }).type !== 'pong') return;
      live.socket.off('message', onMessage);
      live.socket.off('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      live.socket.off('message', onMessage);
      reject(new Error('closed before the pong'));
    };
    live.socket.once('close', onClose);
    live.socket.on('message', onMessage);
  });
  live.socket.send(JSON.stringify({ type: 'ping' }));
  await pong;
  return Date.now() - start;
}

describe('WebSocket floods', () => {
  it('are closed per connection and per account while a bystander is served', async () => {
    const limits = server.config.live;
    const watcher = await open(bystander.token);
    const floods = await Promise.all(Array.from({ length: limits.maxConnectionsPerAccount }, () => open(attacker.token)));

    // Connections beyond the account's limit are refused at the upgrade.
    const extra = await Promise.allSettled(Array.from({ length: 20 }, () => open(attacker.token)));
    expect(extra.every((r) => r.status === 'rejected' && String(r.reason).includes('HTTP 429'))).toBe(true);

    // Half the connections flood pings, the other half send one frame larger than the limit.
    const FRAMES = 1_000;
    const half = floods.length / 2;
    for (const [i, live] of floods.entries()) {
      if (i < half) for (let f = 0; f < FRAMES; f++) live.socket.send(JSON.stringify({ type: 'ping' }));
      else live.socket.send('x'.repeat(limits.maxFrameBytes + 1));
    }
    const during = await pingPong(watcher);
    const codes = await Promise.all(floods.map((f) => f.closed));
    expect(codes.slice(0, half).map((c) => c.code)).toEqual(Array(half).fill(1008));
    expect(codes.slice(half).map((c) => c.code)).toEqual(Array(floods.length - half).fill(1009));
    const answered = Math.max(...floods.slice(0, half).map((f) => f.pongs));
    expect(answered).toBeLessThanOrEqual(limits.maxFramesPerMinute);

    // Freed slots can be used again; the bystander is still open past the HTTP request timeout.
    const again = await open(attacker.token);
    await new Promise((r) => setTimeout(r, REQUEST_TIMEOUT_MS * 2 + 500));
    expect(watcher.socket.readyState).toBe(WebSocket.OPEN);
    const after = await pingPong(watcher);
    await pingPong(again);
    watcher.socket.close();
    again.socket.close();
    recordFigures('websocketFloods', {
      floodingConnections: half,
      framesSentPerConnection: FRAMES,
      mostFramesAnsweredBeforeClose: answered,
      maxFramesPerMinute: limits.maxFramesPerMinute,
      oversizedFrameConnections: floods.length - half,
      connectionsRefusedOverAccountLimit: extra.length,
      maxConnectionsPerAccount: limits.maxConnectionsPerAccount,
      bystanderPingMsDuringFlood: during,
      bystanderPingMsAfter: after,
    });
  });
});
