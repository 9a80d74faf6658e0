/**
 * The family-key commitment of roster entry version 3 (issue #15 item 1): a known answer computed
 * independently with @noble/hashes from the byte layout in docs/protocol.md, tamper tests for the
 * new signed field, and `unwrapAndCheckFamilyKey` refusing a key the server chose and wrapped to a
 * real recipient's public keys. Runs in Node and in Chromium (crypto-browser project).
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { bytesEqual, concatBytes, fromHex, toHex, utf8 } from '../../src/crypto/bytes.js';
import { generateFamilyKey, unwrapAndCheckFamilyKey, wrapFamilyKey, wrapFamilyKeyForRoster } from '../../src/crypto/family-key.js';
import { FAMILY_KEY_COMMITMENT_LABEL, familyKeyCommitment, familyKeyMatchesCommitment } from '../../src/crypto/key-commitment.js';
import { appendRosterEntry, createGenesisEntry, decodeRosterEntry, encodeRosterEntry, hashRosterEntry, verifyRoster } from '../../src/crypto/roster.js';
import { family, settings } from './fixtures.js';

const KAT = {
  familyId: 'fam-kat',
  epoch: 7,
  key: fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'),
  // Also computed with Python's hmac and hashlib from the same layout.
  commitment: '14f2bf803385c7fdba2d892ea3c8090744932b94374ff5bbd4d84c7841bb15ff',
};

/** The commitment from the documented layout, with @noble/hashes instead of WebCrypto. */
function independentCommitment(familyId: string, epoch: number, key: Uint8Array): Uint8Array {
  const commitKey = hkdf(sha256, key, new Uint8Array(0), utf8(FAMILY_KEY_COMMITMENT_LABEL), 32);
  const id = utf8(familyId);
  const body = new Uint8Array(4 + id.length + 8);
  const view = new DataView(body.buffer);
  view.setUint32(0, id.length);
  body.set(id, 4);
  view.setUint32(4 + id.length, Math.floor(epoch / 2 ** 32));
  view.setUint32(8 + id.length, epoch >>> 0);
  return hmac(sha256, commitKey, concatBytes(utf8(FAMILY_KEY_COMMITMENT_LABEL), Uint8Array.of(0), body));
}

describe('the family-key commitment', () => {
  it('matches the documented construction (HKDF then HMAC-SHA-256 over label ‖ 0 ‖ familyId ‖ epoch) and its pinned known answer', async () => {
    const commitment = await familyKeyCommitment(KAT);
    expect(toHex(commitment)).toBe(toHex(independentCommitment(KAT.familyId, KAT.epoch, KAT.key)));
    expect(toHex(commitment)).toBe(KAT.commitment);
    for (let i = 0; i < 5; i++) {
      const key = generateFamilyKey();
      expect(bytesEqual(await familyKeyCommitment({ familyId: 'f', epoch: 2 ** 40 + i, key }), independentCommitment('f', 2 ** 40 + i, key))).toBe(true);
    }
  });

  it('another key, family or epoch gives another commitment, and only the committed key matches', async () => {
    const commitment = await familyKeyCommitment(KAT);
    const flipped = KAT.key.slice();
    flipped[31]! ^= 0x01;
    for (const other of [{ ...KAT, key: flipped }, { ...KAT, key: generateFamilyKey() }, { ...KAT, familyId: 'fam-kat2' }, { ...KAT, epoch: 8 }]) {
      expect(bytesEqual(await familyKeyCommitment(other), commitment)).toBe(false);
      expect(await familyKeyMatchesCommitment({ ...other, commitment })).toBe(false);
    }
    expect(await familyKeyMatchesCommitment({ ...KAT, commitment })).toBe(true);
  });

  it('refuses misuse by name', async () => {
    await expect(familyKeyCommitment({ ...KAT, key: new Uint8Array(31) })).rejects.toThrow(/key/);
    await expect(familyKeyCommitment({ ...KAT, familyId: '' })).rejects.toThrow(/familyId/);
    await expect(familyKeyCommitment({ ...KAT, epoch: -1 })).rejects.toThrow(/epoch/);
    await expect(familyKeyMatchesCommitment({ ...KAT, commitment: new Uint8Array(16) })).rejects.toThrow(/commitment/);
  });
});

describe('roster entry version 5', () => {
  it('carries the commitment to its epoch key right after previousHash, covered by the signature', async () => {
    const f = await family();
    const entry = f.chain[1]!;
    expect(entry.version).toBe(5);
    expect(bytesEqual(entry.keyCommitment, await familyKeyCommitment({ familyId: 'fam-1', epoch: 1, key: f.keys[1]! }))).toBe(true);
    const bytes = encodeRosterEntry(entry);
    // version (1) ‖ u32 len ‖ "fam-1" (5) ‖ u64 epoch (8) ‖ u64 createdAt (8) ‖ previousHash (32) ‖ keyCommitment (32)
    const at = 1 + 4 + 5 + 8 + 8 + 32;
    expect(toHex(bytes.subarray(at, at + 32))).toBe(toHex(entry.keyCommitment));
    for (const i of [at, at + 16, at + 31]) {
      const tampered = bytes.slice();
      tampered[i]! ^= 0x01;
      const decoded = decodeRosterEntry(tampered);
      if (!decoded.ok) throw new Error(decoded.code);
      expect(await verifyRoster([f.chain[0]!, decoded.value], { genesisHash: await hashRosterEntry(f.chain[0]!) })).toEqual({ ok: false, code: 'roster/bad-signature' });
    }
  });

  it('signs toyToToy into the settings: absent is false, true round-trips, and a flipped byte breaks the signature', async () => {
    const f = await family();
    expect(f.chain[1]!.settings.toyToToy).toBeUndefined();
    const on = await appendRosterEntry(f.chain, { signer: f.mum, members: f.members, toys: f.chain[1]!.toys, settings: { ...settings, toyToToy: true }, familyKey: generateFamilyKey() });
    const off = await appendRosterEntry(f.chain, { signer: f.mum, members: f.members, toys: f.chain[1]!.toys, settings: { ...settings, toyToToy: false }, familyKey: generateFamilyKey() });
    expect(on.settings.toyToToy).toBe(true);
    expect(off.settings.toyToToy).toBeUndefined();
    const bytes = encodeRosterEntry(on);
    const decoded = decodeRosterEntry(bytes);
    expect(decoded.ok && decoded.value.settings.toyToToy).toBe(true);
    // The toy-to-toy byte sits just before the kept count (u32 0) and the signer id: u32 len ‖ "mum" ‖ u32 64 ‖ signature.
    const flagAt = bytes.length - (4 + 3 + 4 + 64) - 4 - 1;
    expect(bytes[flagAt]).toBe(1);
    const tampered = bytes.slice();
    tampered[flagAt] = 0;
    const turnedOff = decodeRosterEntry(tampered);
    if (!turnedOff.ok) throw new Error(turnedOff.code);
    expect(turnedOff.value.settings.toyToToy).toBeUndefined();
    expect(await verifyRoster([...f.chain, turnedOff.value], { genesisHash: await hashRosterEntry(f.chain[0]!) })).toEqual({ ok: false, code: 'roster/bad-signature' });
    tampered[flagAt] = 2;
    expect(decodeRosterEntry(tampered)).toEqual({ ok: false, code: 'roster/malformed' });
    await expect(appendRosterEntry(f.chain, { signer: f.mum, members: f.members, toys: [], settings: { ...settings, toyToToy: 'yes' as unknown as boolean }, familyKey: generateFamilyKey() })).rejects.toThrow(/toyToToy/);
  });

  it('signing needs the 32-byte epoch key', async () => {
    const f = await family();
    await expect(createGenesisEntry({ familyId: 'f', creator: f.mum, settings, familyKey: new Uint8Array(16) })).rejects.toThrow(/familyKey/);
    await expect(appendRosterEntry(f.chain, { signer: f.mum, members: f.members, toys: [], settings, familyKey: undefined as unknown as Uint8Array })).rejects.toThrow(/familyKey/);
  });
});

describe('unwrapAndCheckFamilyKey', () => {
  it('opens the key the verified entry commits to, for every member and toy of the epoch', async () => {
    const f = await family();
    const roster = await verifyRoster(f.chain, { genesisHash: await hashRosterEntry(f.chain[0]!) });
    if (!roster.ok) throw new Error(roster.code);
    const wraps = await wrapFamilyKeyForRoster(f.chain[1]!, f.keys[1]!);
    for (const p of [f.mum, f.dad, f.gran, f.toy]) {
      const opened = await unwrapAndCheckFamilyKey({ wrap: wraps.find((w) => w.recipientId === p.accountId)!, recipientId: p.accountId, identity: p.identity, roster: roster.value });
      expect(opened.ok && bytesEqual(opened.value, f.keys[1]!)).toBe(true);
    }
  });

  it('refuses a key the server chose and wrapped to the recipient\'s real public keys from the roster', async () => {
    const f = await family();
    const roster = await verifyRoster(f.chain, { genesisHash: await hashRosterEntry(f.chain[0]!) });
    if (!roster.ok) throw new Error(roster.code);
    const serverKey = generateFamilyKey();
    for (const p of [f.toy, f.gran]) {
      const keys = f.chain[1]!.toys.find((t) => t.toyId === p.accountId)?.keys ?? f.chain[1]!.members.find((m) => m.accountId === p.accountId)!.keys;
      // A perfectly valid HPKE wrap: only the commitment tells it apart from the guardian's.
      const wrap = await wrapFamilyKey({ familyId: 'fam-1', epoch: 1, key: serverKey, recipient: { id: p.accountId, ...keys } });
      expect(await unwrapAndCheckFamilyKey({ wrap, recipientId: p.accountId, identity: p.identity, roster: roster.value })).toEqual({ ok: false, code: 'family-key/commitment-mismatch' });
    }
    // The real key of another epoch relabelled as epoch 1 does not open (epoch is in HPKE info and AAD).
    const epoch0 = await wrapFamilyKey({ familyId: 'fam-1', epoch: 0, key: f.keys[0]!, recipient: { id: 'mum', ...f.mum.identity.publicKeys } });
    expect(await unwrapAndCheckFamilyKey({ wrap: { ...epoch0, epoch: 1 }, recipientId: 'mum', identity: f.mum.identity, roster: roster.value })).toEqual({ ok: false, code: 'family-key/unwrap-failed' });
    const future = await wrapFamilyKey({ familyId: 'fam-1', epoch: 2, key: serverKey, recipient: { id: 'mum', ...f.mum.identity.publicKeys } });
    expect(await unwrapAndCheckFamilyKey({ wrap: future, recipientId: 'mum', identity: f.mum.identity, roster: roster.value })).toEqual({ ok: false, code: 'family-key/unknown-epoch' });
  });

  it('takes only a roster returned by verifyRoster', async () => {
    const f = await family();
    const roster = await verifyRoster(f.chain, { genesisHash: await hashRosterEntry(f.chain[0]!) });
    if (!roster.ok) throw new Error(roster.code);
    const wrap = await wrapFamilyKey({ familyId: 'fam-1', epoch: 1, key: f.keys[1]!, recipient: { id: 'mum', ...f.mum.identity.publicKeys } });
    await expect(unwrapAndCheckFamilyKey({ wrap, recipientId: 'mum', identity: f.mum.identity, roster: { ...roster.value } })).rejects.toThrow(/verifyRoster/);
  });
});
