/**
 * The built CLI as an operator runs it: `burrow audit` exits 1 on a high finding (with `--json`
 * output), and `burrow serve` refuses to start on one unless `--accept-risk` names it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOrCreateSecrets, secretsPath } from '../../src/server/secrets.js';

const root = new URL('../../', import.meta.url).pathname;
const cli = join(root, 'dist/cli/main.js');
if (!existsSync(cli)) spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'ignore' });

const env = { ...process.env, BURROW_SECURITY_CONTACT: 'mailto:security@example.org', BURROW_LOG_LEVEL: 'warn' };

async function dataDirWithDefaultSecret(): Promise<string> {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'burrow-audit-cli-')), 'data');
  await loadOrCreateSecrets({ dataDir });
  const file = JSON.parse(readFileSync(secretsPath(dataDir), 'utf8')) as Record<string, unknown>;
  writeFileSync(secretsPath(dataDir), JSON.stringify({ ...file, cookieKey: Buffer.alloc(32).toString('base64url') }), { mode: 0o600 });
  return dataDir;
}

function run(args: string[], extraEnv: Record<string, string> = {}) {
  return spawnSync(process.execPath, [cli, ...args], { cwd: root, env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 30_000 });
}

describe('burrow audit (CLI)', () => {
  it('exits 0 on a clean deployment and 1 with a JSON finding on an unsafe one', async () => {
    const clean = join(mkdtempSync(join(tmpdir(), 'burrow-audit-cli-')), 'data');
    await loadOrCreateSecrets({ dataDir: clean });
    const ok = run(['audit', '--data', clean, '--json']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true });

    const bad = run(['audit', '--data', await dataDirWithDefaultSecret(), '--json']);
    expect(bad.status).toBe(1);
    const report = JSON.parse(bad.stdout) as { ok: boolean; findings: Array<{ id: string; severity: string; fix: string }> };
    expect(report.ok).toBe(false);
    expect(report.findings.filter((f) => f.severity === 'high').map((f) => f.id)).toEqual(['secret-default']);
    expect(report.findings[0]!.fix.length).toBeGreaterThan(10);

    const table = run(['audit', '--data', await dataDirWithDefaultSecret()]);
    expect(table.status).toBe(1);
    expect(table.stdout).toMatch(/HIGH\s+secret-default/);
    expect(table.stdout).toContain('fix:');
  });
});

describe('burrow serve and the start-up audit', () => {
  it('refuses to start on a high finding, naming it and its fix', async () => {
    const refused = run(['serve', '--data', await dataDirWithDefaultSecret(), '--port', '0']);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('refusing to start');
    expect(refused.stderr).toContain('secret-default');
    expect(refused.stderr).toContain('fix:');
    expect(refused.stderr).toContain('--accept-risk=secret-default');
  }, 30_000);

  it('starts when --accept-risk names the finding, and logs the accepted risk at warn level', async () => {
    const child = spawn(process.execPath, [cli, 'serve', '--data', await dataDirWithDefaultSecret(), '--port', '0', '--accept-risk=secret-default'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const out = await new Promise<string>((resolve, reject) => {
        let text = '';
        let err = '';
        child.stdout.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes('Burrow is listening on')) resolve(text);
        });
        child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString(); });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      const warning = out.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { level: number; acceptedRisk?: string }).find((entry) => entry.acceptedRisk !== undefined);
      expect(warning).toMatchObject({ level: 40, acceptedRisk: 'secret-default' });
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
