/**
 * Breach notification with the CLI (in process, `runCli`): `burrow notify` opens members' sealed
 * addresses with the server's key, writes one mail per recipient into the outbox, records each
 * notice, and prints only a count unless asked for the recipients. `--all` is confirmed (a prompt
 * on a terminal, `--yes` elsewhere); `--dry-run` sends and records nothing.
 */
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFamily } from '../../src/client/families.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, type TestMember } from '../e2e/family-harness.js';
import { openSqliteStore } from '../../src/storage/sqlite.js';
import { burrow as runBurrow, type CliRunOptions } from '../support/cli.js';

let server: RunningServer;
let member: TestMember;
let outsider: TestMember;
let familyId: string;
let template: string;

async function burrow(args: string[], input: Omit<CliRunOptions, 'env'> = {}) {
  const result = await runBurrow(args, input);
  return { status: result.code, stdout: result.stdout, stderr: result.stderr };
}

async function noticeCount(): Promise<number> {
  const store = await openSqliteStore(join(server.dataDir, 'burrow.db'));
  try {
    return (await store.db.selectFrom('notices').select('id').execute()).length;
  } finally {
    await store.close();
  }
}

function outboxMails(): string[] {
  const dir = join(server.dataDir, 'outbox');
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.eml')).map((n) => readFileSync(join(dir, n), 'utf8')) : [];
}

beforeAll(async () => {
  server = await startServer();
  [member, outsider] = await Promise.all([registerMember(server.url, 'notified'), registerMember(server.url, 'outsider')]) as [TestMember, TestMember];
  familyId = (await createFamily(member, { name: 'Notified Family' })).familyId;
  template = join(server.dataDir, '..', 'notice.txt');
  writeFileSync(template, 'Subject: Security incident at our Burrow server – Sicherheitsvorfall\n\nOn 27 November we found that ... What we are doing: ...\n');
}, 60_000);

afterAll(async () => { await server.close(); });

describe('burrow notify', () => {
  it('notifies one family\'s members through the outbox and records each notice, printing only a count', async () => {
    const result = await burrow(['notify', '--family', familyId, '--template', template, '--data', server.dataDir]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('Sent 1 notice(s) (outbox)');
    expect(result.stdout.toLowerCase()).not.toContain(member.email.toLowerCase());
    const mails = outboxMails();
    expect(mails).toHaveLength(1);
    expect(mails[0]).toContain(`To: ${member.email.toLowerCase()}`);
    // The non-ASCII subject travels as RFC 2047 encoded words.
    expect(mails[0]).toMatch(/^Subject: =\?UTF-8\?[QB]\?/m);
    expect(mails[0]).toContain('Content-Type: text/plain; charset=utf-8');
    expect(mails[0]).toContain('What we are doing');
    const store = await openSqliteStore(join(server.dataDir, 'burrow.db'));
    try {
      const notices = await store.db.selectFrom('notices').selectAll().execute();
      expect(notices.map((n) => [n.recipient_account_id, n.channel])).toEqual([[member.me.accountId, 'outbox']]);
      expect(notices[0]!.template_sha256).toMatch(/^[A-Za-z0-9_-]{43}$/);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('--all asks on a terminal and sends nothing unless the answer is exact', async () => {
    rmSync(join(server.dataDir, 'outbox'), { recursive: true, force: true });
    const before = await noticeCount();
    const declined = await burrow(['notify', '--all', '--template', template, '--data', server.dataDir], { typed: ['yes'] });
    expect(declined.status).toBe(2);
    expect(declined.stderr).toContain('to every account (2). Type "send to all" to confirm');
    expect(declined.stderr).toContain('not confirmed; nothing was sent');
    const confirmed = await burrow(['notify', '--all', '--template', template, '--data', server.dataDir], { typed: ['send to all'] });
    expect(confirmed.status, confirmed.stderr).toBe(0);
    expect(confirmed.stdout).toContain('Sent 2 notice(s) (outbox)');
    expect(await noticeCount()).toBe(before + 2);
  }, 60_000);

  it('--all without a terminal is refused unless --yes', async () => {
    rmSync(join(server.dataDir, 'outbox'), { recursive: true, force: true });
    const before = await noticeCount();
    const refused = await burrow(['notify', '--all', '--template', template, '--data', server.dataDir]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toBe('error: no terminal to confirm on: pass --yes to send to every account (--dry-run shows what would be sent)\nNot confirmed; nothing was done.\n');
    expect(outboxMails()).toHaveLength(0);
    expect(await noticeCount()).toBe(before);
  }, 60_000);

  it('--dry-run prints the count and the message, and sends and records nothing', async () => {
    rmSync(join(server.dataDir, 'outbox'), { recursive: true, force: true });
    const before = await noticeCount();
    const human = await burrow(['notify', '--all', '--dry-run', '--template', template, '--data', server.dataDir]);
    expect(human.status, human.stderr).toBe(0);
    expect(human.stdout).toContain('Dry run: would send 2 notice(s) through outbox; nothing was sent.');
    expect(human.stdout).toContain('Subject: Security incident at our Burrow server – Sicherheitsvorfall');
    expect(human.stdout).toContain('What we are doing');
    expect(human.stdout.toLowerCase()).not.toContain(member.email.toLowerCase());
    const json = await burrow(['notify', '--family', familyId, '--dry-run', '--template', template, '--data', server.dataDir, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ dryRun: true, recipients: 1, channel: 'outbox', subject: 'Security incident at our Burrow server – Sicherheitsvorfall' });
    expect(outboxMails()).toHaveLength(0);
    expect(await noticeCount()).toBe(before);
  }, 60_000);

  it('--all --yes reaches every account; --show-recipients lists them', async () => {
    rmSync(join(server.dataDir, 'outbox'), { recursive: true, force: true });
    const result = await burrow(['notify', '--all', '--yes', '--template', template, '--data', server.dataDir, '--show-recipients', '--json']);
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { sent: number; recipients: Array<{ accountId: string; email: string }> };
    expect(report.sent).toBe(2);
    expect(report.recipients.map((r) => r.email).sort()).toEqual([member.email, outsider.email].map((e) => e.toLowerCase()).sort());
    expect(outboxMails()).toHaveLength(2);
  }, 60_000);

  it('refuses without exactly one of --all or --family (a usage error), and for an unknown family', async () => {
    expect((await burrow(['notify', '--template', template, '--data', server.dataDir])).status).toBe(2);
    const both = await burrow(['notify', '--all', '--family', familyId, '--template', template, '--data', server.dataDir]);
    expect(both.status).toBe(2);
    expect(both.stderr).toBe('error: give exactly one of --all or --family ID\n(run with --help for usage)\n');
    const unknown = await burrow(['notify', '--family', 'AAAAAAAAAAAAAAAAAAAAAA', '--template', template, '--data', server.dataDir]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('no family');
  }, 60_000);
});
