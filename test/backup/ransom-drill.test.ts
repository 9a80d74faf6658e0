/**
 * The ransom drill, with the CLI as an operator would run it (in process, `runCli`): seed a real server through the
 * client library (accounts, a family, voice messages), back it up while it runs, delete the data
 * directory and leave a ransom note in its place, restore, start again, and every message downloads
 * and opens byte for byte. Then a backup with one flipped byte (manifest, database or blob) is
 * refused and the target is left as it was.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginAccount } from '../../src/client/account.js';
import { BurrowApi } from '../../src/client/api.js';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, loadFamily, type ClientContext } from '../../src/client/families.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { downloadAndOpenMessage, sendMessage } from '../../src/client/messages.js';
import { utf8 } from '../../src/crypto/bytes.js';
import { readBackupManifest } from '../../src/storage/backup/restore-backup.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, sameStretchingAs, wavWith, type TestMember } from '../e2e/family-harness.js';
import { burrow as runBurrow } from '../support/cli.js';

const PASSPHRASE = 'drill passphrase kept in the safe';

async function burrow(args: string[], passphrase = PASSPHRASE) {
  const result = await runBurrow(args, { env: { BURROW_BACKUP_PASSPHRASE: passphrase } });
  return { status: result.code, stdout: result.stdout, stderr: result.stderr };
}

let work: string;
let dataDir: string;
let backupFile: string;
let server: RunningServer | undefined;
let mum: TestMember;
let gran: TestMember;
let familyId: string;
const sent: Array<{ messageId: string; audio: Uint8Array; caption: string }> = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'burrow-drill-'));
  dataDir = join(work, 'data');
  backupFile = join(work, 'nightly.burrow-backup');
  server = await startServer({ dataDir });
  [mum, gran] = await Promise.all([registerMember(server.url, 'mum'), registerMember(server.url, 'gran')]) as [TestMember, TestMember];
  familyId = (await createFamily(mum, { name: 'The Drill Family' })).familyId;
  const mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false } });
  await acceptInvite(gran, link);
  expect((await admitJoiners(mum, { familyId })).refused).toEqual([]);
  for (const [sender, caption] of [[mum, 'Good night, Mia'], [gran, 'Love from Gran'], [mum, 'See you tomorrow']] as const) {
    const audio = wavWith(utf8(`drill-${caption}`), 6000);
    const { messageId } = await sendMessage(sender, { familyId, to: mia, audio, audioType: 'audio/wav', durationMs: 400, caption });
    sent.push({ messageId, audio, caption });
  }
}, 180_000);

afterAll(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function signIn(member: TestMember, url: string): Promise<ClientContext> {
  const api = new BurrowApi({ baseUrl: url });
  const signed = await loginAccount({ api, email: member.email, password: member.password, ...sameStretchingAs(member) });
  return { api, me: { accountId: signed.session.accountId, identity: signed.identity }, store: member.store };
}

describe('the ransom drill', () => {
  it('backs up while the server runs, survives a wiped data directory with a ransom note, and every message opens byte for byte', async () => {
    const backup = await burrow(['backup', '--data', dataDir, '--out', backupFile, '--with-secrets']);
    expect(backup.status, backup.stderr).toBe(0);
    expect(backup.stderr).toMatch(/\d+\/\d+ files/);
    expect(backup.stdout).toContain('secrets included');

    // The nightly file is there now: a second backup to the same name is refused unless --force.
    const before = readFileSync(backupFile);
    const again = await burrow(['backup', '--data', dataDir, '--out', backupFile, '--json']);
    expect(again.status).toBe(1);
    expect(again.stdout).toBe('');
    // With --json the refusal is one problem of the client catalogue, naming the file.
    expect(JSON.parse(again.stderr)).toMatchObject({ code: 'cli/file-exists', type: 'urn:burrow:problem:cli/file-exists', detail: `${backupFile} exists already and was not replaced` });
    expect(readFileSync(backupFile).equals(before)).toBe(true);
    const spare = join(work, 'spare.burrow-backup');
    const json = await burrow(['backup', '--data', dataDir, '--out', spare, '--json']);
    expect(json.status, json.stderr).toBe(0);
    expect(json.stderr).toMatch(/\d+\/\d+ files/);
    expect(JSON.parse(json.stdout)).toMatchObject({ out: spare, withSecrets: false, files: expect.any(Number), bytes: expect.any(Number), createdAt: expect.any(String) });
    // --with-secrets needs a passphrase: without BURROW_BACKUP_PASSPHRASE and a terminal, nothing is written.
    const noPassphrase = await burrow(['backup', '--data', dataDir, '--out', join(work, 'unsealed.burrow-backup'), '--with-secrets'], '');
    expect(noPassphrase.status).toBe(2);
    expect(noPassphrase.stderr).toContain('set BURROW_BACKUP_PASSPHRASE');
    expect(existsSync(join(work, 'unsealed.burrow-backup'))).toBe(false);
    const forced = await burrow(['backup', '--data', dataDir, '--out', spare, '--force', '--json']);
    expect(forced.status, forced.stderr).toBe(0);
    expect(readdirSync(work).filter((name) => name.startsWith('spare.'))).toEqual(['spare.burrow-backup']);

    await server!.stop();
    server = undefined;
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'RANSOM_NOTE.txt'), 'Your database has been downloaded. Send 1 BTC to get it back.\n');

    const refused = await burrow(['restore', '--from', backupFile, '--data', dataDir]);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('--force');
    expect(readdirSync(dataDir)).toEqual(['RANSOM_NOTE.txt']);

    const restore = await burrow(['restore', '--from', backupFile, '--data', dataDir, '--force', '--json']);
    expect(restore.status, restore.stderr).toBe(0);
    expect(restore.stderr).toContain('every checksum verified');
    expect(JSON.parse(restore.stdout)).toMatchObject({ dataDir, secrets: 'restored', movedAside: expect.stringContaining('.replaced-') });
    expect(existsSync(join(dataDir, 'RANSOM_NOTE.txt'))).toBe(false);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dataDir, 'secrets.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'burrow.db')).mode & 0o777).toBe(0o600);

    server = await startServer({ dataDir });
    const mumAgain = await signIn(mum, server.url);
    const granAgain = await signIn(gran, server.url);
    const family = await loadFamily(mumAgain, familyId);
    expect(family.name).toBe('The Drill Family');
    for (const reader of [mumAgain, granAgain]) {
      for (const message of sent) {
        const { opened } = await downloadAndOpenMessage(reader, { familyId, messageId: message.messageId });
        expect(opened.ok).toBe(true);
        if (opened.ok) {
          expect(Buffer.from(opened.value.audio).equals(Buffer.from(message.audio))).toBe(true);
          expect(opened.value.caption).toBe(message.caption);
        }
      }
    }
  }, 180_000);

  it('refuses a backup with one flipped byte in the manifest, the database or a blob, leaving the target untouched', async () => {
    const original = readFileSync(backupFile);
    const { manifest, dataStart, dataEnd } = await readBackupManifest(backupFile);
    const offsets = new Map<string, number>();
    let offset = dataStart;
    for (const file of manifest.files) {
      if (file.path === 'burrow.db' && !offsets.has('database')) offsets.set('database', offset + Math.floor(file.size / 2));
      if (file.path.startsWith('blobs/') && !offsets.has('blob')) offsets.set('blob', offset + Math.floor(file.size / 3));
      offset += file.size;
    }
    offsets.set('manifest', dataEnd + 20);
    offsets.set('manifest checksum', original.length - 30);
    offsets.set('header', 3);
    expect([...offsets.keys()].sort()).toEqual(['blob', 'database', 'header', 'manifest', 'manifest checksum']);

    const target = join(work, 'untouched');
    mkdirSync(target, { mode: 0o700 });
    writeFileSync(join(target, 'keep-me.txt'), 'the previous data');
    for (const [where, at] of offsets) {
      const damaged = Buffer.from(original);
      damaged[at] = damaged[at]! ^ 0x01;
      const file = join(work, `damaged-${where.replace(/ /g, '-')}.burrow-backup`);
      writeFileSync(file, damaged);
      const result = await burrow(['restore', '--from', file, '--data', target, '--force']);
      expect(result.status, where).not.toBe(0);
      expect(result.stderr, where).toContain('damaged');
      expect(readdirSync(target), where).toEqual(['keep-me.txt']);
      expect(readdirSync(work).filter((name) => name.includes('.restore-')), where).toEqual([]);
    }
    const truncated = join(work, 'truncated.burrow-backup');
    writeFileSync(truncated, original.subarray(0, original.length - 1));
    expect((await burrow(['restore', '--from', truncated, '--data', target, '--force'])).status).toBe(1);
    expect(readdirSync(target)).toEqual(['keep-me.txt']);
  }, 120_000);

  it('refuses the sealed secrets under a wrong passphrase', async () => {
    const result = await burrow(['restore', '--from', backupFile, '--data', join(work, 'wrong-passphrase')], 'not the passphrase at all');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('wrong passphrase');
    expect(existsSync(join(work, 'wrong-passphrase'))).toBe(false);
  }, 60_000);
});
