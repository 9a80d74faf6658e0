/**
 * Sealed profiles, version 3 (docs/protocol.md, "Sealed profiles"): the family name under the
 * family-wide key and the child's name under the child's scope key, every intermediate.
 */
import { CanonicalWriter, labelled } from '../../../src/crypto/canonical.js';
import { hkdfSha256 } from '../../../src/crypto/kdf.js';
import { utf8 } from '../../../src/crypto/bytes.js';
import { FAMILY_SCOPE } from '../../../src/crypto/key-scopes.js';
import { openProfile, profileScope, sealProfile, type ProfileKind } from '../../../src/crypto/profile.js';
import { verifyRoster, type VerifiedRoster } from '../../../src/crypto/roster.js';
import { CHILD_ID, FAMILY_ID, HEAD, SIBLING_ID, vectorFamily } from '../family.js';
import { cat, ed25519Verifies, expectHex, hexOf, hkdfSha256 as nobleHkdf, labelled as label, str, u32, u64, u8, text } from '../independent.js';
import { flipByte, hex, withFixedRandom, type Construction } from '../support.js';

export const profile: Construction = {
  name: 'profile',
  async generate() {
    const family = await vectorFamily();
    const verified = async (upTo: number): Promise<VerifiedRoster> => {
      const r = await verifyRoster(family.chain.slice(0, upTo + 1), { genesisHash: family.hashes[0]! });
      if (!r.ok) throw new Error(r.code);
      return r.value;
    };
    const roster = await verifyRoster(family.chain, { genesisHash: family.hashes[0]! });
    if (!roster.ok) throw new Error(roster.code);
    const headEntry = family.chain[HEAD]!;
    const records: { name: string; kind: ProfileKind; objectId: string; data: object }[] = [
      // The family name is the record of kind 'family-name' whose object id is the family id itself.
      { name: 'family-name', kind: 'family-name', objectId: FAMILY_ID, data: { name: 'The Burrows' } },
      { name: 'child-name', kind: 'child', objectId: CHILD_ID, data: { name: 'Mia' } },
    ];
    const vectors = [];
    const sealedOf: Record<string, Uint8Array> = {};
    for (const record of records) {
      const target = { familyId: FAMILY_ID, kind: record.kind, objectId: record.objectId };
      const scope = profileScope(headEntry, record.kind, record.objectId);
      const scopeKey = family.keyFor(HEAD, scope)!;
      const sealed = await withFixedRandom(`profile/${record.name}`, () => sealProfile({ ...target, epoch: HEAD, key: scopeKey, data: record.data, signer: family.mum }));
      sealedOf[record.name] = sealed;
      const header = sealed.subarray(0, 45);
      const box = sealed.subarray(45, sealed.length - 64);
      const salt = new CanonicalWriter().string(target.kind).string(target.objectId).finish();
      vectors.push({
        name: record.name,
        inputs: { ...target, epoch: HEAD, scope, scopeGeneration: headEntry.scopeKeys.find((k) => k.scope === scope)!.generation, scopeKey: hex(scopeKey), json: JSON.stringify(record.data), signerKey: hex(family.mum.publicKeys.signingKey) },
        header: hex(header),
        keySalt: hex(salt),
        key: hex(await hkdfSha256({ ikm: scopeKey, salt, info: utf8('burrow/profile-key/v1'), length: 32 })),
        gcmAad: hex(cat(u8(1), labelled('burrow/profile/v2', cat(header, new CanonicalWriter().string(FAMILY_ID).string(target.kind).string(target.objectId).finish())))),
        nonce: hex(box.subarray(1, 13)),
        box: hex(box),
        signedBytes: hex(labelled('burrow/profile-signature/v1', new CanonicalWriter().string(FAMILY_ID).string(target.kind).string(target.objectId).bytes(sealed.subarray(0, sealed.length - 64)).finish())),
        signature: hex(sealed.subarray(sealed.length - 64)),
        sealed: hex(sealed),
      });
    }
    const familyName = { familyId: FAMILY_ID, kind: 'family-name' as const, objectId: FAMILY_ID };
    const code = (r: { ok: boolean; code?: string }) => (r.ok ? 'accepted' : r.code!);
    const asMum = { head: roster.value, keyFor: family.keyFor };
    for (const record of records) {
      if (!(await openProfile({ sealed: sealedOf[record.name]!, familyId: FAMILY_ID, kind: record.kind, objectId: record.objectId, ...asMum })).ok) throw new Error(`${record.name} does not open`);
    }
    const tampered = flipByte(sealedOf['family-name']!, 60);
    const byRelative = await withFixedRandom('profile/gran', () => sealProfile({ ...familyName, epoch: 1, key: family.keyFor(1, FAMILY_SCOPE)!, data: { name: 'Granny\'s burrow' }, signer: family.gran }));
    const asToy = { head: roster.value, keyFor: (epoch: number, scope: string) => (scope === CHILD_ID ? family.keyFor(epoch, scope) : undefined) };
    return {
      construction: 'profile',
      version: { profile: sealedOf['family-name']![4]!, box: hexOf(vectors[0]!.box)[0]! },
      spec: 'Sealed profiles',
      description: `The family name (family-wide scope "") and the first child's name (the child's scope), sealed by Mum (a guardian) at epoch ${HEAD} under the scope keys of that entry (roster-entry.json).`,
      vectors,
      refusals: [
        { name: 'tampered-byte', change: 'one bit of the family name\'s box flipped', input: { sealed: hex(tampered) }, expected: code(await openProfile({ sealed: tampered, ...familyName, ...asMum })) },
        { name: 'relative-renames-family', change: 'a family name sealed by Gran, a relative, read with epoch 1 as head', input: { sealed: hex(byRelative) }, expected: code(await openProfile({ sealed: byRelative, ...familyName, head: await verified(1), keyFor: family.keyFor })) },
        { name: 'toy-reads-family-name', change: 'the family name read by the child\'s toy, which holds only the child\'s scope key', input: { sealed: vectors[0]!.sealed }, expected: code(await openProfile({ sealed: sealedOf['family-name']!, ...familyName, ...asToy })) },
        { name: 'child-name-moved', change: 'the child\'s name served as the sibling\'s', input: { sealed: vectors[1]!.sealed, objectId: SIBLING_ID }, expected: code(await openProfile({ sealed: sealedOf['child-name']!, familyId: FAMILY_ID, kind: 'child', objectId: SIBLING_ID, ...asMum })) },
      ],
    };
  },
  async checkIndependently(file) {
    for (const v of file.vectors) {
      const name = v.name as string;
      const i = v.inputs as Record<string, unknown>;
      // profileScope: a child's record under that child's scope (the entry has it), everything else family-wide.
      if (i.scope !== (i.kind === 'child' ? i.objectId : '')) throw new Error(`${name} scope`);
      const header = cat(text('BRWP'), u8(3), u64(i.epoch as number), hexOf(i.signerKey));
      expectHex(header, v.header, `${name} profile header`);
      const salt = cat(str(i.kind as string), str(i.objectId as string));
      const key = nobleHkdf(hexOf(i.scopeKey), salt, 'burrow/profile-key/v1');
      expectHex(key, v.key, `${name} profile key`);
      const target = cat(str(i.familyId as string), str(i.kind as string), str(i.objectId as string));
      const aad = cat(u8(1), label('burrow/profile/v2', cat(header, target)));
      const box = hexOf(v.box);
      const aesKey = await crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['decrypt']);
      const plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: box.slice(1, 13), additionalData: aad as Uint8Array<ArrayBuffer> }, aesKey, box.slice(13)));
      const json = text(i.json as string);
      const padded = new Uint8Array(Math.ceil((json.length + 4) / 64) * 64);
      padded.set(cat(u32(json.length), json));
      expectHex(plain, Array.from(padded, (b) => b.toString(16).padStart(2, '0')).join(''), `${name} padded profile plaintext`);
      const sealedWithoutSignature = cat(header, box);
      const signed = label('burrow/profile-signature/v1', cat(target, u32(sealedWithoutSignature.length), sealedWithoutSignature));
      if (!ed25519Verifies(v.signature, signed, i.signerKey)) throw new Error(`${name} profile signature`);
      expectHex(cat(sealedWithoutSignature, hexOf(v.signature)), v.sealed, `${name} sealed record`);
    }
  },
};
