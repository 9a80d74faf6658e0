/**
 * `burrow family log` as a user runs it: the CLI in process (`runCli`) against a real server on
 * 127.0.0.1. It prints the verified events, and refuses a log edited in the database.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, toHex } from '../../src/crypto/bytes.js';
import { DATABASE_FILE, startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { burrow as runBurrow, type CliRun } from '../support/cli.js';

let server: RunningServer;
let workDir: string;

function burrow(args: string[], extra: Record<string, string> = {}): Promise<CliRun> {
  return runBurrow(args, { env: { HOME: workDir, ...extra } });
}

beforeAll(async () => {
  server = await startServer();
  workDir = await mkdtemp(join(tmpdir(), 'burrow-family-log-cli-'));
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

describe('burrow family log', { timeout: 120_000 }, () => {
  it('prints the verified log in plain words, and refuses it once an event is edited in the database', async () => {
    const profile = join(workDir, 'mum');
    const password = `gentle mum ${toHex(randomBytes(4))} river lantern`;
    const registered = await burrow(['account', 'register', '--server', server.url, '--email', `mum-${toHex(randomBytes(4))}@example.org`, '--profile', profile, '--json'], { BURROW_PASSWORD: password });
    expect(registered.code, registered.stderr).toBe(0);
    const created = await burrow(['family', 'create', '--name', 'Fernside', '--profile', profile, '--json']);
    expect(created.code, created.stderr).toBe(0);
    const familyId = (JSON.parse(created.stdout) as { familyId: string }).familyId;

    const help = await burrow(['family', 'log', '--help']);
    expect(help.stdout).toContain('Example:');
    const human = await burrow(['family', 'log', '--family', familyId, '--profile', profile]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^ {3}1 {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}you created the family$/m);
    const json = await burrow(['family', 'log', '--family', familyId, '--profile', profile, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ familyId, events: [{ seq: 1, kind: 'family-created' }] });

    const db = new Database(join(server.dataDir, DATABASE_FILE));
    try {
      db.prepare('UPDATE family_log SET details = ? WHERE family_id = ? AND seq = 1').run('{"forged":1}', familyId);
    } finally {
      db.close();
    }
    const refused = await burrow(['family', 'log', '--family', familyId, '--profile', profile, '--json']);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stderr.trim())).toMatchObject({ code: 'log/edited' });
  });
});
