/**
 * `burrow family|child|send|inbox|approve` as a user runs them, in process (`runCli`), against a
 * real server on 127.0.0.1.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, toHex } from '../../src/crypto/bytes.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { wavWith } from '../e2e/family-harness.js';
import { burrow as runBurrow, startBurrow, waitForOutput, type CliRun as Run } from '../support/cli.js';

let server: RunningServer;
let workDir: string;

function env(): Record<string, string> {
  return { HOME: workDir };
}

function burrow(args: string[], extra: Record<string, string> = {}): Promise<Run> {
  return runBurrow(args, { env: { ...env(), ...extra } });
}

async function ok(args: string[], extra: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const run = await burrow([...args, '--json'], extra);
  expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(0);
  const lines = run.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

interface Registered {
  profile: string;
  accountId: string;
  email: string;
  password: string;
}

async function register(name: string): Promise<Registered> {
  const profile = join(workDir, name);
  const email = `${name}-${toHex(randomBytes(4))}@example.org`;
  const password = `gentle ${name} ${toHex(randomBytes(4))} river lantern`;
  const out = await ok(['account', 'register', '--server', server.url, '--email', email, '--profile', profile], { BURROW_PASSWORD: password });
  return { profile, accountId: out.accountId as string, email, password };
}

let mum: Registered;
let aunt: Registered;
let familyId: string;

beforeAll(async () => {
  server = await startServer();
  workDir = await mkdtemp(join(tmpdir(), 'burrow-family-cli-'));
  [mum, aunt] = await Promise.all([register('mum'), register('aunt')]);
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

describe('burrow family, child, send, inbox and approve', { timeout: 120_000 }, () => {
  it('every member command has help with examples', async () => {
    const commands = [['family'], ['family', 'list'], ['family', 'invite'], ['family', 'invites'], ['family', 'verify'], ['family', 'set-name'], ['family', 'remove'], ['family', 'role'], ['family', 'settings'], ['child'], ['child', 'add'], ['child', 'list'], ['send'], ['inbox'], ['export'], ['approve'], ['decline']];
    const runs = await Promise.all(commands.map((command) => burrow([...command, '--help'])));
    for (const [i, run] of runs.entries()) {
      expect(run.code, commands[i]!.join(' ')).toBe(0);
      expect(run.stdout, commands[i]!.join(' ')).toMatch(/Examples?:/);
    }
  });

  it('a guardian creates a family, adds a child, invites a relative who joins and waits until admitted', async () => {
    familyId = (await ok(['family', 'create', '--name', 'Fernside', '--my-name', 'Mum', '--retention-days', '14', '--profile', mum.profile])).familyId as string;
    const child = await ok(['child', 'add', '--family', familyId, '--name', 'Mia', '--emoji', '🦊', '--profile', mum.profile]);
    expect(child.name).toBe('Mia');
    const invite = await ok(['family', 'invite', '--family', familyId, '--role', 'relative', '--child', 'mia', '--needs-approval', '--for', 'Aunt Jo', '--profile', mum.profile]);
    expect(invite.link).toMatch(/\/join#[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/);
    const joined = await burrow(['family', 'join', invite.link as string, '--profile', aunt.profile]);
    expect(joined.code, joined.stderr).toBe(0);
    expect(joined.stdout).toContain('Waiting for a guardian to add you');
    // Who invites, whom for and to which family: signed by Mum's client, opened with the link.
    expect(joined.stdout).toContain('Invite accepted for the family "Fernside"');
    expect(joined.stdout).toContain(', as Aunt Jo.');
    expect(joined.stdout).toContain('Invited by Mum');
    // The let-in list: the joiner's chosen name (sealed with the link's secret) and their account's email.
    const waiting = (await ok(['family', 'invites', '--family', familyId, '--profile', mum.profile])).invites as Array<{ status: string; for?: string; joiner?: { name?: string; email?: string } }>;
    expect(waiting.find((i) => i.status === 'accepted')).toMatchObject({ for: 'Aunt Jo', joiner: { name: 'Aunt Jo', email: aunt.email } });
    const early = await burrow(['family', 'show', '--family', familyId, '--profile', aunt.profile, '--json']);
    expect(early.code).not.toBe(0);
    expect(JSON.parse(early.stderr.trim())).toMatchObject({ code: 'client/not-a-member' });

    const admitted = await ok(['family', 'admit', '--family', familyId, '--profile', mum.profile]);
    expect(admitted.admitted).toEqual([expect.objectContaining({ accountId: aunt.accountId, role: 'relative' })]);
    const shown = await ok(['family', 'show', '--profile', aunt.profile]);
    expect(shown).toMatchObject({ familyId, name: 'Fernside', role: 'relative', settings: { retentionDays: 14 } });
    const members = shown.members as Array<{ accountId: string; name?: string; safetyCode: string; needsApproval: boolean }>;
    expect(members.map((m) => m.accountId).sort()).toEqual([mum.accountId, aunt.accountId].sort());
    expect(members.find((m) => m.accountId === aunt.accountId)!.needsApproval).toBe(true);
    // Names: each member's own signed profile; the joiner's became hers when she was let in.
    expect(Object.fromEntries(members.map((m) => [m.accountId, m.name]))).toEqual({ [mum.accountId]: 'Mum', [aunt.accountId]: 'Aunt Jo' });
    // Both sides compute the same safety code for the pair: 12 digits.
    const fromMum = (await ok(['family', 'show', '--family', familyId, '--profile', mum.profile])).members as Array<{ accountId: string; name?: string; safetyCode: string }>;
    expect(fromMum.find((m) => m.accountId === aunt.accountId)!.safetyCode).toMatch(/^\d{4} \d{4} \d{4}$/);
    expect(fromMum.find((m) => m.accountId === aunt.accountId)!.safetyCode).toBe(members.find((m) => m.accountId === mum.accountId)!.safetyCode);
    expect(fromMum.find((m) => m.accountId === aunt.accountId)!.name).toBe('Aunt Jo');
    const human = await burrow(['family', 'show', '--family', familyId, '--profile', mum.profile]);
    expect(human.stdout).toContain('Aunt Jo');
    expect(human.stdout).toContain('safety code:');
    expect(human.stdout).not.toContain('safety number');
    // Verifying is optional: the digits and a QR code to scan; --confirm remembers the match.
    const before = await ok(['family', 'verify', '--family', familyId, '--member', 'Aunt Jo', '--profile', mum.profile]);
    expect(before).toMatchObject({ accountId: aunt.accountId, name: 'Aunt Jo', safetyCode: fromMum.find((m) => m.accountId === aunt.accountId)!.safetyCode, verified: false });
    expect(before.qr).toMatch(/^burrow-safety-code:v1:[A-Za-z0-9_-]{43}$/);
    const printed = await burrow(['family', 'verify', '--family', familyId, '--member', aunt.accountId, '--confirm', '--profile', mum.profile]);
    expect(printed.stdout).toContain('Verified: you confirmed this code with them.');
    expect(printed.stdout).toMatch(/[▀▄█]/);
    const children = await ok(['child', 'list', '--profile', aunt.profile]);
    expect((children.children as Array<{ name: string }>).map((c) => c.name)).toEqual(['Mia']);
    // Family files in the profile are private.
    expect((await stat(join(mum.profile, 'families', `${familyId}.json`))).mode & 0o077).toBe(0);
  });

  it("inbox --follow prints a relative's message as it arrives; a guardian approves it", async () => {
    const follower = startBurrow(['inbox', '--follow', '--family', familyId, '--profile', mum.profile, '--json'], { env: env() });
    const arrived = waitForOutput(follower.stdout, /^\{.*"caption":"Hello from your aunt".*\}$/m, follower.done).then((match) => JSON.parse(match[0]) as Record<string, unknown>);
    // Stopping the follower at the end may end the wait too; only an early exit matters.
    arrived.catch(() => undefined);
    try {
      const audioPath = join(workDir, 'aunt.wav');
      const audio = wavWith(randomBytes(8), 16_000);
      await writeFile(audioPath, audio);
      const sent = await ok(['send', '--to', 'Mia', '--file', audioPath, '--caption', 'Hello from your aunt', '--profile', aunt.profile]);
      expect(sent.durationMs).toBe(1000);
      const line = await arrived;
      expect(line).toMatchObject({ messageId: sent.messageId, senderId: aunt.accountId, senderName: 'Aunt Jo', status: 'awaiting approval', needsApproval: true });

      const waiting = await ok(['approve', '--family', familyId, '--profile', mum.profile]);
      expect((waiting.waiting as Array<{ messageId: string }>).map((m) => m.messageId)).toEqual([sent.messageId]);
      const listed = await burrow(['approve', '--family', familyId, '--profile', mum.profile]);
      expect(listed.stdout).toContain(`${sent.messageId as string}  from Aunt Jo to Mia`);
      const refused = await burrow(['approve', '--family', familyId, '--message', sent.messageId as string, '--profile', aunt.profile, '--json']);
      expect(refused.code).not.toBe(0);
      expect(JSON.parse(refused.stderr.trim())).toMatchObject({ code: 'client/not-a-guardian' });
      await ok(['approve', '--family', familyId, '--message', sent.messageId as string, '--profile', mum.profile]);
      const saveDir = join(workDir, 'saved');
      const inbox = await ok(['inbox', '--save', saveDir, '--profile', aunt.profile]);
      const mine = (inbox.messages as Array<{ messageId: string; status: string; file: string }>).find((m) => m.messageId === sent.messageId)!;
      expect(mine.status).toBe('playable');
      expect(Buffer.compare(await readFile(mine.file), Buffer.from(audio))).toBe(0);

      // A second message: its sender hears it while it waits; a guardian declines it (signed), and she sees who did.
      const second = await ok(['send', '--to', 'Mia', '--file', audioPath, '--caption', 'Another one', '--profile', aunt.profile]);
      const waitingLine = ((await ok(['inbox', '--profile', aunt.profile])).messages as Array<{ messageId: string; status: string; caption: string | null; playable: boolean }>).find((m) => m.messageId === second.messageId)!;
      expect(waitingLine).toMatchObject({ status: 'awaiting approval', caption: 'Another one', playable: false });
      const notHers = await burrow(['decline', '--family', familyId, '--message', second.messageId as string, '--profile', aunt.profile, '--json']);
      expect(notHers.code).not.toBe(0);
      expect(JSON.parse(notHers.stderr.trim())).toMatchObject({ code: 'client/not-a-guardian' });
      expect(await ok(['decline', '--family', familyId, '--message', second.messageId as string, '--profile', mum.profile])).toMatchObject({ declined: true });
      expect((await ok(['approve', '--family', familyId, '--profile', mum.profile])).waiting).toEqual([]);
      const declinedLine = ((await ok(['inbox', '--profile', aunt.profile])).messages as Array<{ messageId: string; status: string; decidedBy?: string; playable: boolean }>).find((m) => m.messageId === second.messageId)!;
      expect(declinedLine).toMatchObject({ status: 'declined', decidedBy: mum.accountId, playable: false });
    } finally {
      follower.signal('SIGTERM');
      const ended = await follower.done;
      expect(ended.code, ended.stderr).toBe(0);
    }
  });

  it('after account login on a second profile, inbox and export include the family (its anchor comes from the account vault)', async () => {
    const second = join(workDir, 'mum-second-device');
    const login = await burrow(['account', 'login', '--server', server.url, '--email', mum.email, '--profile', second, '--json'], { BURROW_PASSWORD: mum.password });
    expect(login.code, login.stderr).toBe(0);
    const fromFirst = ((await ok(['inbox', '--family', familyId, '--profile', mum.profile])).messages as Array<{ messageId: string; status: string }>).map((m) => [m.messageId, m.status]);
    expect(fromFirst.length).toBeGreaterThan(0);
    const inbox = await ok(['inbox', '--profile', second]);
    expect((inbox.messages as Array<{ messageId: string; status: string }>).map((m) => [m.messageId, m.status])).toEqual(fromFirst);
    const exportDir = join(workDir, 'second-device-export');
    const exported = await ok(['export', '--out', exportDir, '--profile', second]);
    expect(exported.unreadableFamilies).toBe(0);
    const index = JSON.parse(await readFile(join(exportDir, 'index.json'), 'utf8')) as { families: Array<{ familyId: string; name: string }>; messages: unknown[] };
    expect(index.families).toEqual([{ familyId, name: 'Fernside' }]);
    expect(index.messages.length).toBe(exported.messages);
    expect(index.messages.length).toBeGreaterThan(0);
  });

  it('settings and roles are signed into the roster; a removed member is refused', async () => {
    const settings = await ok(['family', 'settings', '--family', familyId, '--retention-days', '90', '--quiet-hours', '19:30-07:00', '--time-zone', 'Europe/Berlin', '--profile', mum.profile]);
    expect(settings.settings).toMatchObject({ retentionDays: 90, quietHours: { start: '19:30', end: '07:00', timeZone: 'Europe/Berlin' } });
    const promoted = await ok(['family', 'role', '--family', familyId, '--member', aunt.accountId, '--role', 'guardian', '--profile', mum.profile]);
    expect(promoted.role).toBe('guardian');
    expect((await ok(['family', 'show', '--family', familyId, '--profile', aunt.profile])).role).toBe('guardian');
    await ok(['family', 'role', '--family', familyId, '--member', aunt.accountId, '--role', 'relative', '--child', 'Mia', '--profile', mum.profile]);
    const removed = await ok(['family', 'remove', '--family', familyId, '--member', aunt.accountId, '--profile', mum.profile]);
    expect(removed.removed).toBe(aunt.accountId);
    const after = await burrow(['family', 'show', '--family', familyId, '--profile', aunt.profile, '--json']);
    expect(after.code).not.toBe(0);
    expect(after.stdout).toBe('');
    expect(JSON.parse(after.stderr.trim())).toMatchObject({ status: 404 });
  });

  it('bad input is refused with exit code 2 and a JSON problem', async () => {
    const badRole = await burrow(['family', 'invite', '--family', familyId, '--role', 'toy', '--profile', mum.profile, '--json']);
    expect(badRole.code).toBe(2);
    expect(JSON.parse(badRole.stderr.trim())).toMatchObject({ code: 'cli/bad-input' });
    const badFile = join(workDir, 'notes.txt');
    await writeFile(badFile, 'not audio');
    const badType = await burrow(['send', '--family', familyId, '--to', 'Mia', '--file', badFile, '--profile', mum.profile, '--json']);
    expect(badType.code).toBe(2);
    const badLink = await burrow(['family', 'join', 'https://example.org/nothing', '--profile', mum.profile, '--json']);
    expect(badLink.code).toBe(2);
  });

  it('a guardian deletes the family; it is gone for them too', async () => {
    const deleted = await ok(['family', 'delete', '--family', familyId, '--yes', '--profile', mum.profile]);
    expect(deleted.deleted).toBe(true);
    expect((await ok(['family', 'list', '--profile', mum.profile])).families).toEqual([]);
  });
});
