import { chmodSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emailLookupHash, loadOrCreateSecrets, normaliseEmail, openEmail, sealEmail, secretsPath, serialiseSecrets } from '../../src/server/secrets.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'burrow-secrets-'));
}

describe('secrets', () => {
  it('are created on first start with a 0700 directory and a 0600 file, and read back unchanged', async () => {
    const dataDir = join(tempDir(), 'data');
    const first = await loadOrCreateSecrets({ dataDir });
    expect(first.created).toBe(true);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(secretsPath(dataDir)).mode & 0o777).toBe(0o600);
    const second = await loadOrCreateSecrets({ dataDir });
    expect(second.created).toBe(false);
    expect(serialiseSecrets(second.secrets)).toBe(serialiseSecrets(first.secrets));
    expect(readFileSync(secretsPath(dataDir), 'utf8')).toBe(serialiseSecrets(first.secrets));
  });

  it('refuse a secrets file that others can read, saying how to fix it', async () => {
    const dataDir = join(tempDir(), 'data');
    await loadOrCreateSecrets({ dataDir });
    chmodSync(secretsPath(dataDir), 0o644);
    await expect(loadOrCreateSecrets({ dataDir })).rejects.toThrow(/chmod 600/);
  });

  it('refuse a data directory that others can enter', async () => {
    const dataDir = tempDir();
    chmodSync(dataDir, 0o755);
    await expect(loadOrCreateSecrets({ dataDir })).rejects.toThrow(/chmod 700/);
  });

  it('can come from the environment instead of a file', async () => {
    const dataDir = join(tempDir(), 'data');
    const { secrets } = await loadOrCreateSecrets({ dataDir });
    const fields = JSON.parse(serialiseSecrets(secrets)) as { serverSetup: string; cookieKey: string; emailKey: string };
    const fromEnv = await loadOrCreateSecrets({ dataDir: join(tempDir(), 'unused'), fromEnvironment: fields });
    expect(fromEnv.secrets.emailLookupKey).toEqual(secrets.emailLookupKey);
  });

  it('look up an email the same way whatever its case and surrounding spaces', async () => {
    const { secrets } = await loadOrCreateSecrets({ dataDir: join(tempDir(), 'data') });
    expect(emailLookupHash(secrets, normaliseEmail('  Alice@Example.ORG '))).toBe(emailLookupHash(secrets, normaliseEmail('alice@example.org')));
  });

  it('seal an email so that only the same account id opens it', async () => {
    const { secrets } = await loadOrCreateSecrets({ dataDir: join(tempDir(), 'data') });
    const sealed = sealEmail(secrets, 'account-a', 'alice@example.org');
    expect(sealed).not.toContain('alice');
    expect(openEmail(secrets, 'account-a', sealed)).toBe('alice@example.org');
    expect(() => openEmail(secrets, 'account-b', sealed)).toThrow();
  });
});
