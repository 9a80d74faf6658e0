/** Children over the API: guardians manage them; a relative sees only the children they were given. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, b64, startTestServer, type TestServer } from '../helpers.js';
import { addChild, appendEntry, createFamily, del, get, join, newClientId, newPerson, sealedChild, type Person, type TestFamily } from './fixtures.js';

let server: TestServer;
let alice: Person;
let relative: Person;
let family: TestFamily;
let mine: string;
let notMine: string;
beforeAll(async () => {
  server = await startTestServer();
  [alice, relative] = await Promise.all([newPerson(server.app), newPerson(server.app)]);
  family = await createFamily(server.app, alice);
  mine = await addChild(server.app, family, alice);
  notMine = await addChild(server.app, family, alice);
  await join(server.app, family, alice, relative, { role: 'relative', children: [mine], needsApproval: false });
});
afterAll(async () => { await server.close(); });

function put(url: string, person: Person, payload: unknown) {
  return server.app.inject({ method: 'PUT', url, headers: bearer(person.token), payload: payload as Record<string, unknown> });
}

function childIds(answer: { json<T>(): T }): string[] {
  return answer.json<{ children: Array<{ childId: string }> }>().children.map((c) => c.childId);
}

describe('children', () => {
  it('a guardian sees every child; a relative only theirs, in the list and in the family view', async () => {
    expect(childIds(await get(server.app, `/v1/families/${family.familyId}/children`, alice)).sort()).toEqual([mine, notMine].sort());
    expect(childIds(await get(server.app, `/v1/families/${family.familyId}/children`, relative))).toEqual([mine]);
    expect(childIds(await get(server.app, `/v1/families/${family.familyId}`, relative))).toEqual([mine]);
  });

  it("a relative cannot add, change or delete a child; one outside their set does not exist for them", async () => {
    const childId = newClientId();
    const add = await server.app.inject({ method: 'POST', url: `/v1/families/${family.familyId}/children`, headers: bearer(relative.token), payload: { childId, sealedProfile: await sealedChild(family, childId) } });
    expect(add.statusCode).toBe(403);
    expect((await put(`/v1/families/${family.familyId}/children/${mine}`, relative, { sealedProfile: await sealedChild(family, mine, 'Renamed') })).statusCode).toBe(403);
    expect((await put(`/v1/families/${family.familyId}/children/${notMine}`, relative, { sealedProfile: await sealedChild(family, notMine, 'Renamed') })).statusCode).toBe(404);
    expect((await del(server.app, `/v1/families/${family.familyId}/children/${notMine}`, relative)).statusCode).toBe(404);
    expect((await del(server.app, `/v1/families/${family.familyId}/children/${mine}`, relative)).statusCode).toBe(403);
  });

  it("a guardian updates a child's sealed profile; a duplicate id is 409; an unknown child 404", async () => {
    const sealedProfile = await sealedChild(family, notMine, 'Leo');
    const updated = await put(`/v1/families/${family.familyId}/children/${notMine}`, alice, { sealedProfile });
    expect(updated.statusCode).toBe(200);
    expect(updated.json<{ sealedProfile: string }>().sealedProfile).toBe(sealedProfile);
    const again = await server.app.inject({ method: 'POST', url: `/v1/families/${family.familyId}/children`, headers: bearer(alice.token), payload: { childId: notMine, sealedProfile } });
    expect(again.statusCode).toBe(409);
    expect((await put(`/v1/families/${family.familyId}/children/${newClientId()}`, alice, { sealedProfile })).statusCode).toBe(404);
  });

  it('refuses a sealed profile that is not a profile record', async () => {
    const answer = await server.app.inject({ method: 'POST', url: `/v1/families/${family.familyId}/children`, headers: bearer(alice.token), payload: { childId: newClientId(), sealedProfile: b64(64) } });
    expect(answer.statusCode).toBe(400);
  });

  it('a child the roster still lists or gives to a relative cannot be deleted until the roster changes', async () => {
    const blocked = await del(server.app, `/v1/families/${family.familyId}/children/${mine}`, alice);
    expect(blocked.statusCode).toBe(409);
    expect(blocked.json<{ detail: string }>().detail).toMatch(/roster/);
    const head = family.chain[family.chain.length - 1]!;
    // Relative gone, the child still listed: still refused.
    expect((await appendEntry(server.app, family, alice, head.members.filter((m) => m.accountId !== relative.accountId))).statusCode).toBe(201);
    expect((await del(server.app, `/v1/families/${family.familyId}/children/${mine}`, alice)).statusCode).toBe(409);
    const next = family.chain[family.chain.length - 1]!;
    expect((await appendEntry(server.app, family, alice, next.members, undefined, next.children.filter((c) => c !== mine))).statusCode).toBe(201);
    expect((await del(server.app, `/v1/families/${family.familyId}/children/${mine}`, alice)).statusCode).toBe(204);
    expect(childIds(await get(server.app, `/v1/families/${family.familyId}/children`, alice))).toEqual([notMine]);
  });

  it("a guardian of another family gets 404 for this family's children", async () => {
    const other = await newPerson(server.app);
    await createFamily(server.app, other);
    expect((await get(server.app, `/v1/families/${family.familyId}/children`, other)).statusCode).toBe(404);
    expect((await put(`/v1/families/${family.familyId}/children/${notMine}`, other, { sealedProfile: await sealedChild(family, notMine) })).statusCode).toBe(404);
  });
});
