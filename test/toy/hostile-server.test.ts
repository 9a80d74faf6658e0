/**
 * A toy talking to a lying server: a real server, with the toy's traffic rewritten in transit as a
 * compromised server or operator would. The server injects a message signed by a stranger, a
 * message from a removed member, a swapped blob (another message's envelope under this id), a
 * roster entry adding a stranger that no guardian signed, and altered settings. The toy plays none
 * of them, keeps its signed settings, and logs each refusal with a reason code and nothing secret.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, loadFamily, removeMember, type OpenedFamily } from '../../src/client/families.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { approveMessage, sendMessage } from '../../src/client/messages.js';
import { removeToy, setToySettings } from '../../src/client/toys.js';
import { fromBase64Url, toBase64Url, utf8 } from '../../src/crypto/bytes.js';
import { sealMessage } from '../../src/crypto/envelope.js';
import { generateScopeKey } from '../../src/crypto/scope-key.js';
import { childrenNamedBy, scopedContentsOf, scopesOf } from '../../src/crypto/key-scopes.js';
import { exportIdentitySecret, generateIdentity, type Identity } from '../../src/crypto/identity.js';
import { decodeRosterEntry, encodeRosterEntry, hashRosterEntry, signRosterEntry } from '../../src/crypto/roster.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, wavWith, type TestMember } from '../e2e/family-harness.js';
import { pairToy, toyRuntime, type TestToy } from './toy-harness.js';

let server: RunningServer;
let mum: TestMember;
let uncle: TestMember;
let familyId: string;
let mia: string;
let toy: TestToy;
let stranger: Identity;

/** What the lying server does to the toy's traffic. */
const attack = {
  /** Extra message views listed, with the envelopes served for them. */
  injected: new Map<string, { view: Record<string, unknown>; envelope: Uint8Array }>(),
  /** messageId → the envelope bytes served instead of the real one. */
  swapped: new Map<string, Uint8Array>(),
  /** Rewrites the roster of GET /v1/families/:familyId. */
  roster: undefined as ((roster: string[]) => Promise<string[]>) | undefined,
};

const hostileFetch: typeof fetch = async (input, init) => {
  const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
  const path = url.pathname;
  const method = init?.method ?? 'GET';
  const envelopeMatch = /^\/v1\/families\/[^/]+\/messages\/([^/]+)\/envelope$/.exec(path);
  if (envelopeMatch !== null) {
    const id = envelopeMatch[1]!;
    const bytes = attack.injected.get(id)?.envelope ?? attack.swapped.get(id);
    if (bytes !== undefined) return new Response(new Uint8Array(bytes), { status: 200, headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) } });
  }
  const receiptMatch = /^\/v1\/families\/[^/]+\/messages\/([^/]+)\/receipts$/.exec(path);
  if (receiptMatch !== null && attack.injected.has(receiptMatch[1]!)) return new Response(null, { status: 204 });
  const response = await fetch(input, init);
  if (method !== 'GET' || !response.ok || !(response.headers.get('content-type') ?? '').includes('json')) return response;
  const body = (await response.json()) as Record<string, unknown>;
  if (path === `/v1/families/${familyId}` && attack.roster !== undefined) body.roster = await attack.roster(body.roster as string[]);
  if (path === `/v1/families/${familyId}/messages`) body.messages = [...(body.messages as unknown[]), ...[...attack.injected.values()].map((i) => i.view)];
  return new Response(JSON.stringify(body), { status: response.status, headers: { 'content-type': 'application/json' } });
};

/** A message view as the server would describe an envelope. */
function viewOf(sealed: { header: { messageId: Uint8Array; senderId: string; recipients: string[]; epoch: number }; ciphertextHash: Uint8Array; bytes: Uint8Array }): Record<string, unknown> {
  const now = Date.now();
  return {
    messageId: toBase64Url(sealed.header.messageId),
    familyId,
    senderId: sealed.header.senderId,
    senderKind: 'member',
    recipients: sealed.header.recipients,
    epoch: sealed.header.epoch,
    size: sealed.bytes.length,
    ciphertextHash: toBase64Url(sealed.ciphertextHash),
    receivedAt: now,
    expiresAt: now + 86_400_000,
    saved: false,
    needsApproval: false,
    approvals: [],
    receipts: [],
  };
}

/** An envelope to Mia of the server's making, sealed under Mia's scope with `key`. */
async function inject(options: { senderId: string; identity: Identity; epoch: number; rosterHead: Uint8Array; key: Uint8Array }): Promise<string> {
  const sealed = await sealMessage({ familyId, epoch: options.epoch, rosterHead: options.rosterHead, scope: mia, key: options.key, sender: { accountId: options.senderId, identity: options.identity }, recipients: [mia], audio: wavWith(utf8('injected'), 200), audioType: 'audio/wav', durationMs: 10, createdAt: Date.now() });
  const id = toBase64Url(sealed.header.messageId);
  attack.injected.set(id, { view: viewOf(sealed), envelope: sealed.bytes });
  return id;
}

beforeAll(async () => {
  server = await startServer();
  [mum, uncle] = (await Promise.all(['mum', 'uncle'].map((label) => registerMember(server.url, label)))) as [TestMember, TestMember];
  stranger = await generateIdentity();
  familyId = (await createFamily(mum, { name: 'Guarded Family' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false } });
  await acceptInvite(uncle, link);
  await admitJoiners(mum, { familyId });
  await setToySettings(mum, { familyId, volumeLimit: 30 });
  const paired = await pairToy(server.url, mum, familyId, mia);
  toy = await toyRuntime(paired, hostileFetch);
}, 90_000);

afterAll(async () => {
  await server?.close();
});

describe('a toy behind a lying server', { timeout: 60_000 }, () => {
  it('plays what the family sent and refuses everything the server forged, keeping its signed settings', async () => {
    await toy.runtime.start();
    expect(toy.runtime.family?.settings.volumeLimit).toBe(30);
    const hello = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('hello'), 400), audioType: 'audio/wav', durationMs: 25 });
    expect(await toy.runtime.sync()).toBe(1);
    expect(toy.played.map((p) => [p.messageId, p.volume])).toEqual([[hello.messageId, 30]]);

    // The uncle keeps Mia's key of the last epoch he was in; then a guardian removes him.
    const uncleFamily: OpenedFamily = await loadFamily(uncle, familyId);
    await removeMember(mum, { familyId, accountId: uncle.me.accountId });
    await toy.runtime.refresh();
    const fromRemoved = await inject({ senderId: uncle.me.accountId, identity: uncle.me.identity, epoch: uncleFamily.roster.epoch, rosterHead: uncleFamily.roster.headHash, key: uncleFamily.headKeyOf(mia)! });
    // Signed by a stranger in the guardian's name, and in the stranger's own name.
    const current = toy.runtime.family!;
    const forgedAsMum = await inject({ senderId: mum.me.accountId, identity: stranger, epoch: current.roster.epoch, rosterHead: current.roster.headHash, key: generateScopeKey() });
    const fromStranger = await inject({ senderId: 'stranger-account-id-0001', identity: stranger, epoch: current.roster.epoch, rosterHead: current.roster.headHash, key: generateScopeKey() });
    // A swapped blob: message B is served with message A's envelope.
    const a = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('message A'), 300), audioType: 'audio/wav', durationMs: 18 });
    const b = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('message B'), 300), audioType: 'audio/wav', durationMs: 18 });
    const envelopeOfA = await mum.api.download(`/v1/families/${familyId}/messages/${a.messageId}/envelope`, 1 << 20);
    attack.swapped.set(b.messageId, envelopeOfA);

    await toy.runtime.sync();
    const refusals = Object.fromEntries(toy.logs.flatMap((l) => (l.event === 'refused' ? [[l.messageId, l.reason]] : [])));
    expect(refusals).toEqual({
      [fromRemoved]: 'envelope/sender-removed',
      [forgedAsMum]: 'envelope/bad-signature',
      [fromStranger]: 'envelope/sender-not-member',
      [b.messageId]: 'envelope/id-mismatch',
    });
    expect(toy.played.map((p) => p.messageId)).toEqual([hello.messageId, a.messageId]);
  });

  it('refuses a roster entry adding a stranger that no guardian signed, and settings the server altered', async () => {
    const before = toy.runtime.family!;
    const refusedBefore = toy.logs.filter((l) => l.event === 'roster-refused').length;
    // A new entry signed by the stranger, adding themselves as a guardian, with the volume turned up.
    attack.roster = async (roster) => {
      const head = decodeRosterEntry(fromBase64Url(roster.at(-1)!));
      if (!head.ok) throw new Error('the real roster must decode');
      const members = [...head.value.members, { accountId: 'stranger-account-id-0001', role: 'guardian' as const, keys: stranger.publicKeys }];
      const epoch = head.value.epoch + 1;
      const forged = await signRosterEntry(
        {
          familyId,
          epoch,
          previousHash: await hashRosterEntry(head.value),
          members,
          toys: head.value.toys,
          settings: { volumeLimit: 100, retentionDays: head.value.settings.retentionDays },
          signerId: 'stranger-account-id-0001',
          scopeKeys: scopesOf(scopedContentsOf({ members, toys: head.value.toys, children: childrenNamedBy(members, head.value.toys) })).map((scope) => ({ scope, generation: epoch, key: generateScopeKey() })),
        },
        stranger,
      );
      return [...roster, toBase64Url(encodeRosterEntry(forged))];
    };
    await toy.runtime.refresh();
    // The head's settings changed in place, its signature left as it was.
    attack.roster = (roster) => {
      const head = decodeRosterEntry(fromBase64Url(roster.at(-1)!));
      if (!head.ok) throw new Error('the real roster must decode');
      // Louder, and without the sealed quiet hours (a server cannot read them, but could try to drop them).
      const altered = { ...head.value, settings: { ...head.value.settings, volumeLimit: 100 } };
      delete altered.settings.sealedQuietHours;
      return Promise.resolve([...roster.slice(0, -1), toBase64Url(encodeRosterEntry(altered))]);
    };
    await toy.runtime.refresh();
    expect(toy.logs.filter((l) => l.event === 'roster-refused').length - refusedBefore).toBe(2);
    expect(toy.runtime.family!.roster.epoch).toBe(before.roster.epoch);
    expect(toy.runtime.family!.settings.volumeLimit).toBe(30);
    // A message from the stranger "admitted" by the forged entry: its epoch is unknown to the toy.
    const fromForgedEpoch = await inject({ senderId: 'stranger-account-id-0001', identity: stranger, epoch: before.roster.epoch + 1, rosterHead: generateScopeKey(), key: generateScopeKey() });
    // The family still reaches the toy, at the signed volume.
    const good = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('still here'), 300), audioType: 'audio/wav', durationMs: 18 });
    await toy.runtime.sync();
    expect(toy.logs.find((l) => l.event === 'refused' && l.messageId === fromForgedEpoch)).toMatchObject({ reason: 'envelope/unknown-epoch' });
    expect(toy.played.at(-1)).toMatchObject({ messageId: good.messageId, volume: 30 });
    attack.roster = undefined;
  });

  it("keeps a relative's message until a guardian approves it, then plays it", async () => {
    const aunt = await registerMember(server.url, 'aunt');
    const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: true } });
    await acceptInvite(aunt, link);
    await admitJoiners(mum, { familyId });
    await toy.runtime.refresh();
    const sent = await sendMessage(aunt, { familyId, to: mia, audio: wavWith(utf8('from aunt'), 300), audioType: 'audio/wav', durationMs: 18 });
    await toy.runtime.sync();
    expect(toy.logs.at(-1)).toMatchObject({ event: 'waiting', messageId: sent.messageId, reason: 'envelope/needs-approval' });
    expect(toy.played.some((p) => p.messageId === sent.messageId)).toBe(false);
    await approveMessage(mum, { familyId, messageId: sent.messageId });
    await toy.runtime.sync();
    expect(toy.played.at(-1)).toMatchObject({ messageId: sent.messageId, volume: 30 });
  });

  it('a toy a guardian removed is refused at once: its token answers 401', async () => {
    await removeToy(mum, { familyId, toyId: toy.paired.toyId });
    const self = await fetch(`${server.url}/v1/toy`, { headers: { authorization: `Bearer ${toy.paired.deviceToken}` } });
    expect(self.status).toBe(401);
    await expect(toy.runtime.refresh()).rejects.toMatchObject({ status: 401 });
  });

  it('logs nothing secret: no token, key, audio or caption', async () => {
    const text = JSON.stringify(toy.logs);
    const trust = (await toy.storage.loadTrust())!;
    const secrets = [toy.paired.deviceToken, toBase64Url(await exportIdentitySecret(toy.paired.identity)), ...Object.values(trust.keys).map(toBase64Url), ...toy.played.map((p) => toBase64Url(p.audio).slice(0, 40))];
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/hello|message A|still here/);
  });
});
