/**
 * `burrow account …` as a user runs it, in process (`runCli` with captured output and an
 * environment of the test's own), against a real `burrow serve` also run in process on 127.0.0.1.
 * Passwords come from BURROW_PASSWORD, --password-file or --password-stdin; stdin is no terminal.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, toHex } from '../../src/crypto/bytes.js';
import { burrow as runBurrow, jsonOf as json, startBurrow, waitForOutput, type CliRun as Run, type CliRunOptions, type StartedCli } from '../support/cli.js';

let workDir: string;
let server: StartedCli;
let serverUrl: string;

/** Runs the CLI with a clean environment plus `env`; stdin is not a terminal unless `input` says. */
function burrow(args: string[], env: Record<string, string> = {}, input: Omit<CliRunOptions, 'env'> = {}): Promise<Run> {
  return runBurrow(args, { env: { HOME: workDir, XDG_CONFIG_HOME: join(workDir, 'xdg'), ...env }, ...input });
}

let counter = 0;
function newUser(): { email: string; password: string; profile: string } {
  counter += 1;
  return {
    email: `cli-${counter}-${toHex(randomBytes(4))}@example.org`,
    password: `Copper kettle ${toHex(randomBytes(3))} whistles at dawn`,
    profile: join(workDir, `profile-${counter}`),
  };
}

async function register(user: { email: string; password: string; profile: string }): Promise<Record<string, unknown>> {
  const run = await burrow(['account', 'register', '--server', serverUrl, '--email', user.email, '--profile', user.profile, '--json'], {
    BURROW_PASSWORD: user.password,
  });
  expect(run.code, run.stderr).toBe(0);
  return json(run);
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'burrow-cli-'));
  server = startBurrow(['serve', '--data', join(workDir, 'data'), '--host', '127.0.0.1', '--port', '0', '--json'], {
    env: {
      BURROW_LOG_LEVEL: 'warn',
      BURROW_RATE_GLOBAL_PER_MINUTE: '100000',
      BURROW_RATE_ANONYMOUS_PER_MINUTE: '100000',
      BURROW_RATE_ACCOUNT_PER_MINUTE: '1000',
    },
  });
  const listening = await waitForOutput(server.stdout, /^\{"event":"listening".*\}$/m, server.done);
  serverUrl = (JSON.parse(listening[0]) as { url: string }).url;
});

afterAll(async () => {
  if (server !== undefined) {
    server.signal('SIGTERM');
    expect((await server.done).code).toBe(0);
  }
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

describe('burrow account', { timeout: 120_000 }, () => {
  it('register prints one JSON object with the recovery code, and keeps the profile in 0600 files of a 0700 directory', async () => {
    const user = newUser();
    const run = await burrow(['account', 'register', '--server', serverUrl, '--email', user.email, '--profile', user.profile, '--json'], {
      BURROW_PASSWORD: user.password,
    });
    expect(run.code, run.stderr).toBe(0);
    const out = json(run);
    expect(out.accountId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(out.recoveryCode).toMatch(/^([0-9A-Z]{4}-){7}[0-9A-Z]{4}$/);
    expect(out).not.toHaveProperty('fingerprint');
    expect(out).not.toHaveProperty('token');

    expect((await stat(user.profile)).mode & 0o777).toBe(0o700);
    const files = await readdir(user.profile);
    expect(files.sort()).toEqual(['identity.key', 'session.json']);
    for (const file of files) {
      expect((await stat(join(user.profile, file))).mode & 0o777, file).toBe(0o600);
      const text = await readFile(join(user.profile, file), 'utf8');
      expect(text).not.toContain(user.password);
      expect(text).not.toContain(user.email);
    }
    const session = JSON.parse(await readFile(join(user.profile, 'session.json'), 'utf8')) as { token: string };
    expect(run.stdout + run.stderr).not.toContain(session.token);
    expect(run.stdout + run.stderr).not.toContain(user.password);
  });

  it('register without --json shows the recovery code once with a note to write it down', async () => {
    const user = newUser();
    const run = await burrow(['account', 'register', '--server', serverUrl, '--email', user.email, '--profile', user.profile], { BURROW_PASSWORD: user.password });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Recovery code: ([0-9A-Z]{4}-){7}[0-9A-Z]{4}/);
    expect(run.stdout).toMatch(/Write this recovery code down/);
  });

  it('register → logout → login on a second profile restores the same identity', async () => {
    const user = newUser();
    const registered = await register(user);
    const loggedOut = await burrow(['account', 'logout', '--profile', user.profile, '--json']);
    expect(loggedOut.code, loggedOut.stderr).toBe(0);
    expect(json(loggedOut)).toMatchObject({ loggedOut: true });
    expect(await readdir(user.profile)).toEqual([]);

    const second = join(workDir, `second-${counter}`);
    const login = await burrow(['account', 'login', '--server', serverUrl, '--email', user.email, '--json'], { BURROW_PASSWORD: user.password, BURROW_PROFILE: second });
    expect(login.code, login.stderr).toBe(0);
    const out = json(login);
    expect(out.accountId).toBe(registered.accountId);
    expect(out.identity).toEqual(registered.identity);
    expect(out.profile).toBe(second);

    const status = await burrow(['account', 'status', '--json'], { BURROW_PROFILE: second });
    expect(status.code, status.stderr).toBe(0);
    expect(json(status)).toMatchObject({ accountId: registered.accountId, server: serverUrl });
  });

  it('uses the profile under XDG_CONFIG_HOME when no --profile or BURROW_PROFILE is given', async () => {
    const user = newUser();
    const xdg = join(workDir, `xdg-${counter}`);
    const run = await burrow(['account', 'register', '--server', serverUrl, '--email', user.email, '--json'], { BURROW_PASSWORD: user.password, XDG_CONFIG_HOME: xdg });
    expect(run.code, run.stderr).toBe(0);
    expect(json(run).profile).toBe(join(xdg, 'burrow', 'profile'));
    expect((await readdir(join(xdg, 'burrow', 'profile'))).sort()).toEqual(['identity.key', 'session.json']);
  });

  it('a wrong password and an unknown email fail alike: a JSON problem on stderr, nothing on stdout, a non-zero exit', async () => {
    const user = newUser();
    await register(user);
    const wrongProfile = join(workDir, `wrong-${counter}`);
    const wrong = await burrow(['account', 'login', '--server', serverUrl, '--email', user.email, '--profile', wrongProfile, '--json'], {
      BURROW_PASSWORD: 'definitely not the password',
    });
    const unknown = await burrow(['account', 'login', '--server', serverUrl, '--email', newUser().email, '--profile', wrongProfile, '--json'], {
      BURROW_PASSWORD: 'definitely not the password',
    });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout).toBe('');
    expect(JSON.parse(wrong.stderr)).toMatchObject({ code: 'burrow/login-failed', status: 401 });
    expect(unknown).toEqual(wrong);
    expect(existsSync(join(wrongProfile, 'session.json'))).toBe(false);
  });

  it('refuses a weak password with the policy\'s reasons', async () => {
    // The policy itself is the client library's (test/client/password-policy.test.ts): here, its wording and exit code.
    for (const password of ['cloudpets']) {
      const user = newUser();
      const run = await burrow(['account', 'register', '--server', serverUrl, '--email', user.email, '--profile', user.profile], { BURROW_PASSWORD: password });
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/too weak/);
      expect(run.stderr).toMatch(/at least 10 characters/);
      expect(existsSync(join(user.profile, 'session.json'))).toBe(false);
    }
  });

  it('says how to give the password when there is no terminal and no BURROW_PASSWORD', async () => {
    const user = newUser();
    const run = await burrow(['account', 'login', '--server', serverUrl, '--email', user.email, '--profile', user.profile]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/BURROW_PASSWORD/);
    expect(run.stderr).toMatch(/--password-file or --password-stdin/);
  });

  it('takes the password from --password-file or --password-stdin, without one trailing newline, and never prints it', async () => {
    const user = newUser();
    const file = join(workDir, `password-${counter}.txt`);
    await writeFile(file, `${user.password}\n`, { mode: 0o600 });
    const registered = await burrow(['account', 'register', '--server', serverUrl, '--email', user.email, '--profile', user.profile, '--password-file', file, '--json']);
    expect(registered.code, registered.stderr).toBe(0);
    expect(registered.stdout + registered.stderr).not.toContain(user.password);

    // The password is the file's text less its newline: the same password from the environment signs in.
    const second = join(workDir, `second-${counter}`);
    const fromEnv = await burrow(['account', 'login', '--server', serverUrl, '--email', user.email, '--profile', second, '--json'], { BURROW_PASSWORD: user.password });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);

    const third = join(workDir, `third-${counter}`);
    const fromStdin = await burrow(['account', 'login', '--server', serverUrl, '--email', user.email, '--profile', third, '--password-stdin', '--json'], {}, { stdin: `${user.password}\r\n` });
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    expect(json(fromStdin).accountId).toBe(json(registered).accountId);

    // Only one trailing newline goes: a second one is part of the password, which is then wrong.
    const fourth = join(workDir, `fourth-${counter}`);
    const extra = await burrow(['account', 'login', '--server', serverUrl, '--email', user.email, '--profile', fourth, '--password-stdin', '--json'], {}, { stdin: `${user.password}\n\n` });
    expect(JSON.parse(extra.stderr)).toMatchObject({ code: 'burrow/login-failed' });

    const both = await burrow(['account', 'login', '--server', serverUrl, '--email', user.email, '--profile', fourth, '--password-stdin', '--password-file', file]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/only one of --password-file and --password-stdin/);
    const missing = await burrow(['account', 'login', '--server', serverUrl, '--email', user.email, '--profile', fourth, '--password-file', join(workDir, 'no-such-file')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read the password file/);
  });

  it('refuses to sign a profile in twice', async () => {
    const user = newUser();
    await register(user);
    const run = await burrow(['account', 'login', '--server', serverUrl, '--email', user.email, '--profile', user.profile, '--json'], { BURROW_PASSWORD: user.password });
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stderr)).toMatchObject({ code: 'cli/profile-in-use' });
  });

  it('lists sessions, revokes one, and revoke-all signs this profile out', async () => {
    const user = newUser();
    await register(user);
    const other = join(workDir, `other-${counter}`);
    const login = await burrow(['account', 'login', '--server', serverUrl, '--email', user.email, '--profile', other, '--label', 'second laptop', '--json'], {
      BURROW_PASSWORD: user.password,
    });
    expect(login.code, login.stderr).toBe(0);
    const otherSessionId = json(login).sessionId;

    const list = await burrow(['account', 'sessions', '--profile', user.profile, '--json']);
    expect(list.code, list.stderr).toBe(0);
    const sessions = json(list).sessions as Array<{ sessionId: string; label: string; current: boolean }>;
    expect(sessions.map((s) => s.label).sort()).toEqual(['burrow CLI', 'second laptop']);
    expect(sessions.find((s) => s.current)?.label).toBe('burrow CLI');

    const revoke = await burrow(['account', 'sessions', '--profile', user.profile, '--revoke', String(otherSessionId), '--json']);
    expect(revoke.code, revoke.stderr).toBe(0);
    const otherStatus = await burrow(['account', 'status', '--profile', other, '--json']);
    expect(otherStatus.code).not.toBe(0);
    expect(JSON.parse(otherStatus.stderr)).toMatchObject({ code: 'burrow/unauthenticated' });

    const all = await burrow(['account', 'sessions', '--profile', user.profile, '--revoke-all', '--json']);
    expect(all.code, all.stderr).toBe(0);
    expect(await readdir(user.profile)).toEqual([]);
  });

  it('recover sets a new password from the recovery code and prints a new code', async () => {
    const user = newUser();
    const registered = await register(user);
    await burrow(['account', 'logout', '--profile', user.profile]);
    const newPassword = 'Seven lighthouses hum in winter';
    const run = await burrow(['account', 'recover', '--server', serverUrl, '--email', user.email, '--profile', user.profile, '--json'], {
      BURROW_PASSWORD: newPassword,
      BURROW_RECOVERY_CODE: String(registered.recoveryCode).toLowerCase(),
    });
    expect(run.code, run.stderr).toBe(0);
    const out = json(run);
    expect(out.identity).toEqual(registered.identity);
    expect(out.recoveryCode).not.toBe(registered.recoveryCode);
    expect(run.stdout).not.toContain(newPassword);
    // That the old password then fails is the server's and the library's (test/e2e/accounts.test.ts).
  });

  it('delete needs confirmation, then removes the account', async () => {
    const user = newUser();
    await register(user);
    const unconfirmed = await burrow(['account', 'delete', '--profile', user.profile, '--json']);
    expect(unconfirmed.code).toBe(2);
    expect(JSON.parse(unconfirmed.stderr)).toMatchObject({ code: 'cli/not-confirmed' });
    const mistyped = await burrow(['account', 'delete', '--profile', user.profile], {}, { typed: ['delete my acount'] });
    expect(mistyped.code).toBe(2);
    expect(mistyped.stderr).toMatch(/Type "delete my account" to confirm/);
    expect(mistyped.stderr).toMatch(/not confirmed; nothing was deleted/);

    const deleted = await burrow(['account', 'delete', '--profile', user.profile, '--yes', '--json']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(json(deleted)).toMatchObject({ deleted: true });
    expect(await readdir(user.profile)).toEqual([]);
  });

  it('fails clearly when the server cannot be reached', async () => {
    const user = newUser();
    const run = await burrow(['account', 'login', '--server', 'http://127.0.0.1:1', '--email', user.email, '--profile', user.profile], { BURROW_PASSWORD: user.password });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/cannot reach the server at http:\/\/127\.0\.0\.1:1/);
  });

  it('commands without a signed-in profile say so', async () => {
    const run = await burrow(['account', 'sessions', '--profile', join(workDir, 'empty'), '--json']);
    expect(run.code).not.toBe(0);
    expect(JSON.parse(run.stderr)).toMatchObject({ code: 'client/not-signed-in' });
  });

  it('reports a usage error as one JSON problem when --json is given', async () => {
    const run = await burrow(['account', 'login', '--json', '--no-such-option']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(JSON.parse(run.stderr)).toMatchObject({ code: 'cli/usage', detail: "unknown option '--no-such-option'" });
  });

  it('reports usage errors in one line with a hint to --help, exit 2', async () => {
    for (const args of [['account', 'login', '--no-such-option'], ['account', 'login', '--server'], ['account', 'no-such-command'], ['account']]) {
      const run = await burrow(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stdout).toBe('');
      if (args.length > 1) expect(run.stderr).toMatch(/^error: .*\n\(run with --help for usage\)\n$/);
    }
  });

  it('has help with examples', async () => {
    for (const command of ['register', 'login', 'recover']) {
      const run = await burrow(['account', command, '--help']);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/Examples?:/);
      expect(run.stdout).toMatch(/BURROW_PASSWORD/);
      expect(run.stdout).toMatch(/--password-file/);
    }
  });
});
