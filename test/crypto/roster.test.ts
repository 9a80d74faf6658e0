import { describe, expect, it } from 'vitest';
import { bytesEqual, toHex } from '../../src/crypto/bytes.js';
import {
  appendRosterEntry,
  decodeRosterEntry,
  encodeRosterEntry,
  hashRosterEntry,
  isVerifiedRoster,
  openEntrySettings,
  signRosterEntry,
  verifyRoster,
  type RosterEntry,
} from '../../src/crypto/roster.js';
import { FAMILY_SCOPE } from '../../src/crypto/key-scopes.js';
import { generateScopeKey } from '../../src/crypto/scope-key.js';
import { appendWith, family, guardianOf, person, relativeOf, settings, toyOf } from './fixtures.js';

async function anchorOf(chain: RosterEntry[]) {
  return { genesisHash: await hashRosterEntry(chain[0]!) };
}

describe('the family roster', () => {
  it('a chain built by guardians verifies from its genesis hash and answers lookups', async () => {
    const f = await family();
    const result = await verifyRoster(f.chain, await anchorOf(f.chain));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const roster = result.value;
    expect(roster.epoch).toBe(1);
    expect(roster.memberAt(1, 'gran')?.children).toEqual(['child-1']);
    expect(roster.memberAt(0, 'gran')).toBeUndefined();
    expect(roster.toyAt(1, 'toy-1')?.childId).toBe('child-1');
    expect('quietHours' in roster.settings).toBe(false);
    const opened = await openEntrySettings(roster.head, FAMILY_SCOPE, f.book.keyAt(roster.head, FAMILY_SCOPE));
    expect(opened.ok && opened.value.quietHours).toEqual({ start: '19:30', end: '07:00', timeZone: 'Europe/Berlin' });
    expect(bytesEqual(roster.headHash, await hashRosterEntry(f.chain[1]!))).toBe(true);
  });

  it('a chain verifies from a trusted later entry, and not when that entry is missing (rollback)', async () => {
    const f = await family();
    const third = await appendWith(f.book, f.chain, { signer: f.dad, members: f.members, toys: [], settings });
    expect((await verifyRoster([...f.chain, third], { trustedEntry: f.chain[1]! })).ok).toBe(true);
    expect((await verifyRoster([f.chain[1]!, third], { trustedEntry: f.chain[1]! })).ok).toBe(true);
    expect(await verifyRoster([f.chain[0]!], { trustedEntry: f.chain[1]! })).toEqual({ ok: false, code: 'roster/not-anchored' });
  });

  it("a chain verifies from a vouched-for head hash only if it holds that entry: a fork beside it is not anchored", async () => {
    const f = await family();
    const head = await hashRosterEntry(f.chain[1]!);
    const third = await appendWith(f.book, f.chain, { signer: f.dad, members: f.members, toys: [], settings });
    const fromHead = await verifyRoster([...f.chain, third], { headHash: head });
    expect(fromHead.ok && fromHead.value.epoch).toBe(2);
    // The chain may start at the vouched-for entry itself.
    expect((await verifyRoster([f.chain[1]!, third], { headHash: head })).ok).toBe(true);
    // A different epoch 1 signed on the same genesis by a guardian of it (a fork): same epoch, other hash.
    const fork = await appendWith(f.book, [f.chain[0]!], { signer: f.mum, members: f.members, toys: [], settings: { ...settings, volumeLimit: 100 } });
    const forkNext = await appendWith(f.book, [f.chain[0]!, fork], { signer: f.mum, members: f.members, toys: [], settings });
    expect(await verifyRoster([f.chain[0]!, fork, forkNext], { headHash: head })).toEqual({ ok: false, code: 'roster/not-anchored' });
    // An older chain that stops before the head is refused too (rollback).
    expect(await verifyRoster([f.chain[0]!], { headHash: head })).toEqual({ ok: false, code: 'roster/not-anchored' });
    // Entries after the head are verified as usual: one signed by a non-guardian is refused.
    const forged = await signRosterEntry({ familyId: third.familyId, epoch: 3, previousHash: await hashRosterEntry(third), members: f.members, toys: [], settings, signerId: 'gran', scopeKeys: f.book.keysFor(third, { members: f.members, toys: [] }, 3) }, f.gran.identity);
    expect(await verifyRoster([...f.chain, third, forged], { headHash: head })).toEqual({ ok: false, code: 'roster/signer-not-guardian' });
    await expect(verifyRoster(f.chain, { headHash: new Uint8Array(31) })).rejects.toThrow(/headHash/);
  });

  it('an empty chain is refused', async () => {
    const f = await family();
    expect(await verifyRoster([], await anchorOf(f.chain))).toEqual({ ok: false, code: 'roster/empty' });
  });

  it('a chain from another genesis is not anchored', async () => {
    const f = await family();
    const g = await family();
    expect(await verifyRoster(g.chain, await anchorOf(f.chain))).toEqual({ ok: false, code: 'roster/not-anchored' });
  });

  it('a chain starting after epoch 0 without a trusted entry is not anchored', async () => {
    const f = await family();
    expect(await verifyRoster([f.chain[1]!], { trustedEntry: f.chain[0]! })).toEqual({ ok: false, code: 'roster/not-anchored' });
  });

  it('reordered entries and gaps are refused', async () => {
    const f = await family();
    const third = await appendWith(f.book, f.chain, { signer: f.mum, members: f.members, toys: [], settings });
    const anchor = await anchorOf(f.chain);
    expect(await verifyRoster([f.chain[0]!, third, f.chain[1]!], anchor)).toEqual({ ok: false, code: 'roster/epoch-gap' });
    expect(await verifyRoster([f.chain[0]!, third], anchor)).toEqual({ ok: false, code: 'roster/epoch-gap' });
  });

  it('an entry that does not link to its predecessor is refused', async () => {
    const f = await family();
    const other = await family();
    // A guardian-signed epoch 1 from another history, re-labelled with this family's id, forks the chain.
    const fork = await signRosterEntry({ ...f.chain[1]!, previousHash: await hashRosterEntry(other.chain[0]!), signerId: 'mum', scopeKeys: f.book.keysFor(f.chain[0]!, f.chain[1]!, 1) }, f.mum.identity);
    expect(await verifyRoster([f.chain[0]!, fork], await anchorOf(f.chain))).toEqual({ ok: false, code: 'roster/broken-link' });
  });

  it('a forged roster entry (signed by a key that is not the guardian’s) is refused', async () => {
    const f = await family();
    const forged = await signRosterEntry({ ...f.chain[1]!, members: [...f.members, relativeOf(f.stranger, ['child-1'])], scopeKeys: f.book.keysFor(f.chain[0]!, f.chain[1]!, 1) }, f.stranger.identity);
    expect(forged.signerId).toBe('mum');
    expect(await verifyRoster([f.chain[0]!, forged], await anchorOf(f.chain))).toEqual({ ok: false, code: 'roster/bad-signature' });
  });

  it('a roster entry signed by a relative is refused', async () => {
    const f = await family();
    const byGran = await signRosterEntry(
      { familyId: 'fam-1', epoch: 2, previousHash: await hashRosterEntry(f.chain[1]!), members: [...f.members, relativeOf(f.stranger, ['child-1'])], toys: [], settings, signerId: 'gran', scopeKeys: f.book.keysFor(f.chain[1]!, { members: f.members, toys: [] }, 2) },
      f.gran.identity,
    );
    expect(await verifyRoster([...f.chain, byGran], await anchorOf(f.chain))).toEqual({ ok: false, code: 'roster/signer-not-guardian' });
    await expect(appendWith(f.book, f.chain, { signer: f.gran, members: f.members, toys: [], settings })).rejects.toThrow(TypeError);
  });

  it('an entry signed by a guardian who joined in that same entry is refused', async () => {
    const f = await family();
    const members = [...f.members, guardianOf(f.stranger)];
    const selfAdded = await signRosterEntry(
      { familyId: 'fam-1', epoch: 2, previousHash: await hashRosterEntry(f.chain[1]!), members, toys: [], settings, signerId: 'stranger', scopeKeys: f.book.keysFor(f.chain[1]!, { members, toys: [] }, 2) },
      f.stranger.identity,
    );
    expect(await verifyRoster([...f.chain, selfAdded], await anchorOf(f.chain))).toEqual({ ok: false, code: 'roster/signer-not-guardian' });
  });

  it('an entry for another family is refused', async () => {
    const f = await family();
    const moved = await signRosterEntry({ ...f.chain[1]!, familyId: 'fam-2', scopeKeys: f.book.keysFor(f.chain[0]!, f.chain[1]!, 1) }, f.mum.identity);
    expect(await verifyRoster([f.chain[0]!, moved], await anchorOf(f.chain))).toEqual({ ok: false, code: 'roster/family-mismatch' });
  });

  it('a malformed entry is refused', async () => {
    const f = await family();
    const bad = { ...f.chain[1]!, settings: { ...settings, volumeLimit: 101 } };
    expect(await verifyRoster([f.chain[0]!, bad], await anchorOf(f.chain))).toEqual({ ok: false, code: 'roster/malformed' });
    const duplicate = { ...f.chain[1]!, toys: [toyOf(f.gran, 'child-1')] };
    expect(await verifyRoster([f.chain[0]!, duplicate], await anchorOf(f.chain))).toEqual({ ok: false, code: 'roster/malformed' });
  });

  it('changing any byte of an encoded entry is detected', async () => {
    const f = await family();
    const anchor = await anchorOf(f.chain);
    const encoded = encodeRosterEntry(f.chain[1]!);
    const decoded = decodeRosterEntry(encoded);
    expect(decoded.ok).toBe(true);
    if (decoded.ok) expect(bytesEqual(encodeRosterEntry(decoded.value), encoded)).toBe(true);
    const codes = new Set<string>();
    // Every byte, except that inside each 1216-byte X-Wing key only every 37th is flipped: the key is
    // opaque to the encoding (one flip is like another) and 5 keys would make 6,000 verifications.
    const hex = toHex(encoded);
    const skipped = new Set<number>();
    for (const p of [...f.chain[1]!.members, ...f.chain[1]!.toys]) {
      const at = hex.indexOf(toHex(p.keys.kemKey!)) / 2;
      expect(at).toBeGreaterThan(0);
      for (let j = 1; j < 1215; j++) if (j % 37 !== 0) skipped.add(at + j);
    }
    for (let i = 0; i < encoded.length; i++) {
      if (skipped.has(i)) continue;
      const tampered = encoded.slice();
      tampered[i]! ^= 0x01;
      const parsed = decodeRosterEntry(tampered);
      if (!parsed.ok) {
        codes.add(parsed.code);
        continue;
      }
      const result = await verifyRoster([f.chain[0]!, parsed.value], anchor);
      expect(result.ok, `byte ${i}`).toBe(false);
      if (!result.ok) codes.add(result.code);
    }
    expect([...codes].every((c) => c.startsWith('roster/'))).toBe(true);
  });

  it('settings are part of what a guardian signs', async () => {
    const f = await family();
    const louder = { ...f.chain[1]!, settings: { ...f.chain[1]!.settings, volumeLimit: 100 } };
    expect(await verifyRoster([f.chain[0]!, louder], await anchorOf(f.chain))).toEqual({ ok: false, code: 'roster/bad-signature' });
  });
});

describe('sealed quiet hours', () => {
  it("keep a home's time zone and bedtime out of the entry's bytes, and each copy opens only under its own scope's key", async () => {
    const f = await family();
    const entry = f.chain[1]!;
    const text = new TextDecoder('latin1').decode(encodeRosterEntry(entry));
    expect(text).not.toContain('Europe/Berlin');
    expect(text).not.toContain('19:30');
    expect(entry.settings).toMatchObject({ volumeLimit: 70, retentionDays: 30 });
    expect(entry.settings.sealedQuietHours).toHaveLength(2);
    const familyKey = f.book.keyAt(entry, FAMILY_SCOPE);
    const childKey = f.book.keyAt(entry, 'child-1');
    expect(await openEntrySettings(entry, FAMILY_SCOPE, childKey)).toEqual({ ok: false, code: 'roster/settings-unreadable' });
    expect(await openEntrySettings(entry, 'child-1', familyKey)).toEqual({ ok: false, code: 'roster/settings-unreadable' });
    expect(await openEntrySettings(entry, FAMILY_SCOPE, generateScopeKey())).toEqual({ ok: false, code: 'roster/settings-unreadable' });
    expect(await openEntrySettings(entry, 'child-2', childKey)).toEqual({ ok: false, code: 'roster/settings-unreadable' });
  });

  it("a toy reads the quiet hours from its child's copy, holding no family-wide key", async () => {
    const f = await family();
    const entry = f.chain[1]!;
    const opened = await openEntrySettings(entry, 'child-1', f.book.keyAt(entry, 'child-1'));
    expect(opened).toEqual({ ok: true, value: { volumeLimit: 70, retentionDays: 30, quietHours: settings.quietHours } });
  });

  it("copies swapped between scopes do not open (the scope is bound in)", async () => {
    const f = await family();
    const entry = f.chain[1]!;
    const [wide, child] = entry.settings.sealedQuietHours!;
    const swapped = { ...entry, settings: { ...entry.settings, sealedQuietHours: [child!, wide!] } };
    expect(await openEntrySettings(swapped, 'child-1', f.book.keyAt(entry, 'child-1'))).toEqual({ ok: false, code: 'roster/settings-unreadable' });
    expect(await openEntrySettings(swapped, FAMILY_SCOPE, f.book.keyAt(entry, FAMILY_SCOPE))).toEqual({ ok: false, code: 'roster/settings-unreadable' });
  });

  it('a sealed value moved into another epoch does not open there, even under the same kept key (its family and epoch are bound in)', async () => {
    const f = await family();
    const key = f.book.keyAt(f.chain[1]!, FAMILY_SCOPE);
    expect(bytesEqual(key, f.book.keyAt(f.chain[0]!, FAMILY_SCOPE))).toBe(true);
    const moved = { ...f.chain[0]!, settings: { ...f.chain[0]!.settings, sealedQuietHours: f.chain[1]!.settings.sealedQuietHours!.slice(0, 1) } };
    expect(await openEntrySettings(moved, FAMILY_SCOPE, key)).toEqual({ ok: false, code: 'roster/settings-unreadable' });
    expect(await openEntrySettings({ ...moved, epoch: 1 }, FAMILY_SCOPE, key)).toMatchObject({ ok: true });
  });

  it('refuse to sign hours or a zone that are not well formed, and carry none when the family sets none', async () => {
    const f = await family();
    const bad = { ...settings, quietHours: { start: '25:00', end: '07:00', timeZone: 'Europe/Berlin' } };
    await expect(appendWith(f.book, f.chain, { signer: f.mum, members: f.members, toys: [], settings: bad })).rejects.toThrow(/quietHours/);
    const none = await appendWith(f.book, f.chain, { signer: f.mum, members: f.members, toys: [], settings: { volumeLimit: 50, retentionDays: 7 } });
    expect(none.settings.sealedQuietHours).toBeUndefined();
    expect(await openEntrySettings(none, FAMILY_SCOPE, f.book.keyAt(none, FAMILY_SCOPE))).toEqual({ ok: true, value: { volumeLimit: 50, retentionDays: 7 } });
  });
});

/**
 * The rotation rule (issue #16): a scope that loses a holder starts a new key generation at the
 * entry that removes them; a scope that loses nobody keeps its generation and commitment.
 * A family of two children: gran may talk with both, the aunt with child-1; toy-1 is child-1's, toy-2 child-2's.
 */
async function twoChildren() {
  const f = await family();
  const toy2 = await person('toy-2');
  const members = [guardianOf(f.mum), guardianOf(f.dad), relativeOf(f.gran, ['child-1', 'child-2']), relativeOf(f.aunt, ['child-1'], true)];
  const toys = [toyOf(f.toy, 'child-1'), toyOf(toy2, 'child-2')];
  const third = await appendWith(f.book, f.chain, { signer: f.mum, members, toys, settings });
  const chain = [...f.chain, third];
  /** Signs the next entry with `contents`, taking the key of each scope from `generations` (else a fresh one). */
  const next = async (contents: { members: typeof members; toys: typeof toys }, kept: Record<string, number>) => {
    const scopeKeys = third.scopeKeys.filter((k) => k.scope === FAMILY_SCOPE || contents.toys.some((t) => t.childId === k.scope) || contents.members.some((m) => m.children?.includes(k.scope)))
      .map(({ scope }) => (scope in kept ? { scope, generation: kept[scope]!, key: f.book.get(scope, kept[scope]!)! } : { scope, generation: 3, key: generateScopeKey() }));
    return signRosterEntry({ familyId: 'fam-1', epoch: 3, previousHash: await hashRosterEntry(third), ...contents, settings, signerId: 'mum', scopeKeys }, f.mum.identity);
  };
  return { ...f, toy2, members, toys, third, chain, next };
}

describe('the rotation rule', () => {
  it("removing a toy must rotate its child's key, and keeps the others'", async () => {
    const s = await twoChildren();
    const anchor = await anchorOf(s.chain);
    expect(s.third.scopeKeys.map((k) => [k.scope, k.generation])).toEqual([[FAMILY_SCOPE, 0], ['child-1', 1], ['child-2', 2]]);
    const contents = { members: s.members, toys: [s.toys[1]!] };
    const stale = await s.next(contents, { [FAMILY_SCOPE]: 0, 'child-1': 1, 'child-2': 2 });
    expect(await verifyRoster([...s.chain, stale], anchor)).toEqual({ ok: false, code: 'roster/key-not-rotated' });
    const rotated = await s.next(contents, { [FAMILY_SCOPE]: 0, 'child-2': 2 });
    expect((await verifyRoster([...s.chain, rotated], anchor)).ok).toBe(true);
    expect(rotated.scopeKeys.map((k) => [k.scope, k.generation])).toEqual([[FAMILY_SCOPE, 0], ['child-1', 3], ['child-2', 2]]);
    await expect(appendRosterEntry(s.chain, { signer: s.mum, ...contents, settings, scopeKeys: [
      { scope: FAMILY_SCOPE, generation: 0, key: s.book.get(FAMILY_SCOPE, 0)! }, { scope: 'child-1', generation: 1, key: s.book.get('child-1', 1)! }, { scope: 'child-2', generation: 2, key: s.book.get('child-2', 2)! },
    ] })).rejects.toThrow(TypeError);
  });

  it("narrowing a relative must rotate the key of the child they lose, and only that one", async () => {
    const s = await twoChildren();
    const anchor = await anchorOf(s.chain);
    const narrowed = { members: [guardianOf(s.mum), guardianOf(s.dad), relativeOf(s.gran, ['child-1']), relativeOf(s.aunt, ['child-1'], true)], toys: s.toys };
    const stale = await s.next(narrowed, { [FAMILY_SCOPE]: 0, 'child-1': 1, 'child-2': 2 });
    expect(await verifyRoster([...s.chain, stale], anchor)).toEqual({ ok: false, code: 'roster/key-not-rotated' });
    const rotated = await s.next(narrowed, { [FAMILY_SCOPE]: 0, 'child-1': 1 });
    expect((await verifyRoster([...s.chain, rotated], anchor)).ok).toBe(true);
  });

  it("a member whose keys changed counts as lost: every scope they held must rotate", async () => {
    const s = await twoChildren();
    const anchor = await anchorOf(s.chain);
    const newGran = await person('gran');
    const rekeyed = { members: [guardianOf(s.mum), guardianOf(s.dad), relativeOf(newGran, ['child-1', 'child-2']), relativeOf(s.aunt, ['child-1'], true)], toys: s.toys };
    for (const keep of [FAMILY_SCOPE, 'child-1', 'child-2']) {
      const stale = await s.next(rekeyed, { [keep]: s.third.scopeKeys.find((k) => k.scope === keep)!.generation });
      expect(await verifyRoster([...s.chain, stale], anchor), keep).toEqual({ ok: false, code: 'roster/key-not-rotated' });
    }
    expect((await verifyRoster([...s.chain, await s.next(rekeyed, {})], anchor)).ok).toBe(true);
  });

  it('adding a member rotates nothing: every scope may keep its key, or start a new one', async () => {
    const s = await twoChildren();
    const anchor = await anchorOf(s.chain);
    const grown = { members: [...s.members, relativeOf(s.stranger, ['child-2'])], toys: s.toys };
    expect((await verifyRoster([...s.chain, await s.next(grown, { [FAMILY_SCOPE]: 0, 'child-1': 1, 'child-2': 2 })], anchor)).ok).toBe(true);
    expect((await verifyRoster([...s.chain, await s.next(grown, {})], anchor)).ok).toBe(true);
  });

  it('a kept generation must keep its commitment, and name the generation the entry before had', async () => {
    const s = await twoChildren();
    const anchor = await anchorOf(s.chain);
    const same = { members: s.members, toys: s.toys };
    s.book.keys.set('2/child-2', generateScopeKey());
    const swappedKey = await s.next(same, { [FAMILY_SCOPE]: 0, 'child-1': 1, 'child-2': 2 });
    expect(await verifyRoster([...s.chain, swappedKey], anchor)).toEqual({ ok: false, code: 'roster/key-not-rotated' });
    s.book.keys.set('1/child-2', generateScopeKey());
    const otherGeneration = await s.next(same, { [FAMILY_SCOPE]: 0, 'child-1': 1, 'child-2': 1 });
    expect(await verifyRoster([...s.chain, otherGeneration], anchor)).toEqual({ ok: false, code: 'roster/key-not-rotated' });
  });

  it("an entry whose scopeKeys do not list exactly its scopes, in order, is malformed", async () => {
    const s = await twoChildren();
    const anchor = await anchorOf(s.chain);
    const [wide, one, two] = s.third.scopeKeys;
    for (const scopeKeys of [[wide!, one!], [wide!, one!, two!, { ...two!, scope: 'child-3' }], [wide!, two!, one!], [one!, wide!, two!], [wide!, one!, { ...two!, generation: 3 }], [wide!, one!, { ...two!, commitment: new Uint8Array(31) }]]) {
      expect(await verifyRoster([...s.chain.slice(0, 2), { ...s.third, scopeKeys }], anchor)).toEqual({ ok: false, code: 'roster/malformed' });
    }
    const fewerCopies = { ...s.third, settings: { ...s.third.settings, sealedQuietHours: s.third.settings.sealedQuietHours!.slice(0, 2) } };
    expect(await verifyRoster([...s.chain.slice(0, 2), fewerCopies], anchor)).toEqual({ ok: false, code: 'roster/malformed' });
    const body = { familyId: 'fam-1', epoch: 3, previousHash: await hashRosterEntry(s.third), members: s.members, toys: s.toys, settings, signerId: 'mum' };
    const keys = s.book.keysFor(s.third, s, 3);
    await expect(signRosterEntry({ ...body, scopeKeys: keys.slice(0, 2) }, s.mum.identity)).rejects.toThrow(/scope/);
    await expect(signRosterEntry({ ...body, scopeKeys: [...keys.slice(0, 2), { ...keys[2]!, scope: 'child-3' }] }, s.mum.identity)).rejects.toThrow(/child-2/);
    await expect(signRosterEntry({ ...body, scopeKeys: [...keys.slice(0, 2), { ...keys[2]!, key: new Uint8Array(16) }] }, s.mum.identity)).rejects.toThrow(/child-2/);
  });
});

describe('verified rosters', () => {
  it('changing the caller’s entries after verification does not change the verified roster', async () => {
    const f = await family();
    const result = await verifyRoster(f.chain, { genesisHash: await hashRosterEntry(f.chain[0]!) });
    if (!result.ok) throw new Error(result.code);
    f.chain[1]!.members.push(relativeOf(f.stranger, ['child-1']));
    expect(result.value.memberAt(1, 'stranger')).toBeUndefined();
  });

  it('only rosters from verifyRoster count as verified', async () => {
    const f = await family();
    const result = await verifyRoster(f.chain, { genesisHash: await hashRosterEntry(f.chain[0]!) });
    if (!result.ok) throw new Error(result.code);
    expect(isVerifiedRoster(result.value)).toBe(true);
    expect(isVerifiedRoster({ ...result.value })).toBe(false);
  });
});
