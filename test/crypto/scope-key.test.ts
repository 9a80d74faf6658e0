import { describe, expect, it } from 'vitest';
import { bytesEqual, randomBytes } from '../../src/crypto/bytes.js';
import { sealMessage, openAndVerifyMessage } from '../../src/crypto/envelope.js';
import { generateFamilyKey } from '../../src/crypto/family-key.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { FAMILY_SCOPE, planGenerations, wrapsForChange, type ScopedContents } from '../../src/crypto/key-scopes.js';
import { hashRosterEntry, verifyRoster } from '../../src/crypto/roster.js';
import { scopeKeyCommitment, unwrapAndCheckScopeKey, wrapScopeKey, type ScopeKeyCommitment, type WrappedScopeKey } from '../../src/crypto/scope-key.js';
import { createGenesisEntry } from '../../src/crypto/roster.js';
import { guardianOf, person, relativeOf, settings, toyOf, type Person } from './fixtures.js';

const FAMILY = 'fam-scopes';

/**
 * A guardian's first entry for a family with two children (A, B), a toy each and a grandparent
 * allowed A only: a fresh key per scope, its signed commitment and the wraps `wrapsForChange` asks for.
 */
async function scopedFamily() {
  const [mum, gran, toyA, toyB] = (await Promise.all(['mum', 'gran', 'toy-a', 'toy-b'].map(person))) as [Person, Person, Person, Person];
  const contents: ScopedContents = { members: [guardianOf(mum), relativeOf(gran, ['child-a'])], toys: [toyOf(toyA, 'child-a'), toyOf(toyB, 'child-b')], children: ['child-a', 'child-b'] };
  const plan = planGenerations(undefined, contents, 0);
  const keys = new Map(plan.map((p) => [p.scope, generateFamilyKey()]));
  const commitments: ScopeKeyCommitment[] = await Promise.all(plan.map(async (p) => ({ scope: p.scope, generation: p.generation, commitment: await scopeKeyCommitment({ familyId: FAMILY, scope: p.scope, generation: p.generation, key: keys.get(p.scope)! }) })));
  const wraps = await Promise.all(
    wrapsForChange(undefined, contents, plan).map((w) => wrapScopeKey({ familyId: FAMILY, scope: w.scope, generation: w.generation, key: keys.get(w.scope)!, recipient: { id: w.recipient.id, ...w.recipient.keys } })),
  );
  return { mum, gran, toyA, toyB, contents, keys, commitments, wraps };
}

/** Every key `who` can take from the wraps addressed to it, checked against the commitments. */
async function keysHeldBy(f: Awaited<ReturnType<typeof scopedFamily>>, who: Person): Promise<Map<string, Uint8Array>> {
  const held = new Map<string, Uint8Array>();
  for (const wrap of f.wraps.filter((w) => w.recipientId === who.accountId)) {
    const key = await unwrapAndCheckScopeKey({ wrap, familyId: FAMILY, recipientId: who.accountId, identity: who.identity, commitments: f.commitments });
    if (key.ok) held.set(wrap.scope, key.value);
  }
  return held;
}

describe('scope keys', () => {
  it('opens a wrap for its recipient, scope and generation, to the committed key', async () => {
    const f = await scopedFamily();
    const held = await keysHeldBy(f, f.gran);
    expect([...held.keys()].sort()).toEqual([FAMILY_SCOPE, 'child-a']);
    expect(bytesEqual(held.get('child-a')!, f.keys.get('child-a')!)).toBe(true);
  });

  it("a toy's keys open its own child's messages and none of the other child's, nor adults' ones", async () => {
    const f = await scopedFamily();
    const genesis = await createGenesisEntry({ familyId: FAMILY, creator: f.mum, settings, familyKey: generateFamilyKey(), members: [...f.contents.members], toys: [...f.contents.toys] });
    const roster = await verifyRoster([genesis], { trustedEntry: genesis });
    if (!roster.ok) throw new Error(roster.code);
    const rosterHead = await hashRosterEntry(genesis);
    const seal = (scope: string, recipients: string[]) =>
      sealMessage({ familyId: FAMILY, epoch: 0, rosterHead, familyKey: f.keys.get(scope)!, sender: { accountId: f.mum.accountId, identity: f.mum.identity }, recipients, audio: randomBytes(64), audioType: 'audio/ogg', durationMs: 1000, createdAt: Date.now() });
    const toMia = await seal('child-a', ['child-a']);
    const toBen = await seal('child-b', ['child-b']);
    const toGran = await seal(FAMILY_SCOPE, ['gran']);
    const held = await keysHeldBy(f, f.toyA);
    expect([...held.keys()]).toEqual(['child-a']);
    const opensWithAny = async (bytes: Uint8Array) => {
      for (const key of held.values()) if ((await openAndVerifyMessage(bytes, { roster: roster.value, familyKeyForEpoch: () => key })).ok) return true;
      return false;
    };
    expect(await opensWithAny(toMia.bytes)).toBe(true);
    expect(await opensWithAny(toBen.bytes)).toBe(false);
    expect(await opensWithAny(toGran.bytes)).toBe(false);
  });

  it('refuses a key the server chose and wrapped itself to a real recipient (commitment)', async () => {
    const f = await scopedFamily();
    const forged = await wrapScopeKey({ familyId: FAMILY, scope: 'child-a', generation: 0, key: generateFamilyKey(), recipient: { id: 'toy-a', ...f.toyA.identity.publicKeys } });
    const result = await unwrapAndCheckScopeKey({ wrap: forged, familyId: FAMILY, recipientId: 'toy-a', identity: f.toyA.identity, commitments: f.commitments });
    expect(result).toEqual({ ok: false, code: 'scope-key/commitment-mismatch' });
  });

  it('refuses a real wrap relabelled by the server for another scope or generation', async () => {
    const f = await scopedFamily();
    const real = f.wraps.find((w) => w.recipientId === 'mum' && w.scope === 'child-a')!;
    const check = (wrap: WrappedScopeKey) => unwrapAndCheckScopeKey({ wrap, familyId: FAMILY, recipientId: 'mum', identity: f.mum.identity, commitments: f.commitments });
    // Another scope the roster does commit to: the label is bound into HPKE, so it does not open.
    expect(await check({ ...real, scope: 'child-b' })).toEqual({ ok: false, code: 'scope-key/unwrap-failed' });
    // A generation the signed entries never named.
    expect(await check({ ...real, generation: 7 })).toEqual({ ok: false, code: 'scope-key/unknown-generation' });
    // Another recipient's wrap handed over as this one's.
    const grans = f.wraps.find((w) => w.recipientId === 'gran' && w.scope === 'child-a')!;
    expect(await check({ ...grans, recipientId: 'mum' })).toEqual({ ok: false, code: 'scope-key/unwrap-failed' });
    expect(await check(grans)).toEqual({ ok: false, code: 'scope-key/wrong-recipient' });
  });

  it('binds the family, scope and generation into the commitment', async () => {
    const key = generateFamilyKey();
    const base = await scopeKeyCommitment({ familyId: FAMILY, scope: 'child-a', generation: 3, key });
    expect(bytesEqual(base, await scopeKeyCommitment({ familyId: FAMILY, scope: 'child-b', generation: 3, key }))).toBe(false);
    expect(bytesEqual(base, await scopeKeyCommitment({ familyId: FAMILY, scope: 'child-a', generation: 4, key }))).toBe(false);
    expect(bytesEqual(base, await scopeKeyCommitment({ familyId: 'fam-other', scope: 'child-a', generation: 3, key }))).toBe(false);
    expect(bytesEqual(base, await scopeKeyCommitment({ familyId: FAMILY, scope: 'child-a', generation: 3, key }))).toBe(true);
  });

  it('wraps with X-Wing to a recipient with a KEM key, and needs its KEM private key to open', async () => {
    const pq = await generateIdentity({ kem: true });
    const key = generateFamilyKey();
    const commitments = [{ scope: FAMILY_SCOPE, generation: 0, commitment: await scopeKeyCommitment({ familyId: FAMILY, scope: FAMILY_SCOPE, generation: 0, key }) }];
    const wrap = await wrapScopeKey({ familyId: FAMILY, scope: FAMILY_SCOPE, generation: 0, key, recipient: { id: 'pq', ...pq.publicKeys } });
    expect(wrap.suite).toBe('hpke-xwing-sha256-aes256gcm');
    const opened = await unwrapAndCheckScopeKey({ wrap, familyId: FAMILY, recipientId: 'pq', identity: pq, commitments });
    expect(opened.ok && bytesEqual(opened.value, key)).toBe(true);
    expect(await unwrapAndCheckScopeKey({ wrap: { ...wrap, enc: wrap.enc.slice(0, 32) }, familyId: FAMILY, recipientId: 'pq', identity: pq, commitments })).toEqual({ ok: false, code: 'scope-key/malformed' });
  });
});
