/**
 * Signed sealed profiles against a lying server: a real server and real family keys, and the
 * family view one member's client receives rewritten in transit. A relative (who holds the
 * family key) renames a child; a removed member (who still holds an old key) renames the family;
 * the server moves a real guardian-signed record to another child or into the family name. The
 * client shows none of the forged names: each record is refused and left unnamed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BurrowApi } from '../../src/client/api.js';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, listFamilies, loadFamily, removeMember, type ClientContext } from '../../src/client/families.js';
import { readFamilyLog } from '../../src/client/family-log.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { toBase64Url } from '../../src/crypto/bytes.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { profileScope, sealProfile } from '../../src/crypto/profile.js';
import { FAMILY_SCOPE } from '../../src/crypto/key-scopes.js';
import { FamilyView } from '../../src/protocol/families.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, type TestMember } from '../e2e/family-harness.js';

let server: RunningServer;
let mum: TestMember;
let gran: TestMember;
let uncle: TestMember;
let familyId: string;
let mia: string;
let leo: string;

type Rewrite = (path: string, body: Record<string, unknown>) => Record<string, unknown> | undefined;

/** The member's client, with every JSON answer passing through `rewrite` first. */
function underAttack(member: TestMember, rewrite: Rewrite): ClientContext {
  const hostileFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const type = response.headers.get('content-type') ?? '';
    if (!response.ok || !type.includes('json')) return response;
    const path = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url).pathname;
    const body = (await response.json()) as Record<string, unknown>;
    const changed = rewrite(path, structuredClone(body)) ?? body;
    return new Response(JSON.stringify(changed), { status: response.status, headers: { 'content-type': 'application/json' } });
  };
  return { api: new BurrowApi({ baseUrl: server.url, token: member.token, fetch: hostileFetch }), me: member.me, store: member.store };
}

type Child = { childId: string; sealedProfile: string };

/** Serves `sealed` (base64url) as the profile of child `childId` in the family view. */
function childProfileReplaced(childId: string, sealed: string): Rewrite {
  return (path, body) => {
    if (path !== `/v1/families/${familyId}`) return undefined;
    return { ...body, children: (body.children as Child[]).map((c) => (c.childId === childId ? { ...c, sealedProfile: sealed } : c)) };
  };
}

async function join(member: TestMember): Promise<void> {
  const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false } });
  await acceptInvite(member, link);
  await admitJoiners(mum, { familyId });
  await loadFamily(member, familyId);
}

beforeAll(async () => {
  server = await startServer();
  [mum, gran, uncle] = (await Promise.all(['mum', 'gran', 'uncle'].map((label) => registerMember(server.url, label)))) as [TestMember, TestMember, TestMember];
  familyId = (await createFamily(mum, { name: 'Signed Family' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  leo = (await addChild(mum, { familyId, name: 'Leo', emoji: '🐻' })).childId;
  await join(gran);
  await join(uncle);
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('signed profiles on the member clients', () => {
  it('names signed by a guardian open, and say who the children are', async () => {
    const family = await loadFamily(mum, familyId);
    expect(family.name).toBe('Signed Family');
    expect(family.children.map((c) => c.name).sort()).toEqual(['Leo', 'Mia']);
    // Gran may see Mia only.
    expect((await loadFamily(gran, familyId)).children.map((c) => c.name)).toEqual(['Mia']);
  });

  it("a child renamed by a relative, who holds the child's key, is refused", async () => {
    const family = await loadFamily(gran, familyId);
    const forged = await sealProfile({ familyId, epoch: family.roster.epoch, key: family.headKeyOf(profileScope(family.roster.head, 'child', mia))!, kind: 'child', objectId: mia, data: { name: 'Renamed by gran', emoji: '👹' }, signer: gran.me.identity });
    const seen = await loadFamily(underAttack(mum, childProfileReplaced(mia, toBase64Url(forged))), familyId);
    const child = seen.children.find((c) => c.childId === mia)!;
    expect(child.name).toBeUndefined();
    expect(child.emoji).toBeUndefined();
    expect(seen.children.find((c) => c.childId === leo)!.name).toBe('Leo');
    // The refusal reaches the family's security log, which the guardian reads and verifies.
    const log = await readFamilyLog(mum, familyId);
    if (!log.ok) throw new Error(log.code);
    expect(log.events.at(-1)).toMatchObject({ kind: 'client-refusal', actorId: mum.me.accountId, details: { code: 'profile/signer-not-allowed' } });
  });

  it('a child renamed by a guardian still opens (the check is on the signer, not on who uploaded)', async () => {
    const family = await loadFamily(mum, familyId);
    const renamed = await sealProfile({ familyId, epoch: family.roster.epoch, key: family.headKeyOf(profileScope(family.roster.head, 'child', mia))!, kind: 'child', objectId: mia, data: { name: 'Mia Rose', emoji: '🦊' }, signer: mum.me.identity });
    const seen = await loadFamily(underAttack(gran, childProfileReplaced(mia, toBase64Url(renamed))), familyId);
    expect(seen.children.find((c) => c.childId === mia)!.name).toBe('Mia Rose');
  });

  it('a child renamed by a stranger (the server, with a key it does not even need to hold) is refused', async () => {
    const family = await loadFamily(mum, familyId);
    const forged = await sealProfile({ familyId, epoch: family.roster.epoch, key: family.headKeyOf(profileScope(family.roster.head, 'child', mia))!, kind: 'child', objectId: mia, data: { name: 'Stranger' }, signer: await generateIdentity() });
    const seen = await loadFamily(underAttack(gran, childProfileReplaced(mia, toBase64Url(forged))), familyId);
    expect(seen.children.find((c) => c.childId === mia)!.name).toBeUndefined();
  });

  it('a guardian-signed profile moved to another child, or into the family name, is refused', async () => {
    const view = await mum.api.call('GET', `/v1/families/${familyId}`, FamilyView);
    const leosProfile = view.children.find((c) => c.childId === leo)!.sealedProfile;
    const moved = await loadFamily(underAttack(gran, childProfileReplaced(mia, leosProfile)), familyId);
    expect(moved.children.find((c) => c.childId === mia)!.name).toBeUndefined();
    const renamed = underAttack(gran, (path, body) => (path === `/v1/families/${familyId}` ? { ...body, sealedName: leosProfile } : undefined));
    expect((await loadFamily(renamed, familyId)).name).toBeUndefined();
    // The family list opens names against the stored verified head too.
    const listed = underAttack(gran, (path, body) => (path === '/v1/families' ? { ...body, families: (body.families as Array<Record<string, unknown>>).map((f) => ({ ...f, sealedName: leosProfile })) } : undefined));
    expect((await listFamilies(listed)).find((f) => f.familyId === familyId)!.name).toBeUndefined();
    expect((await listFamilies(gran)).find((f) => f.familyId === familyId)!.name).toBe('Signed Family');
  });

  it('a removed member who kept an old epoch key cannot rename the family for those who remain', async () => {
    const before = await loadFamily(uncle, familyId);
    const oldKey = before.headKeyOf(FAMILY_SCOPE)!;
    const oldEpoch = before.roster.epoch;
    await removeMember(mum, { familyId, accountId: uncle.me.accountId });
    const forged = await sealProfile({ familyId, epoch: oldEpoch, key: oldKey, kind: 'family-name', objectId: familyId, data: { name: 'Uncle was here' }, signer: uncle.me.identity });
    const seen = await loadFamily(underAttack(gran, (path, body) => (path === `/v1/families/${familyId}` ? { ...body, sealedName: toBase64Url(forged) } : undefined)), familyId);
    expect(seen.name).toBeUndefined();
    expect((await loadFamily(gran, familyId)).name).toBe('Signed Family');
  });
});
