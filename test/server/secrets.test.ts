import { chmodSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createECDH, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { emailLookupHash, loadOrCreateSecrets, normaliseEmail, openEmail, sealEmail, secretsFromFields, secretsPath, serialiseSecrets } from '../../src/server/secrets.js';

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

  it('hold a VAPID key pair made at first start: a P-256 private key whose public half is what browsers subscribe with', async () => {
    const dataDir = join(tempDir(), 'data');
    const { secrets } = await loadOrCreateSecrets({ dataDir });
    const file = JSON.parse(readFileSync(secretsPath(dataDir), 'utf8')) as { vapidPrivateKey: string };
    expect(Buffer.from(file.vapidPrivateKey, 'base64url')).toHaveLength(32);
    expect(secrets.vapidPublicKey).toHaveLength(65);
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(secrets.vapidPrivateKey);
    expect(new Uint8Array(ecdh.getPublicKey())).toEqual(secrets.vapidPublicKey);
    // The pair signs and verifies as ES256 does.
    const point = Buffer.from(secrets.vapidPublicKey);
    const jwk = { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') };
    const privateKey = createPrivateKey({ key: { ...jwk, d: Buffer.from(secrets.vapidPrivateKey).toString('base64url') }, format: 'jwk' });
    const signature = sign('sha256', Buffer.from('claims'), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    expect(verify('sha256', Buffer.from('claims'), { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, signature)).toBe(true);
    // Another server's file has another key.
    const other = await loadOrCreateSecrets({ dataDir: join(tempDir(), 'data') });
    expect(other.secrets.vapidPrivateKey).not.toEqual(secrets.vapidPrivateKey);
  });

  it('given without a VAPID key (three environment variables), derive the same one on every node from the cookie key', async () => {
    const { secrets } = await loadOrCreateSecrets({ dataDir: join(tempDir(), 'data') });
    const fields = { serverSetup: secrets.serverSetup, cookieKey: Buffer.from(secrets.cookieKey).toString('base64url'), emailKey: Buffer.from(secrets.emailKey).toString('base64url') };
    const [one, two] = [secretsFromFields(fields), secretsFromFields(fields)];
    expect(one.vapidPrivateKey).toEqual(two.vapidPrivateKey);
    expect(one.vapidPrivateKey).not.toEqual(secrets.vapidPrivateKey);
    expect(one.vapidPublicKey).toHaveLength(65);
    expect(() => secretsFromFields({ ...fields, vapidPrivateKey: Buffer.alloc(32, 0xff).toString('base64url') })).toThrow(/vapidPrivateKey/);
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
