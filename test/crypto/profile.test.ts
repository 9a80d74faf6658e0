import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../src/crypto/bytes.js';
import { generateFamilyKey } from '../../src/crypto/family-key.js';
import { openProfile, profileEpoch, sealProfile, type ProfileKind } from '../../src/crypto/profile.js';

function keys() {
  const map = new Map<number, Uint8Array>([[2, generateFamilyKey()], [3, generateFamilyKey()]]);
  return { map, familyKeyForEpoch: (epoch: number) => map.get(epoch) };
}

describe('sealed profiles', () => {
  it('a sealed child name opens for that child and hides the name', async () => {
    const k = keys();
    const sealed = await sealProfile({ familyId: 'fam-1', epoch: 2, familyKey: k.map.get(2)!, kind: 'child', objectId: 'child-1', data: { name: 'Mia' } });
    expect(toHex(sealed)).not.toContain(toHex(utf8('Mia')));
    expect(profileEpoch(sealed)).toBe(2);
    const opened = await openProfile({ sealed, familyId: 'fam-1', kind: 'child', objectId: 'child-1', familyKeyForEpoch: k.familyKeyForEpoch });
    expect(opened).toEqual({ ok: true, value: { epoch: 2, data: { name: 'Mia' } } });
  });

  it('a sealed name cannot be moved to another child, kind or family', async () => {
    const k = keys();
    const sealed = await sealProfile({ familyId: 'fam-1', epoch: 2, familyKey: k.map.get(2)!, kind: 'child', objectId: 'child-1', data: { name: 'Mia' } });
    const failed = { ok: false, code: 'profile/decrypt-failed' };
    expect(await openProfile({ sealed, familyId: 'fam-1', kind: 'child', objectId: 'child-2', familyKeyForEpoch: k.familyKeyForEpoch })).toEqual(failed);
    expect(await openProfile({ sealed, familyId: 'fam-1', kind: 'toy', objectId: 'child-1', familyKeyForEpoch: k.familyKeyForEpoch })).toEqual(failed);
    expect(await openProfile({ sealed, familyId: 'fam-2', kind: 'child', objectId: 'child-1', familyKeyForEpoch: k.familyKeyForEpoch })).toEqual(failed);
  });

  it('a relabelled epoch, a missing key and any changed byte are refused', async () => {
    const k = keys();
    const sealed = await sealProfile({ familyId: 'fam-1', epoch: 2, familyKey: k.map.get(2)!, kind: 'family-name', objectId: 'fam-1', data: { name: 'The Burrows' } });
    const target = { familyId: 'fam-1', kind: 'family-name' as const, objectId: 'fam-1' };
    const relabelled = sealed.slice();
    relabelled[4 + 1 + 7] = 3;
    expect(await openProfile({ ...target, sealed: relabelled, familyKeyForEpoch: k.familyKeyForEpoch })).toEqual({ ok: false, code: 'profile/decrypt-failed' });
    expect(await openProfile({ ...target, sealed, familyKeyForEpoch: () => undefined })).toEqual({ ok: false, code: 'profile/no-key' });
    for (let i = 0; i < sealed.length; i++) {
      const tampered = sealed.slice();
      tampered[i]! ^= 0x01;
      expect((await openProfile({ ...target, sealed: tampered, familyKeyForEpoch: k.familyKeyForEpoch })).ok, `byte ${i}`).toBe(false);
    }
  });

  it('names of different lengths up to the padding size seal to the same length', async () => {
    const k = keys();
    const seal = (name: string) => sealProfile({ familyId: 'fam-1', epoch: 2, familyKey: k.map.get(2)!, kind: 'toy', objectId: 'toy-1', data: { name } });
    expect((await seal('Bo')).length).toBe((await seal('Bartholomew Bear')).length);
  });

  it('any record round-trips (property)', async () => {
    const k = keys();
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.boolean())),
        fc.constantFrom<ProfileKind>('family-name', 'child', 'toy', 'member'),
        fc.string({ minLength: 1, maxLength: 20 }),
        async (data, kind, objectId) => {
          const sealed = await sealProfile({ familyId: 'fam-1', epoch: 3, familyKey: k.map.get(3)!, kind, objectId, data });
          const opened = await openProfile({ sealed, familyId: 'fam-1', kind, objectId, familyKeyForEpoch: k.familyKeyForEpoch });
          expect(opened).toEqual({ ok: true, value: { epoch: 3, data: JSON.parse(JSON.stringify(data)) } });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('misuse throws a TypeError naming the argument', async () => {
    await expect(sealProfile({ familyId: 'fam-1', epoch: 0, familyKey: new Uint8Array(8), kind: 'child', objectId: 'c', data: {} })).rejects.toThrow(/familyKey/);
    await expect(sealProfile({ familyId: 'fam-1', epoch: 0, familyKey: new Uint8Array(32), kind: 'pet' as ProfileKind, objectId: 'c', data: {} })).rejects.toThrow(/kind/);
  });
});
