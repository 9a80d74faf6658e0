/**
 * A real `burrow serve` for the tests that need one as a process: the built CLI
 * (`dist/cli/main.js`, with the web app in `dist/web`, both from `npm run build`; npm test builds
 * first) in a child process, on a data directory and a free port of 127.0.0.1. The one way the
 * tests start it: browser tests, the serve command, crashes, a full disk, scale-out nodes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
/** The built CLI. */
export const BUILT_CLI = join(root, 'dist/cli/main.js');

/** A running `burrow serve`. */
export interface ServeProcess {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  dataDir: string;
  child: ChildProcess;
  /** Its exit code (null after a signal), once it exits. */
  exited: Promise<number | null>;
  /** What the server wrote to stdout so far. */
  stdout(): string;
  /** What the server wrote to stderr so far (for failure messages). */
  stderr(): string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and deletes a data directory it made. */
  close(): Promise<void>;
  /** SIGKILL: the server dies mid-work, as in a crash (its data directory stays). */
  kill(): Promise<void>;
}

export interface ServeOptions {
  /** Added to, and overriding, the defaults (high rate limits, warnings only). */
  env?: Record<string, string>;
  /** A data directory to serve and keep; by default a fresh one, deleted by `close`. */
  dataDir?: string;
  /** More arguments after `serve --data <dir> --host 127.0.0.1 --port 0` (`--json`). */
  args?: string[];
  /**
   * A command line that prepares something and then runs its arguments (`node main.js serve …`),
   * such as `unshare … sh -c '…; exec "$@"' sh`.
   */
  wrapper?: string[];
}

/** The address in `Burrow is listening on URL (…)` or in the `--json` listening line. */
function listeningUrl(stdout: string): string | undefined {
  return /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1] ?? /"event":"listening","url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(stdout)?.[1];
}

/**
 * Starts `burrow serve` and resolves once it says where it listens. Sign-up, login and request
 * limits per address are raised (every client of a test shares 127.0.0.1); the environment is
 * only PATH, HOME and these, so nothing of the test runner's leaks in. Rejects with the server's
 * stderr when it exits first.
 */
export async function startBurrowServe(options: ServeOptions = {}): Promise<ServeProcess> {
  if (!existsSync(BUILT_CLI) || !existsSync(join(root, 'dist/web/index.html'))) throw new Error('these tests need the built CLI and web app: run `npm run build` first (npm test does)');
  const made = options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'burrow-serve-')) : undefined;
  const dataDir = options.dataDir ?? join(made!, 'data');
  const serve = [process.execPath, BUILT_CLI, 'serve', '--data', dataDir, '--host', '127.0.0.1', '--port', '0', ...(options.args ?? [])];
  const [command, ...args] = [...(options.wrapper ?? []), ...serve] as [string, ...string[]];
  const child = spawn(command, args, {
    cwd: made ?? root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: made ?? process.env.HOME ?? '',
      BURROW_LOG_LEVEL: 'warn',
      // Each server here has a home of its own, so a compile cache would only be written, never read.
      NODE_DISABLE_COMPILE_CACHE: '1',
      BURROW_RATE_GLOBAL_PER_MINUTE: '100000',
      BURROW_RATE_ANONYMOUS_PER_MINUTE: '100000',
      BURROW_RATE_ACCOUNT_PER_MINUTE: '100000',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  let url: string;
  try {
    url = await new Promise<string>((resolve, reject) => {
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        const found = listeningUrl(stdout);
        if (found !== undefined) resolve(found);
      });
      void exited.then((code) => reject(new Error(`burrow serve exited with ${code}: ${stderr}`)));
    });
  } catch (error) {
    if (running()) child.kill('SIGKILL');
    await exited;
    if (made !== undefined) await rm(made, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    dataDir,
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    async close() {
      if (running()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      if (made !== undefined) await rm(made, { recursive: true, force: true });
    },
    async kill() {
      if (running()) child.kill('SIGKILL');
      await exited;
    },
  };
}
