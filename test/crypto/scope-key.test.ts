/**
 * Scope keys (issue #16; what family-key.test.ts and key-commitment.test.ts proved of the single
 * family key, now for one key per scope and generation): the commitment's construction, computed
 * independently with @noble/hashes, and what it binds; wraps that open only for their family,
 * recipient, scope and generation; a key the server chose refused; both suites, the HPKE known
 * answers beneath them, and malformed wraps. Runs in Node and in Chromium (crypto-browser project).
 */
import { Aes128Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { bytesEqual, concatBytes, fromHex, randomBytes, toHex, utf8 } from '../../src/crypto/bytes.js';
import { sealMessage, openAndVerifyMessage } from '../../src/crypto/envelope.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { FAMILY_SCOPE, planGenerations, wrapsForChange, type ScopedContents } from '../../src/crypto/key-scopes.js';
import { hashRosterEntry, verifyRoster } from '../../src/crypto/roster.js';
import { commitmentsOf, generateScopeKey, SCOPE_KEY_COMMITMENT_LABEL, scopeKeyCommitment, unwrapAndCheckScopeKey, wrapScopeKey, type ScopeKeyCommitment, type WrappedScopeKey } from '../../src/crypto/scope-key.js';
import { createGenesisEntry, type Member, type Toy } from '../../src/crypto/roster.js';
import { guardianOf, person, relativeOf, settings, toyOf, type Person } from './fixtures.js';

// RFC 9180 Appendix A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode.
// RFC 9180 publishes no X25519/AES-256-GCM appendix; this vector pins the KEM and key schedule that
// Burrow's suite shares, through the same library, and proves it interoperates with the RFC.
const A11 = {
  info: '4f6465206f6e2061204772656369616e2055726e',
  ikmE: '7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234',
  ikmR: '6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037',
  pkRm: '3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d',
  skRm: '4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8',
  enc: '37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431',
  pt: '4265617574792069732074727574682c20747275746820626561757479',
  aad0: '436f756e742d30',
  ct0: 'f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a',
};

describe('HPKE known-answer vectors (RFC 9180 A.1.1)', () => {
  const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes128Gcm() });

  it('DeriveKeyPair(ikmR) gives the RFC recipient key pair', async () => {
    const pair = await suite.kem.deriveKeyPair(new Uint8Array(fromHex(A11.ikmR)).buffer);
    expect(toHex(new Uint8Array(await suite.kem.serializePublicKey(pair.publicKey)))).toBe(A11.pkRm);
    expect(toHex(new Uint8Array(await suite.kem.serializePrivateKey(pair.privateKey)))).toBe(A11.skRm);
  });

  it('sealing with the RFC ephemeral key gives the RFC enc and ciphertext', async () => {
    const recipientPublicKey = await suite.kem.deserializePublicKey(new Uint8Array(fromHex(A11.pkRm)));
    const sender = await suite.createSenderContext({ recipientPublicKey, info: new Uint8Array(fromHex(A11.info)), ekm: new Uint8Array(fromHex(A11.ikmE)) });
    const ct = await sender.seal(new Uint8Array(fromHex(A11.pt)), new Uint8Array(fromHex(A11.aad0)));
    expect(toHex(new Uint8Array(sender.enc))).toBe(A11.enc);
    expect(toHex(new Uint8Array(ct))).toBe(A11.ct0);
  });

  it('opening the RFC ciphertext with the RFC skR gives the RFC plaintext', async () => {
    const recipientKey = await suite.kem.importKey('raw', new Uint8Array(fromHex(A11.skRm)).buffer, false);
    const pt = await suite.open({ recipientKey, enc: new Uint8Array(fromHex(A11.enc)), info: new Uint8Array(fromHex(A11.info)) }, new Uint8Array(fromHex(A11.ct0)), new Uint8Array(fromHex(A11.aad0)));
    expect(toHex(new Uint8Array(pt))).toBe(A11.pt);
  });
});

const FAMILY = 'fam-scopes';

/**
 * A guardian's first entry for a family with two children (A, B), a toy each and a grandparent
 * allowed A only: a fresh key per scope, its signed commitment and the wraps `wrapsForChange` asks for.
 */
async function scopedFamily() {
  const [mum, gran, toyA, toyB] = (await Promise.all(['mum', 'gran', 'toy-a', 'toy-b'].map(person))) as [Person, Person, Person, Person];
  const contents: ScopedContents = { members: [guardianOf(mum), relativeOf(gran, ['child-a'])], toys: [toyOf(toyA, 'child-a'), toyOf(toyB, 'child-b')], children: ['child-a', 'child-b'] };
  const plan = planGenerations(undefined, contents, 0);
  const keys = new Map(plan.map((p) => [p.scope, generateScopeKey()]));
  const commitments: ScopeKeyCommitment[] = await Promise.all(plan.map(async (p) => ({ scope: p.scope, generation: p.generation, commitment: await scopeKeyCommitment({ familyId: FAMILY, scope: p.scope, generation: p.generation, key: keys.get(p.scope)! }) })));
  const wraps = await Promise.all(
    wrapsForChange(undefined, contents, plan).map((w) => wrapScopeKey({ familyId: FAMILY, scope: w.scope, generation: w.generation, key: keys.get(w.scope)!, recipient: { id: w.recipient.id, ...w.recipient.keys } })),
  );
  return { mum, gran, toyA, toyB, contents, keys, commitments, wraps };
}

/** Every key `who` can take from the wraps addressed to it, checked against the commitments. */
async function keysHeldBy(f: Awaited<ReturnType<typeof scopedFamily>>, who: Person): Promise<Map<string, Uint8Array>> {
  const held = new Map<string, Uint8Array>();
  for (const wrap of f.wraps.filter((w) => w.recipientId === who.accountId)) {
    const key = await unwrapAndCheckScopeKey({ wrap, familyId: FAMILY, recipientId: who.accountId, identity: who.identity, commitments: f.commitments });
    if (key.ok) held.set(wrap.scope, key.value);
  }
  return held;
}

describe('scope keys', () => {
  it('opens a wrap for its recipient, scope and generation, to the committed key', async () => {
    const f = await scopedFamily();
    const held = await keysHeldBy(f, f.gran);
    expect([...held.keys()].sort()).toEqual([FAMILY_SCOPE, 'child-a']);
    expect(bytesEqual(held.get('child-a')!, f.keys.get('child-a')!)).toBe(true);
  });

  it("a toy's keys open its own child's messages and none of the other child's, nor adults' ones", async () => {
    const f = await scopedFamily();
    const genesis = await createGenesisEntry({ familyId: FAMILY, creator: f.mum, settings, scopeKeys: [...f.keys].map(([scope, key]) => ({ scope, generation: 0, key })), members: [...f.contents.members] as Member[], toys: [...f.contents.toys] as Toy[] });
    expect(commitmentsOf([genesis])).toEqual(f.commitments);
    const roster = await verifyRoster([genesis], { trustedEntry: genesis });
    if (!roster.ok) throw new Error(roster.code);
    const rosterHead = await hashRosterEntry(genesis);
    const seal = (scope: string, recipients: string[]) =>
      sealMessage({ familyId: FAMILY, epoch: 0, rosterHead, scope, key: f.keys.get(scope)!, sender: { accountId: f.mum.accountId, identity: f.mum.identity }, recipients, audio: randomBytes(64), audioType: 'audio/ogg', durationMs: 1000, createdAt: Date.now() });
    const toMia = await seal('child-a', ['child-a']);
    expect((await openAndVerifyMessage(toMia.bytes, { roster: roster.value, keyFor: (_epoch, scope) => f.keys.get(scope) })).ok).toBe(true);
    const toBen = await seal('child-b', ['child-b']);
    const toGran = await seal(FAMILY_SCOPE, ['gran']);
    const held = await keysHeldBy(f, f.toyA);
    expect([...held.keys()]).toEqual(['child-a']);
    const opensWithAny = async (bytes: Uint8Array) => {
      for (const key of held.values()) if ((await openAndVerifyMessage(bytes, { roster: roster.value, keyFor: () => key })).ok) return true;
      return false;
    };
    expect(await opensWithAny(toMia.bytes)).toBe(true);
    expect(await opensWithAny(toBen.bytes)).toBe(false);
    expect(await opensWithAny(toGran.bytes)).toBe(false);
  });

  it('refuses a key the server chose and wrapped itself to a real recipient (commitment)', async () => {
    const f = await scopedFamily();
    const forged = await wrapScopeKey({ familyId: FAMILY, scope: 'child-a', generation: 0, key: generateScopeKey(), recipient: { id: 'toy-a', ...f.toyA.identity.publicKeys } });
    const result = await unwrapAndCheckScopeKey({ wrap: forged, familyId: FAMILY, recipientId: 'toy-a', identity: f.toyA.identity, commitments: f.commitments });
    expect(result).toEqual({ ok: false, code: 'scope-key/commitment-mismatch' });
  });

  it('refuses a real wrap relabelled by the server for another scope or generation', async () => {
    const f = await scopedFamily();
    const real = f.wraps.find((w) => w.recipientId === 'mum' && w.scope === 'child-a')!;
    const check = (wrap: WrappedScopeKey) => unwrapAndCheckScopeKey({ wrap, familyId: FAMILY, recipientId: 'mum', identity: f.mum.identity, commitments: f.commitments });
    // Another scope the roster does commit to: the label is bound into HPKE, so it does not open.
    expect(await check({ ...real, scope: 'child-b' })).toEqual({ ok: false, code: 'scope-key/unwrap-failed' });
    // A generation the signed entries never named.
    expect(await check({ ...real, generation: 7 })).toEqual({ ok: false, code: 'scope-key/unknown-generation' });
    // Another recipient's wrap handed over as this one's.
    const grans = f.wraps.find((w) => w.recipientId === 'gran' && w.scope === 'child-a')!;
    expect(await check({ ...grans, recipientId: 'mum' })).toEqual({ ok: false, code: 'scope-key/unwrap-failed' });
    expect(await check(grans)).toEqual({ ok: false, code: 'scope-key/wrong-recipient' });
  });

  it('binds the family, scope and generation into the commitment', async () => {
    const key = generateScopeKey();
    const base = await scopeKeyCommitment({ familyId: FAMILY, scope: 'child-a', generation: 3, key });
    expect(bytesEqual(base, await scopeKeyCommitment({ familyId: FAMILY, scope: 'child-b', generation: 3, key }))).toBe(false);
    expect(bytesEqual(base, await scopeKeyCommitment({ familyId: FAMILY, scope: 'child-a', generation: 4, key }))).toBe(false);
    expect(bytesEqual(base, await scopeKeyCommitment({ familyId: 'fam-other', scope: 'child-a', generation: 3, key }))).toBe(false);
    expect(bytesEqual(base, await scopeKeyCommitment({ familyId: FAMILY, scope: 'child-a', generation: 3, key }))).toBe(true);
  });

  it('wraps with X-Wing to a recipient with a KEM key, and needs its KEM private key to open', async () => {
    const pq = await generateIdentity({ kem: true });
    const key = generateScopeKey();
    const commitments = [{ scope: FAMILY_SCOPE, generation: 0, commitment: await scopeKeyCommitment({ familyId: FAMILY, scope: FAMILY_SCOPE, generation: 0, key }) }];
    const wrap = await wrapScopeKey({ familyId: FAMILY, scope: FAMILY_SCOPE, generation: 0, key, recipient: { id: 'pq', ...pq.publicKeys } });
    expect(wrap.suite).toBe('hpke-xwing-sha256-aes256gcm');
    const opened = await unwrapAndCheckScopeKey({ wrap, familyId: FAMILY, recipientId: 'pq', identity: pq, commitments });
    expect(opened.ok && bytesEqual(opened.value, key)).toBe(true);
    expect(await unwrapAndCheckScopeKey({ wrap: { ...wrap, enc: wrap.enc.slice(0, 32) }, familyId: FAMILY, recipientId: 'pq', identity: pq, commitments })).toEqual({ ok: false, code: 'scope-key/malformed' });
  });

  it('a wrap does not open for another family id or recipient id', async () => {
    const f = await scopedFamily();
    const wrap = f.wraps.find((w) => w.recipientId === 'gran' && w.scope === 'child-a')!;
    expect(await unwrapAndCheckScopeKey({ wrap, familyId: 'fam-other', recipientId: 'gran', identity: f.gran.identity, commitments: f.commitments })).toEqual({ ok: false, code: 'scope-key/unwrap-failed' });
    // The recipient id is bound in: the same keys under another id do not open it.
    expect(await unwrapAndCheckScopeKey({ wrap: { ...wrap, recipientId: 'gran-2' }, familyId: FAMILY, recipientId: 'gran-2', identity: f.gran.identity, commitments: f.commitments })).toEqual({ ok: false, code: 'scope-key/unwrap-failed' });
    // Someone else's private keys do not open it.
    expect(await unwrapAndCheckScopeKey({ wrap, familyId: FAMILY, recipientId: 'gran', identity: f.mum.identity, commitments: f.commitments })).toEqual({ ok: false, code: 'scope-key/unwrap-failed' });
  });

  it('changing any byte of enc (every 7th of an X-Wing one) or ciphertext makes the unwrap fail', async () => {
    const classical = await generateIdentity({ kem: false });
    const hybrid = await generateIdentity();
    for (const identity of [classical, hybrid]) {
      const key = generateScopeKey();
      const commitments = [{ scope: 'child-a', generation: 2, commitment: await scopeKeyCommitment({ familyId: FAMILY, scope: 'child-a', generation: 2, key }) }];
      const wrap = await wrapScopeKey({ familyId: FAMILY, scope: 'child-a', generation: 2, key, recipient: { id: 'r', ...identity.publicKeys } });
      for (const field of ['enc', 'ciphertext'] as const) {
        for (let i = 0; i < wrap[field].length; i += field === 'enc' && wrap.enc.length > 32 ? 7 : 1) {
          const bytes = wrap[field].slice();
          bytes[i]! ^= 0x80;
          expect(await unwrapAndCheckScopeKey({ wrap: { ...wrap, [field]: bytes }, familyId: FAMILY, recipientId: 'r', identity, commitments }), `${wrap.suite} ${field}[${i}]`).toEqual({ ok: false, code: 'scope-key/unwrap-failed' });
        }
      }
      expect((await unwrapAndCheckScopeKey({ wrap, familyId: FAMILY, recipientId: 'r', identity, commitments })).ok).toBe(true);
    }
  });

  it('wraps classically to a recipient without a KEM key, and both suites round-trip', async () => {
    const classical = await generateIdentity({ kem: false });
    const key = generateScopeKey();
    const commitments = [{ scope: 'child-b', generation: 5, commitment: await scopeKeyCommitment({ familyId: FAMILY, scope: 'child-b', generation: 5, key }) }];
    const wrap = await wrapScopeKey({ familyId: FAMILY, scope: 'child-b', generation: 5, key, recipient: { id: 'grandad', ...classical.publicKeys } });
    expect([wrap.suite, wrap.enc.length, wrap.ciphertext.length]).toEqual(['hpke-x25519-sha256-aes256gcm', 32, 48]);
    const opened = await unwrapAndCheckScopeKey({ wrap, familyId: FAMILY, recipientId: 'grandad', identity: classical, commitments });
    expect(opened.ok && bytesEqual(opened.value, key)).toBe(true);
    const f = await scopedFamily();
    expect(new Set(f.wraps.map((w) => w.suite))).toEqual(new Set(['hpke-xwing-sha256-aes256gcm']));
  });

  it('an X-Wing wrap needs the KEM private key, and relabelling its suite does not make it classical', async () => {
    const [pq, other, classical] = await Promise.all([generateIdentity(), generateIdentity(), generateIdentity({ kem: false })]);
    const key = generateScopeKey();
    const commitments = [{ scope: FAMILY_SCOPE, generation: 0, commitment: await scopeKeyCommitment({ familyId: FAMILY, scope: FAMILY_SCOPE, generation: 0, key }) }];
    const wrap = await wrapScopeKey({ familyId: FAMILY, scope: FAMILY_SCOPE, generation: 0, key, recipient: { id: 'pq', ...pq.publicKeys } });
    const open = (w: WrappedScopeKey, identity = pq) => unwrapAndCheckScopeKey({ wrap: w, familyId: FAMILY, recipientId: 'pq', identity, commitments });
    expect(await open(wrap, classical)).toEqual({ ok: false, code: 'scope-key/no-kem-key' });
    expect(await open(wrap, other)).toEqual({ ok: false, code: 'scope-key/unwrap-failed' });
    expect(await open({ ...wrap, suite: 'hpke-x25519-sha256-aes256gcm' })).toEqual({ ok: false, code: 'scope-key/malformed' });
  });

  it('malformed wraps and unknown suites are refused by code, never thrown', async () => {
    const f = await scopedFamily();
    const wrap = f.wraps.find((w) => w.recipientId === 'mum')!;
    const check = (w: unknown) => unwrapAndCheckScopeKey({ wrap: w as WrappedScopeKey, familyId: FAMILY, recipientId: 'mum', identity: f.mum.identity, commitments: f.commitments });
    expect(await check({ ...wrap, suite: 'hpke-mlkem1024-sha384-aes256gcm' })).toEqual({ ok: false, code: 'scope-key/unsupported-suite' });
    for (const bad of [null, 'wrap', { ...wrap, enc: wrap.enc.slice(1) }, { ...wrap, ciphertext: wrap.ciphertext.slice(1) }, { ...wrap, enc: Array.from(wrap.enc) }, { ...wrap, generation: -1 }, { ...wrap, generation: 1.5 }, { ...wrap, scope: 7 }, { ...wrap, recipientId: undefined }]) {
      expect(await check(bad)).toEqual({ ok: false, code: 'scope-key/malformed' });
    }
  });

  it('misuse throws a TypeError naming the argument', async () => {
    const identity = await generateIdentity({ kem: false });
    const recipient = { id: 'x', ...identity.publicKeys };
    const base = { familyId: FAMILY, scope: 'child-a', generation: 0, key: generateScopeKey(), recipient };
    await expect(wrapScopeKey({ ...base, key: new Uint8Array(16) })).rejects.toThrow(/key/);
    await expect(wrapScopeKey({ ...base, recipient: { id: 'x', agreementKey: new Uint8Array(31) } })).rejects.toThrow(/recipient.agreementKey/);
    await expect(wrapScopeKey({ ...base, recipient: { ...recipient, kemKey: new Uint8Array(32) } })).rejects.toThrow(/recipient.kemKey/);
    await expect(wrapScopeKey({ ...base, recipient: { ...recipient, id: '' } })).rejects.toThrow(/recipient.id/);
    await expect(wrapScopeKey({ ...base, familyId: '' })).rejects.toThrow(/familyId/);
    await expect(wrapScopeKey({ ...base, generation: -1 })).rejects.toThrow(/generation/);
    await expect(scopeKeyCommitment({ ...base, key: new Uint8Array(31) })).rejects.toThrow(/key/);
    await expect(scopeKeyCommitment({ ...base, scope: undefined as unknown as string })).rejects.toThrow(/scope/);
  });
});

/** The commitment from the documented layout (scope-key.ts), with @noble/hashes instead of WebCrypto. */
function independentCommitment(familyId: string, scope: string, generation: number, key: Uint8Array): Uint8Array {
  const commitKey = hkdf(sha256, key, new Uint8Array(0), utf8(SCOPE_KEY_COMMITMENT_LABEL), 32);
  const string = (value: string) => {
    const bytes = utf8(value);
    const out = new Uint8Array(4 + bytes.length);
    new DataView(out.buffer).setUint32(0, bytes.length);
    out.set(bytes, 4);
    return out;
  };
  const u64 = new Uint8Array(8);
  new DataView(u64.buffer).setUint32(0, Math.floor(generation / 2 ** 32));
  new DataView(u64.buffer).setUint32(4, generation >>> 0);
  return hmac(sha256, commitKey, concatBytes(utf8(SCOPE_KEY_COMMITMENT_LABEL), Uint8Array.of(0), string(familyId), string(scope), u64));
}

describe('the scope-key commitment', () => {
  it('is HKDF then HMAC-SHA-256 over label ‖ 0 ‖ familyId ‖ scope ‖ generation, as documented', async () => {
    const key = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    for (const [scope, generation] of [[FAMILY_SCOPE, 0], ['child-a', 7], ['kind-😀', 2 ** 40 + 3]] as const) {
      expect(toHex(await scopeKeyCommitment({ familyId: 'fam-kat', scope, generation, key }))).toBe(toHex(independentCommitment('fam-kat', scope, generation, key)));
    }
  });

  it('a roster entry signs each scope\'s commitment, and a server-chosen key wrapped to every holder is refused by each', async () => {
    const f = await scopedFamily();
    const genesis = await createGenesisEntry({ familyId: FAMILY, creator: f.mum, settings, scopeKeys: [...f.keys].map(([scope, key]) => ({ scope, generation: 0, key })), members: [...f.contents.members] as Member[], toys: [...f.contents.toys] as Toy[] });
    for (const { scope, generation, commitment } of genesis.scopeKeys) {
      expect(bytesEqual(commitment, await scopeKeyCommitment({ familyId: FAMILY, scope, generation, key: f.keys.get(scope)! }))).toBe(true);
    }
    for (const who of [f.mum, f.gran, f.toyA, f.toyB]) {
      for (const scope of [FAMILY_SCOPE, 'child-a', 'child-b']) {
        const serverKey = generateScopeKey();
        const keys = [...f.contents.members.map((m) => ({ id: m.accountId, keys: m.keys })), ...f.contents.toys.map((t) => ({ id: t.toyId, keys: t.keys }))].find((h) => h.id === who.accountId)!.keys;
        const wrap = await wrapScopeKey({ familyId: FAMILY, scope, generation: 0, key: serverKey, recipient: { id: who.accountId, ...keys } });
        expect(await unwrapAndCheckScopeKey({ wrap, familyId: FAMILY, recipientId: who.accountId, identity: who.identity, commitments: commitmentsOf([genesis]) })).toEqual({ ok: false, code: 'scope-key/commitment-mismatch' });
      }
    }
  });
});
