/**
 * The test harness's cheap key stretching cannot reach production. Clients stretch passwords with
 * OPAQUE's Argon2id before anything leaves the device; the harness registers most of its members
 * with a far cheaper setting to keep the suite fast. Only code that imports the option's symbol
 * can choose it, and nothing that ships does: no front end, no server, no configuration. A client
 * that is not told otherwise stretches as production does, whatever the server answers.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginAccount, registerAccount, TEST_HARNESS_KEY_STRETCHING } from '../../src/client/account.js';
import { ApiError, BurrowApi } from '../../src/client/api.js';
import { randomBytes, toHex } from '../../src/crypto/bytes.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { TEST_KEY_STRETCHING } from '../server/helpers.js';

const src = new URL('../../src/', import.meta.url).pathname;
const OPTION_MODULE = join(src, 'client/account.ts');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(tsx?|js|mjs|html)$/.test(name) ? [path] : [];
  });
}

let server: RunningServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.close();
});

function newUser(): { email: string; password: string } {
  return { email: `stretch-${toHex(randomBytes(4))}@example.org`, password: `copper ${toHex(randomBytes(3))} meadow kettle` };
}

const cheap = { [TEST_HARNESS_KEY_STRETCHING]: TEST_KEY_STRETCHING };

describe("the test harness's key stretching", () => {
  it('is named by no shipped code but the client module that defines it', () => {
    const naming = sourceFiles(src).filter((file) => file !== OPTION_MODULE && /TEST_HARNESS_KEY_STRETCHING|test-harness key stretching/.test(readFileSync(file, 'utf8')));
    expect(naming).toEqual([]);
    // Not in the global symbol registry: no string anywhere can name the same key.
    expect(Symbol.keyFor(TEST_HARNESS_KEY_STRETCHING)).toBeUndefined();
  });

  it('is not what a client uses when not told: a production record does not open with it, and opens without it', { timeout: 120_000 }, async () => {
    const user = newUser();
    await registerAccount({ api: new BurrowApi({ baseUrl: server.url }), ...user });
    await expect(loginAccount({ api: new BurrowApi({ baseUrl: server.url }), ...user, ...cheap })).rejects.toMatchObject({ code: 'burrow/login-failed' });
    const signedIn = await loginAccount({ api: new BurrowApi({ baseUrl: server.url }), ...user });
    expect(signedIn.session.accountId).toMatch(/\S/);
  });

  it('cannot be chosen through the options a front end builds from data: a string key of the same name is ignored', { timeout: 120_000 }, async () => {
    const user = newUser();
    await registerAccount({ api: new BurrowApi({ baseUrl: server.url }), ...user, ...cheap });
    // Options parsed from JSON (a server answer, a file, the environment) carry string keys only.
    const parsed = JSON.parse(JSON.stringify({ ...user, [String(TEST_HARNESS_KEY_STRETCHING)]: TEST_KEY_STRETCHING, keyStretching: TEST_KEY_STRETCHING })) as typeof user;
    const failed = await loginAccount({ api: new BurrowApi({ baseUrl: server.url }), ...parsed }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(ApiError);
    expect((failed as ApiError).code).toBe('burrow/login-failed');
    await expect(loginAccount({ api: new BurrowApi({ baseUrl: server.url }), ...user, ...cheap })).resolves.toMatchObject({ session: expect.anything() });
  });
});
