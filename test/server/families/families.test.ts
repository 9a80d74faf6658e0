/** Families over the API: creating one (the server checks epoch 0 as a client would), reading it, appending entries, deleting it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url } from '../../../src/crypto/bytes.js';
import { FAMILY_SCOPE } from '../../../src/crypto/key-scopes.js';
import { commitmentsOf, generateScopeKey, unwrapAndCheckScopeKey, wrapScopeKey } from '../../../src/crypto/scope-key.js';
import { wrapFromWire, wrapToWire } from '../../../src/client/key-ring.js';
import { planScopeKeys, wrapsForEntry } from '../../support/scope-keys.js';
import { generateIdentity } from '../../../src/crypto/identity.js';
import { createGenesisEntry, decodeRosterEntry, encodeRosterEntry, signRosterEntry } from '../../../src/crypto/roster.js';
import { bearer, post, startTestServer, type TestServer } from '../helpers.js';
import {
  addChild,
  appendBody,
  appendEntry,
  createFamily,
  createFamilyBody,
  createInvite,
  acceptInvite,
  del,
  get,
  join,
  memberOf,
  newClientId,
  newPerson,
  SETTINGS,
  wireKeys,
  type Person,
} from './fixtures.js';
import { pairToy } from '../toys/fixtures.js';

let server: TestServer;
let alice: Person;
let bob: Person;
let stranger: Person;
beforeAll(async () => {
  server = await startTestServer();
  [alice, bob, stranger] = await Promise.all([newPerson(server.app), newPerson(server.app), newPerson(server.app)]);
});
afterAll(async () => { await server.close(); });

function problemType(answer: { json<T>(): T }): string {
  return answer.json<{ type: string }>().type;
}

describe('creating a family', () => {
  it('a guardian creates a family and reads it back with the chain, their wrapped key and the retention', async () => {
    const { body, genesis, key } = await createFamilyBody(alice);
    const created = await post(server.app, '/v1/families', body, bearer(alice.token));
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({ familyId: body.familyId, epoch: 0 });

    const view = await get(server.app, `/v1/families/${body.familyId}`, alice);
    expect(view.statusCode).toBe(200);
    const family = view.json<{ role: string; epoch: number; roster: string[]; wrappedKeys: Array<{ suite: string; recipientId: string; scope: string; generation: number; enc: string; ciphertext: string }>; sealedName: string; retentionDays: number; children: unknown[] }>();
    expect(family.role).toBe('guardian');
    expect(family.epoch).toBe(0);
    expect(family.roster).toEqual([toBase64Url(encodeRosterEntry(genesis))]);
    expect(family.sealedName).toBe(body.sealedName);
    expect(family.retentionDays).toBe(SETTINGS.retentionDays);
    expect(family.children).toEqual([]);
    expect(family.wrappedKeys.map((k) => [k.recipientId, k.scope, k.generation])).toEqual([[alice.accountId, FAMILY_SCOPE, 0]]);
    const unwrapped = await unwrapAndCheckScopeKey({ wrap: wrapFromWire(family.wrappedKeys[0]!), familyId: body.familyId, recipientId: alice.accountId, identity: alice.identity, commitments: commitmentsOf([genesis]) });
    expect(unwrapped.ok && toBase64Url(unwrapped.value)).toBe(toBase64Url(key));
  });

  it('an account may belong to several families, and lists only its own', async () => {
    const first = await createFamily(server.app, bob);
    const second = await createFamily(server.app, bob);
    await createFamily(server.app, stranger);
    const list = (await get(server.app, '/v1/families', bob)).json<{ families: Array<{ familyId: string; role: string }> }>();
    expect(list.families.map((f) => f.familyId).sort()).toEqual([first.familyId, second.familyId].sort());
    expect(list.families.every((f) => f.role === 'guardian')).toBe(true);
  });

  it('a family id that is taken answers 409 and changes nothing', async () => {
    const family = await createFamily(server.app, alice);
    const { body } = await createFamilyBody(bob, family.familyId);
    const answer = await post(server.app, '/v1/families', body, bearer(bob.token));
    expect(answer.statusCode).toBe(409);
    expect(problemType(answer)).toBe('urn:burrow:problem:conflict');
    expect((await get(server.app, `/v1/families/${family.familyId}`, bob)).statusCode).toBe(404);
  });

  it('refuses a genesis that names another member too', async () => {
    const familyId = newClientId();
    const members = [memberOf(alice, 'guardian'), memberOf(bob, 'guardian')];
    const scopeKeys = planScopeKeys(undefined, { members, toys: [] });
    const genesis = await createGenesisEntry({ familyId, creator: { accountId: alice.accountId, identity: alice.identity }, settings: SETTINGS, members, scopeKeys });
    const { body } = await createFamilyBody(alice, familyId);
    const answer = await post(server.app, '/v1/families', { ...body, genesis: toBase64Url(encodeRosterEntry(genesis)), wrappedKeys: wireKeys(await wrapsForEntry(undefined, genesis, scopeKeys)) }, bearer(alice.token));
    expect(answer.statusCode).toBe(400);
    expect(problemType(answer)).toBe('urn:burrow:problem:invalid-roster');
  });

  it("refuses a genesis whose keys are not the creator's account keys", async () => {
    const familyId = newClientId();
    const impostor = await generateIdentity();
    const scopeKeys = planScopeKeys(undefined, { members: [{ accountId: alice.accountId, role: 'guardian', keys: impostor.publicKeys }], toys: [] });
    const genesis = await createGenesisEntry({ familyId, creator: { accountId: alice.accountId, identity: impostor }, settings: SETTINGS, scopeKeys });
    const { body } = await createFamilyBody(alice, familyId);
    const answer = await post(server.app, '/v1/families', { ...body, genesis: toBase64Url(encodeRosterEntry(genesis)), wrappedKeys: wireKeys(await wrapsForEntry(undefined, genesis, scopeKeys)) }, bearer(alice.token));
    expect(answer.statusCode).toBe(400);
    expect(problemType(answer)).toBe('urn:burrow:problem:invalid-roster');
  });

  it('refuses a genesis with a bad signature', async () => {
    const { body } = await createFamilyBody(alice);
    const bytes = fromBase64Url(body.genesis);
    bytes[bytes.length - 1]! ^= 0x01;
    const answer = await post(server.app, '/v1/families', { ...body, genesis: toBase64Url(bytes) }, bearer(alice.token));
    expect(answer.statusCode).toBe(400);
    expect(problemType(answer)).toBe('urn:burrow:problem:invalid-roster');
  });

  it('refuses a genesis created in the name of another account', async () => {
    const { body } = await createFamilyBody(bob);
    const answer = await post(server.app, '/v1/families', body, bearer(alice.token));
    expect(answer.statusCode).toBe(400);
    expect((await get(server.app, `/v1/families/${body.familyId}`, bob)).statusCode).toBe(404);
  });

  it('refuses a genesis with a toy, or at another epoch', async () => {
    const familyId = newClientId();
    const toy = await generateIdentity();
    const toys = [{ toyId: newClientId(), keys: toy.publicKeys, childId: newClientId() }];
    const toyKeys = planScopeKeys(undefined, { members: [memberOf(alice, 'guardian')], toys });
    const withToy = await createGenesisEntry({ familyId, creator: { accountId: alice.accountId, identity: alice.identity }, settings: SETTINGS, toys, scopeKeys: toyKeys });
    const { body } = await createFamilyBody(alice, familyId);
    const a = await post(server.app, '/v1/families', { ...body, genesis: toBase64Url(encodeRosterEntry(withToy)), wrappedKeys: wireKeys(await wrapsForEntry(undefined, withToy, toyKeys)) }, bearer(alice.token));
    expect(a.statusCode).toBe(400);
    const genesis = decodeRosterEntry(fromBase64Url(body.genesis));
    if (!genesis.ok) throw new Error('fixture');
    const laterKeys = [{ scope: FAMILY_SCOPE, generation: 1, key: generateScopeKey() }];
    const { scopeKeys: _signed, ...unsigned } = genesis.value;
    const later = await signRosterEntry({ ...unsigned, epoch: 1, settings: SETTINGS, scopeKeys: laterKeys }, alice.identity);
    const b = await post(server.app, '/v1/families', { ...body, genesis: toBase64Url(encodeRosterEntry(later)), wrappedKeys: wireKeys(await wrapsForEntry(undefined, later, laterKeys)) }, bearer(alice.token));
    expect(b.statusCode).toBe(400);
    expect((await get(server.app, `/v1/families/${familyId}`, alice)).statusCode).toBe(404);
  });

  it('refuses wrapped keys that miss the creator, are for another scope or generation, or add a stranger', async () => {
    const { body } = await createFamilyBody(alice);
    const key = body.wrappedKeys[0]!;
    for (const wrappedKeys of [
      [],
      [{ ...key, generation: 1 }],
      [{ ...key, scope: newClientId() }],
      [key, key],
      [{ ...key, recipientId: stranger.accountId }],
      [key, { ...key, recipientId: stranger.accountId }],
      [{ ...key, suite: 'rot13' }],
    ]) {
      const answer = await post(server.app, '/v1/families', { ...body, wrappedKeys }, bearer(alice.token));
      expect(answer.statusCode, JSON.stringify(wrappedKeys)).toBe(400);
    }
    expect((await get(server.app, `/v1/families/${body.familyId}`, alice)).statusCode).toBe(404);
  });
});

describe('appending to the roster', () => {
  it('a guardian adds an invited guardian, who then sees the family and their own keys only', async () => {
    const family = await createFamily(server.app, alice);
    await join(server.app, family, alice, bob, { role: 'guardian', children: [], needsApproval: false });
    const view = (await get(server.app, `/v1/families/${family.familyId}`, bob)).json<{ role: string; epoch: number; roster: string[]; wrappedKeys: Array<{ recipientId: string; scope: string; generation: number }> }>();
    expect(view.role).toBe('guardian');
    expect(view.epoch).toBe(1);
    expect(view.roster).toHaveLength(2);
    // Adding a guardian rotates nothing: bob gets the family-wide key of generation 0, as kept.
    expect(view.wrappedKeys.map((k) => [k.recipientId, k.scope, k.generation])).toEqual([[bob.accountId, FAMILY_SCOPE, 0]]);
    const roster = (await get(server.app, `/v1/families/${family.familyId}/roster?afterEpoch=0`, bob)).json<{ entries: string[] }>();
    expect(roster.entries).toEqual([view.roster[1]]);
  });

  it('a relative cannot append (403), a stranger gets 404', async () => {
    const family = await createFamily(server.app, alice);
    const child = await addChild(server.app, family, alice);
    const relative = await newPerson(server.app);
    await join(server.app, family, alice, relative, { role: 'relative', children: [child], needsApproval: false });
    const head = family.chain[family.chain.length - 1]!;
    const { body } = await appendBody(family, alice, head.members);
    expect((await post(server.app, `/v1/families/${family.familyId}/roster`, body, bearer(relative.token))).statusCode).toBe(403);
    const answer = await post(server.app, `/v1/families/${family.familyId}/roster`, body, bearer(stranger.token));
    expect(answer.statusCode).toBe(404);
    expect(problemType(answer)).toBe('urn:burrow:problem:not-found');
  });

  it('an entry signed against an old head answers 409 stale-roster', async () => {
    const family = await createFamily(server.app, alice);
    const first = await appendBody(family, alice, family.chain[0]!.members);
    const second = await appendBody(family, alice, family.chain[0]!.members);
    expect((await post(server.app, `/v1/families/${family.familyId}/roster`, first.body, bearer(alice.token))).statusCode).toBe(201);
    const stale = await post(server.app, `/v1/families/${family.familyId}/roster`, second.body, bearer(alice.token));
    expect(stale.statusCode).toBe(409);
    expect(problemType(stale)).toBe('urn:burrow:problem:stale-roster');
  });

  it('refuses an entry signed by a guardian other than the caller', async () => {
    const family = await createFamily(server.app, alice);
    await join(server.app, family, alice, bob, { role: 'guardian', children: [], needsApproval: false });
    const { body } = await appendBody(family, alice, family.chain[1]!.members);
    const answer = await post(server.app, `/v1/families/${family.familyId}/roster`, body, bearer(bob.token));
    expect(answer.statusCode).toBe(400);
  });

  it('refuses a new member who has not accepted an invite', async () => {
    const family = await createFamily(server.app, alice);
    const answer = await appendEntry(server.app, family, alice, [...family.chain[0]!.members, memberOf(bob, 'guardian')]);
    expect(answer.statusCode).toBe(400);
    expect(problemType(answer)).toBe('urn:burrow:problem:invalid-roster');
    // An invite that is open but not accepted does not do either.
    const inviteId = await createInvite(server.app, family, alice, { role: 'guardian', children: [], needsApproval: false });
    expect((await appendEntry(server.app, family, alice, [...family.chain[0]!.members, memberOf(bob, 'guardian')], [inviteId])).statusCode).toBe(400);
    expect((await get(server.app, `/v1/families/${family.familyId}`, bob)).statusCode).toBe(404);
  });

  it("refuses an entry that widens the invite's terms, and takes one that keeps them", async () => {
    const family = await createFamily(server.app, alice);
    const [c1, c2] = [await addChild(server.app, family, alice), await addChild(server.app, family, alice)];
    const relative = await newPerson(server.app);
    const inviteId = await createInvite(server.app, family, alice, { role: 'relative', children: [c1], needsApproval: true });
    expect((await acceptInvite(server.app, inviteId, relative)).statusCode).toBe(204);
    const base = family.chain[0]!.members;
    for (const widened of [
      memberOf(relative, 'guardian'),
      memberOf(relative, 'relative', { children: [c1, c2], needsApproval: true }),
      memberOf(relative, 'relative', { children: [c1] }),
    ]) {
      const answer = await appendEntry(server.app, family, alice, [...base, widened], [inviteId]);
      expect(answer.statusCode, JSON.stringify(widened.role)).toBe(400);
    }
    expect((await appendEntry(server.app, family, alice, [...base, memberOf(relative, 'relative', { children: [c1], needsApproval: true })], [inviteId])).statusCode).toBe(201);
    const invites = (await get(server.app, `/v1/families/${family.familyId}/invites`, alice)).json<{ invites: Array<{ inviteId: string; status: string }> }>();
    expect(invites.invites.find((i) => i.inviteId === inviteId)?.status).toBe('used');
  });

  it("refuses an entry whose wrapped keys leave out a member, or that changes a member's keys", async () => {
    const family = await createFamily(server.app, alice);
    const relative = await newPerson(server.app);
    const other = await newPerson(server.app);
    const child = await addChild(server.app, family, alice);
    await join(server.app, family, alice, relative, { role: 'relative', children: [child], needsApproval: false });
    await join(server.app, family, alice, other, { role: 'relative', children: [child], needsApproval: false });
    const head = family.chain[2]!;
    // Removing `other` rotates the family-wide key and the child's: fresh keys for alice and the relative.
    const { body } = await appendBody(family, alice, head.members.slice(0, 2));
    expect(body.wrappedKeys).toHaveLength(4);
    const missing = await post(server.app, `/v1/families/${family.familyId}/roster`, { ...body, wrappedKeys: body.wrappedKeys.slice(0, 3) }, bearer(alice.token));
    expect(missing.statusCode).toBe(400);
    expect(problemType(missing)).toBe('urn:burrow:problem:invalid-roster');
    const swapped = await appendEntry(server.app, family, alice, [head.members[0]!, { ...head.members[1]!, keys: (await generateIdentity()).publicKeys }]);
    expect(swapped.statusCode).toBe(400);
  });

  it('a removed member loses access at once, and a guardian can change a role', async () => {
    const family = await createFamily(server.app, alice);
    const child = await addChild(server.app, family, alice);
    const relative = await newPerson(server.app);
    const other = await newPerson(server.app);
    await join(server.app, family, alice, relative, { role: 'relative', children: [child], needsApproval: false });
    await join(server.app, family, alice, other, { role: 'relative', children: [child], needsApproval: false });
    expect((await get(server.app, `/v1/families/${family.familyId}`, relative)).statusCode).toBe(200);
    const head = family.chain[family.chain.length - 1]!;
    const promoted = { ...head.members.find((m) => m.accountId === other.accountId)!, role: 'guardian' as const, children: [] };
    expect((await appendEntry(server.app, family, alice, [head.members[0]!, promoted])).statusCode).toBe(201);
    for (const url of [`/v1/families/${family.familyId}`, `/v1/families/${family.familyId}/roster`, `/v1/families/${family.familyId}/children`]) {
      expect((await get(server.app, url, relative)).statusCode, url).toBe(404);
    }
    expect((await get(server.app, '/v1/families', relative)).json<{ families: unknown[] }>().families).toEqual([]);
    expect((await get(server.app, `/v1/families/${family.familyId}`, other)).json<{ role: string }>().role).toBe('guardian');
  });

  it('refuses an entry that adds a toy (toys join by pairing, in a later issue)', async () => {
    const family = await createFamily(server.app, alice);
    const child = await addChild(server.app, family, alice);
    const toy = await generateIdentity();
    const { appendRosterEntry } = await import('../../../src/crypto/roster.js');
    const contents = { members: family.chain[0]!.members, toys: [{ toyId: newClientId(), keys: toy.publicKeys, childId: child }] };
    const scopeKeys = planScopeKeys(family.chain[0]!, contents, family.keys);
    const entry = await appendRosterEntry(family.chain, { signer: { accountId: alice.accountId, identity: alice.identity }, ...contents, settings: SETTINGS, scopeKeys });
    const answer = await post(server.app, `/v1/families/${family.familyId}/roster`, { entry: toBase64Url(encodeRosterEntry(entry)), wrappedKeys: wireKeys(await wrapsForEntry(family.chain[0]!, entry, scopeKeys)) }, bearer(alice.token));
    expect(answer.statusCode).toBe(400);
    expect(answer.json<{ detail: string }>().detail).toMatch(/toy/);
  });
});

describe('the wraps of a roster append are exactly the ones the change needs', () => {
  /** A wrap of `scope`'s key of `generation` (from `keys`) to `to`, well formed for its suite. */
  async function wrapTo(familyId: string, keys: Record<string, Uint8Array>, scope: string, generation: number, to: { id: string; keys: { agreementKey: Uint8Array; kemKey?: Uint8Array | undefined } }) {
    const key = keys[`${generation}/${scope}`] ?? generateScopeKey();
    return wrapToWire(await wrapScopeKey({ familyId, scope, generation, key, recipient: { id: to.id, agreementKey: to.keys.agreementKey, kemKey: to.keys.kemKey } }));
  }

  it("refuses (400 invalid-roster) a wrap to a toy of another child's scope, a missing wrap of a fresh scope, a kept scope wrapped again to an old holder; takes the exact set", async () => {
    const family = await createFamily(server.app, alice);
    const [c1, c2] = [await addChild(server.app, family, alice), await addChild(server.app, family, alice)];
    const relative = await newPerson(server.app);
    await join(server.app, family, alice, relative, { role: 'relative', children: [c1], needsApproval: false });
    const t1 = await pairToy(server.app, family, alice, c1);
    const t2 = await pairToy(server.app, family, alice, c2);
    const head = family.chain.at(-1)!;
    const c2Kept = head.scopeKeys.find((k) => k.scope === c2)!;
    // Removing the relative rotates the family-wide key and c1's; c2's is kept, so nobody gets it again.
    const { body, entry, keys } = await appendBody(family, alice, head.members.filter((m) => m.accountId !== relative.accountId));
    const wraps = body.wrappedKeys;
    expect(wraps.map((w) => [w.recipientId, w.scope, w.generation]).sort()).toEqual(
      [[alice.accountId, FAMILY_SCOPE, entry.epoch], [alice.accountId, c1, entry.epoch], [t1.toyId, c1, entry.epoch]].sort(),
    );
    const toy2 = { id: t2.toyId, keys: head.toys.find((t) => t.toyId === t2.toyId)!.keys };
    const oldAlice = { id: alice.accountId, keys: alice.identity.publicKeys };
    const attempts: Array<[string, typeof wraps]> = [
      ["c1's fresh key to c2's toy", [...wraps, await wrapTo(family.familyId, keys, c1, entry.epoch, toy2)]],
      ["the family-wide key to a toy", [...wraps, await wrapTo(family.familyId, keys, FAMILY_SCOPE, entry.epoch, toy2)]],
      ["c1's fresh key missing for c1's toy", wraps.filter((w) => !(w.recipientId === t1.toyId && w.scope === c1))],
      ["the fresh family-wide key missing for the guardian", wraps.filter((w) => !(w.recipientId === alice.accountId && w.scope === FAMILY_SCOPE))],
      ["c2's kept key wrapped again to the guardian, who holds it", [...wraps, await wrapTo(family.familyId, family.keys, c2, c2Kept.generation, oldAlice)]],
      ["c2's kept key wrapped again to its toy", [...wraps, await wrapTo(family.familyId, family.keys, c2, c2Kept.generation, toy2)]],
      ["c1's earlier generation to the removed relative", [...wraps, await wrapTo(family.familyId, family.keys, c1, head.scopeKeys.find((k) => k.scope === c1)!.generation, { id: relative.accountId, keys: relative.identity.publicKeys })]],
    ];
    for (const [what, wrappedKeys] of attempts) {
      const answer = await post(server.app, `/v1/families/${family.familyId}/roster`, { ...body, wrappedKeys }, bearer(alice.token));
      expect(answer.statusCode, what).toBe(400);
      expect(problemType(answer), what).toBe('urn:burrow:problem:invalid-roster');
    }
    expect((await get(server.app, `/v1/families/${family.familyId}`, alice)).json<{ epoch: number }>().epoch).toBe(head.epoch);
    expect((await post(server.app, `/v1/families/${family.familyId}/roster`, body, bearer(alice.token))).statusCode).toBe(201);
  });

  it('an append that only adds a holder wraps the kept keys to the new holder alone, and refuses an empty set', async () => {
    const family = await createFamily(server.app, alice);
    const child = await addChild(server.app, family, alice);
    const first = await newPerson(server.app);
    await join(server.app, family, alice, first, { role: 'relative', children: [child], needsApproval: false });
    const second = await newPerson(server.app);
    const inviteId = await createInvite(server.app, family, alice, { role: 'relative', children: [child], needsApproval: false });
    expect((await acceptInvite(server.app, inviteId, second)).statusCode).toBe(204);
    const head = family.chain.at(-1)!;
    const { body } = await appendBody(family, alice, [...head.members, memberOf(second, 'relative', { children: [child], needsApproval: false })], [inviteId]);
    expect(body.wrappedKeys.map((w) => [w.recipientId, w.scope, w.generation]).sort()).toEqual(
      [[second.accountId, FAMILY_SCOPE, 0], [second.accountId, child, head.scopeKeys.find((k) => k.scope === child)!.generation]].sort(),
    );
    const empty = await post(server.app, `/v1/families/${family.familyId}/roster`, { ...body, wrappedKeys: [] }, bearer(alice.token));
    expect(empty.statusCode).toBe(400);
    expect(problemType(empty)).toBe('urn:burrow:problem:invalid-roster');
    expect((await post(server.app, `/v1/families/${family.familyId}/roster`, body, bearer(alice.token))).statusCode).toBe(201);
  });
});

describe('settings and the family name follow the head', () => {
  it('an append changes the retention and re-seals the family name for the new epoch', async () => {
    const family = await createFamily(server.app, alice);
    const { appendRosterEntry } = await import('../../../src/crypto/roster.js');
    const { sealProfile } = await import('../../../src/crypto/profile.js');
    const scopeKeys = planScopeKeys(family.chain[0]!, { members: family.chain[0]!.members, toys: [] }, family.keys);
    const entry = await appendRosterEntry(family.chain, { signer: { accountId: alice.accountId, identity: alice.identity }, members: family.chain[0]!.members, toys: [], settings: { ...SETTINGS, retentionDays: 7 }, scopeKeys });
    const sealedName = toBase64Url(await sealProfile({ familyId: family.familyId, epoch: 1, key: scopeKeys[0]!.key, kind: 'family-name', objectId: family.familyId, data: { name: 'Renamed' }, signer: alice.identity }));
    // Nobody leaves and nobody joins: the entry keeps every key and needs no wrap.
    const body = { entry: toBase64Url(encodeRosterEntry(entry)), wrappedKeys: wireKeys(await wrapsForEntry(family.chain[0]!, entry, scopeKeys)), sealedName };
    expect(body.wrappedKeys).toEqual([]);
    expect((await post(server.app, `/v1/families/${family.familyId}/roster`, body, bearer(alice.token))).statusCode).toBe(201);
    const view = (await get(server.app, `/v1/families/${family.familyId}`, alice)).json<{ epoch: number; retentionDays: number; sealedName: string }>();
    expect(view).toMatchObject({ epoch: 1, retentionDays: 7, sealedName });
  });
});

describe('deleting a family', () => {
  const tables = ['families', 'roster_entries', 'family_members', 'family_toys', 'wrapped_keys', 'children', 'invites'] as const;
  async function rowsOf(familyId: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const table of tables) {
      const column = table === 'families' ? 'id' : 'family_id';
      const row = await server.store.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).where(column, '=', familyId).executeTakeFirstOrThrow();
      out[table] = Number(row.n);
    }
    return out;
  }

  it("a guardian's deletion removes every row of the family and leaves other families alone", async () => {
    const family = await createFamily(server.app, alice);
    const keep = await createFamily(server.app, alice);
    const child = await addChild(server.app, family, alice);
    await addChild(server.app, keep, alice);
    await join(server.app, family, alice, bob, { role: 'relative', children: [child], needsApproval: false });
    await createInvite(server.app, family, alice, { role: 'guardian', children: [], needsApproval: false });
    const before = await rowsOf(family.familyId);
    expect(Object.values(before).filter((n) => n > 0).length).toBeGreaterThanOrEqual(6);
    const keepBefore = await rowsOf(keep.familyId);

    expect((await del(server.app, `/v1/families/${family.familyId}`, bob, { confirm: 'delete this family' })).statusCode).toBe(403);
    expect((await del(server.app, `/v1/families/${family.familyId}`, stranger, { confirm: 'delete this family' })).statusCode).toBe(404);
    expect((await del(server.app, `/v1/families/${family.familyId}`, alice, { confirm: 'yes' })).statusCode).toBe(400);
    expect(await rowsOf(family.familyId)).toEqual(before);

    expect((await del(server.app, `/v1/families/${family.familyId}`, alice, { confirm: 'delete this family' })).statusCode).toBe(204);
    expect(await rowsOf(family.familyId)).toEqual(Object.fromEntries(tables.map((t) => [t, 0])));
    expect(await rowsOf(keep.familyId)).toEqual(keepBefore);
    expect((await get(server.app, `/v1/families/${family.familyId}`, alice)).statusCode).toBe(404);
    expect((await get(server.app, `/v1/families/${family.familyId}`, bob)).statusCode).toBe(404);
  });
});
