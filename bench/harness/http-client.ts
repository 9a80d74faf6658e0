/**
 * The purpose-written load client: node:http with keep-alive sockets, loopback only, and a
 * closed loop bounded in count and time. The same client drives Burrow and every baseline, and
 * its own ceiling is measured against a no-op server in the same run (load-generator.ts).
 */
import http from 'node:http';

export interface HttpResponse {
  status: number;
  body: Buffer;
}

export interface RequestOptions {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
}

/** Refuses any target that is not on the loopback range: a benchmark only ever loads this machine. */
export function assertLoopback(url: URL): void {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!(host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host))) throw new Error(`benchmarks only target loopback, not ${host}`);
}

export class HttpClient {
  readonly #agent: http.Agent;
  readonly #host: string;
  readonly #port: number;

  constructor(baseUrl: string, options: { maxSockets?: number } = {}) {
    const url = new URL(baseUrl);
    assertLoopback(url);
    this.#host = url.hostname;
    this.#port = Number(url.port);
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64 });
  }

  /**
   * One request. A keep-alive socket the server closed just as it was reused fails with
   * ECONNRESET before anything was processed; such a request is sent once more on a new socket
   * (the race Node's http docs describe for `request.reusedSocket`).
   */
  async request(options: RequestOptions): Promise<HttpResponse> {
    try {
      return await this.#send(options);
    } catch (error) {
      if ((error as { reusedSocket?: boolean }).reusedSocket && (error as NodeJS.ErrnoException).code === 'ECONNRESET') return this.#send(options);
      throw error;
    }
  }

  #send(options: RequestOptions): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...options.headers };
      if (options.body !== undefined) headers['content-length'] = typeof options.body === 'string' ? Buffer.byteLength(options.body) : options.body.byteLength;
      const req = http.request({ host: this.#host, port: this.#port, method: options.method, path: options.path, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
      req.end(options.body);
    });
  }

  /** A JSON request that must answer `expect` (200 by default); returns the parsed body. */
  async json<T = unknown>(method: RequestOptions['method'], path: string, body?: unknown, headers: Record<string, string> = {}, expect = 200): Promise<T> {
    const res = await this.request({ method, path, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    if (res.status !== expect) throw new Error(`${method} ${path}: ${res.status} ${res.body.toString('utf8').slice(0, 300)}`);
    return (res.body.length === 0 ? undefined : JSON.parse(res.body.toString('utf8'))) as T;
  }

  close(): void {
    this.#agent.destroy();
  }
}

export interface LoopResult {
  ops: number;
  errors: number;
  elapsedMs: number;
  perSecond: number;
  /** Per-operation latencies in ms. */
  latencies: number[];
  firstError?: string;
}

/**
 * Runs `op` in `concurrency` closed loops until `durationMs` has passed or `maxOps` operations
 * have started, whichever comes first.
 */
export async function closedLoop(options: { concurrency: number; durationMs: number; maxOps?: number; op: (worker: number, index: number) => Promise<void> }): Promise<LoopResult> {
  const maxOps = options.maxOps ?? Number.POSITIVE_INFINITY;
  const started = performance.now();
  const deadline = started + options.durationMs;
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  await Promise.all(Array.from({ length: options.concurrency }, async (_, worker) => {
    while (performance.now() < deadline && next < maxOps) {
      const index = next++;
      const t0 = performance.now();
      try {
        await options.op(worker, index);
        latencies.push(performance.now() - t0);
      } catch (error) {
        errors += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
        if (errors > 50 && errors > latencies.length) throw new Error(`too many failures: ${firstError}`);
      }
    }
  }));
  const elapsedMs = performance.now() - started;
  return { ops: latencies.length, errors, elapsedMs, perSecond: latencies.length / (elapsedMs / 1000), latencies, ...(firstError === undefined ? {} : { firstError }) };
}
