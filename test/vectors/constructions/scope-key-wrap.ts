/**
 * Scope-key wraps in their current form (docs/protocol.md, "Key hierarchy", wraps): one per suite,
 * with fixed ephemeral key material (RFC 9180's ikmE; X-Wing's eseed), and the refusals of a
 * recipient, who takes a key only through `unwrapAndCheckScopeKey`.
 */
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { CanonicalWriter, labelled } from '../../../src/crypto/canonical.js';
import type { Identity } from '../../../src/crypto/identity.js';
import { FAMILY_SCOPE } from '../../../src/crypto/key-scopes.js';
import { verifyRoster } from '../../../src/crypto/roster.js';
import { commitmentsOf, unwrapAndCheckScopeKey, wrapScopeKey, type WrappedScopeKey } from '../../../src/crypto/scope-key.js';
import { WRAP_SUITE_SIZES } from '../../../src/crypto/wrap-suites.js';
import { CHILD_ID, FAMILY_ID, HEAD, MUM_ID, SIBLING_ID, TOY_ID, vectorFamily } from '../family.js';
import { dhkemX25519Decap, dhkemX25519Encap, keySchedule, sealOnce, xwingEncap } from '../hpke.js';
import { cat, expectHex, hexOf, labelled as label, str, u64 } from '../independent.js';
import { fixedBytes, fixedIdentitySecret, hex, type Construction } from '../support.js';

const INFO_LABEL = 'burrow/scope-key/v1';
const AAD_LABEL = 'burrow/scope-key-recipient/v1';

function wrapJson(wrap: WrappedScopeKey): Record<string, unknown> {
  return { suite: wrap.suite, recipientId: wrap.recipientId, scope: wrap.scope, generation: wrap.generation, enc: hex(wrap.enc), ciphertext: hex(wrap.ciphertext) };
}

const infoOf = (scope: string, generation: number) => labelled(INFO_LABEL, new CanonicalWriter().string(FAMILY_ID).string(scope).u64(generation).finish());
const aadOf = (recipientId: string, scope: string, generation: number) => labelled(AAD_LABEL, new CanonicalWriter().string(recipientId).string(scope).u64(generation).finish());

export const scopeKeyWrap: Construction = {
  name: 'scope-key-wrap',
  async generate() {
    const family = await vectorFamily();
    const head = family.chain[HEAD]!;
    const childGeneration = head.scopeKeys.find((k) => k.scope === CHILD_ID)!.generation;
    const familyGeneration = head.scopeKeys.find((k) => k.scope === FAMILY_SCOPE)!.generation;
    const childKey = family.keyFor(HEAD, CHILD_ID)!;
    const familyWideKey = family.keyFor(HEAD, FAMILY_SCOPE)!;
    const xwingEkm = fixedBytes('ekm/x-wing', 64);
    const x25519Ekm = fixedBytes('ekm/x25519', 32);
    const toyRecipient = { id: TOY_ID, agreementKey: family.toy.publicKeys.agreementKey, kemKey: family.toy.publicKeys.kemKey };
    const xwing = await wrapScopeKey({ familyId: FAMILY_ID, scope: CHILD_ID, generation: childGeneration, key: childKey, recipient: toyRecipient, ekm: xwingEkm });
    const classical = await wrapScopeKey({ familyId: FAMILY_ID, scope: FAMILY_SCOPE, generation: familyGeneration, key: familyWideKey, recipient: { id: MUM_ID, agreementKey: family.mum.publicKeys.agreementKey }, ekm: x25519Ekm });

    const roster = await verifyRoster(family.chain, { genesisHash: family.hashes[0]! });
    if (!roster.ok) throw new Error(roster.code);
    const commitments = commitmentsOf(roster.value.entries);
    const unwrapAs = async (wrap: WrappedScopeKey, recipientId: string, identity: Identity) => {
      const r = await unwrapAndCheckScopeKey({ wrap, familyId: FAMILY_ID, recipientId, identity, commitments });
      return r.ok ? 'accepted' : r.code;
    };
    if ((await unwrapAs(xwing, TOY_ID, family.toy)) !== 'accepted') throw new Error('the toy\'s wrap does not open');
    const forged = await wrapScopeKey({ familyId: FAMILY_ID, scope: CHILD_ID, generation: childGeneration, key: fixedBytes('scope-key/forged'), recipient: toyRecipient, ekm: xwingEkm });
    const siblingGeneration = head.scopeKeys.find((k) => k.scope === SIBLING_ID)!.generation;
    const relabelled = {
      recipient: { ...xwing, recipientId: MUM_ID },
      scope: { ...xwing, scope: SIBLING_ID, generation: siblingGeneration },
      // The child's scope has generations 1 and 3: 1 is signed, so the wrap reaches HPKE and fails there; 2 is not.
      signedGeneration: { ...xwing, generation: 1 },
      unknownGeneration: { ...xwing, generation: 2 },
    };

    const common = (scope: string, generation: number, key: Uint8Array) => ({ familyId: FAMILY_ID, scope, generation, scopeKey: hex(key), info: hex(infoOf(scope, generation)) });
    // RFC 9180's intermediates, from the independent implementation in ../hpke.ts (the check below
    // confirms they give the production wrap's enc and ciphertext).
    const schedule = (kemId: number, sharedSecret: Uint8Array, info: Uint8Array) => {
      const { key: aeadKey, baseNonce } = keySchedule(kemId, sharedSecret, info);
      return { kemId: `0x${kemId.toString(16).padStart(4, '0')}`, sharedSecret: hex(sharedSecret), aeadKey: hex(aeadKey), baseNonce: hex(baseNonce) };
    };
    const xwingHpke = schedule(0x647a, xwingEncap(family.toy.publicKeys.kemKey!, xwingEkm).sharedSecret, infoOf(CHILD_ID, childGeneration));
    const x25519Hpke = schedule(0x0020, dhkemX25519Encap(family.mum.publicKeys.agreementKey, x25519Ekm).sharedSecret, infoOf(FAMILY_SCOPE, familyGeneration));
    return {
      construction: 'scope-key-wrap',
      version: { infoLabel: 1, aadLabel: 1 },
      spec: 'Key hierarchy (`key-scopes.ts`, `scope-key.ts`)',
      description: `The head (epoch ${HEAD}) keys of the vector family: the child's scope key (generation ${childGeneration}) wrapped to the child's toy (X-Wing suite), and the family-wide key (scope "", generation ${familyGeneration}) to Mum as a classical recipient; private keys are the identity secrets of identity.json's scheme (\`recipientSecret\`). Refusals are judged against the commitments of roster-entry.json's chain.`,
      vectors: [
        { name: 'x-wing', ...common(CHILD_ID, childGeneration, childKey), recipientSecret: hex(fixedIdentitySecret('toy')), recipientKemKey: hex(family.toy.publicKeys.kemKey!), aad: hex(aadOf(TOY_ID, CHILD_ID, childGeneration)), ekm: hex(xwingEkm), hpke: xwingHpke, sizes: WRAP_SUITE_SIZES[xwing.suite], wrap: wrapJson(xwing) },
        { name: 'x25519', ...common(FAMILY_SCOPE, familyGeneration, familyWideKey), recipientSecret: hex(fixedIdentitySecret('mum')), recipientAgreementKey: hex(family.mum.publicKeys.agreementKey), aad: hex(aadOf(MUM_ID, FAMILY_SCOPE, familyGeneration)), ekm: hex(x25519Ekm), hpke: x25519Hpke, sizes: WRAP_SUITE_SIZES[classical.suite], wrap: wrapJson(classical) },
      ],
      refusals: [
        { name: 'key-not-committed', change: `a wrap to the toy of another key than the one epoch ${HEAD} commits to for the child's scope (what a server can make)`, input: { wrap: wrapJson(forged) }, expected: await unwrapAs(forged, TOY_ID, family.toy) },
        { name: 'relabelled-recipient', change: 'the toy\'s wrap served to Mum as hers', input: { wrap: wrapJson(relabelled.recipient) }, expected: await unwrapAs(relabelled.recipient, MUM_ID, family.mum) },
        { name: 'relabelled-scope', change: 'the toy\'s wrap of its child\'s key relabelled as the sibling\'s current key', input: { wrap: wrapJson(relabelled.scope) }, expected: await unwrapAs(relabelled.scope, TOY_ID, family.toy) },
        { name: 'relabelled-generation', change: 'the toy\'s wrap relabelled as the child\'s earlier generation 1 (signed at epoch 1)', input: { wrap: wrapJson(relabelled.signedGeneration) }, expected: await unwrapAs(relabelled.signedGeneration, TOY_ID, family.toy) },
        { name: 'unknown-generation', change: 'the toy\'s wrap relabelled as generation 2 of the child\'s scope, which no entry signs', input: { wrap: wrapJson(relabelled.unknownGeneration) }, expected: await unwrapAs(relabelled.unknownGeneration, TOY_ID, family.toy) },
      ],
    };
  },
  async checkIndependently(file) {
    for (const v of file.vectors) {
      const wrap = v.wrap as Record<string, string | number>;
      const hpke = v.hpke as Record<string, string>;
      const scope = v.scope as string;
      const generation = v.generation as number;
      if (wrap.scope !== scope || wrap.generation !== generation) throw new Error(`${v.name as string}: the wrap names another scope or generation`);
      const info = label(INFO_LABEL, cat(str(v.familyId as string), str(scope), u64(generation)));
      expectHex(info, v.info, 'HPKE info');
      const aad = label(AAD_LABEL, cat(str(wrap.recipientId as string), str(scope), u64(generation)));
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
      expectHex(await sealOnce(schedule.key, schedule.baseNonce, aad, hexOf(v.scopeKey)), wrap.ciphertext, `${v.name as string} ciphertext`);
      const sizes = v.sizes as { enc: number; ciphertext: number };
      if ((wrap.enc as string).length !== 2 * sizes.enc || (wrap.ciphertext as string).length !== 2 * sizes.ciphertext) throw new Error(`${v.name as string} sizes`);
    }
  },
};
