/**
 * A lying server for browsers: an HTTP proxy on 127.0.0.1 in front of a real `burrow serve` that
 * passes everything through (pages, API, the live WebSocket) except what the test chooses to
 * rewrite — as a compromised server or operator would. Rewrites see the path and the answer's
 * bytes and may return other bytes.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

/** One answer as the browser will get it. */
export interface Answer {
  status: number;
  contentType: string;
  body: Uint8Array;
}

/**
 * Rewrites one answer: return new bytes (same status and type), a whole new answer, or undefined
 * to pass it unchanged. `request` is the body the browser sent (what the server received).
 */
export type Rewrite = (answer: Answer & { method: string; path: string; query: string; request: Uint8Array }) => Uint8Array | Answer | undefined | Promise<Uint8Array | Answer | undefined>;

export interface HostileProxy {
  /** `http://127.0.0.1:PORT`: give this to the browsers. */
  url: string;
  /** The rewrites applied, in order, to every answer (empty: an honest server). */
  rewrites: Rewrite[];
  /**
   * Cuts every live WebSocket passing through, as a server may at will; returns how many. A toy
   * reconnects and catches up (lists its messages): what makes it see what the proxy serves now.
   */
  dropLive(): number;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'content-length', 'content-encoding']);

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Starts the proxy in front of `upstream` (`http://127.0.0.1:PORT`). */
export async function startHostileProxy(upstream: string): Promise<HostileProxy> {
  const target = new URL(upstream);
  const rewrites: Rewrite[] = [];
  const sockets = new Set<Socket>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const headers = { ...req.headers, 'accept-encoding': 'identity' };
    const answer = await new Promise<IncomingMessage>((resolve, reject) => {
      const forward = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, resolve);
      forward.on('error', reject);
      forward.end(body);
    });
    let out: Answer = { status: answer.statusCode ?? 502, contentType: String(answer.headers['content-type'] ?? ''), body: await readBody(answer) };
    const url = new URL(req.url ?? '/', 'http://proxy');
    for (const rewrite of rewrites) {
      const changed = await rewrite({ ...out, method: req.method ?? 'GET', path: url.pathname, query: url.search, request: body });
      if (changed instanceof Uint8Array) out = { ...out, body: changed };
      else if (changed !== undefined) out = changed;
    }
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name.toLowerCase())) res.setHeader(name, value);
    }
    res.setHeader('content-type', out.contentType);
    res.setHeader('content-length', String(out.body.length));
    res.writeHead(out.status);
    res.end(out.body);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
  });
  /** The client side of every live WebSocket passing through. */
  const live = new Set<Socket>();
  // WebSockets (the live channel) pass through untouched: raw bytes both ways.
  server.on('upgrade', (req: IncomingMessage, client, head: Buffer) => {
    const upstreamSocket = connect(Number(target.port), target.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstreamSocket.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstreamSocket.write(head);
      client.pipe(upstreamSocket);
      upstreamSocket.pipe(client);
    });
    live.add(client as Socket);
    client.on('close', () => live.delete(client as Socket));
    for (const socket of [client, upstreamSocket]) {
      sockets.add(socket as Socket);
      socket.on('error', () => {
        client.destroy();
        upstreamSocket.destroy();
      });
      socket.on('close', () => sockets.delete(socket as Socket));
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    rewrites,
    dropLive() {
      const count = live.size;
      for (const socket of live) socket.destroy();
      live.clear();
      return count;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
