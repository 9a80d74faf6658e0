/** The family-key commitment (docs/protocol.md, "Key commitment"): commitKey and the HMAC. */
import { CanonicalWriter, labelled } from '../../../src/crypto/canonical.js';
import { deriveKey } from '../../../src/crypto/kdf.js';
import { FAMILY_KEY_COMMITMENT_LABEL, familyKeyCommitment } from '../../../src/crypto/key-commitment.js';
import { FAMILY_ID } from '../family.js';
import { expectHex, hexOf, hkdfSha256, hmacSha256, labelled as label, str, u64, cat } from '../independent.js';
import { fixedBytes, hex, type Construction } from '../support.js';

export const keyCommitment: Construction = {
  name: 'key-commitment',
  async generate() {
    const vectors = [];
    for (const epoch of [0, 1]) {
      const key = fixedBytes(`family-key/${epoch}`);
      const message = labelled(FAMILY_KEY_COMMITMENT_LABEL, new CanonicalWriter().string(FAMILY_ID).u64(epoch).finish());
      vectors.push({
        name: `epoch-${epoch}`,
        inputs: { familyId: FAMILY_ID, epoch, familyKey: hex(key) },
        label: FAMILY_KEY_COMMITMENT_LABEL,
        commitKey: hex(await deriveKey(key, FAMILY_KEY_COMMITMENT_LABEL)),
        macInput: hex(message),
        commitment: hex(await familyKeyCommitment({ familyId: FAMILY_ID, epoch, key })),
      });
    }
    return {
      construction: 'key-commitment',
      version: { label: 1 },
      spec: 'Key commitment',
      description: 'The commitment a roster entry carries to its epoch\'s family key.',
      vectors,
      refusals: [],
    };
  },
  checkIndependently(file) {
    for (const v of file.vectors) {
      const i = v.inputs as Record<string, unknown>;
      const commitKey = hkdfSha256(hexOf(i.familyKey), new Uint8Array(0), v.label as string);
      expectHex(commitKey, v.commitKey, 'commitKey');
      const message = label(v.label as string, cat(str(i.familyId as string), u64(i.epoch as number)));
      expectHex(message, v.macInput, 'commitment MAC input');
      expectHex(hmacSha256(commitKey, message), v.commitment, 'commitment');
    }
  },
};
