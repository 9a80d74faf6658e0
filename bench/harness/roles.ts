/**
 * The baselines and helpers the bench runs as child processes of its own bundle
 * (`node run.mjs --role NAME`): each is the least a server could do for the same job, so Burrow's
 * figures can be read as a fraction of what this machine allows in the same run.
 * - `noop`: answers 204 to anything (the load generator's own ceiling).
 * - `files`: stores each POSTed body in a file with fsync and serves it back; no auth, no database.
 * - `argon2-login`: a password login as most servers do it: Argon2id (OWASP: m = 19 MiB, t = 2,
 *   p = 1) on the server, then a random session token.
 * - `ws-bare`: a bare `ws` server that holds connections and pings them like Burrow's heartbeat.
 * - `holder`: a client process that opens and holds WebSocket connections (see holder.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { runHolder } from './holder.js';

/** OWASP's first Argon2id configuration (Password Storage Cheat Sheet): 19 MiB, 2 iterations, 1 lane. */
export const OWASP_ARGON2ID = { memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 } as const;

function listen(server: http.Server): void {
  server.listen(0, '127.0.0.1', () => {
    console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error('too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function noop(): void {
  listen(http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(204);
      res.end();
    });
  }));
}

function files(dir: string): void {
  mkdirSync(dir, { recursive: true });
  let next = 0;
  listen(http.createServer((req, res) => {
    void (async () => {
      const url = req.url ?? '/';
      if (req.method === 'POST' && url === '/m') {
        const body = await readBody(req, 8 * 1024 * 1024);
        const id = String(next++);
        const file = await open(join(dir, id), 'w');
        try {
          await file.write(body);
          await file.sync();
        } finally {
          await file.close();
        }
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id }));
        return;
      }
      const match = /^\/m\/(\d+)(\/ack)?$/.exec(url);
      if (match !== null && req.method === 'GET' && match[2] === undefined) {
        const body = await readFile(join(dir, match[1]!));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
        res.end(body);
        return;
      }
      if (match !== null && req.method === 'POST' && match[2] !== undefined) {
        req.resume();
        res.writeHead(204);
        res.end();
        return;
      }
      res.writeHead(404);
      res.end();
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  }));
}

async function argon2Login(): Promise<void> {
  const argon2 = await import('@node-rs/argon2');
  const accounts = new Map<string, string>();
  const sessions = new Map<string, string>();
  listen(http.createServer((req, res) => {
    void (async () => {
      const body = JSON.parse((await readBody(req, 4096)).toString('utf8')) as { email?: string; password?: string };
      if (typeof body.email !== 'string' || typeof body.password !== 'string') {
        res.writeHead(400);
        res.end();
        return;
      }
      if (req.url === '/register') {
        accounts.set(body.email, await argon2.hash(body.password, { algorithm: 2 /* Argon2id */, ...OWASP_ARGON2ID }));
        res.writeHead(204);
        res.end();
        return;
      }
      const hash = accounts.get(body.email);
      if (req.url !== '/login' || hash === undefined || !(await argon2.verify(hash, body.password))) {
        res.writeHead(401);
        res.end();
        return;
      }
      const token = randomBytes(32).toString('base64url');
      sessions.set(token, body.email);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token }));
    })().catch(() => {
      if (!res.headersSent) res.writeHead(400);
      res.end();
    });
  }));
}

function wsBare(heartbeatMs: number): void {
  const server = http.createServer((_req, res) => {
    res.writeHead(426);
    res.end();
  });
  const wss = new WebSocketServer({ server, maxPayload: 16 * 1024 });
  const alive = new WeakSet<WebSocket>();
  wss.on('connection', (socket) => {
    alive.add(socket);
    socket.on('pong', () => alive.add(socket));
    socket.on('message', () => socket.send('{"type":"pong"}'));
    socket.send('{"type":"ready"}');
  });
  setInterval(() => {
    for (const socket of wss.clients) {
      if (!alive.has(socket)) {
        socket.terminate();
        continue;
      }
      alive.delete(socket);
      socket.ping();
    }
  }, heartbeatMs).unref();
  listen(server);
}

/** Runs the role named after `--role` in argv; returns false when there is none. */
export async function runRole(argv: string[]): Promise<boolean> {
  const i = argv.indexOf('--role');
  if (i < 0) return false;
  const role = argv[i + 1];
  const rest = argv.slice(i + 2);
  switch (role) {
    case 'noop':
      noop();
      break;
    case 'files':
      files(rest[0] ?? '.');
      break;
    case 'argon2-login':
      await argon2Login();
      break;
    case 'ws-bare':
      wsBare(Number(rest[0] ?? 30_000));
      break;
    case 'holder':
      runHolder();
      break;
    default:
      throw new Error(`unknown role ${role}`);
  }
  return true;
}
