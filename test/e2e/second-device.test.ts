/**
 * An account on a second device: logging in brings back the identity, and the account vault brings
 * back each family's trust anchor, so the new device verifies the family's roster from an entry the
 * account's own first device verified, and reads what was sent before it existed. A server that
 * fabricates a family, alters the vault or serves an old one gains nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginAccount } from '../../src/client/account.js';
import { BurrowApi } from '../../src/client/api.js';
import { addChild } from '../../src/client/children.js';
import { ClientError } from '../../src/client/client-error.js';
import { createFamily, loadFamily, setSettings, type ClientContext } from '../../src/client/families.js';
import { wrapToWire } from '../../src/client/key-ring.js';
import { MemoryKeyStore } from '../../src/client/key-store.js';
import { downloadAndOpenMessage, sendMessage } from '../../src/client/messages.js';
import { readAccountVault, recordAnchors, vaultProblems } from '../../src/client/vault.js';
import { bytesEqual, fromBase64Url, toBase64Url, utf8 } from '../../src/crypto/bytes.js';
import { FAMILY_SCOPE } from '../../src/crypto/key-scopes.js';
import { generateScopeKey, wrapScopeKey } from '../../src/crypto/scope-key.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { sealProfile } from '../../src/crypto/profile.js';
import { createGenesisEntry, encodeRosterEntry, hashRosterEntry, verifyRoster } from '../../src/crypto/roster.js';
import { VaultView } from '../../src/protocol/accounts.js';
import { startServer, type RunningServer } from './accounts-harness.js';
import { registerMember, sameStretchingAs, wavWith, type TestMember } from './family-harness.js';
import { pairToy } from '../toy/toy-harness.js';

let server: RunningServer;
let mum: TestMember;
let familyId: string;
let mia: string;
let messageId: string;
const marker = utf8('second-device-marker');

/** Rewrites the answer to a GET (`path`), as a compromised server would; undefined leaves it alone. */
type Rewrite = (path: string, response: Response) => Promise<Response | undefined>;

function apiFor(token: string, rewrite?: Rewrite): BurrowApi {
  const hostile: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const path = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url).pathname;
    if ((init?.method ?? 'GET') !== 'GET') return response;
    return (await rewrite?.(path, response)) ?? response;
  };
  return new BurrowApi({ baseUrl: server.url, token, fetch: rewrite === undefined ? fetch : hostile });
}

/** The same account logged in on a new device: a fresh session, a fresh (empty) key store. */
async function secondDevice(rewrite?: Rewrite): Promise<ClientContext> {
  const api = new BurrowApi({ baseUrl: server.url });
  const { session, identity } = await loginAccount({ api, email: mum.email, password: mum.password, sessionLabel: 'second device', ...sameStretchingAs(mum) });
  return { api: apiFor(session.token!, rewrite), me: { accountId: session.accountId, identity }, store: new MemoryKeyStore() };
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': status === 200 ? 'application/json' : 'application/problem+json' } });
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    if (error instanceof ClientError) return error.code;
    throw error;
  }
}

/** A whole family the server made up: its own creator, this account listed as a guardian, a key the server holds. */
async function fabricatedFamilyView(): Promise<Record<string, unknown>> {
  const forger = await generateIdentity();
  const key = generateScopeKey();
  const genesis = await createGenesisEntry({
    familyId,
    creator: { accountId: 'made-by-the-server', identity: forger },
    settings: { volumeLimit: 80, retentionDays: 30 },
    members: [
      { accountId: 'made-by-the-server', role: 'guardian', keys: forger.publicKeys },
      { accountId: mum.me.accountId, role: 'guardian', keys: mum.me.identity.publicKeys },
    ],
    scopeKeys: [{ scope: FAMILY_SCOPE, generation: 0, key }],
  });
  // On its own the fabrication is flawless: a client trusting the server's genesis would accept it.
  expect((await verifyRoster([genesis], { genesisHash: await hashRosterEntry(genesis) })).ok).toBe(true);
  const wrapped = await wrapScopeKey({ familyId, scope: FAMILY_SCOPE, generation: 0, key, recipient: { id: mum.me.accountId, ...mum.me.identity.publicKeys } });
  const sealedName = await sealProfile({ familyId, epoch: 0, key, kind: 'family-name', objectId: familyId, data: { name: 'Forged Family' }, signer: forger });
  return { familyId, role: 'guardian', epoch: 0, roster: [toBase64Url(encodeRosterEntry(genesis))], wrappedKeys: [wrapToWire(wrapped)], sealedName: toBase64Url(sealedName), children: [], retentionDays: 30 };
}

beforeAll(async () => {
  server = await startServer();
  mum = await registerMember(server.url, 'mum');
  familyId = (await createFamily(mum, { name: 'Burrow Family' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  // Mia's conversation has a key once something can hear it: her toy.
  await pairToy(server.url, mum, familyId, mia);
  messageId = (await sendMessage(mum, { familyId, to: mia, audio: wavWith(marker), audioType: 'audio/wav', durationMs: 10 })).messageId;
}, 60_000);

afterAll(async () => {
  await server?.close();
});

describe('an account on a second device', () => {
  it('opens the family created on the first device and the message sent from it', async () => {
    const device2 = await secondDevice();
    expect(await device2.store.listFamilies()).toEqual([]);
    const family = await loadFamily(device2, familyId);
    expect(family.name).toBe('Burrow Family');
    expect(family.children.map((c) => c.name)).toEqual(['Mia']);
    const got = await downloadAndOpenMessage(device2, { familyId, messageId, family });
    expect(got.opened.ok).toBe(true);
    if (got.opened.ok) expect(bytesEqual(got.opened.value.audio.subarray(44, 44 + marker.length), marker)).toBe(true);
    // The device now keeps the anchor itself.
    expect((await device2.store.loadFamily(familyId))?.anchor).toBeDefined();
  });

  it('follows the family forward after the first device changed its roster', async () => {
    await setSettings(mum, { familyId, settings: { retentionDays: 60 } });
    const device2 = await secondDevice();
    const family = await loadFamily(device2, familyId);
    expect(family.roster.settings.retentionDays).toBe(60);
    const vault = await readAccountVault(device2);
    expect(bytesEqual(vault.families[familyId]!.anchor, encodeRosterEntry(family.roster.head))).toBe(true);
    expect(vault.families[familyId]!.joinedVia).toBe('created');
  });

  it('refuses a family the server fabricated, once the vault holds the real anchor', async () => {
    const fabricated = await fabricatedFamilyView();
    const device2 = await secondDevice(async (path) => (path === `/v1/families/${familyId}` ? json(fabricated) : undefined));
    expect(await refusal(loadFamily(device2, familyId))).toBe('client/roster-untrusted');
    expect((await device2.store.loadFamily(familyId))?.anchor).toBeUndefined();
  });

  it('trusts nothing when the server hides the vault and fabricates the family', async () => {
    const fabricated = await fabricatedFamilyView();
    const device2 = await secondDevice(async (path) => {
      if (path === '/v1/accounts/me/vault') return json({ type: 'urn:burrow:problem:not-found', title: 'Not found', status: 404, detail: 'none' }, 404);
      if (path === `/v1/families/${familyId}`) return json(fabricated);
      return undefined;
    });
    expect(await refusal(loadFamily(device2, familyId))).toBe('client/no-anchor');
  });

  it('refuses a vault with one byte flipped', async () => {
    const device2 = await secondDevice(async (path, response) => {
      if (path !== '/v1/accounts/me/vault' || !response.ok) return undefined;
      const body = (await response.json()) as { revision: number; sealed: string };
      const sealed = fromBase64Url(body.sealed);
      sealed[sealed.length - 20]! ^= 0x01;
      return json({ ...body, sealed: toBase64Url(sealed) });
    });
    expect(await refusal(loadFamily(device2, familyId))).toBe('client/vault-refused');
  });

  it('refuses a vault the server moved to another revision', async () => {
    const device2 = await secondDevice(async (path, response) => {
      if (path !== '/v1/accounts/me/vault' || !response.ok) return undefined;
      const body = (await response.json()) as { revision: number; sealed: string };
      return json({ ...body, revision: body.revision + 1 });
    });
    expect(await refusal(loadFamily(device2, familyId))).toBe('client/vault-refused');
  });

  it('with a rolled-back vault still verifies forward to the genuine head (older anchor, same safety)', async () => {
    const old = await mum.api.call('GET', '/v1/accounts/me/vault', VaultView);
    await setSettings(mum, { familyId, settings: { retentionDays: 90 } });
    const current = await mum.api.call('GET', '/v1/accounts/me/vault', VaultView);
    expect(current.revision).toBeGreaterThan(old.revision);
    const device2 = await secondDevice(async (path) => (path === '/v1/accounts/me/vault' ? json(old) : undefined));
    const family = await loadFamily(device2, familyId);
    expect(family.roster.settings.retentionDays).toBe(90);
    // It could not write its newer anchor over a vault it only sees the old revision of, and says so.
    expect(vaultProblems(device2).map((p) => p.code)).toContain('vault/write-failed');
  });

  it("never replaces the vault's anchor by a head that does not extend it (a fork), and reports it", async () => {
    // An entry of the same family id that is not on the real chain (a fork), offered to the vault.
    const fork = await createGenesisEntry({ familyId, creator: mum.me, settings: { volumeLimit: 100, retentionDays: 7 }, scopeKeys: [{ scope: FAMILY_SCOPE, generation: 0, key: generateScopeKey() }] });
    const forked = await verifyRoster([fork], { genesisHash: await hashRosterEntry(fork) });
    if (!forked.ok) throw new Error('the fork must verify on its own');
    const writer = await secondDevice();
    const before = (await readAccountVault(writer, { refresh: true })).families[familyId]!.anchor;
    expect((await recordAnchors(writer, [{ roster: forked.value }])).map((p) => p.code)).toEqual(['vault/not-forward']);
    const after = (await readAccountVault(writer, { refresh: true })).families[familyId]!.anchor;
    expect(bytesEqual(after, before)).toBe(true);
    expect(bytesEqual(after, encodeRosterEntry(fork))).toBe(false);
    // A new device still starts from the genuine anchor and follows the real chain.
    const device = await secondDevice();
    const family = await loadFamily(device, familyId);
    expect(family.roster.settings.volumeLimit).not.toBe(100);
    expect(vaultProblems(device)).toEqual([]);
  });

  it('merges anchors written by two devices at once: neither device loses the other\'s family', async () => {
    const device2 = await secondDevice();
    await readAccountVault(device2);
    const fromDevice1 = (await createFamily(mum, { name: 'From Device One' })).familyId;
    // Device 2 still holds the older revision: its write conflicts, so it re-reads and merges.
    const fromDevice2 = (await createFamily(device2, { name: 'From Device Two' })).familyId;
    const device3 = await secondDevice();
    const vault = await readAccountVault(device3);
    expect(Object.keys(vault.families).sort()).toEqual([familyId, fromDevice1, fromDevice2].sort());
    expect((await loadFamily(device3, fromDevice1)).name).toBe('From Device One');
    expect((await loadFamily(device3, fromDevice2)).name).toBe('From Device Two');
    expect(vaultProblems(device2)).toEqual([]);
  });
});
