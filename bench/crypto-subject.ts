/**
 * What the crypto benchmark measures against raw AES-256-GCM: one voice message sealed and
 * signed by a guardian (`sealMessage`), then verified against the family's verified roster and
 * opened by a toy (`openAndVerifyMessage`), exactly as clients do it (src/crypto/envelope.ts).
 */
import { sealMessage, openAndVerifyMessage } from '../src/crypto/envelope.js';
import { generateIdentity } from '../src/crypto/identity.js';
import { randomBytes } from '../src/crypto/bytes.js';
import { createGenesisEntry, verifyRoster, hashRosterEntry } from '../src/crypto/roster.js';
import { generateFamilyKey } from '../src/crypto/family-key.js';

/** Names the code under test in the report. */
export const MESSAGE_SUBJECT = 'sealMessage / openAndVerifyMessage (src/crypto/envelope.ts)';

/** A prepared sender and recipient for one plaintext. */
export interface MessageSubject {
  seal(): Promise<Uint8Array>;
  open(sealed: Uint8Array): Promise<Uint8Array>;
}

/** Sets up a family (a guardian and a toy), its roster and epoch key; seal and open then do the per-message work. */
export async function prepareMessageSubject(audio: Uint8Array): Promise<MessageSubject> {
  const [guardian, toy] = await Promise.all([generateIdentity(), generateIdentity()]);
  const genesis = await createGenesisEntry({
    familyId: 'bench-family',
    creator: { accountId: 'guardian-1', identity: guardian },
    settings: { volumeLimit: 70, retentionDays: 30 },
    toys: [{ toyId: 'toy-1', keys: toy.publicKeys, childId: 'child-1' }],
    familyKey: generateFamilyKey(),
  });
  const verified = await verifyRoster([genesis], { genesisHash: await hashRosterEntry(genesis) });
  if (!verified.ok) throw new Error(`benchmark roster did not verify: ${verified.code}`);
  const roster = verified.value;
  const familyKey = randomBytes(32);
  return {
    async seal() {
      const sealed = await sealMessage({
        familyId: 'bench-family', epoch: 0, rosterHead: new Uint8Array(32), familyKey,
        sender: { accountId: 'guardian-1', identity: guardian },
        recipients: ['child-1'], audio, audioType: 'audio/webm;codecs=opus', durationMs: 60_000, createdAt: 1_764_201_600_000,
      });
      return sealed.bytes;
    },
    async open(sealed) {
      const opened = await openAndVerifyMessage(sealed, { roster, familyKeyForEpoch: () => familyKey });
      if (!opened.ok) throw new Error(`benchmark message did not open: ${opened.code}`);
      return opened.value.audio;
    },
  };
}
