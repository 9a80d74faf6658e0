/**
 * `burrow admin`, as an operator runs it on the server machine (in process, `runCli`) against
 * the data directory of a running server: codes, listing, disabling, enabling, deleting, and the
 * operator log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burrow } from '../support/cli.js';
import { bearer, login, registerUser, startTestServer, type TestServer, type TestUser } from '../server/helpers.js';

let server: TestServer;

async function admin(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const result = await burrow(['admin', ...args, '--data', server.dataDir]);
  return { status: result.code, stdout: result.stdout, stderr: result.stderr };
}

async function json<T>(...args: string[]): Promise<T> {
  const result = await admin(...args, '--json');
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
    const { code } = await json<{ code: string; expiresAt: number }>('code', '--hours', '2');
    expect(code).toMatch(/^reg_[A-Za-z0-9_-]{43}$/);
    user = await registerUser(server.app, undefined, undefined, { registrationPass: code });
    await expect(registerUser(server.app, undefined, undefined, { registrationPass: code })).rejects.toThrow(/403/);
  });

  it('lists accounts by id without emails, and with them only when asked', async () => {
    const listed = await json<{ total: number; accounts: Array<{ accountId: string; disabled: boolean; email?: string }> }>('accounts');
    expect(listed.total).toBe(1);
    expect(listed.accounts[0]).toMatchObject({ accountId: user.accountId, disabled: false, families: 0 });
    expect(JSON.stringify(listed)).not.toContain('@');
    const plain = await admin('accounts');
    expect(plain.stdout).toContain(user.accountId);
    expect(plain.stdout).not.toContain('@');
    const withEmails = await json<{ accounts: Array<{ email?: string }> }>('accounts', '--show-emails');
    expect(withEmails.accounts[0]?.email).toBe(user.email.toLowerCase());
  });

  it('disables an account: its session ends at once and it cannot sign in; enabling restores it', async () => {
    expect(await json('disable', user.accountId)).toEqual({ accountId: user.accountId, disabled: true });
    expect((await server.app.inject({ method: 'GET', url: '/v1/accounts/me', headers: bearer(user.token) })).statusCode).toBe(401);
    expect((await login(server.app, user.email, user.password)).finish?.statusCode).toBe(403);
    expect(await json('enable', user.accountId)).toEqual({ accountId: user.accountId, disabled: false });
    expect((await login(server.app, user.email, user.password)).finish?.statusCode).toBe(200);
  });

  it('deletes an account only when the id is confirmed, through the server’s own deletion', async () => {
    const unconfirmed = await admin('delete', user.accountId, '--confirm', 'something-else');
    expect(unconfirmed.status).toBe(2);
    expect(unconfirmed.stderr).toContain('--confirm must repeat the account id');
    expect(await json('delete', user.accountId, '--confirm', user.accountId)).toEqual({ accountId: user.accountId, deleted: true });
    expect((await json<{ total: number }>('accounts')).total).toBe(0);
    expect((await login(server.app, user.email, user.password)).finish?.statusCode).toBe(401);
  });

  it('keeps every action in the operator log, with ids and never an email', async () => {
    const { entries } = await json<{ entries: Array<{ action: string; accountId: string | null }> }>('log');
    expect(entries.map((e) => e.action)).toEqual(['code-issued', 'emails-shown', 'account-disabled', 'account-enabled', 'account-deleted']);
    expect(JSON.stringify(entries)).not.toContain('@');
  });

  it('names the account it cannot find, with a non-zero exit', async () => {
    const missing = await admin('disable', 'AAAAAAAAAAAAAAAAAAAAAA');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no account AAAAAAAAAAAAAAAAAAAAAA');
  });

  it('refuses a bad --hours as a usage error (exit 2) with a hint to --help', async () => {
    const bad = await admin('code', '--hours', 'soon');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('error: --hours must be a whole number from 1 to 720\n(run with --help for usage)\n');
  });
});
