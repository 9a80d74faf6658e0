/** The family security log chain (docs/protocol.md, "Family security log"): event bytes, hashes, signatures. */
import { ed25519 } from '@noble/curves/ed25519.js';
import { encodeFamilyLogEvent, FAMILY_LOG_GENESIS_HASH, FAMILY_LOG_HASH_LABEL, FAMILY_LOG_SIGNATURE_LABEL, familyLogSignedBytes, hashFamilyLogEvent, type FamilyLogEventBody } from '../../../src/crypto/family-log.js';
import { FAMILY_ID, MUM_ID, T0, TOY_ID } from '../family.js';
import { cat, ed25519Verifies, expectHex, hexOf, labelled, sha256, str, u32, u64, u8 } from '../independent.js';
import { fixedBytes, hex, type Construction } from '../support.js';

const EVENTS: FamilyLogEventBody[] = [
  { familyId: FAMILY_ID, seq: 1, at: T0, kind: 'family-created', actorId: MUM_ID, details: {} },
  { familyId: FAMILY_ID, seq: 2, at: T0 + 60_000, kind: 'toy-added', actorId: MUM_ID, subjectId: TOY_ID, details: { epoch: 1, via: 'pairing' } },
];

export const familyLog: Construction = {
  name: 'family-log',
  async generate() {
    // The server's log key is an Ed25519 key of its own (secrets file); a fixed seed here.
    const seed = fixedBytes('family-log-key');
    const logKey = ed25519.getPublicKey(seed);
    let previous: Uint8Array = FAMILY_LOG_GENESIS_HASH;
    const vectors = [];
    for (const event of EVENTS) {
      const hash = await hashFamilyLogEvent(event, previous);
      vectors.push({
        name: `seq-${event.seq}`,
        event,
        eventBytes: hex(encodeFamilyLogEvent(event)),
        previousHash: hex(previous),
        hash: hex(hash),
        signature: hex(ed25519.sign(familyLogSignedBytes(hash), seed)),
      });
      previous = hash;
    }
    return {
      construction: 'family-log',
      version: { hashLabel: 1, signatureLabel: 1 },
      spec: 'Family security log',
      description: `Two events of a family's security log, chained and signed with the log key ${hex(logKey)} (Ed25519 seed ${hex(seed)}).`,
      vectors: vectors.map((v) => ({ ...v, logKey: hex(logKey), hashLabel: FAMILY_LOG_HASH_LABEL, signatureLabel: FAMILY_LOG_SIGNATURE_LABEL })),
      refusals: [],
    };
  },
  checkIndependently(file) {
    for (const v of file.vectors) {
      const e = v.event as FamilyLogEventBody;
      const keys = Object.keys(e.details).sort();
      const details = keys.map((k) => {
        const value = e.details[k]!;
        return cat(str(k), typeof value === 'number' ? cat(u8(1), u64(value)) : cat(u8(2), str(value)));
      });
      const bytes = cat(str(e.familyId), u64(e.seq), u64(e.at), str(e.kind), str(e.actorId), e.subjectId === undefined ? u8(0) : cat(u8(1), str(e.subjectId)), u32(keys.length), ...details);
      expectHex(bytes, v.eventBytes, `event ${e.seq} bytes`);
      const hash = sha256(labelled(v.hashLabel as string, cat(bytes, hexOf(v.previousHash))));
      expectHex(hash, v.hash, `event ${e.seq} hash`);
      if (!ed25519Verifies(v.signature, labelled(v.signatureLabel as string, hash), v.logKey)) throw new Error(`event ${e.seq} signature`);
    }
  },
};
