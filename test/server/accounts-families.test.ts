/** Deleting an account while it is in families: never strands a family without a guardian, takes its own families with it, leaves the rest to their guardians. */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteAccount as deleteAccountWithClient, SoleGuardianError } from '../../src/client/account.js';
import { BurrowApi } from '../../src/client/api.js';
import type { BlobStore } from '../../src/storage/blobs/blob-store.js';
import { familyTopic } from '../../src/server/live/family-events.js';
import { bearer, startTestServer, type TestServer } from './helpers.js';
import { addChild, acceptInvite, appendEntry, createFamily, createInvite, del, get, join, memberOf, newPerson, type Person, type TestFamily } from './families/fixtures.js';
import { seal, upload } from './messages/fixtures.js';
import { sealingKey } from '../support/scope-keys.js';

let server: TestServer;
beforeAll(async () => { server = await startTestServer(); });
afterAll(async () => { await server.close(); });

const RELATIVE = { role: 'relative' as const, needsApproval: false };
const GUARDIAN = { role: 'guardian' as const, children: [], needsApproval: false };

function deleteAccount(person: Person) {
  return del(server.app, '/v1/accounts/me', person, { confirm: 'delete my account' });
}

async function blobNames(blobs: BlobStore): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of blobs.list()) names.push(blob.name);
  return names;
}

async function inviteStatus(inviteId: string): Promise<string | undefined> {
  const row = await server.store.db.selectFrom('invites').select('status').where('id', '=', inviteId).executeTakeFirst();
  return row?.status;
}

/** Uploads one real sealed message from `sender` to `childId` at the family's current epoch; returns its blob name. */
async function sendMessage(family: TestFamily, sender: Person, childId: string): Promise<string> {
  const epoch = family.chain.length - 1;
  const sealed = await seal(sender, { familyId: family.familyId, epoch, ...sealingKey(family.chain[epoch]!, family.keys, sender.accountId, [childId]) }, [childId]);
  const answer = await upload(server.app, sender, family.familyId, sealed.bytes);
  expect(answer.statusCode, answer.body).toBe(201);
  const messageId = answer.json<{ messageId: string }>().messageId;
  const row = await server.store.db.selectFrom('messages').select('blob_name').where('id', '=', messageId).executeTakeFirstOrThrow();
  return row.blob_name;
}

describe('the only guardian of a family others belong to', () => {
  it('cannot delete their account: 409 sole-guardian naming the family, and nothing is deleted', async () => {
    const [mum, gran] = await Promise.all([newPerson(server.app), newPerson(server.app)]);
    const family = await createFamily(server.app, mum);
    const child = await addChild(server.app, family, mum);
    await join(server.app, family, mum, gran, { ...RELATIVE, children: [child] });
    const alone = await createFamily(server.app, mum);
    const openInvite = await createInvite(server.app, family, mum, { ...RELATIVE, children: [child] });
    const blob = await sendMessage(family, mum, child);

    const refused = await deleteAccount(mum);
    expect(refused.statusCode).toBe(409);
    const problem = refused.json<{ type: string; detail: string; familyIds: string[] }>();
    expect(problem.type).toBe('urn:burrow:problem:sole-guardian');
    expect(problem.detail).toMatch(/only guardian/);
    expect(problem.familyIds).toEqual([family.familyId]);

    expect((await get(server.app, '/v1/accounts/me', mum)).statusCode).toBe(200);
    expect((await get(server.app, `/v1/families/${family.familyId}`, mum)).statusCode).toBe(200);
    expect((await get(server.app, `/v1/families/${family.familyId}`, gran)).statusCode).toBe(200);
    // The family only mum is in is not deleted either: the refusal changes nothing.
    expect((await get(server.app, `/v1/families/${alone.familyId}`, mum)).statusCode).toBe(200);
    expect(await inviteStatus(openInvite)).toBe('open');
    expect(await blobNames(server.backends.blobs)).toContain(blob);
  });
});

describe('the client library', () => {
  it('surfaces the refusal as SoleGuardianError with the family ids, over real HTTP, and keeps the session', async () => {
    const [mum, gran] = await Promise.all([newPerson(server.app), newPerson(server.app)]);
    const family = await createFamily(server.app, mum);
    const child = await addChild(server.app, family, mum);
    await join(server.app, family, mum, gran, { ...RELATIVE, children: [child] });
    await server.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = server.app.server.address() as AddressInfo;
    const api = new BurrowApi({ baseUrl: `http://127.0.0.1:${port}`, token: mum.token });
    const failure = await deleteAccountWithClient({ api }).then(() => undefined, (error: unknown) => error);
    expect(failure).toBeInstanceOf(SoleGuardianError);
    expect((failure as SoleGuardianError).familyIds).toEqual([family.familyId]);
    expect((failure as SoleGuardianError).status).toBe(409);
    expect((await get(server.app, '/v1/accounts/me', mum)).statusCode).toBe(200);
  });
});

describe('the only member of a family', () => {
  it('deletes their account and the family goes with it: messages, blobs, children, and a family-deleted event', async () => {
    const solo = await newPerson(server.app);
    const family = await createFamily(server.app, solo);
    const child = await addChild(server.app, family, solo);
    const blob = await sendMessage(family, solo, child);
    const invite = await createInvite(server.app, family, solo, { ...RELATIVE, children: [child] });

    const answer = await deleteAccount(solo);
    expect(answer.statusCode, answer.body).toBe(204);

    expect(await server.store.db.selectFrom('families').select('id').where('id', '=', family.familyId).execute()).toEqual([]);
    expect(await server.store.db.selectFrom('messages').select('id').where('family_id', '=', family.familyId).execute()).toEqual([]);
    expect(await server.store.db.selectFrom('children').select('id').where('family_id', '=', family.familyId).execute()).toEqual([]);
    expect(await server.store.db.selectFrom('family_members').select('account_id').where('family_id', '=', family.familyId).execute()).toEqual([]);
    expect(await inviteStatus(invite)).toBeUndefined();
    expect(await blobNames(server.backends.blobs)).not.toContain(blob);
    const events = await server.backends.bus.readSince(familyTopic(family.familyId), undefined, 100);
    expect(events.map((e) => e.type)).toContain('family-deleted');
    expect((await get(server.app, '/v1/accounts/me', solo)).statusCode).toBe(401);
  });
});

describe('a guardian with another guardian beside them', () => {
  it('deletes their account; the other guardian still runs the family, sees the deleted account and removes it', async () => {
    const [dad, mum, gran] = await Promise.all([newPerson(server.app), newPerson(server.app), newPerson(server.app)]);
    const family = await createFamily(server.app, dad);
    const child = await addChild(server.app, family, dad);
    const mumMember = await join(server.app, family, dad, mum, GUARDIAN);
    const granMember = await join(server.app, family, dad, gran, { ...RELATIVE, children: [child] });
    const blob = await sendMessage(family, dad, child);
    const dadsOpenInvite = await createInvite(server.app, family, dad, { ...RELATIVE, children: [child] });
    const mumsOpenInvite = await createInvite(server.app, family, mum, { ...RELATIVE, children: [child] });

    const answer = await deleteAccount(dad);
    expect(answer.statusCode, answer.body).toBe(204);
    expect((await get(server.app, `/v1/families/${family.familyId}`, dad)).statusCode).toBe(401);

    const view = await get(server.app, `/v1/families/${family.familyId}`, mum);
    expect(view.statusCode).toBe(200);
    expect(view.json<{ deletedAccounts?: string[] }>().deletedAccounts).toEqual([dad.accountId]);
    // His message stays in the family's conversation until retention removes it.
    expect(await blobNames(server.backends.blobs)).toContain(blob);
    expect(await inviteStatus(dadsOpenInvite)).toBe('revoked');
    expect(await inviteStatus(mumsOpenInvite)).toBe('open');

    const removed = await appendEntry(server.app, family, mum, [mumMember, granMember]);
    expect(removed.statusCode, removed.body).toBe(201);
    const after = await get(server.app, `/v1/families/${family.familyId}`, mum);
    expect(after.json<{ deletedAccounts?: string[] }>().deletedAccounts).toBeUndefined();
  });

  it('once the other guardian has deleted theirs, the last living guardian is refused in turn', async () => {
    const [dad, mum, gran] = await Promise.all([newPerson(server.app), newPerson(server.app), newPerson(server.app)]);
    const family = await createFamily(server.app, dad);
    const child = await addChild(server.app, family, dad);
    await join(server.app, family, dad, mum, GUARDIAN);
    await join(server.app, family, dad, gran, { ...RELATIVE, children: [child] });
    expect((await deleteAccount(dad)).statusCode).toBe(204);
    const refused = await deleteAccount(mum);
    expect(refused.statusCode).toBe(409);
    expect(refused.json<{ familyIds: string[] }>().familyIds).toEqual([family.familyId]);
  });
});

describe('a relative', () => {
  it('deletes their account: the invites they accepted are revoked and the family stays intact', async () => {
    const [mum, gran, aunt] = await Promise.all([newPerson(server.app), newPerson(server.app), newPerson(server.app)]);
    const family = await createFamily(server.app, mum);
    const child = await addChild(server.app, family, mum);
    await join(server.app, family, mum, gran, { ...RELATIVE, children: [child] });
    const other = await createFamily(server.app, aunt);
    const otherChild = await addChild(server.app, other, aunt);
    const pending = await createInvite(server.app, other, aunt, { ...RELATIVE, children: [otherChild] });
    expect((await acceptInvite(server.app, pending, gran)).statusCode).toBe(204);
    const blob = await sendMessage(family, gran, child);

    const answer = await deleteAccount(gran);
    expect(answer.statusCode, answer.body).toBe(204);

    expect(await inviteStatus(pending)).toBe('revoked');
    const view = await get(server.app, `/v1/families/${family.familyId}`, mum);
    expect(view.statusCode).toBe(200);
    expect(view.json<{ deletedAccounts?: string[]; roster: string[] }>().deletedAccounts).toEqual([gran.accountId]);
    expect(await blobNames(server.backends.blobs)).toContain(blob);
    expect((await get(server.app, `/v1/families/${other.familyId}`, aunt)).statusCode).toBe(200);
    const members = await server.store.db.selectFrom('family_members').select('account_id').where('family_id', '=', family.familyId).execute();
    expect(members.map((m) => m.account_id).sort()).toEqual([mum.accountId, gran.accountId].sort());
    expect((await server.app.inject({ method: 'GET', url: '/v1/accounts/me', headers: bearer(gran.token) })).statusCode).toBe(401);
  });
});

describe('a deleted member left in the roster', () => {
  it('a guardian signs them out, and the family counts only living accounts: its last one takes it with them', async () => {
    const [mum, gran] = await Promise.all([newPerson(server.app), newPerson(server.app)]);
    const family = await createFamily(server.app, mum);
    const child = await addChild(server.app, family, mum);
    await join(server.app, family, mum, gran, { ...RELATIVE, children: [child] });
    expect((await deleteAccount(gran)).statusCode).toBe(204);
    const answer = await appendEntry(server.app, family, mum, [memberOf(mum, 'guardian')]);
    expect(answer.statusCode, answer.body).toBe(201);
    // Now mum is the family's only member: she may delete her account, and the family goes with it.
    expect((await deleteAccount(mum)).statusCode).toBe(204);
    expect(await server.store.db.selectFrom('families').select('id').where('id', '=', family.familyId).execute()).toEqual([]);
  });
});
