/**
 * The server chooses a scope key (issue #15 item 1, per-child keys of issue #16), staged for real:
 * a real server, and a hostile fetch in front of it for the attacked device that replaces every
 * scope key wrapped to that device (the family-wide one and the children's) with a key the server
 * chose, wrapped with HPKE to the device's real public keys from the roster, for the same scope and
 * generation (so the wrap opens perfectly). Attacked: (a) a toy, already working and freshly paired,
 * (b) a new joiner, (c) a member's second device. Each refuses the key — nothing played or opened,
 * nothing sealed under it (no envelope the server receives opens with the server's key) — and the
 * refusal appears in the family security log as a `client-refusal` event a guardian reads. The CLI
 * has no unwrap of its own: it loads families through the same `loadFamily`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginAccount } from '../../src/client/account.js';
import { BurrowApi } from '../../src/client/api.js';
import { addChild } from '../../src/client/children.js';
import { ClientError } from '../../src/client/client-error.js';
import { admitJoiners, createFamily, loadFamily, type ClientContext } from '../../src/client/families.js';
import { readFamilyLog } from '../../src/client/family-log.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { MemoryKeyStore } from '../../src/client/key-store.js';
import { sendMessage } from '../../src/client/messages.js';
import { removeToy } from '../../src/client/toys.js';
import { scopeKeyId, wrapToWire } from '../../src/client/key-ring.js';
import { bytesEqual, fromBase64Url, utf8 } from '../../src/crypto/bytes.js';
import { openAndVerifyMessage } from '../../src/crypto/envelope.js';
import { FAMILY_SCOPE } from '../../src/crypto/key-scopes.js';
import { decodeRosterEntry, scopeKeyOf } from '../../src/crypto/roster.js';
import { generateScopeKey, wrapScopeKey } from '../../src/crypto/scope-key.js';
import type { WrappedKeyWire } from '../../src/protocol/families.js';
import { pairToy, toyRuntime, type TestToy } from '../toy/toy-harness.js';
import { startServer, type RunningServer } from './accounts-harness.js';
import { registerMember, sameStretchingAs, wavWith, type TestMember } from './family-harness.js';

let server: RunningServer;
let mum: TestMember;
let familyId: string;
let mia: string;

/** The key the hostile server wraps to its victims (for every scope), and every envelope its victims upload. */
const serverKey = generateScopeKey();
const uploads: Uint8Array[] = [];

/**
 * A fetch that, while `victims()` names a recipient, answers GET /v1/families/:id with that
 * recipient's wrapped keys replaced by wraps of `serverKey` to its real roster keys, each for the
 * scope and generation of the wrap it replaces.
 */
function hostileFetch(victims: () => ReadonlySet<string>): typeof fetch {
  return async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const method = init?.method ?? 'GET';
    if (method === 'POST' && url.pathname === `/v1/families/${familyId}/messages` && init?.body instanceof Uint8Array) uploads.push(new Uint8Array(init.body as Uint8Array));
    const response = await fetch(input, init);
    if (method !== 'GET' || url.pathname !== `/v1/families/${familyId}` || !response.ok || victims().size === 0) return response;
    const body = (await response.json()) as { roster: string[]; wrappedKeys: WrappedKeyWire[] };
    const entries = body.roster.map((wire) => {
      const decoded = decodeRosterEntry(fromBase64Url(wire));
      if (!decoded.ok) throw new Error(decoded.code);
      return decoded.value;
    });
    body.wrappedKeys = await Promise.all(
      body.wrappedKeys.map(async (wire) => {
        if (!victims().has(wire.recipientId)) return wire;
        // The recipient's keys as the latest entry naming them has them (a toy's earlier generations predate its pairing).
        const holders = entries.flatMap((e) => [...e.members.map((m) => ({ id: m.accountId, keys: m.keys })), ...e.toys.map((t) => ({ id: t.toyId, keys: t.keys }))]);
        const keys = holders.filter((h) => h.id === wire.recipientId).at(-1)!.keys;
        return wrapToWire(await wrapScopeKey({ familyId, scope: wire.scope, generation: wire.generation, key: serverKey, recipient: { id: wire.recipientId, ...keys } }));
      }),
    );
    return new Response(JSON.stringify(body), { status: response.status, headers: { 'content-type': 'application/json' } });
  };
}

function behindHostileServer(member: ClientContext & { token: string }, victims: () => ReadonlySet<string>): ClientContext {
  return { ...member, api: new BurrowApi({ baseUrl: server.url, token: member.token, fetch: hostileFetch(victims) }) };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    if (error instanceof ClientError) return error.code;
    throw error;
  }
}

/** The `client-refusal` events of the family log as a guardian reads (and verifies) it. */
async function refusalsInLog(): Promise<Array<{ actorId: string; code: unknown; epoch: unknown }>> {
  const log = await readFamilyLog(mum, familyId);
  if (!log.ok) throw new Error(`the family log does not verify: ${log.code}`);
  return log.events.filter((e) => e.kind === 'client-refusal').map((e) => ({ actorId: e.actorId, code: e.details.code, epoch: e.details.epoch }));
}

/** No envelope the server received opens under the key it chose. */
async function noUploadOpensWithServerKey(): Promise<void> {
  const roster = (await loadFamily(mum, familyId)).roster;
  for (const bytes of uploads) {
    const opened = await openAndVerifyMessage(bytes, { roster, keyFor: () => serverKey });
    expect(opened.ok).toBe(false);
  }
}

beforeAll(async () => {
  server = await startServer();
  mum = await registerMember(server.url, 'mum');
  familyId = (await createFamily(mum, { name: 'Committed Family' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
}, 90_000);

afterAll(async () => {
  await server?.close();
});

describe('a server that wraps a key of its own choosing', { timeout: 90_000 }, () => {
  it("(a) a working toy refuses the key the server wrapped to it for its child's new generation: plays nothing of that epoch and seals nothing under it", async () => {
    const victims = new Set<string>();
    const sibling = await pairToy(server.url, mum, familyId, mia);
    const paired = await pairToy(server.url, mum, familyId, mia);
    const toy: TestToy = await toyRuntime(paired, hostileFetch(() => victims));
    const before = await toy.runtime.start();
    const goodEpoch = before.roster.epoch;
    const goodGeneration = scopeKeyOf(before.roster.head, mia)!.generation;

    // From now on the server replaces every key wrapped to the toy. Removing Mia's other toy
    // starts a new generation of Mia's key, wrapped to this toy.
    victims.add(paired.toyId);
    const next = await removeToy(mum, { familyId, toyId: sibling.toyId });
    expect(next.roster.epoch).toBe(goodEpoch + 1);
    expect(scopeKeyOf(next.roster.head, mia)!.generation).toBe(goodEpoch + 1);
    await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('after the attack'), 300), audioType: 'audio/wav', durationMs: 20 });

    expect(await toy.runtime.sync()).toBe(0);
    expect(toy.played).toEqual([]);
    expect(toy.logs).toContainEqual({ event: 'key-refused', epoch: goodEpoch + 1, reason: 'scope-key/commitment-mismatch' });
    // It keeps the family and key it verified before; the server's key is in none of its state.
    expect(toy.runtime.family?.roster.epoch).toBe(goodEpoch);
    const trust = await toy.storage.loadTrust();
    expect(Object.keys(trust!.keys)).toEqual([scopeKeyId(mia, goodGeneration)]);
    expect(Object.values(trust!.keys).some((k) => bytesEqual(k, serverKey))).toBe(false);

    // A reply is sealed under the epoch it trusts (the server refuses it as stale), never under the server's key.
    const sentBefore = uploads.length;
    expect(await codeOf(toy.runtime.reply({ audio: wavWith(utf8('reply'), 300), audioType: 'audio/wav', durationMs: 20 }))).toBe('client/roster-busy');
    expect(uploads.length).toBeGreaterThan(sentBefore);
    await noUploadOpensWithServerKey();
    // The check is not vacuous: the toy's upload opens under the key of the epoch it trusts.
    const opened = await openAndVerifyMessage(uploads.at(-1)!, { roster: next.roster, keyFor: next.keyFor });
    expect(opened.ok).toBe(true);

    expect(await refusalsInLog()).toContainEqual({ actorId: paired.toyId, code: 'scope-key/commitment-mismatch', epoch: goodEpoch + 1 });
  });

  it('(a) a toy paired while the server swaps its key never starts: it opens, plays and seals nothing', async () => {
    const victims = new Set<string>();
    const paired = await pairToy(server.url, mum, familyId, mia);
    victims.add(paired.toyId);
    const toy = await toyRuntime(paired, hostileFetch(() => victims));
    // The toy joins Mia's conversation at the generation it has (adding a holder rotates nothing).
    const generation = scopeKeyOf((await loadFamily(mum, familyId)).roster.head, mia)!.generation;
    await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('hello new toy'), 300), audioType: 'audio/wav', durationMs: 20 });
    const sentBefore = uploads.length;

    expect(await codeOf(toy.runtime.start())).toBe('client/key-refused');
    expect(await codeOf(toy.runtime.sync())).toBe('client/key-refused');
    expect(await codeOf(toy.runtime.reply({ audio: wavWith(utf8('reply'), 300), audioType: 'audio/wav', durationMs: 20 }))).not.toBe('accepted');
    expect(toy.played).toEqual([]);
    expect(uploads.length).toBe(sentBefore);
    expect((await toy.storage.loadTrust())!.keys).toEqual({});
    expect(await refusalsInLog()).toContainEqual({ actorId: paired.toyId, code: 'scope-key/commitment-mismatch', epoch: generation });
  });

  it("(b) a new joiner refuses the family-wide and child's keys the server wrapped to them and cannot open or send anything", async () => {
    const gran = await registerMember(server.url, 'gran');
    const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false } });
    const victims = new Set([gran.me.accountId]);
    const attacked = behindHostileServer(gran, () => victims);
    await acceptInvite(attacked, link);
    await admitJoiners(mum, { familyId });
    const head = (await loadFamily(mum, familyId)).roster.head;
    const epoch = head.epoch;
    const sentBefore = uploads.length;

    expect(await codeOf(loadFamily(attacked, familyId))).toBe('client/key-refused');
    expect(await codeOf(sendMessage(attacked, { familyId, to: mia, audio: wavWith(utf8('from gran'), 300), audioType: 'audio/wav', durationMs: 20 }))).toBe('client/key-refused');
    expect(uploads.length).toBe(sentBefore);
    expect((await gran.store.loadFamily(familyId))?.keys ?? {}).toEqual({});
    const refusals = await refusalsInLog();
    for (const scope of [FAMILY_SCOPE, mia]) {
      expect(refusals, `scope '${scope}'`).toContainEqual({ actorId: gran.me.accountId, code: 'scope-key/commitment-mismatch', epoch: scopeKeyOf(head, scope)!.generation });
    }

    // The same joiner, with the server honest again, opens the real key.
    victims.clear();
    expect((await loadFamily(attacked, familyId)).roster.epoch).toBe(epoch);
  });

  it('(c) a member\'s second device refuses the keys the server wrapped to it, while the first device keeps working', async () => {
    const api = new BurrowApi({ baseUrl: server.url });
    const { session, identity } = await loginAccount({ api, email: mum.email, password: mum.password, sessionLabel: 'second device', ...sameStretchingAs(mum) });
    const victims = new Set([mum.me.accountId]);
    const second: ClientContext = { api: new BurrowApi({ baseUrl: server.url, token: session.token!, fetch: hostileFetch(() => victims) }), me: { accountId: session.accountId, identity }, store: new MemoryKeyStore() };
    const head = (await loadFamily(mum, familyId)).roster.head;
    const epoch = head.epoch;
    const sentBefore = uploads.length;

    expect(await codeOf(loadFamily(second, familyId))).toBe('client/key-refused');
    expect(await codeOf(sendMessage(second, { familyId, to: mia, audio: wavWith(utf8('from the second device'), 300), audioType: 'audio/wav', durationMs: 20 }))).toBe('client/key-refused');
    expect(uploads.length).toBe(sentBefore);
    expect(await second.store.loadFamily(familyId)).toBeUndefined();
    const refusals = await refusalsInLog();
    for (const scope of [FAMILY_SCOPE, mia]) {
      expect(refusals, `scope '${scope}'`).toContainEqual({ actorId: mum.me.accountId, code: 'scope-key/commitment-mismatch', epoch: scopeKeyOf(head, scope)!.generation });
    }
    await noUploadOpensWithServerKey();

    // The first device holds the real keys and is not affected.
    const first = await loadFamily(mum, familyId);
    expect(first.roster.epoch).toBe(epoch);

    // A key already in a device's store that the verified entry does not commit to (left by a
    // roster change that lost the race for its epoch) is dropped, and the real one unwrapped.
    victims.clear();
    await second.store.saveFamily({ familyId, keys: { [scopeKeyId(FAMILY_SCOPE, scopeKeyOf(head, FAMILY_SCOPE)!.generation)]: generateScopeKey() } });
    const healed = await loadFamily(second, familyId);
    for (const scope of [FAMILY_SCOPE, mia]) expect(bytesEqual(healed.headKeyOf(scope)!, first.headKeyOf(scope)!), `scope '${scope}'`).toBe(true);
  });
});
