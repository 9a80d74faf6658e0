/**
 * The built `burrow` executable as a real process (`dist/cli/main.js`, from `npm run build`): what
 * only a process shows. --help and --version, the exit code of a usage error, a password from a
 * pipe, and `burrow serve --json` stopped by a real SIGTERM. Everything else runs in process.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBurrowServe } from '../support/serve.js';

const cli = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

let workDir: string;

function burrow(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH ?? '', HOME: workDir, ...options.env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run "npm run build" first (npm test does)`);
  workDir = await mkdtemp(join(tmpdir(), 'burrow-process-'));
});

afterAll(async () => {
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

describe('the burrow process', { timeout: 60_000 }, () => {
  it('--version prints the package version and --help lists the commands, both exiting 0', async () => {
    const shown = await burrow(['--version']);
    expect(shown).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    const help = await burrow(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['account', 'family', 'toy', 'serve', 'backup', 'notify', 'completion']) expect(help.stdout).toContain(command);
  });

  it('exits 2 on a usage error, with one line and a hint to --help', async () => {
    const unknown = await burrow(['backup', '--out', join(workDir, 'b'), '--no-such-option']);
    expect(unknown).toEqual({ code: 2, stdout: '', stderr: "error: unknown option '--no-such-option'\n(run with --help for usage)\n" });
  });

  it('reads a password piped to --password-stdin (a failed sign-in, exit 1: the pipe reached the command)', async () => {
    const run = await burrow(['account', 'login', '--server', 'http://127.0.0.1:1', '--email', 'ada@example.org', '--profile', join(workDir, 'p'), '--password-stdin'], { input: 'a piped password\n' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cannot reach the server at http:\/\/127\.0\.0\.1:1/);
    expect(run.stderr).not.toContain('a piped password');
  });

  it('serve --json prints one listening line, and a SIGTERM shuts it down with exit 0', async () => {
    const server = await startBurrowServe({ dataDir: join(workDir, 'data'), args: ['--json'], env: { BURROW_SECURITY_CONTACT: 'mailto:security@example.org' } });
    try {
      const lines = server.stdout().split('\n').filter((line) => line.startsWith('{"event":"listening"'));
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toEqual({ event: 'listening', url: server.url, version, pid: server.child.pid });
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    } finally {
      await server.kill();
    }
  });
});
