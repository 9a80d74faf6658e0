/** Approvals and declines (docs/protocol.md, "Approvals and declines"): the decision bytes and both signatures. */
import { approvalDecision, approveMessage, declineMessage } from '../../../src/crypto/envelope.js';
import { verifyRoster } from '../../../src/crypto/roster.js';
import { CanonicalWriter, labelled } from '../../../src/crypto/canonical.js';
import { SIGNATURE_LABELS } from '../../../src/crypto/signature.js';
import { FAMILY_ID, MUM_ID, vectorFamily } from '../family.js';
import { cat, ed25519Verifies, expectHex, hexOf, labelled as label, str, u64 } from '../independent.js';
import { fixedBytes, hex, publicKeysHex, type Construction } from '../support.js';

export const approval: Construction = {
  name: 'approval',
  async generate() {
    const family = await vectorFamily();
    const decision = {
      guardian: { accountId: MUM_ID, identity: family.mum },
      familyId: FAMILY_ID,
      messageId: fixedBytes('message-id', 16),
      ciphertextHash: fixedBytes('ciphertext-hash'),
      rosterEpoch: 1,
      rosterHead: family.hashes[1]!,
    };
    const approved = await approveMessage(decision);
    const declined = await declineMessage(decision);
    const bytes = new CanonicalWriter().string(FAMILY_ID).fixed(decision.messageId).fixed(decision.ciphertextHash).u64(1).fixed(decision.rosterHead).finish();
    const common = { guardianId: MUM_ID, familyId: FAMILY_ID, messageId: hex(decision.messageId), ciphertextHash: hex(decision.ciphertextHash), rosterEpoch: 1, rosterHead: hex(decision.rosterHead), guardian: publicKeysHex(family.mum) };
    // A decline's signature relayed as an approval must not count: the labels differ. Read at
    // epoch 1, where Gran's messages need approval, the message then still waits (a toy: needs-approval).
    const roster = await verifyRoster(family.chain.slice(0, 2), { genesisHash: family.hashes[0]! });
    if (!roster.ok) throw new Error(roster.code);
    const swapped = await approvalDecision(roster.value, { messageId: decision.messageId, ciphertextHash: decision.ciphertextHash, approvals: [{ ...approved, signature: declined.signature }] });
    const verdict = !swapped.ok ? swapped.code : swapped.value.state === 'waiting' ? 'envelope/needs-approval' : 'accepted';
    return {
      construction: 'approval',
      // Approvals and declines carry no version byte: their labels are versioned instead.
      version: { approvalLabel: 2, declineLabel: 1 },
      spec: 'Approvals and declines',
      description: 'A guardian approves, and declines, one exact message; both sign the same decision bytes under different labels.',
      vectors: [
        { name: 'approval', inputs: common, label: SIGNATURE_LABELS.approval, decisionBytes: hex(bytes), signedBytes: hex(labelled(SIGNATURE_LABELS.approval, bytes)), signature: hex(approved.signature) },
        { name: 'decline', inputs: common, label: SIGNATURE_LABELS.decline, decisionBytes: hex(bytes), signedBytes: hex(labelled(SIGNATURE_LABELS.decline, bytes)), signature: hex(declined.signature) },
      ],
      refusals: [
        { name: 'decline-as-approval', change: 'the decline signature relayed as an approval of the message (a toy at epoch 1 reads it)', input: { decisionBytes: hex(bytes), signature: hex(declined.signature), label: SIGNATURE_LABELS.approval }, expected: verdict },
      ],
    };
  },
  checkIndependently(file) {
    for (const v of file.vectors) {
      const i = v.inputs as Record<string, unknown>;
      const bytes = cat(str(i.familyId as string), hexOf(i.messageId), hexOf(i.ciphertextHash), u64(i.rosterEpoch as number), hexOf(i.rosterHead));
      expectHex(bytes, v.decisionBytes, `${v.name as string} decision bytes`);
      if (!ed25519Verifies(v.signature, label(v.label as string, bytes), (i.guardian as Record<string, string>).signingKey)) throw new Error(`${v.name as string} signature does not verify`);
    }
  },
};
