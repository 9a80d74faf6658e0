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
import { family, guardianOf, relativeOf, settings, toyOf } from './fixtures.js';
import { generateFamilyKey } from '../../src/crypto/family-key.js';

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
    const opened = await openEntrySettings(roster.head, f.keys[1]!);
    expect(opened.ok && opened.value.quietHours).toEqual({ start: '19:30', end: '07:00', timeZone: 'Europe/Berlin' });
    expect(bytesEqual(roster.headHash, await hashRosterEntry(f.chain[1]!))).toBe(true);
  });

  it('a chain verifies from a trusted later entry, and not when that entry is missing (rollback)', async () => {
    const f = await family();
    const third = await appendRosterEntry(f.chain, { signer: f.dad, members: f.members, toys: [], settings, familyKey: generateFamilyKey() });
    expect((await verifyRoster([...f.chain, third], { trustedEntry: f.chain[1]! })).ok).toBe(true);
    expect((await verifyRoster([f.chain[1]!, third], { trustedEntry: f.chain[1]! })).ok).toBe(true);
    expect(await verifyRoster([f.chain[0]!], { trustedEntry: f.chain[1]! })).toEqual({ ok: false, code: 'roster/not-anchored' });
  });

  it("a chain verifies from a vouched-for head hash only if it holds that entry: a fork beside it is not anchored", async () => {
    const f = await family();
    const head = await hashRosterEntry(f.chain[1]!);
    const third = await appendRosterEntry(f.chain, { familyKey: generateFamilyKey(), signer: f.dad, members: f.members, toys: [], settings });
    const fromHead = await verifyRoster([...f.chain, third], { headHash: head });
    expect(fromHead.ok && fromHead.value.epoch).toBe(2);
    // The chain may start at the vouched-for entry itself.
    expect((await verifyRoster([f.chain[1]!, third], { headHash: head })).ok).toBe(true);
    // A different epoch 1 signed on the same genesis by a guardian of it (a fork): same epoch, other hash.
    const fork = await appendRosterEntry([f.chain[0]!], { familyKey: generateFamilyKey(), signer: f.mum, members: f.members, toys: [], settings: { ...settings, volumeLimit: 100 } });
    const forkNext = await appendRosterEntry([f.chain[0]!, fork], { familyKey: generateFamilyKey(), signer: f.mum, members: f.members, toys: [], settings });
    expect(await verifyRoster([f.chain[0]!, fork, forkNext], { headHash: head })).toEqual({ ok: false, code: 'roster/not-anchored' });
    // An older chain that stops before the head is refused too (rollback).
    expect(await verifyRoster([f.chain[0]!], { headHash: head })).toEqual({ ok: false, code: 'roster/not-anchored' });
    // Entries after the head are verified as usual: one signed by a non-guardian is refused.
    const forged = await signRosterEntry({ familyId: third.familyId, epoch: 3, previousHash: await hashRosterEntry(third), members: f.members, toys: [], settings, signerId: 'gran', familyKey: generateFamilyKey() }, f.gran.identity);
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
    const third = await appendRosterEntry(f.chain, { signer: f.mum, members: f.members, toys: [], settings, familyKey: generateFamilyKey() });
    const anchor = await anchorOf(f.chain);
    expect(await verifyRoster([f.chain[0]!, third, f.chain[1]!], anchor)).toEqual({ ok: false, code: 'roster/epoch-gap' });
    expect(await verifyRoster([f.chain[0]!, third], anchor)).toEqual({ ok: false, code: 'roster/epoch-gap' });
  });

  it('an entry that does not link to its predecessor is refused', async () => {
    const f = await family();
    const other = await family();
    // A guardian-signed epoch 1 from another history, re-labelled with this family's id, forks the chain.
    const fork = await signRosterEntry({ ...f.chain[1]!, previousHash: await hashRosterEntry(other.chain[0]!), signerId: 'mum', familyKey: generateFamilyKey() }, f.mum.identity);
    expect(await verifyRoster([f.chain[0]!, fork], await anchorOf(f.chain))).toEqual({ ok: false, code: 'roster/broken-link' });
  });

  it('a forged roster entry (signed by a key that is not the guardian’s) is refused', async () => {
    const f = await family();
    const forged = await signRosterEntry({ ...f.chain[1]!, members: [...f.members, relativeOf(f.stranger, ['child-1'])], familyKey: generateFamilyKey() }, f.stranger.identity);
    expect(forged.signerId).toBe('mum');
    expect(await verifyRoster([f.chain[0]!, forged], await anchorOf(f.chain))).toEqual({ ok: false, code: 'roster/bad-signature' });
  });

  it('a roster entry signed by a relative is refused', async () => {
    const f = await family();
    const byGran = await signRosterEntry(
      { familyId: 'fam-1', epoch: 2, previousHash: await hashRosterEntry(f.chain[1]!), members: [...f.members, relativeOf(f.stranger, ['child-1'])], toys: [], settings, signerId: 'gran', familyKey: generateFamilyKey() },
      f.gran.identity,
    );
    expect(await verifyRoster([...f.chain, byGran], await anchorOf(f.chain))).toEqual({ ok: false, code: 'roster/signer-not-guardian' });
    await expect(appendRosterEntry(f.chain, { signer: f.gran, members: f.members, toys: [], settings, familyKey: generateFamilyKey() })).rejects.toThrow(TypeError);
  });

  it('an entry signed by a guardian who joined in that same entry is refused', async () => {
    const f = await family();
    const members = [...f.members, guardianOf(f.stranger)];
    const selfAdded = await signRosterEntry(
      { familyId: 'fam-1', epoch: 2, previousHash: await hashRosterEntry(f.chain[1]!), members, toys: [], settings, signerId: 'stranger', familyKey: generateFamilyKey() },
      f.stranger.identity,
    );
    expect(await verifyRoster([...f.chain, selfAdded], await anchorOf(f.chain))).toEqual({ ok: false, code: 'roster/signer-not-guardian' });
  });

  it('an entry for another family is refused', async () => {
    const f = await family();
    const moved = await signRosterEntry({ ...f.chain[1]!, familyId: 'fam-2', familyKey: generateFamilyKey() }, f.mum.identity);
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
  it("keep a home's time zone and bedtime out of the entry's bytes, and open only under the epoch's family key", async () => {
    const f = await family();
    const entry = f.chain[1]!;
    const text = new TextDecoder('latin1').decode(encodeRosterEntry(entry));
    expect(text).not.toContain('Europe/Berlin');
    expect(text).not.toContain('19:30');
    expect(entry.settings).toMatchObject({ volumeLimit: 70, retentionDays: 30 });
    expect(await openEntrySettings(entry, f.keys[0]!)).toEqual({ ok: false, code: 'roster/settings-unreadable' });
    expect(await openEntrySettings(entry, generateFamilyKey())).toEqual({ ok: false, code: 'roster/settings-unreadable' });
  });

  it('a sealed value moved into another epoch does not open there (its family and epoch are bound in)', async () => {
    const f = await family();
    const moved = { ...f.chain[0]!, settings: { ...f.chain[0]!.settings, sealedQuietHours: f.chain[1]!.settings.sealedQuietHours! } };
    expect(await openEntrySettings(moved, f.keys[0]!)).toEqual({ ok: false, code: 'roster/settings-unreadable' });
    expect(await openEntrySettings({ ...moved, epoch: 1 }, f.keys[1]!)).toMatchObject({ ok: true });
  });

  it('refuse to sign hours or a zone that are not well formed, and carry none when the family sets none', async () => {
    const f = await family();
    const bad = { ...settings, quietHours: { start: '25:00', end: '07:00', timeZone: 'Europe/Berlin' } };
    await expect(appendRosterEntry(f.chain, { signer: f.mum, members: f.members, toys: [], settings: bad, familyKey: generateFamilyKey() })).rejects.toThrow(/quietHours/);
    const key = generateFamilyKey();
    const none = await appendRosterEntry(f.chain, { signer: f.mum, members: f.members, toys: [], settings: { volumeLimit: 50, retentionDays: 7 }, familyKey: key });
    expect(none.settings.sealedQuietHours).toBeUndefined();
    expect(await openEntrySettings(none, key)).toEqual({ ok: true, value: { volumeLimit: 50, retentionDays: 7 } });
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
