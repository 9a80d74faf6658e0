/**
 * Breach notification with the built CLI: `burrow notify` opens members' sealed addresses with the
 * server's key, writes one mail per recipient into the outbox, records each notice, and prints only
 * a count unless asked for the recipients.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFamily } from '../../src/client/families.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, type TestMember } from '../e2e/family-harness.js';
import { openSqliteStore } from '../../src/storage/sqlite.js';

const root = new URL('../../', import.meta.url).pathname;
const cli = join(root, 'dist/cli/main.js');
if (!existsSync(cli)) spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'ignore' });

let server: RunningServer;
let member: TestMember;
let outsider: TestMember;
let familyId: string;
let template: string;

function burrow(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env }, encoding: 'utf8', timeout: 30_000 });
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
  writeFileSync(template, 'Subject: Security incident at our Burrow server\n\nOn 27 November we found that ... What we are doing: ...\n');
}, 60_000);

afterAll(async () => { await server.close(); });

describe('burrow notify', () => {
  it('notifies one family\'s members through the outbox and records each notice, printing only a count', async () => {
    const result = burrow(['notify', '--family', familyId, '--template', template, '--data', server.dataDir]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('Sent 1 notice(s) (outbox)');
    expect(result.stdout.toLowerCase()).not.toContain(member.email.toLowerCase());
    const mails = outboxMails();
    expect(mails).toHaveLength(1);
    expect(mails[0]).toContain(`To: ${member.email.toLowerCase()}`);
    expect(mails[0]).toContain('Subject: Security incident at our Burrow server');
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

  it('--all reaches every account; --show-recipients lists them', () => {
    rmSync(join(server.dataDir, 'outbox'), { recursive: true, force: true });
    const result = burrow(['notify', '--all', '--template', template, '--data', server.dataDir, '--show-recipients', '--json']);
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { sent: number; recipients: Array<{ accountId: string; email: string }> };
    expect(report.sent).toBe(2);
    expect(report.recipients.map((r) => r.email).sort()).toEqual([member.email, outsider.email].map((e) => e.toLowerCase()).sort());
    expect(outboxMails()).toHaveLength(2);
  }, 60_000);

  it('refuses without exactly one of --all or --family, and for an unknown family', () => {
    expect(burrow(['notify', '--template', template, '--data', server.dataDir]).status).toBe(1);
    expect(burrow(['notify', '--all', '--family', familyId, '--template', template, '--data', server.dataDir]).status).toBe(1);
    const unknown = burrow(['notify', '--family', 'AAAAAAAAAAAAAAAAAAAAAA', '--template', template, '--data', server.dataDir]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('no family');
  }, 60_000);
});
