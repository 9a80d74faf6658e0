/**
 * Roster entries in their current form (docs/protocol.md, "The family roster", "Key hierarchy"):
 * body, signature, encoding and hash of each entry of the vector family, the scope keys each entry
 * commits to, the quiet hours sealed once per scope, and the refusals a verifier must make.
 */
import { CanonicalWriter } from '../../../src/crypto/canonical.js';
import { deriveKey } from '../../../src/crypto/kdf.js';
import { decodeRosterEntry, encodeRosterEntry, encodeRosterEntryBody, signRosterEntry, verifyRoster, type RosterEntry } from '../../../src/crypto/roster.js';
import { SIGNATURE_LABELS } from '../../../src/crypto/signature.js';
import { GRAN_ID, MUM_ID, SETTINGS, fixedScopeKey, vectorFamily } from '../family.js';
import { cat, ed25519Verifies, expectHex, hexOf, hkdfSha256, hmacSha256, labelled, sha256, str, toHexString, u32, u64, u8 } from '../independent.js';
import { hex, withFixedRandom, type Construction } from '../support.js';

const HASH_LABEL = 'burrow/roster-hash/v1';
const QUIET_HOURS_LABEL = 'burrow/quiet-hours/v2';

function entryJson(entry: RosterEntry): Record<string, unknown> {
  const keys = (k: RosterEntry['members'][number]['keys']) => ({ signingKey: hex(k.signingKey), agreementKey: hex(k.agreementKey), ...(k.kemKey ? { kemKey: hex(k.kemKey) } : {}) });
  return {
    version: entry.version,
    familyId: entry.familyId,
    epoch: entry.epoch,
    createdAt: entry.createdAt,
    previousHash: hex(entry.previousHash),
    scopeKeys: entry.scopeKeys.map((k) => ({ scope: k.scope, generation: k.generation, commitment: hex(k.commitment) })),
    members: entry.members.map((m) => ({ accountId: m.accountId, role: m.role, keys: keys(m.keys), children: m.children ?? [], needsApproval: m.needsApproval === true })),
    toys: entry.toys.map((t) => ({ toyId: t.toyId, keys: keys(t.keys), childId: t.childId })),
    children: entry.children,
    settings: {
      volumeLimit: entry.settings.volumeLimit,
      retentionDays: entry.settings.retentionDays,
      ...(entry.settings.sealedQuietHours === undefined ? {} : { sealedQuietHours: entry.settings.sealedQuietHours.map(hex) }),
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

/** Where `needle` first occurs in `haystack`. */
function offsetOf(haystack: Uint8Array, needle: Uint8Array): number {
  for (let at = 0; at + needle.length <= haystack.length; at++) if (needle.every((b, i) => haystack[at + i] === b)) return at;
  throw new Error('not found');
}

interface KeysJson { signingKey: string; agreementKey: string; kemKey?: string }
interface ScopeKeyJson { scope: string; generation: number; commitment: string }
interface EntryJson {
  version: number; familyId: string; epoch: number; createdAt: number; previousHash: string; scopeKeys: ScopeKeyJson[];
  members: { accountId: string; role: string; keys: KeysJson; children: string[]; needsApproval: boolean }[];
  toys: { toyId: string; keys: KeysJson; childId: string }[];
  children: string[];
  settings: { volumeLimit: number; retentionDays: number; sealedQuietHours?: string[]; toyToToy?: boolean };
  kept: string[]; signerId: string;
}

/** The body as docs/protocol.md ("The family roster") lays it out, from the entry's fields. */
function bodyFromLayout(e: EntryJson): Uint8Array {
  const keys = (k: KeysJson) => cat(hexOf(k.signingKey), hexOf(k.agreementKey), k.kemKey === undefined ? u8(0) : cat(u8(1), hexOf(k.kemKey)));
  const list = (items: string[]) => cat(u32(items.length), ...items.map(str));
  const s = e.settings;
  const sealed = s.sealedQuietHours ?? [];
  return cat(
    u8(e.version), str(e.familyId), u64(e.epoch), u64(e.createdAt), hexOf(e.previousHash),
    u32(e.scopeKeys.length), ...e.scopeKeys.map((k) => cat(str(k.scope), u64(k.generation), hexOf(k.commitment))),
    u32(e.members.length), ...e.members.map((m) => cat(str(m.accountId), u8(m.role === 'guardian' ? 1 : 2), keys(m.keys), list(m.children), u8(m.needsApproval ? 1 : 0))),
    u32(e.toys.length), ...e.toys.map((t) => cat(str(t.toyId), keys(t.keys), str(t.childId))),
    list(e.children),
    u8(s.volumeLimit), Uint8Array.of(s.retentionDays >>> 8, s.retentionDays & 255),
    // The quiet hours, one sealed copy per scope (u32 count, then u32 length ‖ sealed bytes each).
    u32(sealed.length), ...sealed.map((c) => cat(u32(hexOf(c).length), hexOf(c))),
    u8(s.toyToToy === true ? 1 : 0),
    u32(e.kept.length), ...e.kept.map(hexOf),
    str(e.signerId),
  );
}

/** Who holds each scope's key, from the documented rule: every member the family-wide one; guardians, relatives allowed the child and the child's toys a child's. */
function holdersOf(e: EntryJson): Map<string, string[]> {
  const id = (who: string, k: KeysJson) => `${who}:${k.signingKey}:${k.agreementKey}:${k.kemKey ?? ''}`;
  // The entry lists its children; each has a scope.
  const children = e.children;
  const out = new Map<string, string[]>([['', e.members.map((m) => id(m.accountId, m.keys))]]);
  for (const child of children) {
    out.set(child, [
      ...e.members.filter((m) => m.role === 'guardian' || m.children.includes(child)).map((m) => id(m.accountId, m.keys)),
      ...e.toys.filter((t) => t.childId === child).map((t) => id(t.toyId, t.keys)),
    ]);
  }
  return out;
}

/** The rotation rule from the document: each scope starts a generation at this epoch, or keeps the one before — never when it loses a holder. */
function rotationRuleHolds(previous: EntryJson, entry: EntryJson): boolean {
  const before = holdersOf(previous);
  const after = holdersOf(entry);
  if (JSON.stringify([...after.keys()]) !== JSON.stringify(entry.scopeKeys.map((k) => k.scope))) return false;
  return entry.scopeKeys.every((k) => {
    if (k.generation === entry.epoch) return true;
    const old = previous.scopeKeys.find((p) => p.scope === k.scope);
    const losesHolder = (before.get(k.scope) ?? []).some((h) => !after.get(k.scope)!.includes(h));
    return old !== undefined && !losesHolder && old.generation === k.generation && old.commitment === k.commitment;
  });
}

export const rosterEntry: Construction = {
  name: 'roster-entry',
  async generate() {
    const family = await vectorFamily();
    const [genesis, second, third] = family.chain as [RosterEntry, RosterEntry, RosterEntry, RosterEntry];
    const vectors = [];
    for (const [i, entry] of family.chain.entries()) {
      const body = encodeRosterEntryBody(entry);
      const quietHours = [];
      for (const [n, k] of entry.scopeKeys.entries()) {
        const sealed = entry.settings.sealedQuietHours![n]!;
        quietHours.push({
          scope: k.scope,
          key: hex(await deriveKey(fixedScopeKey(k.scope, k.generation), QUIET_HOURS_LABEL)),
          aad: hex(labelled(QUIET_HOURS_LABEL, new CanonicalWriter().string(entry.familyId).u64(entry.epoch).string(k.scope).finish())),
          nonce: hex(sealed.subarray(1, 13)),
          plaintext: hex(new CanonicalWriter().string(SETTINGS.quietHours!.start).string(SETTINGS.quietHours!.end).string(SETTINGS.quietHours!.timeZone).finish()),
        });
      }
      vectors.push({
        name: `epoch-${entry.epoch}`,
        entry: entryJson(entry),
        scopeKeys: entry.scopeKeys.map((k) => ({ scope: k.scope, generation: k.generation, key: hex(fixedScopeKey(k.scope, k.generation)), fresh: k.generation === entry.epoch })),
        quietHours,
        body: hex(body),
        signedBytes: hex(labelled(SIGNATURE_LABELS.rosterEntry, body)),
        signature: hex(entry.signature),
        encoded: hex(encodeRosterEntry(entry)),
        hash: hex(family.hashes[i]!),
      });
    }
    const encodedSecond = encodeRosterEntry(second);
    // A bit inside Mum's signing key in epoch 1: a decodable entry whose signature no longer matches.
    const tamperedAt = offsetOf(encodedSecond, family.mum.publicKeys.signingKey) + 5;
    const tamperedBytes = encodedSecond.slice();
    tamperedBytes[tamperedAt] = tamperedBytes[tamperedAt]! ^ 1;
    const tampered = decodeRosterEntry(tamperedBytes);
    const keysOf = (entry: RosterEntry) => entry.scopeKeys.map((k) => ({ scope: k.scope, generation: k.generation, key: fixedScopeKey(k.scope, k.generation) }));
    const grans = await withFixedRandom('roster-entry/gran', () =>
      signRosterEntry({ familyId: genesis.familyId, epoch: 2, previousHash: family.hashes[1]!, members: second.members, toys: second.toys, settings: SETTINGS, signerId: GRAN_ID, scopeKeys: keysOf(second), createdAt: third.createdAt }, family.gran),
    );
    // Epoch 2 as Mum could sign it without rotating: Gran loses the sibling, yet the sibling's key of generation 1 stays.
    const notRotated = await withFixedRandom('roster-entry/not-rotated', () =>
      signRosterEntry({ familyId: genesis.familyId, epoch: 2, previousHash: family.hashes[1]!, members: third.members, toys: third.toys, settings: SETTINGS, signerId: MUM_ID, scopeKeys: keysOf(second), createdAt: third.createdAt }, family.mum),
    );
    return {
      construction: 'roster-entry',
      version: { entry: genesis.version, quietHoursLabel: 2 },
      spec: 'The family roster (`roster.ts`)',
      description: 'The four entries of the vector family (see docs/vectors/README.md): genesis (Mum alone: the family-wide scope only); Gran, allowed both children, and a toy of each child join (each child\'s scope starts at generation 1); Gran is narrowed to the first child (the sibling\'s scope alone starts generation 2); Gran is removed (the family-wide and the first child\'s scopes start generation 3). `scopeKeys` gives the key behind each commitment (`fresh`: its generation starts at this entry); `quietHours` the opening of each sealed copy, in `scopeKeys` order.',
      vectors,
      refusals: [
        { name: 'rolled-back', change: 'a device that verified epoch 3 is served only epochs 0–2', input: { chain: [vectors[0]!.encoded, vectors[1]!.encoded, vectors[2]!.encoded], trustedEntry: vectors[3]!.encoded }, expected: await code(verifyRoster(family.chain.slice(0, 3), { trustedEntry: family.chain[3]! })) },
        { name: 'tampered-byte', change: `one bit of epoch 1 flipped (byte ${tamperedAt}, inside Mum's signing key)`, input: { chain: [vectors[0]!.encoded, hex(tamperedBytes)], genesisHash: vectors[0]!.hash }, expected: tampered.ok ? await code(verifyRoster([genesis, tampered.value], { genesisHash: family.hashes[0]! })) : tampered.code },
        { name: 'signer-not-guardian', change: 'an epoch 2 signed by Gran, a relative', input: { chain: [vectors[0]!.encoded, vectors[1]!.encoded, hex(encodeRosterEntry(grans))], genesisHash: vectors[0]!.hash }, expected: await code(verifyRoster([genesis, second, grans], { genesisHash: family.hashes[0]! })) },
        { name: 'key-not-rotated', change: 'epoch 2 signed by Mum narrowing Gran to the first child, but keeping the sibling\'s key of generation 1 that Gran holds', input: { chain: [vectors[0]!.encoded, vectors[1]!.encoded, hex(encodeRosterEntry(notRotated))], genesisHash: vectors[0]!.hash }, expected: await code(verifyRoster([genesis, second, notRotated], { genesisHash: family.hashes[0]! })) },
      ],
    };
  },
  async checkIndependently(file) {
    let previous = new Uint8Array(32);
    let previousEntry: EntryJson | undefined;
    for (const v of file.vectors) {
      const name = v.name as string;
      const body = hexOf(v.body);
      const e = v.entry as EntryJson;
      expectHex(bodyFromLayout(e), v.body, `${name} body rebuilt from the documented layout`);
      expectHex(previous, e.previousHash, `${name} previousHash links to the hash before`);
      const encoded = cat(body, u32(64), hexOf(v.signature));
      expectHex(encoded, v.encoded, `${name} encoding`);
      const hash = sha256(labelled(HASH_LABEL, encoded));
      expectHex(hash, v.hash, `${name} hash`);
      const signer = e.members.find((m) => m.accountId === e.signerId)!;
      // Every entry of the vector family is signed by Mum, a guardian of the entry before (and of the genesis).
      if (!ed25519Verifies(v.signature, labelled('burrow/roster-entry/v1', body), signer.keys.signingKey)) throw new Error(`${name} signature`);
      if (previousEntry === undefined ? e.scopeKeys.some((k) => k.generation !== 0) : !rotationRuleHolds(previousEntry, e)) throw new Error(`${name} breaks the rotation rule`);
      // Each scope's commitment is to the given key; each sealed copy opens under its scope's key.
      const keys = v.scopeKeys as { scope: string; generation: number; key: string }[];
      const quiet = v.quietHours as { scope: string; key: string; aad: string; nonce: string; plaintext: string }[];
      for (const [n, k] of e.scopeKeys.entries()) {
        const given = keys[n]!;
        if (given.scope !== k.scope || given.generation !== k.generation) throw new Error(`${name} scope key ${n}`);
        const commitKey = hkdfSha256(hexOf(given.key), new Uint8Array(0), 'burrow/scope-key-commitment/v1');
        expectHex(hmacSha256(commitKey, labelled('burrow/scope-key-commitment/v1', cat(str(e.familyId), str(k.scope), u64(k.generation)))), k.commitment, `${name} commitment of scope ${n}`);
        const quietKey = hkdfSha256(hexOf(given.key), new Uint8Array(0), QUIET_HOURS_LABEL);
        expectHex(quietKey, quiet[n]!.key, `${name} quiet-hours key of scope ${n}`);
        const aad = labelled(QUIET_HOURS_LABEL, cat(str(e.familyId), u64(e.epoch), str(k.scope)));
        expectHex(aad, quiet[n]!.aad, `${name} quiet-hours aad of scope ${n}`);
        const sealed = hexOf(e.settings.sealedQuietHours![n]);
        expectHex(sealed.subarray(1, 13), quiet[n]!.nonce, `${name} quiet-hours nonce of scope ${n}`);
        const aes = await crypto.subtle.importKey('raw', quietKey as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['decrypt']);
        const plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.slice(1, 13), additionalData: cat(u8(sealed[0]!), aad) as Uint8Array<ArrayBuffer> }, aes, sealed.slice(13)));
        expectHex(plain, quiet[n]!.plaintext, `${name} quiet hours of scope ${n}`);
        expectHex(plain, toHexString(cat(str('19:30'), str('07:00'), str('Europe/Berlin'))), `${name} quiet hours are three strings`);
      }
      previous = hash;
      previousEntry = e;
    }

    // key-not-rotated: a validly signed epoch 2 whose scope list is epoch 1's unchanged, while the
    // honest epoch 2 (same members and toys) shows the sibling's scope losing Gran.
    const refusal = file.refusals.find((r) => r.name === 'key-not-rotated')!;
    const encoded = hexOf((refusal.input as { chain: string[] }).chain[2]);
    const [epoch1, epoch2] = [file.vectors[1]!.entry as EntryJson, file.vectors[2]!.entry as EntryJson];
    const { scopeKeys, bodyLength } = scopeKeysFromLayout(encoded);
    if (JSON.stringify(scopeKeys) !== JSON.stringify(epoch1.scopeKeys.map((k) => ({ ...k })))) throw new Error('key-not-rotated keeps epoch 1\'s scope keys');
    const mum = epoch1.members.find((m) => m.role === 'guardian')!;
    if (!ed25519Verifies(toHexString(encoded.subarray(bodyLength + 4)), labelled('burrow/roster-entry/v1', encoded.subarray(0, bodyLength)), mum.keys.signingKey)) throw new Error('key-not-rotated is signed by Mum');
    const lost = epoch1.scopeKeys.filter((k) => holdersOf(epoch1).get(k.scope)!.some((h) => !holdersOf(epoch2).get(k.scope)!.includes(h))).map((k) => k.scope);
    if (lost.length !== 1 || epoch2.scopeKeys.find((k) => k.scope === lost[0])!.generation !== 2) throw new Error('narrowing Gran rotates exactly the sibling\'s scope');
  },
};

/** The scope list of an encoded entry, read by the documented layout, and the body's length (before u32 64 ‖ signature). */
function scopeKeysFromLayout(encoded: Uint8Array): { scopeKeys: ScopeKeyJson[]; bodyLength: number } {
  const view = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  let at = 1;
  at += 4 + view.getUint32(at) + 8 + 8 + 32;
  const scopeKeys: ScopeKeyJson[] = [];
  for (let count = view.getUint32((at += 4) - 4); count > 0; count--) {
    const length = view.getUint32(at);
    const scope = new TextDecoder().decode(encoded.subarray(at + 4, at + 4 + length));
    at += 4 + length;
    const generation = Number(view.getBigUint64(at));
    scopeKeys.push({ scope, generation, commitment: toHexString(encoded.subarray(at + 8, at + 40)) });
    at += 40;
  }
  return { scopeKeys, bodyLength: encoded.length - 4 - 64 };
}
