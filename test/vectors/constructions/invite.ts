/** Invite proofs (docs/protocol.md, "Invites (client side)"): the invite key, both MAC inputs and both proofs. */
import { deriveKey } from '../../../src/crypto/kdf.js';
import { guardianInviteProof, joinerInviteProof, verifyGuardianInviteProof } from '../../../src/crypto/invite.js';
import { CHILD_ID, FAMILY_ID, GRAN_ID, MUM_ID, vectorFamily } from '../family.js';
import { cat, expectHex, hexOf, hkdfSha256, hmacSha256, labelled, str, u32, u8 } from '../independent.js';
import { fixedBytes, fixedId, hex, publicKeysHex, type Construction } from '../support.js';

export const invite: Construction = {
  name: 'invite',
  async generate() {
    const family = await vectorFamily();
    const secret = fixedBytes('invite-secret', 16);
    const inviteId = fixedId('invite');
    const terms = { role: 'relative' as const, children: [CHILD_ID], needsApproval: true };
    const guardianProof = await guardianInviteProof({ secret, familyId: FAMILY_ID, inviteId, guardianId: MUM_ID, guardianKeys: family.mum.publicKeys, terms, headHash: family.hashes[0]! });
    const joinerProof = await joinerInviteProof({ secret, inviteId, joinerId: GRAN_ID, joinerKeys: family.gran.publicKeys });
    const widened = await verifyGuardianInviteProof({ secret, familyId: FAMILY_ID, inviteId, guardianId: MUM_ID, guardianKeys: family.mum.publicKeys, terms: { ...terms, needsApproval: false }, proof: guardianProof });
    return {
      construction: 'invite',
      version: { guardianProof: guardianProof[0]!, guardianLabel: 3, joinerLabel: 2 },
      spec: 'Invites (client side)',
      description: 'Mum invites Gran as a relative of the child whose messages need approval; the link carries the secret.',
      vectors: [
        {
          name: 'relative-invite',
          inputs: { secret: hex(secret), familyId: FAMILY_ID, inviteId, guardianId: MUM_ID, guardianKeys: publicKeysHex(family.mum), terms, headHash: hex(family.hashes[0]!), joinerId: GRAN_ID, joinerKeys: publicKeysHex(family.gran) },
          inviteKey: hex(await deriveKey(secret, 'burrow/invite/v1')),
          guardianProof: hex(guardianProof),
          joinerProof: hex(joinerProof),
        },
      ],
      refusals: [{ name: 'widened-terms', change: 'the server drops "needs approval" from the terms', input: { needsApproval: false }, expected: widened.ok ? 'accepted' : widened.code }],
    };
  },
  checkIndependently(file) {
    const v = file.vectors[0]!;
    const i = v.inputs as { secret: string; familyId: string; inviteId: string; guardianId: string; guardianKeys: Record<string, string>; terms: { children: string[]; needsApproval: boolean }; headHash: string; joinerId: string; joinerKeys: Record<string, string> };
    const key = hkdfSha256(hexOf(i.secret), new Uint8Array(0), 'burrow/invite/v1');
    expectHex(key, v.inviteKey, 'invite key');
    const g = i.guardianKeys;
    const children = [...i.terms.children].sort();
    const guardianBody = cat(str(i.familyId), str(i.inviteId), str(i.guardianId), hexOf(g.signingKey), hexOf(g.agreementKey), u8(1), hexOf(g.kemKey), u8(2), u32(children.length), ...children.map(str), u8(i.terms.needsApproval ? 1 : 0), hexOf(i.headHash));
    expectHex(cat(u8(3), hexOf(i.headHash), hmacSha256(key, labelled('burrow/invite/guardian-proof/v3', guardianBody))), v.guardianProof, 'guardian proof');
    const j = i.joinerKeys;
    const joinerBody = cat(str(i.inviteId), str(i.joinerId), hexOf(j.signingKey), hexOf(j.agreementKey), hexOf(j.kemKey));
    expectHex(hmacSha256(key, labelled('burrow/invite/joiner-proof/v2', joinerBody)), v.joinerProof, 'joiner proof');
  },
};
