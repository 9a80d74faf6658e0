import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../src/crypto/bytes.js';
import { generateIdentity, type Identity } from '../../src/crypto/identity.js';
import { FAMILY_SCOPE } from '../../src/crypto/key-scopes.js';
import { openProfile, profileEpoch, profileScope, sealProfile, type ProfileKind } from '../../src/crypto/profile.js';
import { generateScopeKey } from '../../src/crypto/scope-key.js';
import type { Member } from '../../src/crypto/roster.js';

/** Scope keys of epochs 2 and 3 (the family-wide scope and child-1's), by `${epoch}/${scope}`. */
function keys() {
  const map = new Map<string, Uint8Array>();
  for (const epoch of [2, 3]) for (const scope of SCOPES) map.set(`${epoch}/${scope}`, generateScopeKey());
  const keyFor = (epoch: number, scope: string) => map.get(`${epoch}/${scope}`);
  /** The key a record of `kind` and `objectId` is sealed under at `epoch`. */
  const keyOf = (epoch: number, kind: ProfileKind, objectId: string) => keyFor(epoch, profileScope(ENTRY, kind, objectId))!;
  return { map, keyFor, keyOf };
}

const SCOPES = [FAMILY_SCOPE, 'child-1'];
const ENTRY = { scopeKeys: SCOPES.map((scope) => ({ scope })) };

let mum: Identity;
let gran: Identity;
let stranger: Identity;
/** The verified head: mum a guardian, gran a relative; the stranger is in no roster. */
let head: { familyId: string; members: Member[]; entryAt(epoch: number): typeof ENTRY | undefined };

beforeAll(async () => {
  [mum, gran, stranger] = await Promise.all([generateIdentity(), generateIdentity(), generateIdentity()]);
  head = {
    familyId: 'fam-1',
    members: [
      { accountId: 'mum', role: 'guardian', keys: mum.publicKeys },
      { accountId: 'gran', role: 'relative', keys: gran.publicKeys, children: ['child-1'] },
    ],
    entryAt: (epoch: number) => (epoch === 2 || epoch === 3 ? ENTRY : undefined),
  };
});

const SIGNATURE_BYTES = 64;
const HEADER_BYTES = 4 + 1 + 8 + 32;

describe('sealed profiles', () => {
  it('a sealed child name opens for that child, names its signer and hides the name', async () => {
    const k = keys();
    const sealed = await sealProfile({ familyId: 'fam-1', epoch: 2, key: k.keyOf(2, 'child', 'child-1'), kind: 'child', objectId: 'child-1', data: { name: 'Mia' }, signer: mum });
    expect(toHex(sealed)).not.toContain(toHex(utf8('Mia')));
    expect(profileEpoch(sealed)).toBe(2);
    const opened = await openProfile({ sealed, familyId: 'fam-1', kind: 'child', objectId: 'child-1', head, keyFor: k.keyFor });
    expect(opened).toEqual({ ok: true, value: { epoch: 2, data: { name: 'Mia' }, signerId: 'mum' } });
  });

  it('lays out magic, version 3, epoch, signer key, box and signature', async () => {
    const k = keys();
    const sealed = await sealProfile({ familyId: 'fam-1', epoch: 2, key: k.keyOf(2, 'toy', 'toy-1'), kind: 'toy', objectId: 'toy-1', data: { name: 'Bo' }, signer: mum });
    expect(toHex(sealed.subarray(0, 5))).toBe(`${toHex(utf8('BRWP'))}03`);
    expect(toHex(sealed.subarray(5, 13))).toBe('0000000000000002');
    expect(toHex(sealed.subarray(13, HEADER_BYTES))).toBe(toHex(mum.publicKeys.signingKey));
    // box: 0x01 ‖ nonce(12) ‖ one 64-byte padded block ‖ tag(16); then the signature.
    expect(sealed[HEADER_BYTES]).toBe(0x01);
    expect(sealed.length).toBe(HEADER_BYTES + 1 + 12 + 64 + 16 + SIGNATURE_BYTES);
  });

  it('a family name, child or toy record signed by a relative is refused, even with the right scope key', async () => {
    const k = keys();
    for (const [kind, objectId] of [['family-name', 'fam-1'], ['child', 'child-1'], ['toy', 'toy-1']] as const) {
      const sealed = await sealProfile({ familyId: 'fam-1', epoch: 2, key: k.keyOf(2, kind, objectId), kind, objectId, data: { name: 'Renamed by gran' }, signer: gran });
      expect(await openProfile({ sealed, familyId: 'fam-1', kind, objectId, head, keyFor: k.keyFor })).toEqual({ ok: false, code: 'profile/signer-not-allowed' });
    }
  });

  it('a record signed by a stranger (a server, a removed member) is refused', async () => {
    const k = keys();
    const sealed = await sealProfile({ familyId: 'fam-1', epoch: 2, key: k.keyOf(2, 'child', 'child-1'), kind: 'child', objectId: 'child-1', data: { name: 'Forged' }, signer: stranger });
    expect(await openProfile({ sealed, familyId: 'fam-1', kind: 'child', objectId: 'child-1', head, keyFor: k.keyFor })).toEqual({ ok: false, code: 'profile/signer-not-allowed' });
    // Naming a guardian's key in the header without their private key fails the signature.
    const claimed = sealed.slice();
    claimed.set(mum.publicKeys.signingKey, 13);
    expect(await openProfile({ sealed: claimed, familyId: 'fam-1', kind: 'child', objectId: 'child-1', head, keyFor: k.keyFor })).toEqual({ ok: false, code: 'profile/bad-signature' });
  });

  it('a member record must be signed by that member: not by a guardian, not by another member', async () => {
    const k = keys();
    const own = await sealProfile({ familyId: 'fam-1', epoch: 2, key: k.keyOf(2, 'member', 'gran'), kind: 'member', objectId: 'gran', data: { name: 'Granny' }, signer: gran });
    expect(await openProfile({ sealed: own, familyId: 'fam-1', kind: 'member', objectId: 'gran', head, keyFor: k.keyFor })).toMatchObject({ ok: true, value: { signerId: 'gran' } });
    const byGuardian = await sealProfile({ familyId: 'fam-1', epoch: 2, key: k.keyOf(2, 'member', 'gran'), kind: 'member', objectId: 'gran', data: { name: 'Old Gran' }, signer: mum });
    expect(await openProfile({ sealed: byGuardian, familyId: 'fam-1', kind: 'member', objectId: 'gran', head, keyFor: k.keyFor })).toEqual({ ok: false, code: 'profile/signer-not-allowed' });
  });

  it('a signed record cannot be moved to another child, kind or family', async () => {
    const k = keys();
    const sealed = await sealProfile({ familyId: 'fam-1', epoch: 2, key: k.keyOf(2, 'child', 'child-1'), kind: 'child', objectId: 'child-1', data: { name: 'Mia' }, signer: mum });
    const failed = { ok: false, code: 'profile/bad-signature' };
    expect(await openProfile({ sealed, familyId: 'fam-1', kind: 'child', objectId: 'child-2', head, keyFor: k.keyFor })).toEqual(failed);
    expect(await openProfile({ sealed, familyId: 'fam-1', kind: 'toy', objectId: 'child-1', head, keyFor: k.keyFor })).toEqual(failed);
    expect(await openProfile({ sealed, familyId: 'fam-2', kind: 'child', objectId: 'child-1', head: { ...head, familyId: 'fam-2' }, keyFor: k.keyFor })).toEqual(failed);
    // A head of another family is a caller's mistake the result names.
    expect(await openProfile({ sealed, familyId: 'fam-1', kind: 'child', objectId: 'child-1', head: { ...head, familyId: 'fam-2' }, keyFor: k.keyFor })).toEqual({ ok: false, code: 'profile/wrong-family' });
  });

  it('a relabelled epoch, a missing key, any changed byte, a cut or an extended record are refused', async () => {
    const k = keys();
    const sealed = await sealProfile({ familyId: 'fam-1', epoch: 2, key: k.keyOf(2, 'family-name', 'fam-1'), kind: 'family-name', objectId: 'fam-1', data: { name: 'The Burrows' }, signer: mum });
    const target = { familyId: 'fam-1', kind: 'family-name' as const, objectId: 'fam-1', head };
    const relabelled = sealed.slice();
    relabelled[4 + 1 + 7] = 3;
    expect(await openProfile({ ...target, sealed: relabelled, keyFor: k.keyFor })).toEqual({ ok: false, code: 'profile/bad-signature' });
    expect(await openProfile({ ...target, sealed, keyFor: () => undefined })).toEqual({ ok: false, code: 'profile/no-key' });
    // The right signer and signature, but a key the record was not sealed under.
    expect(await openProfile({ ...target, sealed, keyFor: () => generateScopeKey() })).toEqual({ ok: false, code: 'profile/decrypt-failed' });
    for (let i = 0; i < sealed.length; i++) {
      const tampered = sealed.slice();
      tampered[i]! ^= 0x01;
      expect((await openProfile({ ...target, sealed: tampered, keyFor: k.keyFor })).ok, `byte ${i}`).toBe(false);
    }
    expect((await openProfile({ ...target, sealed: sealed.subarray(0, sealed.length - 1), keyFor: k.keyFor })).ok).toBe(false);
    expect((await openProfile({ ...target, sealed: new Uint8Array([...sealed, 0]), keyFor: k.keyFor })).ok).toBe(false);
  });

  it('a record of version 1 (unsigned) is refused as unsupported', async () => {
    const k = keys();
    const sealed = await sealProfile({ familyId: 'fam-1', epoch: 2, key: k.keyOf(2, 'child', 'child-1'), kind: 'child', objectId: 'child-1', data: { name: 'Mia' }, signer: mum });
    const old = sealed.slice();
    old[4] = 1;
    expect(await openProfile({ sealed: old, familyId: 'fam-1', kind: 'child', objectId: 'child-1', head, keyFor: k.keyFor })).toEqual({ ok: false, code: 'profile/unsupported-version' });
    expect(profileEpoch(old)).toBeUndefined();
  });

  it('names of different lengths up to the padding size seal to the same length', async () => {
    const k = keys();
    const seal = (name: string) => sealProfile({ familyId: 'fam-1', epoch: 2, key: k.keyOf(2, 'toy', 'toy-1'), kind: 'toy', objectId: 'toy-1', data: { name }, signer: mum });
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
          const sealed = await sealProfile({ familyId: 'fam-1', epoch: 3, key: k.keyOf(3, kind, objectId), kind, objectId, data, signer: mum });
          const opened = await openProfile({ sealed, familyId: 'fam-1', kind, objectId, head, keyFor: k.keyFor });
          expect(opened).toEqual({ ok: true, value: { epoch: 3, data: JSON.parse(JSON.stringify(data)), signerId: 'mum' } });
        },
      ),
      { numRuns: 40 },
    );
  });

  it("a child's record is sealed under that child's key: the child's toy reads it, and nothing family-wide", async () => {
    const k = keys();
    expect(profileScope(ENTRY, 'child', 'child-1')).toBe('child-1');
    const toyKeyFor = (epoch: number, scope: string) => (scope === 'child-1' ? k.keyFor(epoch, scope) : undefined);
    const name = await sealProfile({ familyId: 'fam-1', epoch: 2, key: k.keyFor(2, 'child-1')!, kind: 'child', objectId: 'child-1', data: { name: 'Mia' }, signer: mum });
    expect(await openProfile({ sealed: name, familyId: 'fam-1', kind: 'child', objectId: 'child-1', head, keyFor: toyKeyFor })).toMatchObject({ ok: true, value: { data: { name: 'Mia' } } });
    const family = await sealProfile({ familyId: 'fam-1', epoch: 2, key: k.keyFor(2, FAMILY_SCOPE)!, kind: 'family-name', objectId: 'fam-1', data: { name: 'The Burrows' }, signer: mum });
    expect(await openProfile({ sealed: family, familyId: 'fam-1', kind: 'family-name', objectId: 'fam-1', head, keyFor: toyKeyFor })).toEqual({ ok: false, code: 'profile/no-key' });
    // A child's name sealed under the family-wide key (which the toy lacks and every adult holds) does not open as that child's record.
    const wide = await sealProfile({ familyId: 'fam-1', epoch: 2, key: k.keyFor(2, FAMILY_SCOPE)!, kind: 'child', objectId: 'child-1', data: { name: 'Mia' }, signer: mum });
    expect(await openProfile({ sealed: wide, familyId: 'fam-1', kind: 'child', objectId: 'child-1', head, keyFor: k.keyFor })).toEqual({ ok: false, code: 'profile/decrypt-failed' });
    // A child no relative or toy names yet has no scope: their record is family-wide.
    expect(profileScope(ENTRY, 'child', 'child-9')).toBe(FAMILY_SCOPE);
    expect(profileScope(ENTRY, 'toy', 'child-1')).toBe(FAMILY_SCOPE);
    // An epoch the head has no entry for gives no key.
    const later = await sealProfile({ familyId: 'fam-1', epoch: 4, key: k.keyFor(2, 'child-1')!, kind: 'child', objectId: 'child-1', data: { name: 'Mia' }, signer: mum });
    expect(await openProfile({ sealed: later, familyId: 'fam-1', kind: 'child', objectId: 'child-1', head, keyFor: k.keyFor })).toEqual({ ok: false, code: 'profile/no-key' });
  });

  it('misuse throws a TypeError naming the argument', async () => {
    await expect(sealProfile({ familyId: 'fam-1', epoch: 0, key: new Uint8Array(8), kind: 'child', objectId: 'c', data: {}, signer: mum })).rejects.toThrow(/key/);
    await expect(sealProfile({ familyId: 'fam-1', epoch: 0, key: new Uint8Array(32), kind: 'pet' as ProfileKind, objectId: 'c', data: {}, signer: mum })).rejects.toThrow(/kind/);
    await expect(sealProfile({ familyId: 'fam-1', epoch: 0, key: new Uint8Array(32), kind: 'child', objectId: 'c', data: {}, signer: {} as Identity })).rejects.toThrow(/signer/);
    await expect(openProfile({ sealed: new Uint8Array(10), familyId: 'fam-1', kind: 'child', objectId: 'c', head: undefined as never, keyFor: () => undefined })).rejects.toThrow(/head/);
  });
});
