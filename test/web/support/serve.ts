/**
 * A real `burrow serve` for the browser tests: the built CLI (`dist/cli/main.js`, with the web app
 * in `dist/web`, both from `npm run build`) in a child process, on a temporary data directory and
 * a free port of 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../../', import.meta.url).pathname;
const cli = join(root, 'dist/cli/main.js');
const webIndex = join(root, 'dist/web/index.html');

/** A running `burrow serve`. */
export interface ServeProcess {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  dataDir: string;
  /** What the server wrote to stderr so far (for failure messages). */
  stderr(): string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and deletes its data directory. */
  close(): Promise<void>;
}

function waitForListening(child: ChildProcess, errors: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`burrow serve did not start within 60 s: ${errors()}`)), 60_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /Burrow is listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`burrow serve exited with ${code}: ${errors()}`));
    });
  });
}

/**
 * Starts `burrow serve --data <tmp> --port 0`. Sign-up and pairing limits per address are raised
 * (every browser of a test shares 127.0.0.1); everything else runs with its defaults.
 */
export async function startBurrowServe(options: { env?: Record<string, string> } = {}): Promise<ServeProcess> {
  if (!existsSync(cli) || !existsSync(webIndex)) throw new Error('the browser tests need the built CLI and web app: run `npm run build` first (npm test does)');
  const parent = await mkdtemp(join(tmpdir(), 'burrow-web-'));
  const dataDir = join(parent, 'data');
  const child = spawn(process.execPath, [cli, 'serve', '--data', dataDir, '--port', '0'], {
    cwd: parent,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: parent,
      BURROW_LOG_LEVEL: 'warn',
      BURROW_RATE_ANONYMOUS_PER_MINUTE: '1000',
      BURROW_RATE_ACCOUNT_PER_MINUTE: '1000',
      BURROW_RATE_GLOBAL_PER_MINUTE: '100000',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let url: string;
  try {
    url = await waitForListening(child, () => stderr);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(parent, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    dataDir,
    stderr: () => stderr,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(parent, { recursive: true, force: true });
    },
  };
}
