/**
 * Slow clients (slowloris): a crowd of connections that trickle their headers, or send headers and
 * then trickle the body, is cut off by the server's headers and request timeouts
 * (`limits.headersTimeoutMs`, `limits.requestTimeoutMs`), and while they hang on, other clients are
 * answered at once. Runs the real app on a loopback port with short timeouts.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../server/helpers.js';
import { recordFigures } from './figures.js';

const HEADERS_TIMEOUT_MS = 1_000;
const REQUEST_TIMEOUT_MS = 2_000;
const SLOW_CLIENTS = 40;

let server: TestServer;
let port: number;
beforeAll(async () => {
  server = await startTestServer({ overrides: { limits: { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS } } });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const address = server.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  port = address.port;
});
afterAll(async () => { await server.close(); });

interface Slow {
  socket: Socket;
  /** Resolves with how long after opening the server closed the connection, and what it answered. */
  closed: Promise<{ afterMs: number; answer: string }>;
  stop(): void;
}

/** Opens a connection that sends `head` and then one more byte of `drip` every 100 ms, for ever. */
function slowClient(head: string, drip: string): Slow {
  const socket = connect({ host: '127.0.0.1', port });
  const opened = Date.now();
  let answer = '';
  let timer: NodeJS.Timeout | undefined;
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => { answer += chunk; });
  socket.on('error', () => undefined);
  socket.on('connect', () => {
    socket.write(head);
    let i = 0;
    timer = setInterval(() => { if (!socket.destroyed) socket.write(drip[i++ % drip.length]!); }, 100);
  });
  const closed = new Promise<{ afterMs: number; answer: string }>((resolve) => {
    socket.on('close', () => { clearInterval(timer); resolve({ afterMs: Date.now() - opened, answer }); });
  });
  return { socket, closed, stop: () => { clearInterval(timer); socket.destroy(); } };
}

async function timedHealthCheck(): Promise<{ status: number; ms: number }> {
  const start = Date.now();
  const answer = await fetch(`http://127.0.0.1:${port}/healthz`);
  await answer.arrayBuffer();
  return { status: answer.status, ms: Date.now() - start };
}

describe('slow clients', () => {
  it('trickled headers are cut off after the headers timeout, and others are served meanwhile', async () => {
    const slow = Array.from({ length: SLOW_CLIENTS }, (_, i) => slowClient(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-${i}: `, 'abcdefgh'));
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const during = await Promise.all(Array.from({ length: 5 }, () => timedHealthCheck()));
      for (const check of during) expect(check.status).toBe(200);
      expect(Math.max(...during.map((c) => c.ms))).toBeLessThan(500);
      const closed = await Promise.all(slow.map((s) => s.closed));
      const latest = Math.max(...closed.map((c) => c.afterMs));
      // Cut off after the timeout (checked once a second), never answered with a request's result.
      expect(Math.min(...closed.map((c) => c.afterMs))).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
      expect(latest).toBeLessThan(HEADERS_TIMEOUT_MS + 2_000);
      for (const c of closed) expect(c.answer === '' || c.answer.startsWith('HTTP/1.1 408')).toBe(true);
      recordFigures('slowHeaders', { connections: SLOW_CLIENTS, headersTimeoutMs: HEADERS_TIMEOUT_MS, allClosedWithinMs: latest, healthChecksDuringAttack: during.length, slowestHealthCheckMs: Math.max(...during.map((c) => c.ms)) });
    } finally {
      for (const s of slow) s.stop();
    }
  });

  it('a trickled body is cut off after the request timeout with 408, and others are served meanwhile', async () => {
    const body = JSON.stringify({ email: 'slow@example.org', startLoginRequest: 'A'.repeat(400) });
    const head = `POST /v1/accounts/login/start HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const slow = Array.from({ length: SLOW_CLIENTS }, () => slowClient(head, body));
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const during = await Promise.all(Array.from({ length: 5 }, () => timedHealthCheck()));
      for (const check of during) expect(check.status).toBe(200);
      expect(Math.max(...during.map((c) => c.ms))).toBeLessThan(500);
      const closed = await Promise.all(slow.map((s) => s.closed));
      const latest = Math.max(...closed.map((c) => c.afterMs));
      expect(Math.min(...closed.map((c) => c.afterMs))).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
      expect(latest).toBeLessThan(REQUEST_TIMEOUT_MS + 2_000);
      for (const c of closed) expect(c.answer === '' || c.answer.startsWith('HTTP/1.1 408')).toBe(true);
      recordFigures('slowBodies', { connections: SLOW_CLIENTS, requestTimeoutMs: REQUEST_TIMEOUT_MS, allClosedWithinMs: latest, answered408: closed.filter((c) => c.answer.startsWith('HTTP/1.1 408')).length, slowestHealthCheckMs: Math.max(...during.map((c) => c.ms)) });
    } finally {
      for (const s of slow) s.stop();
    }
    expect((await timedHealthCheck()).status).toBe(200);
  });
});
