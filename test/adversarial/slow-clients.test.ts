/**
 * Slow clients (slowloris): a crowd of connections that trickle their headers, or send headers and
 * then trickle the body, is cut off by the server's headers and request timeouts
 * (`limits.headersTimeoutMs`, `limits.requestTimeoutMs`), and while they hang on, other clients are
 * answered. Runs the real app on a loopback port: one with short timeouts for the cut-offs, and one
 * whose timeouts outlast the test for the bystanders, so that no assertion depends on how fast a
 * busy machine runs.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../server/helpers.js';
import { recordFigures } from './figures.js';

const HEADERS_TIMEOUT_MS = 1_000;
const REQUEST_TIMEOUT_MS = 2_000;
const SLOW_CLIENTS = 40;

/** Cuts slow clients off after HEADERS_TIMEOUT_MS / REQUEST_TIMEOUT_MS. */
let strict: TestServer;
/** Lets slow clients hang on for minutes: they are still there when the bystanders are answered. */
let patient: TestServer;

async function listening(server: TestServer): Promise<number> {
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const address = server.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

let strictPort: number;
let patientPort: number;
beforeAll(async () => {
  [strict, patient] = await Promise.all([
    startTestServer({ overrides: { limits: { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS } } }),
    startTestServer({ overrides: { limits: { headersTimeoutMs: 300_000, requestTimeoutMs: 600_000 } } }),
  ]);
  [strictPort, patientPort] = await Promise.all([listening(strict), listening(patient)]);
});
afterAll(async () => {
  await Promise.all([strict?.close(), patient?.close()]);
});

interface Slow {
  socket: Socket;
  /** Resolves with how long after opening the server closed the connection, and what it answered. */
  closed: Promise<{ afterMs: number; answer: string }>;
  /** Whether the connection is still open (the server has not cut it off). */
  open(): boolean;
  stop(): void;
}

/** Opens a connection that sends `head` and then one more byte of `drip` every 100 ms, for ever. */
function slowClient(port: number, head: string, drip: string): Slow {
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
  return { socket, closed, open: () => !socket.destroyed, stop: () => { clearInterval(timer); socket.destroy(); } };
}

async function timedHealthCheck(port: number): Promise<{ status: number; ms: number }> {
  const start = Date.now();
  const answer = await fetch(`http://127.0.0.1:${port}/healthz`);
  await answer.arrayBuffer();
  return { status: answer.status, ms: Date.now() - start };
}

/** Resolves once the server holds `count` connections (polling its own count, never a clock). */
async function holding(server: TestServer, count: number): Promise<void> {
  for (;;) {
    const held = await new Promise<number>((resolve, reject) => server.app.server.getConnections((error, n) => (error ? reject(error) : resolve(n))));
    if (held >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const BODY = JSON.stringify({ email: 'slow@example.org', startLoginRequest: 'A'.repeat(400) });
const BODY_HEAD = `POST /v1/accounts/login/start HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n`;
const headersOf = (i: number): string => `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-${i}: `;

describe('slow clients', () => {
  it('trickled headers are cut off after the headers timeout, never answered with a result', async () => {
    const slow = Array.from({ length: SLOW_CLIENTS }, (_, i) => slowClient(strictPort, headersOf(i), 'abcdefgh'));
    try {
      const closed = await Promise.all(slow.map((s) => s.closed));
      const latest = Math.max(...closed.map((c) => c.afterMs));
      // Cut off after the timeout (checked once a second), never answered with a request's result.
      expect(Math.min(...closed.map((c) => c.afterMs))).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
      for (const c of closed) expect(c.answer === '' || c.answer.startsWith('HTTP/1.1 408')).toBe(true);
      recordFigures('slowHeaders', { connections: SLOW_CLIENTS, headersTimeoutMs: HEADERS_TIMEOUT_MS, allClosedWithinMs: latest });
    } finally {
      for (const s of slow) s.stop();
    }
    expect((await timedHealthCheck(strictPort)).status).toBe(200);
  });

  it('a trickled body is cut off after the request timeout with 408', async () => {
    const slow = Array.from({ length: SLOW_CLIENTS }, () => slowClient(strictPort, BODY_HEAD, BODY));
    try {
      const closed = await Promise.all(slow.map((s) => s.closed));
      const latest = Math.max(...closed.map((c) => c.afterMs));
      expect(Math.min(...closed.map((c) => c.afterMs))).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
      for (const c of closed) expect(c.answer === '' || c.answer.startsWith('HTTP/1.1 408')).toBe(true);
      recordFigures('slowBodies', { connections: SLOW_CLIENTS, requestTimeoutMs: REQUEST_TIMEOUT_MS, allClosedWithinMs: latest, answered408: closed.filter((c) => c.answer.startsWith('HTTP/1.1 408')).length });
    } finally {
      for (const s of slow) s.stop();
    }
    expect((await timedHealthCheck(strictPort)).status).toBe(200);
  });

  it('while slow clients trickle headers and bodies, other clients are answered', async () => {
    const slow = [
      ...Array.from({ length: SLOW_CLIENTS }, (_, i) => slowClient(patientPort, headersOf(i), 'abcdefgh')),
      ...Array.from({ length: SLOW_CLIENTS }, () => slowClient(patientPort, BODY_HEAD, BODY)),
    ];
    try {
      await holding(patient, slow.length);
      const during = await Promise.all(Array.from({ length: 5 }, () => timedHealthCheck(patientPort)));
      for (const check of during) expect(check.status).toBe(200);
      // Answered while every slow connection still hangs on.
      expect(slow.filter((s) => s.open())).toHaveLength(slow.length);
      recordFigures('slowClientsBystanders', { slowConnections: slow.length, healthChecksDuringAttack: during.length, slowestHealthCheckMs: Math.max(...during.map((c) => c.ms)) });
    } finally {
      for (const s of slow) s.stop();
    }
  });
});
