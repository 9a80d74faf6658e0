/**
 * Per-child keys (issue #16), shown against a real server, its SQLite database and blob directory:
 * a family with two children (Mia, Leo), a reference toy for each (its state on disk, as
 * `burrow toy run` keeps it), gran (a relative allowed Mia only) and uncle (allowed both, then
 * narrowed to Mia).
 *
 * - The keys one toy holds, read from its state directory, open its child's messages and none of
 *   the other child's — every key it holds is tried on every message, whatever the labels say.
 * - Gran, with her own keys plus every wrap in the database (each one she can open with her
 *   private keys, whoever it is addressed to) and every envelope in the blob store, opens Mia's
 *   messages and none of Leo's.
 * - Uncle, narrowed from Mia and Leo to Mia, holds Leo's old key and opens what was sent to Leo
 *   before; with every wrap and blob in hand he opens nothing sent to Leo afterwards. The narrowing
 *   gave Leo's conversation a fresh key and left Mia's and the family-wide key as they were.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, changeRole, createFamily, loadFamily } from '../../src/client/families.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { sendMessage } from '../../src/client/messages.js';
import { fromBase64Url, toBase64Url } from '../../src/crypto/bytes.js';
import { openAndVerifyMessage, parseEnvelopeHeader } from '../../src/crypto/envelope.js';
import type { Identity } from '../../src/crypto/identity.js';
import { FAMILY_SCOPE } from '../../src/crypto/key-scopes.js';
import { scopeKeyOf, type VerifiedRoster } from '../../src/crypto/roster.js';
import { commitmentsOf, unwrapAndCheckScopeKey } from '../../src/crypto/scope-key.js';
import type { WrapSuite } from '../../src/crypto/wrap-suites.js';
import { ToyStateDir } from '../../src/toy/state.js';
import { DATABASE_FILE, startServer, type RunningServer } from './accounts-harness.js';
import { registerMember, wavWith, type TestMember } from './family-harness.js';
import { pairToy, toyRuntime, type TestToy } from '../toy/toy-harness.js';
import type { WrappedKeysTable } from '../../src/storage/database.js';

let server: RunningServer;
let work: string;
let mum: TestMember;
let gran: TestMember;
let uncle: TestMember;
let familyId: string;
let mia: string;
let leo: string;
let toyMia: TestToy;
let toyLeo: TestToy;
let toyMiaDir: string;
/** Message ids by what they are. */
const sent: Record<string, string> = {};

/** Every row of the server's wrapped_keys table, read from the database file behind its back. */
function everyWrapRow(): WrappedKeysTable[] {
  const db = new Database(join(server.dataDir, DATABASE_FILE), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT * FROM wrapped_keys').all() as WrappedKeysTable[];
  } finally {
    db.close();
  }
}

/** Every envelope in the blob directory, by message id (read from its header). */
async function everyEnvelope(): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else {
        const bytes = new Uint8Array(await readFile(path));
        const header = parseEnvelopeHeader(bytes);
        if (header.ok) out.set(toBase64Url(header.value.messageId), bytes);
      }
    }
  };
  await walk(join(server.dataDir, 'blobs'));
  return out;
}

/**
 * Every key `identity` can get from the database: each wrap opened with its private keys — as
 * addressed, and relabelled to `holderId` — and kept when the signed roster commits to it.
 */
async function keysFromDump(holderId: string, identity: Identity, roster: VerifiedRoster): Promise<Uint8Array[]> {
  const commitments = commitmentsOf(roster.entries);
  const keys: Uint8Array[] = [];
  for (const row of everyWrapRow()) {
    const wrap = { suite: row.suite as WrapSuite, recipientId: holderId, scope: row.scope, generation: Number(row.generation), enc: fromBase64Url(row.enc), ciphertext: fromBase64Url(row.ciphertext) };
    const opened = await unwrapAndCheckScopeKey({ wrap, familyId: row.family_id, recipientId: holderId, identity, commitments });
    if (opened.ok) keys.push(opened.value);
  }
  return keys;
}

/** Whether any of `keys` opens `envelope`, each key tried whatever scope and generation the envelope names. */
async function opensWithAny(envelope: Uint8Array, roster: VerifiedRoster, keys: readonly Uint8Array[]): Promise<boolean> {
  for (const key of keys) {
    const opened = await openAndVerifyMessage(envelope, { roster, keyFor: () => key, openUnapproved: true });
    if (opened.ok) return true;
  }
  return false;
}

/** The keys a member's device keeps for the family. */
async function storedKeys(member: TestMember): Promise<Record<string, Uint8Array>> {
  return (await member.store.loadFamily(familyId))!.keys;
}

async function send(from: TestMember, to: string, label: string): Promise<void> {
  sent[label] = (await sendMessage(from, { familyId, to, audio: wavWith(new TextEncoder().encode(label)), audioType: 'audio/wav', durationMs: 1000 })).messageId;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'burrow-scopes-'));
  server = await startServer();
  [mum, gran, uncle] = (await Promise.all(['mum', 'gran', 'uncle'].map((label) => registerMember(server.url, label)))) as [TestMember, TestMember, TestMember];
  familyId = (await createFamily(mum, { name: 'Scopes' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  leo = (await addChild(mum, { familyId, name: 'Leo', emoji: '🐻' })).childId;
  for (const [member, children] of [[gran, [mia]], [uncle, [mia, leo]]] as const) {
    const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [...children], needsApproval: false } });
    await acceptInvite(member, link);
  }
  await admitJoiners(mum, { familyId });
  toyMiaDir = join(work, 'toy-mia');
  toyMia = await toyRuntime(await pairToy(server.url, mum, familyId, mia), undefined, { storage: new ToyStateDir(toyMiaDir) });
  toyLeo = await toyRuntime(await pairToy(server.url, mum, familyId, leo));
  await toyMia.runtime.start();
  await toyLeo.runtime.start();
  await send(mum, mia, 'mum to mia');
  await send(mum, leo, 'mum to leo');
  await send(uncle, leo, 'uncle to leo');
  await send(gran, mia, 'gran to mia');
  expect(await toyMia.runtime.sync()).toBe(2);
  expect(await toyLeo.runtime.sync()).toBe(2);
}, 300_000);

afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

describe('per-child keys', () => {
  it("the keys in one toy's state open its child's messages and none of the other child's", async () => {
    const trust = JSON.parse(await readFile(join(toyMiaDir, 'trust.json'), 'utf8')) as { keys: Record<string, string> };
    const ids = Object.keys(trust.keys);
    // Only Mia's conversation: no family-wide key and nothing of Leo's on the toy.
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every((id) => id.endsWith(`/${mia}`))).toBe(true);
    const keys = Object.values(trust.keys).map(fromBase64Url);
    const roster = (await loadFamily(mum, familyId)).roster;
    const envelopes = await everyEnvelope();
    expect(await opensWithAny(envelopes.get(sent['mum to mia']!)!, roster, keys)).toBe(true);
    expect(await opensWithAny(envelopes.get(sent['gran to mia']!)!, roster, keys)).toBe(true);
    expect(await opensWithAny(envelopes.get(sent['mum to leo']!)!, roster, keys)).toBe(false);
    expect(await opensWithAny(envelopes.get(sent['uncle to leo']!)!, roster, keys)).toBe(false);
    // And the toy played exactly its child's two.
    expect(toyMia.played.map((p) => p.messageId).sort()).toEqual([sent['mum to mia'], sent['gran to mia']].sort());
  });

  it("a relative allowed one child opens none of the other child's messages with every wrap and blob in hand", async () => {
    const family = await loadFamily(gran, familyId);
    const keys = [...Object.values(await storedKeys(gran)), ...(await keysFromDump(gran.me.accountId, gran.me.identity, family.roster))];
    const envelopes = await everyEnvelope();
    expect(envelopes.size).toBe(4);
    expect(await opensWithAny(envelopes.get(sent['mum to mia']!)!, family.roster, keys)).toBe(true);
    expect(await opensWithAny(envelopes.get(sent['mum to leo']!)!, family.roster, keys)).toBe(false);
    expect(await opensWithAny(envelopes.get(sent['uncle to leo']!)!, family.roster, keys)).toBe(false);
    // Her device holds the family-wide key and Mia's, and no key of Leo's scope.
    expect(Object.keys(await storedKeys(gran)).some((id) => id.endsWith(`/${leo}`))).toBe(false);
  });

  it('a relative narrowed from two children to one opens nothing sent to the removed child afterwards', async () => {
    const before = (await loadFamily(mum, familyId)).roster.head;
    await changeRole(mum, { familyId, accountId: uncle.me.accountId, role: 'relative', children: [mia] });
    const after = (await loadFamily(mum, familyId)).roster.head;
    // Only the conversation uncle lost got a fresh key.
    expect(scopeKeyOf(after, leo)!.generation).toBe(after.epoch);
    expect(scopeKeyOf(after, mia)).toEqual(scopeKeyOf(before, mia));
    expect(scopeKeyOf(after, FAMILY_SCOPE)).toEqual(scopeKeyOf(before, FAMILY_SCOPE));

    await send(mum, leo, 'mum to leo after');
    expect(await toyLeo.runtime.sync()).toBe(1);
    const family = await loadFamily(uncle, familyId);
    const keys = [...Object.values(await storedKeys(uncle)), ...(await keysFromDump(uncle.me.accountId, uncle.me.identity, family.roster))];
    const envelopes = await everyEnvelope();
    // What was sent to Leo while uncle could talk with him stays his to read; nothing after.
    expect(await opensWithAny(envelopes.get(sent['mum to leo']!)!, family.roster, keys)).toBe(true);
    expect(await opensWithAny(envelopes.get(sent['mum to leo after']!)!, family.roster, keys)).toBe(false);
    expect(await opensWithAny(envelopes.get(sent['mum to mia']!)!, family.roster, keys)).toBe(true);
  });

  it("a guardian's message to a child with no toy and no relative yet waits for the child's first toy, which gets that child's key alone", async () => {
    const ada = (await addChild(mum, { familyId, name: 'Ada', emoji: '🐙' })).childId;
    // Adding the child listed them in a signed entry and gave them a conversation key of their own.
    const head = (await loadFamily(mum, familyId)).roster.head;
    expect(head.children).toContain(ada);
    expect(scopeKeyOf(head, ada)!.generation).toBe(head.epoch);
    await send(mum, ada, 'mum to ada');
    const dir = join(work, 'toy-ada');
    const toyAda = await toyRuntime(await pairToy(server.url, mum, familyId, ada), undefined, { storage: new ToyStateDir(dir) });
    await toyAda.runtime.start();
    expect(await toyAda.runtime.sync()).toBe(1);
    expect(toyAda.played.map((p) => p.messageId)).toEqual([sent['mum to ada']]);
    const trust = JSON.parse(await readFile(join(dir, 'trust.json'), 'utf8')) as { keys: Record<string, string> };
    expect(Object.keys(trust.keys).every((id) => id.endsWith(`/${ada}`))).toBe(true);
  });
});
