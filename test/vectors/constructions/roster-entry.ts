/**
 * Roster entries in their current form (docs/protocol.md, "The family roster"): body, signature,
 * encoding and hash of each entry of the vector family, and the refusals a verifier must make.
 */
import { decodeRosterEntry, encodeRosterEntry, encodeRosterEntryBody, signRosterEntry, verifyRoster, type RosterEntry } from '../../../src/crypto/roster.js';
import { SIGNATURE_LABELS } from '../../../src/crypto/signature.js';
import { GRAN_ID, vectorFamily } from '../family.js';
import { cat, ed25519Verifies, expectHex, hexOf, labelled, sha256, str, u32, u64, u8 } from '../independent.js';
import { fixedBytes, flipByte, hex, type Construction } from '../support.js';

const HASH_LABEL = 'burrow/roster-hash/v1';

function entryJson(entry: RosterEntry): Record<string, unknown> {
  const keys = (k: RosterEntry['members'][number]['keys']) => ({ signingKey: hex(k.signingKey), agreementKey: hex(k.agreementKey), ...(k.kemKey ? { kemKey: hex(k.kemKey) } : {}) });
  return {
    version: entry.version,
    familyId: entry.familyId,
    epoch: entry.epoch,
    createdAt: entry.createdAt,
    previousHash: hex(entry.previousHash),
    keyCommitment: hex(entry.keyCommitment),
    members: entry.members.map((m) => ({ accountId: m.accountId, role: m.role, keys: keys(m.keys), children: m.children ?? [], needsApproval: m.needsApproval === true })),
    toys: entry.toys.map((t) => ({ toyId: t.toyId, keys: keys(t.keys), childId: t.childId })),
    settings: {
      volumeLimit: entry.settings.volumeLimit,
      retentionDays: entry.settings.retentionDays,
      ...(entry.settings.sealedQuietHours === undefined ? {} : { sealedQuietHours: hex(entry.settings.sealedQuietHours) }),
      ...(entry.settings.toyToToy === true ? { toyToToy: true } : {}),
    },
    kept: entry.kept.map(hex),
    signerId: entry.signerId,
  };
}

async function code(result: Promise<{ ok: boolean; code?: string }>): Promise<string> {
  const r = await result;
  return r.ok ? 'accepted' : r.code!;
}

interface KeysJson { signingKey: string; agreementKey: string; kemKey?: string }
interface EntryJson {
  version: number; familyId: string; epoch: number; createdAt: number; previousHash: string; keyCommitment: string;
  members: { accountId: string; role: string; keys: KeysJson; children: string[]; needsApproval: boolean }[];
  toys: { toyId: string; keys: KeysJson; childId: string }[];
  settings: { volumeLimit: number; retentionDays: number; sealedQuietHours?: string; toyToToy?: boolean };
  kept: string[]; signerId: string;
}

/** The body as docs/protocol.md ("The family roster") lays it out, from the entry's fields. */
function bodyFromLayout(e: EntryJson): Uint8Array {
  const keys = (k: KeysJson) => cat(hexOf(k.signingKey), hexOf(k.agreementKey), k.kemKey === undefined ? u8(0) : cat(u8(1), hexOf(k.kemKey)));
  const list = (items: string[]) => cat(u32(items.length), ...items.map(str));
  const s = e.settings;
  return cat(
    u8(e.version), str(e.familyId), u64(e.epoch), u64(e.createdAt), hexOf(e.previousHash), hexOf(e.keyCommitment),
    u32(e.members.length), ...e.members.map((m) => cat(str(m.accountId), u8(m.role === 'guardian' ? 1 : 2), keys(m.keys), list(m.children), u8(m.needsApproval ? 1 : 0))),
    u32(e.toys.length), ...e.toys.map((t) => cat(str(t.toyId), keys(t.keys), str(t.childId))),
    u8(s.volumeLimit), Uint8Array.of(s.retentionDays >>> 8, s.retentionDays & 255),
    // The quiet hours, sealed (sealed-settings.ts): present flag, then u32 length ‖ the sealed bytes.
    s.sealedQuietHours === undefined ? u8(0) : cat(u8(1), u32(hexOf(s.sealedQuietHours).length), hexOf(s.sealedQuietHours)),
    u8(s.toyToToy === true ? 1 : 0),
    u32(e.kept.length), ...e.kept.map(hexOf),
    str(e.signerId),
  );
}

export const rosterEntry: Construction = {
  name: 'roster-entry',
  async generate() {
    const family = await vectorFamily();
    const [genesis, second, third] = family.chain as [RosterEntry, RosterEntry, RosterEntry];
    const vectors = family.chain.map((entry, i) => {
      const body = encodeRosterEntryBody(entry);
      return {
        name: `epoch-${entry.epoch}`,
        entry: entryJson(entry),
        familyKey: hex(family.keys[i]!),
        body: hex(body),
        signedBytes: hex(labelled(SIGNATURE_LABELS.rosterEntry, body)),
        signature: hex(entry.signature),
        encoded: hex(encodeRosterEntry(entry)),
        hash: hex(family.hashes[i]!),
      };
    });
    const encodedSecond = encodeRosterEntry(second);
    // Byte 200 lies inside Mum's keys: a decodable entry whose signature no longer matches.
    const tamperedBytes = flipByte(encodedSecond, 200);
    const tampered = decodeRosterEntry(tamperedBytes);
    const grans = await signRosterEntry({ familyId: genesis.familyId, epoch: 2, previousHash: family.hashes[1]!, members: second.members, toys: second.toys, settings: second.settings, signerId: GRAN_ID, familyKey: fixedBytes('family-key/forged'), createdAt: third.createdAt }, family.gran);
    return {
      construction: 'roster-entry',
      version: { entry: genesis.version },
      spec: 'The family roster (`roster.ts`)',
      description: 'The three entries of the vector family (see docs/vectors/README.md): genesis, Gran and the toy join, Gran is removed.',
      vectors,
      refusals: [
        { name: 'rolled-back', change: 'a device that verified epoch 2 is served only epochs 0–1', input: { chain: [vectors[0]!.encoded, vectors[1]!.encoded], trustedEntry: vectors[2]!.encoded }, expected: await code(verifyRoster([genesis, second], { trustedEntry: third })) },
        { name: 'tampered-byte', change: 'one bit of epoch 1 flipped (inside a signed key)', input: { chain: [vectors[0]!.encoded, hex(tamperedBytes)], genesisHash: vectors[0]!.hash }, expected: tampered.ok ? await code(verifyRoster([genesis, tampered.value], { genesisHash: family.hashes[0]! })) : tampered.code },
        { name: 'signer-not-guardian', change: 'epoch 2 signed by Gran, a relative', input: { chain: [vectors[0]!.encoded, vectors[1]!.encoded, hex(encodeRosterEntry(grans))], genesisHash: vectors[0]!.hash }, expected: await code(verifyRoster([genesis, second, grans], { genesisHash: family.hashes[0]! })) },
      ],
    };
  },
  checkIndependently(file) {
    let previous = new Uint8Array(32);
    for (const v of file.vectors) {
      const body = hexOf(v.body);
      expectHex(bodyFromLayout(v.entry as EntryJson), v.body, `${v.name as string} body rebuilt from the documented layout`);
      const entry = v.entry as { members: { accountId: string; role: string; keys: { signingKey: string } }[]; signerId: string; previousHash: string };
      expectHex(previous, entry.previousHash, `${v.name as string} previousHash links to the hash before`);
      const encoded = cat(body, u32(64), hexOf(v.signature));
      expectHex(encoded, v.encoded, `${v.name as string} encoding`);
      const hash = sha256(labelled(HASH_LABEL, encoded));
      expectHex(hash, v.hash, `${v.name as string} hash`);
      const signer = entry.members.find((m) => m.accountId === entry.signerId)!;
      // Every entry of the vector family is signed by Mum, a guardian of the entry before (and of the genesis).
      if (!ed25519Verifies(v.signature, labelled('burrow/roster-entry/v1', body), signer.keys.signingKey)) throw new Error(`${v.name as string} signature`);
      previous = hash;
    }
  },
};
