import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../src/crypto/bytes.js';
import { generateFamilyKey } from '../../src/crypto/family-key.js';
import { generateIdentity, type Identity } from '../../src/crypto/identity.js';
import { openProfile, profileEpoch, sealProfile, type ProfileKind } from '../../src/crypto/profile.js';
import type { Member } from '../../src/crypto/roster.js';

function keys() {
  const map = new Map<number, Uint8Array>([[2, generateFamilyKey()], [3, generateFamilyKey()]]);
  return { map, familyKeyForEpoch: (epoch: number) => map.get(epoch) };
}

let mum: Identity;
let gran: Identity;
let stranger: Identity;
/** The verified head: mum a guardian, gran a relative; the stranger is in no roster. */
let head: { familyId: string; members: Member[] };

beforeAll(async () => {
  [mum, gran, stranger] = await Promise.all([generateIdentity(), generateIdentity(), generateIdentity()]);
  head = {
    familyId: 'fam-1',
    members: [
      { accountId: 'mum', role: 'guardian', keys: mum.publicKeys },
      { accountId: 'gran', role: 'relative', keys: gran.publicKeys, children: ['child-1'] },
    ],
  };
});

const SIGNATURE_BYTES = 64;
const HEADER_BYTES = 4 + 1 + 8 + 32;

describe('sealed profiles', () => {
  it('a sealed child name opens for that child, names its signer and hides the name', async () => {
    const k = keys();
    const sealed = await sealProfile({ familyId: 'fam-1', epoch: 2, familyKey: k.map.get(2)!, kind: 'child', objectId: 'child-1', data: { name: 'Mia' }, signer: mum });
    expect(toHex(sealed)).not.toContain(toHex(utf8('Mia')));
    expect(profileEpoch(sealed)).toBe(2);
    const opened = await openProfile({ sealed, familyId: 'fam-1', kind: 'child', objectId: 'child-1', head, familyKeyForEpoch: k.familyKeyForEpoch });
    expect(opened).toEqual({ ok: true, value: { epoch: 2, data: { name: 'Mia' }, signerId: 'mum' } });
  });

  it('lays out magic, version 2, epoch, signer key, box and signature', async () => {
    const k = keys();
    const sealed = await sealProfile({ familyId: 'fam-1', epoch: 2, familyKey: k.map.get(2)!, kind: 'toy', objectId: 'toy-1', data: { name: 'Bo' }, signer: mum });
    expect(toHex(sealed.subarray(0, 5))).toBe(`${toHex(utf8('BRWP'))}02`);
    expect(toHex(sealed.subarray(5, 13))).toBe('0000000000000002');
    expect(toHex(sealed.subarray(13, HEADER_BYTES))).toBe(toHex(mum.publicKeys.signingKey));
    // box: 0x01 ‖ nonce(12) ‖ one 64-byte padded block ‖ tag(16); then the signature.
    expect(sealed[HEADER_BYTES]).toBe(0x01);
    expect(sealed.length).toBe(HEADER_BYTES + 1 + 12 + 64 + 16 + SIGNATURE_BYTES);
  });

  it('a family name, child or toy record signed by a relative is refused, even with the right family key', async () => {
    const k = keys();
    for (const [kind, objectId] of [['family-name', 'fam-1'], ['child', 'child-1'], ['toy', 'toy-1']] as const) {
      const sealed = await sealProfile({ familyId: 'fam-1', epoch: 2, familyKey: k.map.get(2)!, kind, objectId, data: { name: 'Renamed by gran' }, signer: gran });
      expect(await openProfile({ sealed, familyId: 'fam-1', kind, objectId, head, familyKeyForEpoch: k.familyKeyForEpoch })).toEqual({ ok: false, code: 'profile/signer-not-allowed' });
    }
  });

  it('a record signed by a stranger (a server, a removed member) is refused', async () => {
    const k = keys();
    const sealed = await sealProfile({ familyId: 'fam-1', epoch: 2, familyKey: k.map.get(2)!, kind: 'child', objectId: 'child-1', data: { name: 'Forged' }, signer: stranger });
    expect(await openProfile({ sealed, familyId: 'fam-1', kind: 'child', objectId: 'child-1', head, familyKeyForEpoch: k.familyKeyForEpoch })).toEqual({ ok: false, code: 'profile/signer-not-allowed' });
    // Naming a guardian's key in the header without their private key fails the signature.
    const claimed = sealed.slice();
    claimed.set(mum.publicKeys.signingKey, 13);
    expect(await openProfile({ sealed: claimed, familyId: 'fam-1', kind: 'child', objectId: 'child-1', head, familyKeyForEpoch: k.familyKeyForEpoch })).toEqual({ ok: false, code: 'profile/bad-signature' });
  });

  it('a member record must be signed by that member: not by a guardian, not by another member', async () => {
    const k = keys();
    const own = await sealProfile({ familyId: 'fam-1', epoch: 2, familyKey: k.map.get(2)!, kind: 'member', objectId: 'gran', data: { name: 'Granny' }, signer: gran });
    expect(await openProfile({ sealed: own, familyId: 'fam-1', kind: 'member', objectId: 'gran', head, familyKeyForEpoch: k.familyKeyForEpoch })).toMatchObject({ ok: true, value: { signerId: 'gran' } });
    const byGuardian = await sealProfile({ familyId: 'fam-1', epoch: 2, familyKey: k.map.get(2)!, kind: 'member', objectId: 'gran', data: { name: 'Old Gran' }, signer: mum });
    expect(await openProfile({ sealed: byGuardian, familyId: 'fam-1', kind: 'member', objectId: 'gran', head, familyKeyForEpoch: k.familyKeyForEpoch })).toEqual({ ok: false, code: 'profile/signer-not-allowed' });
  });

  it('a signed record cannot be moved to another child, kind or family', async () => {
    const k = keys();
    const sealed = await sealProfile({ familyId: 'fam-1', epoch: 2, familyKey: k.map.get(2)!, kind: 'child', objectId: 'child-1', data: { name: 'Mia' }, signer: mum });
    const failed = { ok: false, code: 'profile/bad-signature' };
    expect(await openProfile({ sealed, familyId: 'fam-1', kind: 'child', objectId: 'child-2', head, familyKeyForEpoch: k.familyKeyForEpoch })).toEqual(failed);
    expect(await openProfile({ sealed, familyId: 'fam-1', kind: 'toy', objectId: 'child-1', head, familyKeyForEpoch: k.familyKeyForEpoch })).toEqual(failed);
    expect(await openProfile({ sealed, familyId: 'fam-2', kind: 'child', objectId: 'child-1', head: { ...head, familyId: 'fam-2' }, familyKeyForEpoch: k.familyKeyForEpoch })).toEqual(failed);
    // A head of another family is a caller's mistake the result names.
    expect(await openProfile({ sealed, familyId: 'fam-1', kind: 'child', objectId: 'child-1', head: { ...head, familyId: 'fam-2' }, familyKeyForEpoch: k.familyKeyForEpoch })).toEqual({ ok: false, code: 'profile/wrong-family' });
  });

  it('a relabelled epoch, a missing key, any changed byte, a cut or an extended record are refused', async () => {
    const k = keys();
    const sealed = await sealProfile({ familyId: 'fam-1', epoch: 2, familyKey: k.map.get(2)!, kind: 'family-name', objectId: 'fam-1', data: { name: 'The Burrows' }, signer: mum });
    const target = { familyId: 'fam-1', kind: 'family-name' as const, objectId: 'fam-1', head };
    const relabelled = sealed.slice();
    relabelled[4 + 1 + 7] = 3;
    expect(await openProfile({ ...target, sealed: relabelled, familyKeyForEpoch: k.familyKeyForEpoch })).toEqual({ ok: false, code: 'profile/bad-signature' });
    expect(await openProfile({ ...target, sealed, familyKeyForEpoch: () => undefined })).toEqual({ ok: false, code: 'profile/no-key' });
    // The right signer and signature, but a family key the record was not sealed under.
    expect(await openProfile({ ...target, sealed, familyKeyForEpoch: () => generateFamilyKey() })).toEqual({ ok: false, code: 'profile/decrypt-failed' });
    for (let i = 0; i < sealed.length; i++) {
      const tampered = sealed.slice();
      tampered[i]! ^= 0x01;
      expect((await openProfile({ ...target, sealed: tampered, familyKeyForEpoch: k.familyKeyForEpoch })).ok, `byte ${i}`).toBe(false);
    }
    expect((await openProfile({ ...target, sealed: sealed.subarray(0, sealed.length - 1), familyKeyForEpoch: k.familyKeyForEpoch })).ok).toBe(false);
    expect((await openProfile({ ...target, sealed: new Uint8Array([...sealed, 0]), familyKeyForEpoch: k.familyKeyForEpoch })).ok).toBe(false);
  });

  it('a record of version 1 (unsigned) is refused as unsupported', async () => {
    const k = keys();
    const sealed = await sealProfile({ familyId: 'fam-1', epoch: 2, familyKey: k.map.get(2)!, kind: 'child', objectId: 'child-1', data: { name: 'Mia' }, signer: mum });
    const old = sealed.slice();
    old[4] = 1;
    expect(await openProfile({ sealed: old, familyId: 'fam-1', kind: 'child', objectId: 'child-1', head, familyKeyForEpoch: k.familyKeyForEpoch })).toEqual({ ok: false, code: 'profile/unsupported-version' });
    expect(profileEpoch(old)).toBeUndefined();
  });

  it('names of different lengths up to the padding size seal to the same length', async () => {
    const k = keys();
    const seal = (name: string) => sealProfile({ familyId: 'fam-1', epoch: 2, familyKey: k.map.get(2)!, kind: 'toy', objectId: 'toy-1', data: { name }, signer: mum });
    expect((await seal('Bo')).length).toBe((await seal('Bartholomew Bear')).length);
  });

  it('any record round-trips (property)', async () => {
    const k = keys();
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.boolean())),
        fc.constantFrom<ProfileKind>('family-name', 'child', 'toy'),
        fc.string({ minLength: 1, maxLength: 20 }),
        async (data, kind, objectId) => {
          const sealed = await sealProfile({ familyId: 'fam-1', epoch: 3, familyKey: k.map.get(3)!, kind, objectId, data, signer: mum });
          const opened = await openProfile({ sealed, familyId: 'fam-1', kind, objectId, head, familyKeyForEpoch: k.familyKeyForEpoch });
          expect(opened).toEqual({ ok: true, value: { epoch: 3, data: JSON.parse(JSON.stringify(data)), signerId: 'mum' } });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('misuse throws a TypeError naming the argument', async () => {
    await expect(sealProfile({ familyId: 'fam-1', epoch: 0, familyKey: new Uint8Array(8), kind: 'child', objectId: 'c', data: {}, signer: mum })).rejects.toThrow(/familyKey/);
    await expect(sealProfile({ familyId: 'fam-1', epoch: 0, familyKey: new Uint8Array(32), kind: 'pet' as ProfileKind, objectId: 'c', data: {}, signer: mum })).rejects.toThrow(/kind/);
    await expect(sealProfile({ familyId: 'fam-1', epoch: 0, familyKey: new Uint8Array(32), kind: 'child', objectId: 'c', data: {}, signer: {} as Identity })).rejects.toThrow(/signer/);
    await expect(openProfile({ sealed: new Uint8Array(10), familyId: 'fam-1', kind: 'child', objectId: 'c', head: undefined as never, familyKeyForEpoch: () => undefined })).rejects.toThrow(/head/);
  });
});
