/**
 * `burrow admin`, as an operator runs it on the server machine (the built CLI in child processes)
 * against the data directory of a running server: codes, listing, disabling, enabling, deleting,
 * and the operator log. Needs `dist/` (npm test builds it first).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, login, registerUser, startTestServer, type TestServer, type TestUser } from '../server/helpers.js';

const cli = join(new URL('../../', import.meta.url).pathname, 'dist/cli/main.js');
let server: TestServer;

function admin(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, 'admin', ...args, '--data', server.dataDir], { encoding: 'utf8', env: { ...process.env, BURROW_DATA: '' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function json<T>(...args: string[]): T {
  const result = admin(...args, '--json');
  if (result.status !== 0) throw new Error(`burrow admin ${args.join(' ')} exited with ${result.status}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

beforeAll(async () => {
  server = await startTestServer({ overrides: { registration: 'invite' } });
});

afterAll(async () => {
  await server.close();
});

describe('burrow admin', () => {
  let user: TestUser;

  it('issues a one-time code that lets one person register on an invite-only server', async () => {
    const { code } = json<{ code: string; expiresAt: number }>('code', '--hours', '2');
    expect(code).toMatch(/^reg_[A-Za-z0-9_-]{43}$/);
    user = await registerUser(server.app, undefined, undefined, { registrationPass: code });
    await expect(registerUser(server.app, undefined, undefined, { registrationPass: code })).rejects.toThrow(/403/);
  });

  it('lists accounts by id without emails, and with them only when asked', () => {
    const listed = json<{ total: number; accounts: Array<{ accountId: string; disabled: boolean; email?: string }> }>('accounts');
    expect(listed.total).toBe(1);
    expect(listed.accounts[0]).toMatchObject({ accountId: user.accountId, disabled: false, families: 0 });
    expect(JSON.stringify(listed)).not.toContain('@');
    const plain = admin('accounts');
    expect(plain.stdout).toContain(user.accountId);
    expect(plain.stdout).not.toContain('@');
    const withEmails = json<{ accounts: Array<{ email?: string }> }>('accounts', '--show-emails');
    expect(withEmails.accounts[0]?.email).toBe(user.email.toLowerCase());
  });

  it('disables an account: its session ends at once and it cannot sign in; enabling restores it', async () => {
    expect(json('disable', user.accountId)).toEqual({ accountId: user.accountId, disabled: true });
    expect((await server.app.inject({ method: 'GET', url: '/v1/accounts/me', headers: bearer(user.token) })).statusCode).toBe(401);
    expect((await login(server.app, user.email, user.password)).finish?.statusCode).toBe(403);
    expect(json('enable', user.accountId)).toEqual({ accountId: user.accountId, disabled: false });
    expect((await login(server.app, user.email, user.password)).finish?.statusCode).toBe(200);
  });

  it('deletes an account only when the id is confirmed, through the server’s own deletion', async () => {
    const unconfirmed = admin('delete', user.accountId, '--confirm', 'something-else');
    expect(unconfirmed.status).not.toBe(0);
    expect(unconfirmed.stderr).toContain('--confirm must repeat the account id');
    expect(json('delete', user.accountId, '--confirm', user.accountId)).toEqual({ accountId: user.accountId, deleted: true });
    expect(json<{ total: number }>('accounts').total).toBe(0);
    expect((await login(server.app, user.email, user.password)).finish?.statusCode).toBe(401);
  });

  it('keeps every action in the operator log, with ids and never an email', () => {
    const { entries } = json<{ entries: Array<{ action: string; accountId: string | null }> }>('log');
    expect(entries.map((e) => e.action)).toEqual(['code-issued', 'emails-shown', 'account-disabled', 'account-enabled', 'account-deleted']);
    expect(JSON.stringify(entries)).not.toContain('@');
  });

  it('names the account it cannot find, with a non-zero exit', () => {
    const missing = admin('disable', 'AAAAAAAAAAAAAAAAAAAAAA');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no account AAAAAAAAAAAAAAAAAAAAAA');
  });
});
