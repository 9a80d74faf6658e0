/**
 * The CLI as an operator runs it (in process, `runCli`): `burrow audit` exits 1 on a high finding
 * (with `--json` output), and `burrow serve` refuses to start on one unless `--accept-risk` names it.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOrCreateSecrets, secretsPath } from '../../src/server/secrets.js';
import { burrow, startBurrow, waitForOutput } from '../support/cli.js';

const env = { BURROW_SECURITY_CONTACT: 'mailto:security@example.org', BURROW_LOG_LEVEL: 'warn' };

async function dataDirWithDefaultSecret(): Promise<string> {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'burrow-audit-cli-')), 'data');
  await loadOrCreateSecrets({ dataDir });
  const file = JSON.parse(readFileSync(secretsPath(dataDir), 'utf8')) as Record<string, unknown>;
  writeFileSync(secretsPath(dataDir), JSON.stringify({ ...file, cookieKey: Buffer.alloc(32).toString('base64url') }), { mode: 0o600 });
  return dataDir;
}

async function run(args: string[], extraEnv: Record<string, string> = {}) {
  const result = await burrow(args, { env: { ...env, ...extraEnv } });
  return { status: result.code, stdout: result.stdout, stderr: result.stderr };
}

describe('burrow audit (CLI)', () => {
  it('exits 0 on a clean deployment and 1 with a JSON finding on an unsafe one', async () => {
    const clean = join(mkdtempSync(join(tmpdir(), 'burrow-audit-cli-')), 'data');
    await loadOrCreateSecrets({ dataDir: clean });
    const ok = await run(['audit', '--data', clean, '--json']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true });

    const bad = await run(['audit', '--data', await dataDirWithDefaultSecret(), '--json']);
    expect(bad.status).toBe(1);
    const report = JSON.parse(bad.stdout) as { ok: boolean; findings: Array<{ id: string; severity: string; fix: string }> };
    expect(report.ok).toBe(false);
    expect(report.findings.filter((f) => f.severity === 'high').map((f) => f.id)).toEqual(['secret-default']);
    expect(report.findings[0]!.fix.length).toBeGreaterThan(10);

    const table = await run(['audit', '--data', await dataDirWithDefaultSecret()]);
    expect(table.status).toBe(1);
    expect(table.stdout).toMatch(/HIGH\s+secret-default/);
    expect(table.stdout).toContain('fix:');
  });
});

describe('burrow serve and audit usage errors', () => {
  it('a bad --port or --check-port is a usage error (exit 2) that names the option, and nothing starts', async () => {
    for (const args of [['serve', '--port', 'eighty'], ['audit', '--port', '70000'], ['audit', '--check-port', 'mongo']]) {
      const run = await burrow(args, { env });
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^error: .*(--port|--check-port).*\n\(run with --help for usage\)\n$/);
    }
  });
});

describe('burrow serve and the start-up audit', () => {
  it('refuses to start on a high finding, naming it and its fix', async () => {
    const refused = await run(['serve', '--data', await dataDirWithDefaultSecret(), '--port', '0']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('refusing to start');
    expect(refused.stderr).toContain('secret-default');
    expect(refused.stderr).toContain('fix:');
    expect(refused.stderr).toContain('--accept-risk=secret-default');
  }, 30_000);

  it('starts when --accept-risk names the finding, and logs the accepted risk at warn level', async () => {
    const serve = startBurrow(['serve', '--data', await dataDirWithDefaultSecret(), '--port', '0', '--accept-risk=secret-default'], { env });
    try {
      await waitForOutput(serve.stdout, /Burrow is listening on/, serve.done);
      const out = serve.stdout();
      const warning = out.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { level: number; acceptedRisk?: string }).find((entry) => entry.acceptedRisk !== undefined);
      expect(warning).toMatchObject({ level: 40, acceptedRisk: 'secret-default' });
    } finally {
      serve.signal('SIGTERM');
      expect((await serve.done).code).toBe(0);
    }
  }, 30_000);
});
