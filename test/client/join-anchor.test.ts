/**
 * A joiner holds no earlier roster entry, so its first view of a family must start at the
 * family's self-signed genesis. A server that sends a chain starting later could otherwise make
 * up its first entry (naming the inviting guardian with their real keys, but signed by nobody)
 * and have the joiner accept a family key the server chose.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BurrowApi } from '../../src/client/api.js';
import { ClientError } from '../../src/client/client-error.js';
import { createFamily, loadFamily, type ClientContext } from '../../src/client/families.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { addChild } from '../../src/client/children.js';
import { toBase64Url } from '../../src/crypto/bytes.js';
import { FAMILY_SCOPE } from '../../src/crypto/key-scopes.js';
import { generateScopeKey, wrapScopeKey } from '../../src/crypto/scope-key.js';
import { wrapToWire } from '../../src/client/key-ring.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { sealProfile } from '../../src/crypto/profile.js';
import { encodeRosterEntry, signRosterEntry } from '../../src/crypto/roster.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, type TestMember } from '../e2e/family-harness.js';

let server: RunningServer;
let mum: TestMember;
let joiner: TestMember;
let familyId: string;
let childId: string;

beforeAll(async () => {
  server = await startServer();
  [mum, joiner] = (await Promise.all(['mum', 'joiner'].map((label) => registerMember(server.url, label)))) as [TestMember, TestMember];
  familyId = (await createFamily(mum, { name: 'Careful Family' })).familyId;
  childId = (await addChild(mum, { familyId, name: 'Noor', emoji: '🐢' })).childId;
  const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [childId], needsApproval: false } });
  await acceptInvite(joiner, link);
}, 60_000);

afterAll(async () => {
  await server?.close();
});

describe("a joiner's first view of a family", () => {
  it('refuses a chain that does not start at the genesis, even one naming the inviting guardian with their real keys', async () => {
    const forger = await generateIdentity();
    const forgedKeys = [FAMILY_SCOPE, childId].map((scope) => ({ scope, generation: 1, key: generateScopeKey() }));
    const settings = { volumeLimit: 80, retentionDays: 30 };
    // Claims to be signed by mum, lists mum with her real keys, but is signed with the server's key.
    const forged = await signRosterEntry(
      {
        familyId,
        epoch: 1,
        previousHash: new Uint8Array(32).fill(7),
        members: [
          { accountId: mum.me.accountId, role: 'guardian', keys: mum.me.identity.publicKeys },
          { accountId: joiner.me.accountId, role: 'relative', keys: joiner.me.identity.publicKeys, children: [childId], needsApproval: false },
        ],
        toys: [],
        settings,
        signerId: mum.me.accountId,
        scopeKeys: forgedKeys,
      },
      forger,
    );
    // Wraps of the keys the forged entry commits to: they open, and match its commitments.
    const wraps = await Promise.all(forgedKeys.map(({ scope, generation, key }) => wrapScopeKey({ familyId, scope, generation, key, recipient: { id: joiner.me.accountId, ...joiner.me.identity.publicKeys } })));
    const sealedName = await sealProfile({ familyId, epoch: 1, key: forgedKeys[0]!.key, kind: 'family-name', objectId: familyId, data: { name: 'Careful Family' }, signer: forger });
    const fabricatedView = {
      familyId,
      role: 'relative',
      epoch: 1,
      roster: [toBase64Url(encodeRosterEntry(forged))],
      wrappedKeys: wraps.map(wrapToWire),
      sealedName: toBase64Url(sealedName),
      children: [],
      retentionDays: 30,
    };
    const lying: typeof fetch = async (input, init) => {
      const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
      if (url.pathname === `/v1/families/${familyId}` && (init?.method ?? 'GET') === 'GET') {
        return new Response(JSON.stringify(fabricatedView), { status: 200, headers: { 'content-type': 'application/json' } });
      }
      return fetch(input, init);
    };
    const hostile: ClientContext = { api: new BurrowApi({ baseUrl: server.url, token: joiner.token, fetch: lying }), me: joiner.me, store: joiner.store };

    const outcome = await loadFamily(hostile, familyId).then(
      () => 'accepted',
      (error: unknown) => (error instanceof ClientError ? error.code : `unexpected: ${String(error)}`),
    );
    expect(outcome).toBe('client/roster-untrusted');
  });
});
