/**
 * The accounts dump test (DESIGN §2): accounts registered through the client library with known
 * emails and passwords; a copy of the data directory without the secrets file holds none of them in
 * any encoding. npm test registers 25 accounts (every marker and encoding is covered by each),
 * BURROW_DUMP_ACCOUNTS=100 (or more) a larger population. The first five stretch their passwords
 * with the library's default, as every real client does (about a second a registration on a quiet
 * core); the others with the test harness's cheap setting, which changes nothing the server stores
 * but the Argon2id output inside OPAQUE's record.
 */
import { cp, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginAccount, registerAccount, TEST_HARNESS_KEY_STRETCHING, type Registration } from '../../src/client/account.js';
import { ApiError, BurrowApi } from '../../src/client/api.js';
import { fromBase64Url, randomBytes, toHex } from '../../src/crypto/bytes.js';
import { exportIdentitySecret } from '../../src/crypto/identity.js';
import { DATABASE_FILE, fetchWithoutKeepAlive, startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { searchDirectory, type SearchReport } from './marker-search.js';
import { TEST_KEY_STRETCHING } from '../server/helpers.js';

const ACCOUNTS = Number(process.env.BURROW_DUMP_ACCOUNTS ?? 25);
const BATCH = 5;
const SECRETS_FILE = 'secrets.json';

/** How many accounts stretch as production does; the rest use the harness's cheap stretching. */
const PRODUCTION_STRETCHED = 5;

interface KnownUser {
  email: string;
  password: string;
  /** Options that choose this account's key stretching, for registration and every login. */
  stretching: { [TEST_HARNESS_KEY_STRETCHING]?: typeof TEST_KEY_STRETCHING };
}

/** Emails and passwords distinctive enough that a hit can only be a leak; mixed case so that the server's lower-casing is covered. */
function knownUsers(): KnownUser[] {
  const run = toHex(randomBytes(3));
  return Array.from({ length: ACCOUNTS }, (_, i) => ({
    email: `Parent.Marker${i}x${run}@Family-Dump.example`,
    password: `Velvet Otter ${i} sings ${toHex(randomBytes(4))} loudly`,
    stretching: i < PRODUCTION_STRETCHED ? {} : { [TEST_HARNESS_KEY_STRETCHING]: TEST_KEY_STRETCHING },
  }));
}

let server: RunningServer;
let workDir: string;
const users = knownUsers();
const registrations: Registration[] = [];

/** Copies the data directory the way a thief would: every file except the secrets file. */
async function copyWithoutSecrets(name: string): Promise<string> {
  const target = join(workDir, name);
  await cp(server.dataDir, target, { recursive: true, filter: (source) => !source.endsWith(`/${SECRETS_FILE}`) });
  return target;
}

function describeHits(report: SearchReport): string {
  return report.hits
    .slice(0, 10)
    .map((hit) => `${hit.encoding} at ${hit.file}:${hit.offset}`)
    .join('; ');
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'burrow-dump-'));
  server = await startServer();
  for (let i = 0; i < users.length; i += BATCH) {
    const batch = users.slice(i, i + BATCH);
    registrations.push(
      ...(await Promise.all(batch.map((user, j) => registerAccount({ api: new BurrowApi({ baseUrl: server.url, fetch: fetchWithoutKeepAlive }), email: user.email, password: user.password, ...user.stretching, sessionLabel: `device ${i + j}` })))),
    );
  }
  // Some later activity too: logins, and failed logins that the server must not remember verbatim.
  for (const user of users.slice(0, 10)) await loginAccount({ api: new BurrowApi({ baseUrl: server.url, fetch: fetchWithoutKeepAlive }), email: user.email, password: user.password, ...user.stretching });
  for (const user of users.slice(10, 15)) {
    await expect(loginAccount({ api: new BurrowApi({ baseUrl: server.url, fetch: fetchWithoutKeepAlive }), email: user.email, password: `${user.password} but wrong`, ...user.stretching })).rejects.toBeInstanceOf(ApiError);
  }
}, 600_000);

afterAll(async () => {
  await server?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

describe('a copy of the data directory without the secrets file', { timeout: 300_000 }, () => {
  const markers = (): string[] => users.flatMap((user) => [user.email, user.password]);

  it('was made from a server that registered every account', () => {
    expect(registrations).toHaveLength(ACCOUNTS);
    expect(new Set(registrations.map((r) => r.session.accountId)).size).toBe(ACCOUNTS);
  });

  it('taken while the server runs (database, WAL and all) holds no email or password in any encoding', async () => {
    const copy = await copyWithoutSecrets('hot');
    const files = await readdir(copy, { recursive: true });
    expect(files).toContain(DATABASE_FILE);
    expect(files).not.toContain(SECRETS_FILE);
    expect((await stat(join(copy, DATABASE_FILE))).size).toBeGreaterThan(0);

    const report = await searchDirectory(copy, { text: markers() });
    expect(report.needles).toBeGreaterThan(ACCOUNTS * 2 * 20);
    expect(report.hits, describeHits(report)).toEqual([]);

    // The copy does hold the accounts: their public keys are stored in clear, and the search finds them.
    const publicKeys = registrations.slice(0, 5).map((r) => r.session.identity.signingKey);
    const control = await searchDirectory(copy, { text: publicKeys });
    expect(new Set(control.hits.map((hit) => hit.marker))).toEqual(new Set(publicKeys));
  });

  it('holds no session token, recovery code or private identity key either', async () => {
    const copy = await copyWithoutSecrets('secrets');
    const text = registrations.flatMap((r) => [r.session.token!, r.recoveryCode, r.recoveryCode.replace(/-/g, '')]);
    const bytes = [];
    for (const [i, r] of registrations.entries()) {
      bytes.push({ marker: `token ${i}`, bytes: fromBase64Url(r.session.token!) });
      const secret = await exportIdentitySecret(r.identity);
      // The Ed25519 seed and the X25519 private key, each on its own (bytes 1–32 and 33–64).
      bytes.push({ marker: `signing key ${i}`, bytes: secret.slice(1, 33) }, { marker: `agreement key ${i}`, bytes: secret.slice(33, 65) });
    }
    const report = await searchDirectory(copy, { text, bytes });
    expect(report.hits, describeHits(report)).toEqual([]);
  });

  it('taken after the server stopped holds no email or password in any encoding', async () => {
    await server.stop();
    const copy = await copyWithoutSecrets('cold');
    const report = await searchDirectory(copy, { text: markers() });
    expect(report.bytesSearched).toBeGreaterThan(0);
    expect(report.hits, describeHits(report)).toEqual([]);
  });

  it('would fail if an email or a password were planted in it', async () => {
    const copy = await copyWithoutSecrets('planted');
    const victim = users[ACCOUNTS - 1]!;
    await writeFile(join(copy, 'planted-email.bin'), Buffer.concat([Buffer.from(randomBytes(300)), Buffer.from(victim.email.toLowerCase(), 'utf16le')]));
    await writeFile(join(copy, 'planted-password.txt'), Buffer.from(`{"p":"${Buffer.from(`x${victim.password}`).toString('base64')}"}`));
    const report = await searchDirectory(copy, { text: markers() });
    expect(new Set(report.hits.map((hit) => hit.file))).toEqual(new Set(['planted-email.bin', 'planted-password.txt']));
    expect(new Set(report.hits.map((hit) => hit.marker))).toEqual(new Set([victim.email, victim.password]));
  });
});
