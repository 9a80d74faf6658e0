/**
 * Scale-out is as safe by default as the embedded mode: `burrow serve` refuses a networked
 * PostgreSQL reached without a password or without TLS before it connects to anything.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startBurrowServe } from '../support/serve.js';

const dataDir = () => join(mkdtempSync(join(tmpdir(), 'burrow-unsafe-')), 'data');
const base = { BURROW_SECURITY_CONTACT: 'mailto:security@example.org', BURROW_LOG_LEVEL: 'error' };

describe('burrow serve with an unsafe scale-out configuration', () => {
  it('refuses a database on another host reached without a password', async () => {
    await expect(startBurrowServe({ env: { ...base, BURROW_DATABASE_URL: 'postgres://burrow@db.example.org:5432/burrow?sslmode=verify-full' }, dataDir: dataDir() }))
      .rejects.toThrow(/exited with 1[\s\S]*database-no-password/);
  });

  it('refuses a database on another host reached without TLS, unless the network is declared private', async () => {
    await expect(startBurrowServe({ env: { ...base, BURROW_DATABASE_URL: 'postgres://burrow:long-random-password@db.example.org:5432/burrow' }, dataDir: dataDir() }))
      .rejects.toThrow(/exited with 1[\s\S]*database-no-tls/);
    // Declared private, the TLS finding is gone; the password one would still stop a URL without one.
    await expect(startBurrowServe({ env: { ...base, BURROW_DATABASE_PRIVATE_NETWORK: 'true', BURROW_DATABASE_URL: 'postgres://burrow@db.example.org:5432/burrow' }, dataDir: dataDir() }))
      .rejects.toThrow(/exited with 1(?![\s\S]*database-no-tls)[\s\S]*database-no-password/);
  });
});
