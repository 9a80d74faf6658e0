/** Signed receipts (docs/protocol.md, "Receipts"): body, signed bytes, signature; a tampered byte is refused. */
import { encodeReceiptBody, signReceipt, verifyReceiptSignature, type SignedReceipt } from '../../../src/crypto/receipt.js';
import { labelled } from '../../../src/crypto/canonical.js';
import { SIGNATURE_LABELS } from '../../../src/crypto/signature.js';
import { CHILD_ID, FAMILY_ID, T0, TOY_ID, vectorFamily } from '../family.js';
import { cat, ed25519Verifies, expectHex, hexOf, labelled as label, str, u64, u8 } from '../independent.js';
import { fixedBytes, flipByte, hex, publicKeysHex, type Construction } from '../support.js';

export const receipt: Construction = {
  name: 'receipt',
  async generate() {
    const family = await vectorFamily();
    const body: Omit<SignedReceipt, 'signature'> = {
      familyId: FAMILY_ID,
      messageId: fixedBytes('message-id', 16),
      kind: 'played',
      signerId: TOY_ID,
      rosterEpoch: 1,
      rosterHead: family.hashes[1]!,
      at: T0 + 300_000,
    };
    const signed = await signReceipt(family.toy, body);
    const bodyBytes = encodeReceiptBody(body);
    const tampered = { ...signed, at: signed.at + 1 };
    return {
      construction: 'receipt',
      version: { receipt: bodyBytes[0]! },
      spec: 'Receipts',
      description: `A toy's receipt that it played a message, signed with the toy's Ed25519 key (child ${CHILD_ID}).`,
      vectors: [
        {
          name: 'played-by-toy',
          inputs: { familyId: body.familyId, messageId: hex(body.messageId), kind: body.kind, kindCode: 2, signerId: body.signerId, rosterEpoch: body.rosterEpoch, rosterHead: hex(body.rosterHead), at: body.at, signer: publicKeysHex(family.toy) },
          label: SIGNATURE_LABELS.receipt,
          body: hex(bodyBytes),
          signedBytes: hex(labelled(SIGNATURE_LABELS.receipt, bodyBytes)),
          signature: hex(signed.signature),
        },
      ],
      refusals: [
        {
          name: 'tampered-time',
          change: '`at` is one millisecond later than signed; the signature no longer verifies',
          input: { body: hex(encodeReceiptBody(tampered)), signature: hex(signed.signature) },
          expected: (await verifyReceiptSignature(tampered, family.toy.publicKeys.signingKey)) ? 'accepted' : 'receipt/bad-signature',
        },
        {
          name: 'tampered-signature',
          change: 'one bit of the signature flipped',
          input: { body: hex(bodyBytes), signature: hex(flipByte(signed.signature, 10)) },
          expected: (await verifyReceiptSignature({ ...signed, signature: flipByte(signed.signature, 10) }, family.toy.publicKeys.signingKey)) ? 'accepted' : 'receipt/bad-signature',
        },
      ],
    };
  },
  checkIndependently(file) {
    const v = file.vectors[0]!;
    const i = v.inputs as Record<string, unknown>;
    const body = cat(u8(1), str(i.familyId as string), hexOf(i.messageId), u8(i.kindCode as number), str(i.signerId as string), u64(i.rosterEpoch as number), hexOf(i.rosterHead), u64(i.at as number));
    expectHex(body, v.body, 'receipt body rebuilt from the documented layout');
    expectHex(label(v.label as string, body), v.signedBytes, 'receipt signed bytes');
    const key = (i.signer as Record<string, string>).signingKey;
    if (!ed25519Verifies(v.signature, label(v.label as string, body), key)) throw new Error('receipt signature does not verify with @noble/curves');
    for (const r of file.refusals) if (ed25519Verifies(r.input.signature, label(v.label as string, hexOf(r.input.body)), key)) throw new Error(`refusal ${r.name} verifies`);
  },
};
