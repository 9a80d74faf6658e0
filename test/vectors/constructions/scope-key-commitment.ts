/** The scope-key commitment (docs/protocol.md, "Key hierarchy", commitments): commitKey and the HMAC. */
import { CanonicalWriter, labelled } from '../../../src/crypto/canonical.js';
import { deriveKey } from '../../../src/crypto/kdf.js';
import { FAMILY_SCOPE } from '../../../src/crypto/key-scopes.js';
import { SCOPE_KEY_COMMITMENT_LABEL, scopeKeyCommitment } from '../../../src/crypto/scope-key.js';
import { CHILD_ID, FAMILY_ID, fixedScopeKey, vectorFamily } from '../family.js';
import { cat, expectHex, hexOf, hkdfSha256, hmacSha256, labelled as label, str, u64 } from '../independent.js';
import { hex, type Construction } from '../support.js';

export const scopeKeyCommitmentConstruction: Construction = {
  name: 'scope-key-commitment',
  async generate() {
    const family = await vectorFamily();
    const vectors = [];
    // The family-wide key of generation 0 (the genesis) and the child's keys of generations 1 and 3.
    for (const [scope, generation] of [[FAMILY_SCOPE, 0], [CHILD_ID, 1], [CHILD_ID, 3]] as const) {
      const key = fixedScopeKey(scope, generation);
      const message = labelled(SCOPE_KEY_COMMITMENT_LABEL, new CanonicalWriter().string(FAMILY_ID).string(scope).u64(generation).finish());
      const commitment = await scopeKeyCommitment({ familyId: FAMILY_ID, scope, generation, key });
      const signed = family.chain.find((e) => e.scopeKeys.some((k) => k.scope === scope && k.generation === generation && hex(k.commitment) === hex(commitment)));
      if (signed === undefined) throw new Error(`no entry of the vector family commits to ${generation}/${scope}`);
      vectors.push({
        name: `${scope === FAMILY_SCOPE ? 'family' : 'child'}-generation-${generation}`,
        inputs: { familyId: FAMILY_ID, scope, generation, scopeKey: hex(key) },
        label: SCOPE_KEY_COMMITMENT_LABEL,
        commitKey: hex(await deriveKey(key, SCOPE_KEY_COMMITMENT_LABEL)),
        macInput: hex(message),
        commitment: hex(commitment),
        signedAtEpoch: signed.epoch,
      });
    }
    return {
      construction: 'scope-key-commitment',
      version: { label: 1 },
      spec: 'Key hierarchy (`key-scopes.ts`, `scope-key.ts`)',
      description: 'The commitments roster entries carry (`scopeKeys[].commitment`) to scope keys of the vector family: the family-wide scope ("") at generation 0, the child\'s scope at generations 1 and 3. `signedAtEpoch` is the entry of roster-entry.json that starts that generation.',
      vectors,
      refusals: [],
    };
  },
  checkIndependently(file) {
    for (const v of file.vectors) {
      const i = v.inputs as Record<string, unknown>;
      const commitKey = hkdfSha256(hexOf(i.scopeKey), new Uint8Array(0), v.label as string);
      expectHex(commitKey, v.commitKey, 'commitKey');
      const message = label(v.label as string, cat(str(i.familyId as string), str(i.scope as string), u64(i.generation as number)));
      expectHex(message, v.macInput, 'commitment MAC input');
      expectHex(hmacSha256(commitKey, message), v.commitment, 'commitment');
    }
  },
};
