/**
 * The processes a benchmark measures: `burrow serve` (the built CLI) and the baselines, each a
 * separate Node process on 127.0.0.1 with the probe preloaded (probe.ts), so both sides of every
 * comparison are started, observed and stopped the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProbeSample } from './probe.js';

/** dist/bench, where the bundles live (run.mjs, probe.mjs). */
export const BENCH_DIST = dirname(fileURLToPath(import.meta.url));
export const CLI = join(BENCH_DIST, '..', 'cli', 'main.js');
export const PROBE = join(BENCH_DIST, 'probe.mjs');
export const RUNNER = join(BENCH_DIST, 'run.mjs');

/** Environment of a bench `burrow serve`: quiet logs, and the per-address and per-account limits raised (one load client sends everything). */
export const BURROW_BENCH_ENV: Record<string, string> = {
  BURROW_LOG_LEVEL: 'error',
  BURROW_RATE_GLOBAL_PER_MINUTE: '1000000',
  BURROW_RATE_ANONYMOUS_PER_MINUTE: '1000000',
  BURROW_RATE_ACCOUNT_PER_MINUTE: '1000000',
  // A benchmark toy acknowledges hundreds of messages a minute over its live connection.
  BURROW_LIVE_FRAMES_PER_MINUTE: '1000000',
  BURROW_SECURITY_CONTACT: 'mailto:security@example.org',
  BURROW_MAX_MESSAGE_BYTES: String(8 * 1024 * 1024),
};

export interface Measured {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  /** Milliseconds from spawn to the "listening" line. */
  readonly listeningMs: number;
  probe(options?: { reset?: boolean }): Promise<ProbeSample>;
  gc(): Promise<void>;
  /** Starts a V8 CPU profile in the process (inspector); `stopProfile` writes it to `file`. */
  startProfile(): Promise<void>;
  stopProfile(file: string): Promise<void>;
  /** Sends `message` over IPC and waits for the reply of type `replyType` with the same id. */
  call<T>(message: Record<string, unknown>, replyType: string): Promise<T>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
let nextId = 1;

/** Stops every measured process still running (on errors and at exit). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((child) => stopChild(child)));
}

async function stopChild(child: ChildProcess): Promise<void> {
  running.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function ipcRequest<T>(child: ChildProcess, message: Record<string, unknown>, type: string, timeoutMs = 30_000): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`no ${type} answer from pid ${child.pid}`));
    }, timeoutMs);
    const onMessage = (reply: { type?: string; id?: number } & Record<string, unknown>) => {
      if (reply?.type !== type || reply.id !== id) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(reply as T);
    };
    child.on('message', onMessage);
    child.send({ ...message, id });
  });
}

/**
 * Spawns `node [nodeArgs] --import probe.mjs script args` and waits for a stdout line matching
 * `listening` (its first group is the base URL).
 */
export async function startMeasured(options: {
  name: string;
  script: string;
  args: string[];
  env?: Record<string, string>;
  nodeArgs?: string[];
  listening?: RegExp;
  cwd?: string;
}): Promise<Measured> {
  const listening = options.listening ?? /listening on (http:\/\/\S+)/;
  const started = performance.now();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--expose-gc', '--import', PROBE, options.script, ...options.args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  running.add(child);
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    if (err.length < 20_000) err += chunk;
  });
  let found = false;
  const url = await new Promise<string>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${options.name} exited with ${code} before listening: ${err.slice(0, 2000)}`));
    child.once('exit', onExit);
    // Read stdout to the end (a full pipe would stall the child), but only look for the first line.
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      if (found) return;
      out += chunk;
      const match = listening.exec(out);
      if (match?.[1] !== undefined) {
        found = true;
        child.off('exit', onExit);
        resolve(match[1]);
      }
    });
  });
  const listeningMs = performance.now() - started;
  return {
    name: options.name,
    url,
    child,
    listeningMs,
    probe: async (o) => (await ipcRequest<{ sample: ProbeSample }>(child, { type: 'probe', reset: o?.reset ?? false }, 'probe')).sample,
    gc: async () => {
      await ipcRequest(child, { type: 'gc' }, 'gc');
    },
    startProfile: async () => {
      await ipcRequest(child, { type: 'profile-start' }, 'profile-start');
    },
    stopProfile: async (file) => {
      await ipcRequest(child, { type: 'profile-stop', file }, 'profile-stop');
    },
    call: (message, replyType) => ipcRequest(child, message, replyType, 600_000),
    stop: () => stopChild(child),
  };
}

/** A temporary directory removed by the returned function. */
export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `burrow-bench-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Starts `burrow serve` on 127.0.0.1, a free port, with a data directory of its own. */
export function startBurrow(options: { dataDir: string; env?: Record<string, string>; nodeArgs?: string[] }): Promise<Measured> {
  return startMeasured({
    name: 'burrow serve',
    script: CLI,
    args: ['serve', '--host', '127.0.0.1', '--port', '0', '--data', options.dataDir],
    env: { ...BURROW_BENCH_ENV, ...options.env },
    ...(options.nodeArgs === undefined ? {} : { nodeArgs: options.nodeArgs }),
  });
}

/** Starts one of the bench's own roles (a baseline server, a connection holder) from the bench bundle. */
export function startRole(role: string, options: { args?: string[]; env?: Record<string, string>; nodeArgs?: string[] } = {}): Promise<Measured> {
  return startMeasured({
    name: role,
    script: RUNNER,
    args: ['--role', role, ...(options.args ?? [])],
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.nodeArgs === undefined ? {} : { nodeArgs: options.nodeArgs }),
  });
}
