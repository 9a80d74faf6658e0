/** Sealed profiles (docs/protocol.md, "Sealed profiles"): the family name, every intermediate. */
import { CanonicalWriter, labelled } from '../../../src/crypto/canonical.js';
import { hkdfSha256 } from '../../../src/crypto/kdf.js';
import { utf8 } from '../../../src/crypto/bytes.js';
import { openProfile, sealProfile } from '../../../src/crypto/profile.js';
import { FAMILY_ID, vectorFamily } from '../family.js';
import { cat, ed25519Verifies, expectHex, hexOf, hkdfSha256 as nobleHkdf, labelled as label, str, u32, u64, u8, text } from '../independent.js';
import { flipByte, hex, withFixedRandom, type Construction } from '../support.js';

export const profile: Construction = {
  name: 'profile',
  async generate() {
    const family = await vectorFamily();
    // The family name is the record of kind 'family-name' whose object id is the family id itself.
    const target = { familyId: FAMILY_ID, kind: 'family-name' as const, objectId: FAMILY_ID };
    const data = { name: 'The Burrows' };
    const sealed = await withFixedRandom('profile', () => sealProfile({ ...target, epoch: 2, familyKey: family.keys[2]!, data, signer: family.mum }));
    const header = sealed.subarray(0, 45);
    const box = sealed.subarray(45, sealed.length - 64);
    const salt = new CanonicalWriter().string(target.kind).string(target.objectId).finish();
    const roster = family.chain[2]!;
    const open = (bytes: Uint8Array, head = roster) => openProfile({ sealed: bytes, ...target, head, familyKeyForEpoch: (epoch) => family.keys[epoch] });
    const tampered = await open(flipByte(sealed, 60));
    const byRelative = await withFixedRandom('profile/gran', () => sealProfile({ ...target, epoch: 1, familyKey: family.keys[1]!, data: { name: 'Granny\'s burrow' }, signer: family.gran }));
    const refusedRelative = await open(byRelative, family.chain[1]!);
    return {
      construction: 'profile',
      version: { profile: sealed[4]!, box: box[0]! },
      spec: 'Sealed profiles',
      description: 'The family name, sealed by Mum (a guardian) at epoch 2.',
      vectors: [
        {
          name: 'family-name',
          inputs: { ...target, epoch: 2, familyKey: hex(family.keys[2]!), json: JSON.stringify(data), signerKey: hex(family.mum.publicKeys.signingKey) },
          header: hex(header),
          keySalt: hex(salt),
          key: hex(await hkdfSha256({ ikm: family.keys[2]!, salt, info: utf8('burrow/profile-key/v1'), length: 32 })),
          gcmAad: hex(cat(u8(1), labelled('burrow/profile/v2', cat(header, new CanonicalWriter().string(FAMILY_ID).string(target.kind).string(target.objectId).finish())))),
          nonce: hex(box.subarray(1, 13)),
          box: hex(box),
          signedBytes: hex(labelled('burrow/profile-signature/v1', new CanonicalWriter().string(FAMILY_ID).string(target.kind).string(target.objectId).bytes(sealed.subarray(0, sealed.length - 64)).finish())),
          signature: hex(sealed.subarray(sealed.length - 64)),
          sealed: hex(sealed),
        },
      ],
      refusals: [
        { name: 'tampered-byte', change: 'one bit of the box flipped', input: { sealed: hex(flipByte(sealed, 60)) }, expected: tampered.ok ? 'accepted' : tampered.code },
        { name: 'relative-renames-family', change: 'a family name sealed by Gran, a relative, read with epoch 1 as head', input: { sealed: hex(byRelative) }, expected: refusedRelative.ok ? 'accepted' : refusedRelative.code },
      ],
    };
  },
  async checkIndependently(file) {
    const v = file.vectors[0]!;
    const i = v.inputs as Record<string, unknown>;
    const header = cat(text('BRWP'), u8(2), u64(i.epoch as number), hexOf(i.signerKey));
    expectHex(header, v.header, 'profile header');
    const salt = cat(str(i.kind as string), str(i.objectId as string));
    const key = nobleHkdf(hexOf(i.familyKey), salt, 'burrow/profile-key/v1');
    expectHex(key, v.key, 'profile key');
    const target = cat(str(i.familyId as string), str(i.kind as string), str(i.objectId as string));
    const aad = cat(u8(1), label('burrow/profile/v2', cat(header, target)));
    const box = hexOf(v.box);
    const aesKey = await crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['decrypt']);
    const plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: box.slice(1, 13), additionalData: aad as Uint8Array<ArrayBuffer> }, aesKey, box.slice(13)));
    const json = text(i.json as string);
    const padded = new Uint8Array(Math.ceil((json.length + 4) / 64) * 64);
    padded.set(cat(u32(json.length), json));
    expectHex(plain, Array.from(padded, (b) => b.toString(16).padStart(2, '0')).join(''), 'padded profile plaintext');
    const sealedWithoutSignature = cat(header, box);
    const signed = label('burrow/profile-signature/v1', cat(target, u32(sealedWithoutSignature.length), sealedWithoutSignature));
    if (!ed25519Verifies(v.signature, signed, i.signerKey)) throw new Error('profile signature');
  },
};
