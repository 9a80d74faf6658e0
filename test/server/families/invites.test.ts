/** Invites over the API: created by guardians, read by whoever holds the link, accepted once, expiring, revocable. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, bearer, manualClock, post, startTestServer, type TestServer } from '../helpers.js';
import { acceptInvite, addChild, createFamily, createInvite, del, get, identityWire, join, newClientId, newPerson, type Person, type TestFamily } from './fixtures.js';

const clock = manualClock();
let server: TestServer;
let alice: Person;
let family: TestFamily;
let child: string;
beforeAll(async () => {
  server = await startTestServer({ clock });
  alice = await newPerson(server.app);
  family = await createFamily(server.app, alice);
  child = await addChild(server.app, family, alice);
});
afterAll(async () => { await server.close(); });

interface Invite {
  inviteId: string;
  familyId: string;
  status: string;
  expiresAt: number;
  terms: { role: string; children: string[]; needsApproval: boolean };
  guardian: { accountId: string; identity: { signingKey: string; agreementKey: string } };
  guardianProof: string;
}

describe('invites', () => {
  it("the holder of an invite sees its terms, the guardian's identity and proof; it expires in 7 days by default", async () => {
    const guardianProof = b64(65);
    const inviteId = newClientId();
    const created = await post(server.app, `/v1/families/${family.familyId}/invites`, { inviteId, terms: { role: 'relative', children: [child], needsApproval: true }, guardianProof }, bearer(alice.token));
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({ inviteId, expiresAt: clock.now() + 7 * 24 * 3600_000 });
    const joiner = await newPerson(server.app);
    const view = await get(server.app, `/v1/invites/${inviteId}`, joiner);
    expect(view.statusCode).toBe(200);
    expect(view.json<Invite>()).toEqual({
      inviteId,
      familyId: family.familyId,
      status: 'open',
      expiresAt: clock.now() + 7 * 24 * 3600_000,
      terms: { role: 'relative', children: [child], needsApproval: true },
      guardian: { accountId: alice.accountId, identity: identityWire(alice.identity) },
      guardianProof,
    });
  });

  it('an invite works once: a second accept, by anyone, is refused with 410', async () => {
    const inviteId = await createInvite(server.app, family, alice, { role: 'relative', children: [child], needsApproval: false });
    const [first, second] = [await newPerson(server.app), await newPerson(server.app)];
    const results = await Promise.all([acceptInvite(server.app, inviteId, first), acceptInvite(server.app, inviteId, second)]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([204, 410]);
    expect((await acceptInvite(server.app, inviteId, first)).statusCode).toBe(410);
    const list = (await get(server.app, `/v1/families/${family.familyId}/invites`, alice)).json<{ invites: Array<{ inviteId: string; status: string; joiner?: { accountId: string; joinerProof: string } }> }>();
    const invite = list.invites.find((i) => i.inviteId === inviteId)!;
    expect(invite.status).toBe('accepted');
    const winner = results[0]!.statusCode === 204 ? first : second;
    expect(invite.joiner?.accountId).toBe(winner.accountId);
  });

  it('an expired invite reads as expired and cannot be accepted', async () => {
    const inviteId = await createInvite(server.app, family, alice, { role: 'guardian', children: [], needsApproval: false }, { expiresInMs: 60_000 });
    clock.advance(60_000);
    const joiner = await newPerson(server.app);
    expect((await get(server.app, `/v1/invites/${inviteId}`, joiner)).json<Invite>().status).toBe('expired');
    const answer = await acceptInvite(server.app, inviteId, joiner);
    expect(answer.statusCode).toBe(410);
    expect(answer.json<{ type: string }>().type).toBe('urn:burrow:problem:invite-unavailable');
  });

  it('a revoked invite cannot be accepted, even one accepted already cannot be completed', async () => {
    const joiner = await newPerson(server.app);
    const open = await createInvite(server.app, family, alice, { role: 'relative', children: [child], needsApproval: false });
    expect((await del(server.app, `/v1/families/${family.familyId}/invites/${open}`, alice)).statusCode).toBe(204);
    expect((await acceptInvite(server.app, open, joiner)).statusCode).toBe(410);
    expect((await del(server.app, `/v1/families/${family.familyId}/invites/${open}`, alice)).statusCode).toBe(410);

    const accepted = await createInvite(server.app, family, alice, { role: 'relative', children: [child], needsApproval: false });
    expect((await acceptInvite(server.app, accepted, joiner)).statusCode).toBe(204);
    expect((await del(server.app, `/v1/families/${family.familyId}/invites/${accepted}`, alice)).statusCode).toBe(204);
    const { appendEntry, memberOf } = await import('./fixtures.js');
    const answer = await appendEntry(server.app, family, alice, [...family.chain[family.chain.length - 1]!.members, memberOf(joiner, 'relative', { children: [child] })], [accepted]);
    expect(answer.statusCode).toBe(400);
  });

  it('a member cannot accept an invite to their own family', async () => {
    const inviteId = await createInvite(server.app, family, alice, { role: 'guardian', children: [], needsApproval: false });
    expect((await acceptInvite(server.app, inviteId, alice)).statusCode).toBe(409);
  });

  it("invites name only the family's children, ids are unique, and unknown ids are 404", async () => {
    const badChild = await post(server.app, `/v1/families/${family.familyId}/invites`, { inviteId: newClientId(), terms: { role: 'relative', children: [newClientId()], needsApproval: false }, guardianProof: b64(65) }, bearer(alice.token));
    expect(badChild.statusCode).toBe(400);
    const inviteId = await createInvite(server.app, family, alice, { role: 'guardian', children: [], needsApproval: false });
    const clash = await post(server.app, `/v1/families/${family.familyId}/invites`, { inviteId, terms: { role: 'guardian', children: [], needsApproval: false }, guardianProof: b64(65) }, bearer(alice.token));
    expect(clash.statusCode).toBe(409);
    const someone = await newPerson(server.app);
    expect((await get(server.app, `/v1/invites/${newClientId()}`, someone)).statusCode).toBe(404);
    expect((await acceptInvite(server.app, newClientId(), someone)).statusCode).toBe(404);
  });

  it("guardians of another family, relatives and strangers cannot create, list or revoke a family's invites", async () => {
    const relative = await newPerson(server.app);
    await join(server.app, family, alice, relative, { role: 'relative', children: [child], needsApproval: false });
    const otherGuardian = await newPerson(server.app);
    await createFamily(server.app, otherGuardian);
    const inviteId = await createInvite(server.app, family, alice, { role: 'guardian', children: [], needsApproval: false });
    expect((await get(server.app, `/v1/families/${family.familyId}/invites`, relative)).statusCode).toBe(403);
    expect((await get(server.app, `/v1/families/${family.familyId}/invites`, otherGuardian)).statusCode).toBe(404);
    expect((await del(server.app, `/v1/families/${family.familyId}/invites/${inviteId}`, otherGuardian)).statusCode).toBe(404);
    const create = await post(server.app, `/v1/families/${family.familyId}/invites`, { inviteId: newClientId(), terms: { role: 'guardian', children: [], needsApproval: false }, guardianProof: b64(65) }, bearer(relative.token));
    expect(create.statusCode).toBe(403);
  });

  it('invite look-ups are rate-limited per account', async () => {
    const limited = await startTestServer({ overrides: { rateLimits: { perAccount: { max: 3, windowMs: 60_000 } } } });
    try {
      const someone = await newPerson(limited.app);
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) codes.push((await get(limited.app, `/v1/invites/${newClientId()}`, someone)).statusCode);
      expect(codes).toEqual([404, 404, 404, 429, 429]);
    } finally {
      await limited.close();
    }
  });
});
