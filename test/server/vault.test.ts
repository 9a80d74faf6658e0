import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { newPerson, type Person } from './families/fixtures.js';
import { bearer, startTestServer, type TestServer } from './helpers.js';

let server: TestServer;
beforeAll(async () => { server = await startTestServer(); });
afterAll(async () => { await server.close(); });

/** Stands in for a sealed box: its version byte, then bytes the server cannot tell from ciphertext. */
function sealed(bytes = 64): string {
  const box = randomBytes(bytes);
  box[0] = 0x01;
  return toBase64Url(box);
}

async function readVault(person: Person) {
  return server.app.inject({ method: 'GET', url: '/v1/accounts/me/vault', headers: bearer(person.token) });
}

async function writeVault(person: Person, body: unknown) {
  return server.app.inject({ method: 'PUT', url: '/v1/accounts/me/vault', headers: bearer(person.token), payload: body as Record<string, unknown> });
}

describe('the account vault routes', () => {
  it('an account with no vault gets a not-found problem', async () => {
    const mum = await newPerson(server.app);
    const answer = await readVault(mum);
    expect(answer.statusCode).toBe(404);
    expect(answer.json<{ type: string }>().type).toBe('urn:burrow:problem:not-found');
  });

  it('a vault is written at revision 1, then only at the revision after the stored one', async () => {
    const mum = await newPerson(server.app);
    const first = sealed();
    expect((await writeVault(mum, { revision: 2, sealed: first })).statusCode).toBe(409);
    expect((await writeVault(mum, { revision: 1, sealed: first })).statusCode).toBe(204);
    expect((await readVault(mum)).json()).toEqual({ revision: 1, sealed: first });

    const replay = await writeVault(mum, { revision: 1, sealed: sealed() });
    expect(replay.statusCode).toBe(409);
    expect(replay.json<{ type: string }>().type).toBe('urn:burrow:problem:conflict');
    expect((await writeVault(mum, { revision: 3, sealed: sealed() })).statusCode).toBe(409);

    const second = sealed(100);
    expect((await writeVault(mum, { revision: 2, sealed: second })).statusCode).toBe(204);
    expect((await readVault(mum)).json()).toEqual({ revision: 2, sealed: second });
  });

  it('of two devices writing the same next revision at once, exactly one wins', async () => {
    const mum = await newPerson(server.app);
    expect((await writeVault(mum, { revision: 1, sealed: sealed() })).statusCode).toBe(204);
    const answers = await Promise.all([writeVault(mum, { revision: 2, sealed: sealed() }), writeVault(mum, { revision: 2, sealed: sealed() })]);
    expect(answers.map((a) => a.statusCode).sort()).toEqual([204, 409]);
  });

  it('each account reaches only its own vault', async () => {
    const mum = await newPerson(server.app);
    const dad = await newPerson(server.app);
    const mine = sealed();
    expect((await writeVault(mum, { revision: 1, sealed: mine })).statusCode).toBe(204);
    expect((await readVault(dad)).statusCode).toBe(404);
    expect((await writeVault(dad, { revision: 1, sealed: sealed() })).statusCode).toBe(204);
    expect((await readVault(mum)).json()).toEqual({ revision: 1, sealed: mine });
  });

  it('an anonymous caller reaches no vault', async () => {
    expect((await server.app.inject({ method: 'GET', url: '/v1/accounts/me/vault' })).statusCode).toBe(401);
    expect((await server.app.inject({ method: 'PUT', url: '/v1/accounts/me/vault', payload: { revision: 1, sealed: sealed() } })).statusCode).toBe(401);
  });

  it('a vault larger than 192 KiB is refused, one of exactly 192 KiB is kept', async () => {
    const mum = await newPerson(server.app);
    const tooBig = await writeVault(mum, { revision: 1, sealed: sealed(192 * 1024 + 1) });
    expect(tooBig.statusCode).toBeGreaterThanOrEqual(400);
    expect(tooBig.statusCode).toBeLessThan(500);
    expect((await readVault(mum)).statusCode).toBe(404);
    expect((await writeVault(mum, { revision: 1, sealed: sealed(192 * 1024) })).statusCode).toBe(204);
  });

  it('a sealed vault that is not canonical base64url, too short, or not a version 1 sealed box, is refused', async () => {
    const mum = await newPerson(server.app);
    expect((await writeVault(mum, { revision: 1, sealed: `${sealed()}!` })).statusCode).toBe(400);
    expect((await writeVault(mum, { revision: 1, sealed: sealed(8) })).statusCode).toBe(400);
    expect((await writeVault(mum, { revision: 0, sealed: sealed() })).statusCode).toBe(400);
    expect((await writeVault(mum, { revision: 1, sealed: 'A'.repeat(20_000) })).statusCode).toBe(400);
    expect((await readVault(mum)).statusCode).toBe(404);
  });

  it('deleting the account deletes its vault', async () => {
    const mum = await newPerson(server.app);
    expect((await writeVault(mum, { revision: 1, sealed: sealed() })).statusCode).toBe(204);
    const count = async () => Number((await server.store.db.selectFrom('account_vaults').select((eb) => eb.fn.countAll().as('n')).where('account_id', '=', mum.accountId).executeTakeFirstOrThrow()).n);
    expect(await count()).toBe(1);
    const deleted = await server.app.inject({ method: 'DELETE', url: '/v1/accounts/me', headers: bearer(mum.token), payload: { confirm: 'delete my account' } });
    expect(deleted.statusCode).toBe(204);
    expect(await count()).toBe(0);
  });
});
