/**
 * Invite descriptions and joiners' names (docs/protocol.md, "Invites (client side)"): keys,
 * plaintexts, additional data, the guardian's signature and both boxes; a relabelled description
 * is refused.
 */
import { labelled } from '../../../src/crypto/canonical.js';
import { deriveKey } from '../../../src/crypto/kdf.js';
import { openInviteDescription, sealInviteDescription, sealJoinerName } from '../../../src/crypto/invite-description.js';
import { FAMILY_ID, GRAN_ID, vectorFamily } from '../family.js';
import { cat, ed25519Verifies, expectHex, hexOf, hkdfSha256, labelled as label, str, u8 } from '../independent.js';
import { fixedBytes, fixedId, hex, withFixedRandom, type Construction } from '../support.js';

const DESCRIPTION = { familyName: 'The Burrows', from: 'Mum', for: 'Grandma Rose' };

async function open(key: Uint8Array, box: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  const aes = await crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['decrypt']);
  return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: box.slice(1, 13), additionalData: cat(u8(1), aad) as Uint8Array<ArrayBuffer> }, aes, box.slice(13)));
}

export const inviteDescription: Construction = {
  name: 'invite-description',
  async generate() {
    const family = await vectorFamily();
    const secret = fixedBytes('invite-secret', 16);
    const inviteId = fixedId('invite');
    const sealed = await withFixedRandom('invite-description', () => sealInviteDescription({ secret, inviteId, familyId: FAMILY_ID, description: DESCRIPTION, guardian: family.mum }));
    const joinerName = await withFixedRandom('invite-joiner-name', () => sealJoinerName({ secret, inviteId, joinerId: GRAN_ID, name: 'Gran' }));
    const descriptionKey = await deriveKey(secret, 'burrow/invite/description/v2');
    const plaintext = await open(descriptionKey, sealed, labelled('burrow/invite/description/v2', cat(str(inviteId), str(FAMILY_ID))));
    const moved = await openInviteDescription({ secret, inviteId: fixedId('another-invite'), familyId: FAMILY_ID, sealed, guardianKeys: family.mum.publicKeys });
    const byOther = await openInviteDescription({ secret, inviteId, familyId: FAMILY_ID, sealed, guardianKeys: family.gran.publicKeys });
    return {
      construction: 'invite-description',
      version: { description: plaintext[0]!, joinerName: 1, box: sealed[0]! },
      spec: 'Invites (client side)',
      description: 'The description of invite.json\'s invite, signed by Mum, and the name Gran chose, both under keys from the link\'s secret.',
      vectors: [
        {
          name: 'description',
          inputs: { secret: hex(secret), inviteId, familyId: FAMILY_ID, ...DESCRIPTION, guardianSigningKey: hex(family.mum.publicKeys.signingKey) },
          key: hex(descriptionKey),
          signedFields: hex(cat(str(inviteId), str(FAMILY_ID), str(DESCRIPTION.familyName), str(DESCRIPTION.from), str(DESCRIPTION.for))),
          plaintext: hex(plaintext),
          aad: hex(labelled('burrow/invite/description/v2', cat(str(inviteId), str(FAMILY_ID)))),
          nonce: hex(sealed.subarray(1, 13)),
          sealed: hex(sealed),
        },
        {
          name: 'joiner-name',
          inputs: { secret: hex(secret), inviteId, joinerId: GRAN_ID, name: 'Gran' },
          key: hex(await deriveKey(secret, 'burrow/invite/joiner-name/v1')),
          plaintext: hex(cat(u8(1), str('Gran'))),
          aad: hex(labelled('burrow/invite/joiner-name/v1', cat(str(inviteId), str(GRAN_ID)))),
          nonce: hex(joinerName.subarray(1, 13)),
          sealed: hex(joinerName),
        },
      ],
      refusals: [
        { name: 'another-invite', change: 'the description served for another invite id', input: { inviteId: fixedId('another-invite') }, expected: moved.ok ? 'accepted' : moved.code },
        { name: 'not-the-guardian', change: 'checked against Gran\'s keys instead of the inviting guardian\'s', input: { guardianSigningKey: hex(family.gran.publicKeys.signingKey) }, expected: byOther.ok ? 'accepted' : byOther.code },
      ],
    };
  },
  async checkIndependently(file) {
    for (const v of file.vectors) {
      const i = v.inputs as Record<string, string>;
      const isDescription = v.name === 'description';
      const info = isDescription ? 'burrow/invite/description/v2' : 'burrow/invite/joiner-name/v1';
      const key = hkdfSha256(hexOf(i.secret), new Uint8Array(0), info);
      expectHex(key, v.key, `${v.name as string} key`);
      const aad = label(info, cat(str(i.inviteId!), str(isDescription ? i.familyId! : i.joinerId!)));
      expectHex(aad, v.aad, `${v.name as string} additional data`);
      const plaintext = await open(key, hexOf(v.sealed), aad);
      expectHex(plaintext, v.plaintext, `${v.name as string} plaintext`);
      if (isDescription) {
        const fields = cat(str(i.inviteId!), str(i.familyId!), str(i.familyName!), str(i.from!), str(i.for!));
        expectHex(fields, v.signedFields, 'signed fields');
        const signature = plaintext.subarray(plaintext.length - 64);
        expectHex(plaintext.subarray(0, plaintext.length - 64), `02${Array.from(cat(str(i.familyName!), str(i.from!), str(i.for!)), (b) => b.toString(16).padStart(2, '0')).join('')}`, 'description plaintext before the signature');
        if (!ed25519Verifies(Array.from(signature, (b) => b.toString(16).padStart(2, '0')).join(''), label('burrow/invite/description-signature/v1', fields), i.guardianSigningKey)) throw new Error('description signature');
      }
    }
  },
};
