/**
 * Member display names (issue #21 item 4) through a real server and real family keys: each member's
 * own signed, sealed profile; the joiner's chosen name and account email on the guardian's let-in
 * list; names that follow the family into new epochs. Then a lying server, whose family view is
 * rewritten in transit: it serves one member's profile as another's (refused: not signed by that
 * member) and an older profile after a rename (refused as stale). Neither name is shown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BurrowApi } from '../../src/client/api.js';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, loadFamily, MAX_MEMBER_PHOTO_BYTES, removeMember, setMyProfile, type ClientContext } from '../../src/client/families.js';
import { readFamilyLog } from '../../src/client/family-log.js';
import { acceptInvite, createInvite, describeInvites } from '../../src/client/invites.js';
import { nameOf } from '../../src/client/names.js';
import { toBase64Url } from '../../src/crypto/bytes.js';
import { sealProfile } from '../../src/crypto/profile.js';
import { FAMILY_SCOPE } from '../../src/crypto/key-scopes.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, type TestMember } from '../e2e/family-harness.js';

let server: RunningServer;
let mum: TestMember;
let gran: TestMember;
let uncle: TestMember;
let familyId: string;
let mia: string;

type Rewrite = (path: string, body: Record<string, unknown>) => Record<string, unknown> | undefined;
type Profile = { accountId: string; sealedProfile: string; updatedAt: number };

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

/** The sealed profiles the server holds right now, as a member's client receives them. */
async function storedProfiles(member: TestMember): Promise<Profile[]> {
  const answer = await fetch(`${server.url}/v1/families/${familyId}`, { headers: { authorization: `Bearer ${member.token}` } });
  return ((await answer.json()) as { memberProfiles: Profile[] }).memberProfiles;
}

/** Serves `sealed` as the profile of `accountId` in the family view. */
function profileReplaced(accountId: string, sealed: string): Rewrite {
  return (path, body) => {
    if (path !== `/v1/families/${familyId}`) return undefined;
    return { ...body, memberProfiles: (body.memberProfiles as Profile[]).map((p) => (p.accountId === accountId ? { ...p, sealedProfile: sealed } : p)) };
  };
}

async function join(member: TestMember, name: string): Promise<void> {
  const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false }, for: name });
  await acceptInvite(member, link, { name });
  await admitJoiners(mum, { familyId });
  await loadFamily(member, familyId);
}

beforeAll(async () => {
  server = await startServer();
  [mum, gran, uncle] = (await Promise.all(['mum', 'gran', 'uncle'].map((label) => registerMember(server.url, label)))) as [TestMember, TestMember, TestMember];
  familyId = (await createFamily(mum, { name: 'Named Family', myName: 'Mum' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('member names', () => {
  it("the let-in list shows whom the invite is for, the joiner's chosen name and their account's email, before anyone is let in", async () => {
    const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false }, for: 'Grandma Rose' });
    await acceptInvite(gran, link, { name: 'Rose' });
    const waiting = (await describeInvites(mum, { familyId })).filter((i) => i.status === 'accepted');
    expect(waiting).toEqual([expect.objectContaining({ for: 'Grandma Rose', mine: true, joiner: { accountId: gran.me.accountId, name: 'Rose', email: gran.email } })]);
    // Once let in, the email is no longer handed out.
    await admitJoiners(mum, { familyId });
    expect((await describeInvites(mum, { familyId })).every((i) => i.joiner?.email === undefined)).toBe(true);
  });

  it("every member sees every member's own name; the joiner's chosen name became their signed profile", async () => {
    await join(uncle, 'Uncle Bob');
    // Gran's client seals her chosen name as her profile on its first load after being let in.
    await loadFamily(gran, familyId);
    for (const member of [mum, gran, uncle]) {
      const family = await loadFamily(member, familyId);
      expect(Object.fromEntries(family.members.map((m) => [m.accountId, m.name])), member.label).toEqual({ [mum.me.accountId]: 'Mum', [gran.me.accountId]: 'Rose', [uncle.me.accountId]: 'Uncle Bob' });
      expect(nameOf(family, gran.me.accountId)).toBe('Rose');
      expect(nameOf(family, mum.me.accountId, { me: member.me.accountId })).toBe(member === mum ? 'You' : 'Mum');
    }
  });

  it('a member renames themselves, with a photo checked by its magic bytes; nobody else can write their profile', async () => {
    // The largest photo allowed: 64 KiB that starts as a PNG does.
    const png = new Uint8Array(MAX_MEMBER_PHOTO_BYTES).fill(7);
    png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    await setMyProfile(gran, { familyId, name: 'Grandma Rose', photo: png });
    const seen = (await loadFamily(mum, familyId)).members.find((m) => m.accountId === gran.me.accountId)!;
    expect(seen.name).toBe('Grandma Rose');
    expect(seen.photo?.type).toBe('image/png');
    expect(seen.photo?.bytes).toEqual(png);
    await expect(setMyProfile(gran, { familyId, name: 'x', photo: Uint8Array.of(0x3c, 0x73, 0x76, 0x67) })).rejects.toMatchObject({ code: 'client/photo-type' });
    await expect(setMyProfile(gran, { familyId, name: 'x', photo: new Uint8Array(MAX_MEMBER_PHOTO_BYTES + 1).fill(0xff) })).rejects.toMatchObject({ code: 'client/photo-too-large' });
    // The server writes only the caller's own slot: uncle's PUT changes his profile, never gran's.
    const family = await loadFamily(uncle, familyId);
    const forged = await sealProfile({ familyId, epoch: family.roster.epoch, key: family.headKeyOf(FAMILY_SCOPE)!, kind: 'member', objectId: gran.me.accountId, data: { name: 'Forged', seq: 99 }, signer: uncle.me.identity });
    await uncle.api.call('PUT', `/v1/families/${familyId}/profile`, undefined, { sealedProfile: toBase64Url(forged) });
    const after = await loadFamily(mum, familyId);
    expect(after.members.find((m) => m.accountId === gran.me.accountId)!.name).toBe('Grandma Rose');
    // Uncle's slot now holds a record about gran: it does not open as uncle's.
    expect(after.members.find((m) => m.accountId === uncle.me.accountId)).toMatchObject({ name: undefined, refused: 'profile/bad-signature' });
    await setMyProfile(uncle, { familyId, name: 'Uncle Bob' });
  });

  it("a server that serves one member's profile as another's is refused, and the family's security log hears of it", async () => {
    const profiles = await storedProfiles(mum);
    const uncles = profiles.find((p) => p.accountId === uncle.me.accountId)!.sealedProfile;
    const family = await loadFamily(underAttack(mum, profileReplaced(gran.me.accountId, uncles)), familyId);
    const shown = family.members.find((m) => m.accountId === gran.me.accountId)!;
    expect(shown).toMatchObject({ name: undefined, refused: 'profile/signer-not-allowed' });
    expect(nameOf(family, gran.me.accountId)).toBe('A relative');
    const log = await readFamilyLog(mum, familyId);
    expect(log.ok && log.events.some((e) => e.kind === 'client-refusal' && e.details.code === 'profile/signer-not-allowed')).toBe(true);
  });

  it('a server that serves an older profile after a rename is refused as stale', async () => {
    const before = (await storedProfiles(mum)).find((p) => p.accountId === gran.me.accountId)!.sealedProfile;
    await setMyProfile(gran, { familyId, name: 'Granny' });
    expect((await loadFamily(mum, familyId)).members.find((m) => m.accountId === gran.me.accountId)!.name).toBe('Granny');
    // The older record is genuine (signed by gran, same epoch), but older than the one mum's device opened.
    const family = await loadFamily(underAttack(mum, profileReplaced(gran.me.accountId, before)), familyId);
    expect(family.members.find((m) => m.accountId === gran.me.accountId)).toMatchObject({ name: undefined, refused: 'profile/stale' });
    // The genuine newest one still opens afterwards.
    expect((await loadFamily(mum, familyId)).members.find((m) => m.accountId === gran.me.accountId)!.name).toBe('Granny');
  });

  it("names follow the family into a new epoch: a member who joins after a removal reads the others' names once they have been online", async () => {
    await removeMember(mum, { familyId, accountId: uncle.me.accountId });
    const aunt = await registerMember(server.url, 'aunt');
    const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false }, for: 'Aunt Jo' });
    await acceptInvite(aunt, link);
    await admitJoiners(mum, { familyId });
    // Mum re-sealed her own name at each roster change she signed; gran re-seals hers on her next load.
    const first = await loadFamily(aunt, familyId);
    expect(first.members.find((m) => m.accountId === mum.me.accountId)!.name).toBe('Mum');
    expect(first.members.some((m) => m.accountId === uncle.me.accountId)).toBe(false);
    await loadFamily(gran, familyId);
    expect((await loadFamily(aunt, familyId)).members.find((m) => m.accountId === gran.me.accountId)!.name).toBe('Granny');
    // The removed member's profile is no longer served.
    expect((await storedProfiles(mum)).some((p) => p.accountId === uncle.me.accountId)).toBe(false);
  });
});
