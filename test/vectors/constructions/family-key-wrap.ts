/**
 * Family-key wraps in their current form (docs/protocol.md, "Family keys"): one per suite, with
 * fixed ephemeral key material (RFC 9180's ikmE; X-Wing's eseed), and the refusals of a recipient.
 */
import { CanonicalWriter, labelled } from '../../../src/crypto/canonical.js';
import { FAMILY_KEY_SUITE_SIZES, unwrapAndCheckFamilyKey, unwrapFamilyKey, wrapFamilyKey, type WrappedKey } from '../../../src/crypto/family-key.js';
import { verifyRoster } from '../../../src/crypto/roster.js';
import { FAMILY_ID, MUM_ID, TOY_ID, vectorFamily } from '../family.js';
import { cat, expectHex, hexOf, labelled as label, str, u64 } from '../independent.js';
import { dhkemX25519Decap, dhkemX25519Encap, keySchedule, sealOnce, xwingEncap } from '../hpke.js';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { fixedBytes, fixedIdentitySecret, hex, type Construction } from '../support.js';

const INFO_LABEL = 'burrow/family-key/v1';
const AAD_LABEL = 'burrow/family-key-recipient/v1';

function wrapJson(wrap: WrappedKey): Record<string, unknown> {
  return { suite: wrap.suite, recipientId: wrap.recipientId, epoch: wrap.epoch, enc: hex(wrap.enc), ciphertext: hex(wrap.ciphertext) };
}

export const familyKeyWrap: Construction = {
  name: 'family-key-wrap',
  async generate() {
    const family = await vectorFamily();
    const epoch = 1;
    const key = family.keys[epoch]!;
    const info = labelled(INFO_LABEL, new CanonicalWriter().string(FAMILY_ID).u64(epoch).finish());
    const xwingEkm = fixedBytes('ekm/x-wing', 64);
    const x25519Ekm = fixedBytes('ekm/x25519', 32);
    const xwing = await wrapFamilyKey({ familyId: FAMILY_ID, epoch, key, recipient: { id: TOY_ID, agreementKey: family.toy.publicKeys.agreementKey, kemKey: family.toy.publicKeys.kemKey }, ekm: xwingEkm });
    const classical = await wrapFamilyKey({ familyId: FAMILY_ID, epoch, key, recipient: { id: MUM_ID, agreementKey: family.mum.publicKeys.agreementKey }, ekm: x25519Ekm });
    const roster = await verifyRoster(family.chain, { genesisHash: family.hashes[0]! });
    if (!roster.ok) throw new Error(roster.code);
    const forged = await wrapFamilyKey({ familyId: FAMILY_ID, epoch, key: fixedBytes('family-key/forged'), recipient: { id: TOY_ID, agreementKey: family.toy.publicKeys.agreementKey, kemKey: family.toy.publicKeys.kemKey }, ekm: xwingEkm });
    const forgedResult = await unwrapAndCheckFamilyKey({ wrap: forged, recipientId: TOY_ID, identity: family.toy, roster: roster.value });
    const misaddressed = await unwrapFamilyKey({ ...xwing, recipientId: MUM_ID }, { familyId: FAMILY_ID, recipientId: MUM_ID, agreementPrivateKey: family.mum.agreementPrivateKey, kemPrivateKey: family.mum.kemPrivateKey });
    const common = { familyId: FAMILY_ID, epoch, familyKey: hex(key), info: hex(info) };
    // RFC 9180's intermediates, from the independent implementation in ../hpke.ts (the check below
    // confirms they give the production wrap's enc and ciphertext).
    const schedule = (kemId: number, sharedSecret: Uint8Array) => {
      const { key: aeadKey, baseNonce } = keySchedule(kemId, sharedSecret, info);
      return { kemId: `0x${kemId.toString(16).padStart(4, '0')}`, sharedSecret: hex(sharedSecret), aeadKey: hex(aeadKey), baseNonce: hex(baseNonce) };
    };
    const xwingHpke = schedule(0x647a, xwingEncap(family.toy.publicKeys.kemKey!, xwingEkm).sharedSecret);
    const x25519Hpke = schedule(0x0020, dhkemX25519Encap(family.mum.publicKeys.agreementKey, x25519Ekm).sharedSecret);
    return {
      construction: 'family-key-wrap',
      version: { infoLabel: 1, aadLabel: 1 },
      spec: 'Family keys (`family-key.ts`)',
      description: 'Epoch 1\'s family key wrapped to the toy (X-Wing suite) and to Mum as a classical recipient; private keys are the identity secrets of identity.json\'s scheme (`recipientSecret`).',
      vectors: [
        { name: 'x-wing', ...common, recipientSecret: hex(fixedIdentitySecret('toy')), recipientKemKey: hex(family.toy.publicKeys.kemKey!), aad: hex(labelled(AAD_LABEL, new CanonicalWriter().string(TOY_ID).u64(epoch).finish())), ekm: hex(xwingEkm), hpke: xwingHpke, sizes: FAMILY_KEY_SUITE_SIZES[xwing.suite], wrap: wrapJson(xwing) },
        { name: 'x25519', ...common, recipientSecret: hex(fixedIdentitySecret('mum')), recipientAgreementKey: hex(family.mum.publicKeys.agreementKey), aad: hex(labelled(AAD_LABEL, new CanonicalWriter().string(MUM_ID).u64(epoch).finish())), ekm: hex(x25519Ekm), hpke: x25519Hpke, sizes: FAMILY_KEY_SUITE_SIZES[classical.suite], wrap: wrapJson(classical) },
      ],
      refusals: [
        { name: 'key-not-committed', change: 'a wrap of another key than the one epoch 1 commits to (what a server can make)', input: { wrap: wrapJson(forged) }, expected: forgedResult.ok ? 'accepted' : forgedResult.code },
        { name: 'relabelled-recipient', change: 'the toy\'s wrap served to Mum as hers', input: { wrap: wrapJson({ ...xwing, recipientId: MUM_ID }) }, expected: misaddressed.ok ? 'accepted' : misaddressed.code },
      ],
    };
  },
  async checkIndependently(file) {
    for (const v of file.vectors) {
      const wrap = v.wrap as Record<string, string>;
      const hpke = v.hpke as Record<string, string>;
      const info = label(INFO_LABEL, cat(str(v.familyId as string), u64(v.epoch as number)));
      expectHex(info, v.info, 'HPKE info');
      const aad = label(AAD_LABEL, cat(str(wrap.recipientId!), u64(v.epoch as number)));
      expectHex(aad, v.aad, 'HPKE aad');
      const secret = hexOf(v.recipientSecret);
      // Encap from the documented ekm, and Decap with the recipient's private key, agree.
      const encap = v.name === 'x-wing' ? xwingEncap(hexOf(v.recipientKemKey), hexOf(v.ekm)) : dhkemX25519Encap(hexOf(v.recipientAgreementKey), hexOf(v.ekm));
      expectHex(encap.enc, wrap.enc, `${v.name as string} enc`);
      expectHex(encap.sharedSecret, hpke.sharedSecret, `${v.name as string} shared secret`);
      if (v.name === 'x-wing') expectHex(ml_kem768_x25519.decapsulate(hexOf(wrap.enc), secret.subarray(65, 97)), hpke.sharedSecret, 'X-Wing decapsulation');
      else expectHex(dhkemX25519Decap(hexOf(wrap.enc), secret.subarray(33, 65)), hpke.sharedSecret, 'DHKEM(X25519) decapsulation');
      const schedule = keySchedule(Number(hpke.kemId), encap.sharedSecret, info);
      expectHex(schedule.key, hpke.aeadKey, `${v.name as string} AEAD key`);
      expectHex(schedule.baseNonce, hpke.baseNonce, `${v.name as string} base nonce`);
      expectHex(await sealOnce(schedule.key, schedule.baseNonce, aad, hexOf(v.familyKey)), wrap.ciphertext, `${v.name as string} ciphertext`);
      const sizes = v.sizes as { enc: number; ciphertext: number };
      if (wrap.enc!.length !== 2 * sizes.enc || wrap.ciphertext!.length !== 2 * sizes.ciphertext) throw new Error(`${v.name as string} sizes`);
    }
  },
};
