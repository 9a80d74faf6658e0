/**
 * Post-quantum family keys (issue #11): X-Wing and ML-KEM-768 known answers, the hybrid suite's
 * round trips and tampering, version-2 identities, and X-Wing keys in roster entries and pairing
 * messages. Runs in Node and in Chromium (crypto-browser project).
 */
import { shake256 } from '@noble/hashes/sha3.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { describe, expect, it } from 'vitest';
import { bytesEqual, concatBytes, fromHex, randomBytes, toBase64Url, toHex } from '../../src/crypto/bytes.js';
import { exportIdentitySecret, generateIdentity, importIdentitySecret, safetyCode, type Identity } from '../../src/crypto/identity.js';
import { generateInviteSecret, guardianInviteProof, joinerInviteProof, verifyGuardianInviteProof, verifyJoinerInviteProof } from '../../src/crypto/invite.js';
import { generatePairingCode, startGuardianPairing, startToyPairing, toyKeysOfConfirmation } from '../../src/crypto/pairing.js';
import { decodeRosterEntry, encodeRosterEntry, scopeKeyOf, verifyRoster, type Member, type RosterEntry } from '../../src/crypto/roster.js';
import { exportKemSeed, kemKeyPairFromSeed, xwingDecapsulate, xwingEncapsulate, XWingKem } from '../../src/crypto/xwing.js';
import { planGenerations, scopedContentsOf, wrapsForChange } from '../../src/crypto/key-scopes.js';
import { commitmentsOf, generateScopeKey, scopeKeyCommitment, unwrapAndCheckScopeKey, wrapScopeKey, type WrappedScopeKey } from '../../src/crypto/scope-key.js';
import { appendWith, family, genesisWith, KeyBook, settings } from './fixtures.js';
import { MLKEM768_STRCMP, XWING } from './xwing-vectors.js';

describe('X-Wing and ML-KEM-768 known answers', () => {
  it('matches the X-Wing draft vectors: public key from the seed, ciphertext and secret from eseed, decapsulation', () => {
    for (const v of XWING) {
      const { publicKey, privateKey } = kemKeyPairFromSeed(fromHex(v.seed));
      expect(toHex(publicKey)).toBe(v.pk);
      const { ciphertext, sharedSecret } = xwingEncapsulate(publicKey, fromHex(v.eseed));
      expect(toHex(ciphertext)).toBe(v.ct);
      expect(toHex(sharedSecret)).toBe(v.ss);
      expect(toHex(xwingDecapsulate(fromHex(v.ct), privateKey))).toBe(v.ss);
    }
  });

  it('the ML-KEM-768 halves of the X-Wing vectors are FIPS 203 KeyGen and Encaps of the expanded seed', () => {
    // Draft: (d, z) = SHAKE256(seed, 96)[0:64]; pk = pk_M (1184 bytes) ‖ pk_X; ct = ct_M (1088 bytes) ‖ ct_X; Encaps(pk_M, eseed[0:32]).
    for (const v of XWING) {
      const expanded = shake256(fromHex(v.seed), { dkLen: 96 });
      const mlkem = ml_kem768.keygen(expanded.subarray(0, 64));
      expect(toHex(mlkem.publicKey)).toBe(v.pk.slice(0, 2 * 1184));
      const encapsulated = ml_kem768.encapsulate(mlkem.publicKey, fromHex(v.eseed).subarray(0, 32));
      expect(toHex(encapsulated.cipherText)).toBe(v.ct.slice(0, 2 * 1088));
      expect(bytesEqual(ml_kem768.decapsulate(encapsulated.cipherText, mlkem.secretKey), encapsulated.sharedSecret)).toBe(true);
    }
  });

  it('ML-KEM-768 rejects the C2SP strcmp ciphertext implicitly, with the published K', () => {
    expect(toHex(ml_kem768.decapsulate(fromHex(MLKEM768_STRCMP.c), fromHex(MLKEM768_STRCMP.dk)))).toBe(MLKEM768_STRCMP.K);
  });

  it('the HPKE KEM adapter is the draft KEM: id 0x647a, sizes, and Encap with fixed randomness gives the vector ciphertext', async () => {
    const kem = new XWingKem();
    expect([kem.id, kem.encSize, kem.publicKeySize, kem.privateKeySize, kem.secretSize]).toEqual([0x647a, 1120, 1216, 32, 32]);
    const v = XWING[0];
    const recipientPublicKey = await kem.deserializePublicKey(fromHex(v.pk));
    const { enc, sharedSecret } = await kem.encap({ recipientPublicKey, ekm: fromHex(v.eseed) });
    expect(toHex(new Uint8Array(enc))).toBe(v.ct);
    expect(toHex(new Uint8Array(sharedSecret))).toBe(v.ss);
    const recipientKey = await kem.deserializePrivateKey(fromHex(v.seed));
    expect(toHex(new Uint8Array(await kem.decap({ recipientKey, enc: fromHex(v.ct) })))).toBe(v.ss);
    await expect(kem.deserializePublicKey(new Uint8Array(1215))).rejects.toThrow();
  });
});

describe('the hybrid wrapping suite', () => {
  /** The wraps the fixture's epoch 1 needs (`wrapsForChange`), made with the keys its entry commits to. */
  async function wrapsOfEpoch1(f: Awaited<ReturnType<typeof family>>) {
    const [genesis, entry] = f.chain as [RosterEntry, RosterEntry];
    const plan = planGenerations({ contents: scopedContentsOf(genesis), generationOf: (scope) => scopeKeyOf(genesis, scope)?.generation }, scopedContentsOf(entry), 1);
    return Promise.all(wrapsForChange(scopedContentsOf(genesis), scopedContentsOf(entry), plan).map((w) =>
      wrapScopeKey({ familyId: 'fam-1', scope: w.scope, generation: w.generation, key: f.book.get(w.scope, w.generation)!, recipient: { id: w.recipient.id, ...w.recipient.keys } })));
  }

  it('new identities carry a 1216-byte X-Wing key; their wraps use it and every recipient opens its own', async () => {
    const f = await family();
    const wraps = await wrapsOfEpoch1(f);
    const commitments = commitmentsOf(f.chain);
    for (const p of [f.mum, f.gran, f.toy]) {
      expect(p.identity.publicKeys.kemKey).toHaveLength(1216);
      const own = wraps.filter((w) => w.recipientId === p.accountId);
      expect(own.length).toBeGreaterThan(0);
      for (const wrap of own) {
        expect([wrap.suite, wrap.enc.length, wrap.ciphertext.length]).toEqual(['hpke-xwing-sha256-aes256gcm', 1120, 48]);
        const opened = await unwrapAndCheckScopeKey({ wrap, familyId: 'fam-1', recipientId: p.accountId, identity: p.identity, commitments });
        expect(opened.ok && bytesEqual(opened.value, f.book.get(wrap.scope, wrap.generation)!)).toBe(true);
      }
    }
  });

  it("a changed byte anywhere, another family, scope or generation, or someone else's KEM key fails; a classical-only key cannot open it", async () => {
    const f = await family();
    const key = generateScopeKey();
    const commitments = [{ scope: 'child-1', generation: 2, commitment: await scopeKeyCommitment({ familyId: 'fam-1', scope: 'child-1', generation: 2, key }) }, ...commitmentsOf(f.chain)];
    const wrap = await wrapScopeKey({ familyId: 'fam-1', scope: 'child-1', generation: 2, key, recipient: { id: 'mum', ...f.mum.identity.publicKeys } });
    const open = (w: WrappedScopeKey, options: { familyId?: string; identity?: Identity } = {}) =>
      unwrapAndCheckScopeKey({ wrap: w, familyId: options.familyId ?? 'fam-1', recipientId: 'mum', identity: options.identity ?? f.mum.identity, commitments });
    for (const field of ['enc', 'ciphertext'] as const) {
      for (const at of [0, wrap[field].length >> 1, wrap[field].length - 1]) {
        const bytes = wrap[field].slice();
        bytes[at]! ^= 0x01;
        expect(await open({ ...wrap, [field]: bytes })).toEqual({ ok: false, code: 'scope-key/unwrap-failed' });
      }
    }
    expect(await open(wrap, { familyId: 'fam-2' })).toEqual({ ok: false, code: 'scope-key/unwrap-failed' });
    // Relabelled to a (scope, generation) the roster does commit to: bound into HPKE, so it does not open.
    expect(await open({ ...wrap, generation: 1 })).toEqual({ ok: false, code: 'scope-key/unwrap-failed' });
    expect(await open({ ...wrap, scope: '', generation: 0 })).toEqual({ ok: false, code: 'scope-key/unwrap-failed' });
    expect(await open(wrap, { identity: f.dad.identity })).toEqual({ ok: false, code: 'scope-key/unwrap-failed' });
    const classical = await generateIdentity({ kem: false });
    expect(await open(wrap, { identity: classical })).toEqual({ ok: false, code: 'scope-key/no-kem-key' });
    // Relabelling the suite does not turn a hybrid wrap into a classical one.
    expect(await open({ ...wrap, suite: 'hpke-x25519-sha256-aes256gcm' })).toEqual({ ok: false, code: 'scope-key/malformed' });
    expect((await open(wrap)).ok).toBe(true);
  });

  it('a roster mixing old and new identities wraps classically to the old ones and hybrid to the new', async () => {
    const [mum, grandad] = await Promise.all([generateIdentity(), generateIdentity({ kem: false })]);
    const book = new KeyBook();
    const genesis = await genesisWith(book, { familyId: 'fam-mixed', creator: { accountId: 'mum', identity: mum }, settings });
    const members: Member[] = [genesis.members[0]!, { accountId: 'grandad', role: 'relative', keys: grandad.publicKeys, children: ['c'] }];
    const next = await appendWith(book, [genesis], { signer: { accountId: 'mum', identity: mum }, members, toys: [], settings });
    const plan = planGenerations({ contents: scopedContentsOf(genesis), generationOf: (scope) => scopeKeyOf(genesis, scope)?.generation }, scopedContentsOf(next), 1);
    const wraps = await Promise.all(wrapsForChange(scopedContentsOf(genesis), scopedContentsOf(next), plan).map((w) =>
      wrapScopeKey({ familyId: 'fam-mixed', scope: w.scope, generation: w.generation, key: book.get(w.scope, w.generation)!, recipient: { id: w.recipient.id, ...w.recipient.keys } })));
    // Adding grandad rotates nothing: he gets the kept family-wide key, and c's first key goes to mum and him.
    expect(wraps.map((w) => [w.recipientId, w.scope, w.generation, w.suite])).toEqual([
      ['grandad', '', 0, 'hpke-x25519-sha256-aes256gcm'],
      ['mum', 'c', 1, 'hpke-xwing-sha256-aes256gcm'],
      ['grandad', 'c', 1, 'hpke-x25519-sha256-aes256gcm'],
    ]);
    for (const wrap of wraps.filter((w) => w.recipientId === 'grandad')) {
      const opened = await unwrapAndCheckScopeKey({ wrap, familyId: 'fam-mixed', recipientId: 'grandad', identity: grandad, commitments: commitmentsOf([genesis, next]) });
      expect(opened.ok).toBe(true);
    }
  });
});

describe('version-2 identities, roster entries and pairing messages', () => {
  it('a secret is version 2 with the X-Wing seed; a non-extractable import keeps the key but refuses export', async () => {
    const identity = await generateIdentity();
    const secret = await exportIdentitySecret(identity);
    expect([secret.length, secret[0]]).toEqual([97, 2]);
    const again = await importIdentitySecret(secret, { extractable: false });
    expect(bytesEqual(again.publicKeys.kemKey!, identity.publicKeys.kemKey!)).toBe(true);
    expect(() => exportKemSeed(again.kemPrivateKey!)).toThrow(/extractable/);
    await expect(exportIdentitySecret(again)).rejects.toThrow();
    // The safety code covers the X-Wing key: another KEM key gives another code.
    const other = kemKeyPairFromSeed(randomBytes(32)).publicKey;
    const peer = (await generateIdentity()).publicKeys;
    expect((await safetyCode({ ...identity.publicKeys, kemKey: other }, peer)).qr).not.toBe((await safetyCode(identity.publicKeys, peer)).qr);
    await expect(importIdentitySecret(secret.subarray(0, 65))).rejects.toThrow(/97 bytes/);
  });

  it('an entry with X-Wing keys round-trips, and its signature covers every KEM byte', async () => {
    const f = await family();
    const entry = f.chain[1]!;
    expect(entry.version).toBe(6);
    const bytes = encodeRosterEntry(entry);
    const decoded = decodeRosterEntry(bytes);
    expect(decoded.ok && bytesEqual(decoded.value.toys[0]!.keys.kemKey!, f.toy.identity.publicKeys.kemKey!)).toBe(true);
    expect((await verifyRoster(f.chain, { trustedEntry: f.chain[0]! })).ok).toBe(true);
    const toyKem = toHex(f.toy.identity.publicKeys.kemKey!);
    const at = toHex(bytes).indexOf(toyKem) / 2 + 600;
    expect(at).toBeGreaterThan(600);
    const tampered = bytes.slice();
    tampered[at]! ^= 0x01;
    const forged = decodeRosterEntry(tampered);
    expect(forged.ok).toBe(true);
    expect(await verifyRoster([f.chain[0]!, forged.ok ? forged.value : entry], { trustedEntry: f.chain[0]! })).toEqual({ ok: false, code: 'roster/bad-signature' });
    // Versions 1 and 2 (before the key commitment) and 3 (before the signed time and kept digests) no longer decode.
    for (const version of [1, 2, 3]) expect(decodeRosterEntry(concatBytes(Uint8Array.of(version), bytes.subarray(1)))).toEqual({ ok: false, code: 'roster/malformed' });
  });

  it('pairing carries the toy\'s X-Wing key in message 3 (type 5), MACed: the relay sees it, cannot strip it', async () => {
    const toyIdentity = await generateIdentity();
    const run = () => {
      const code = generatePairingCode();
      const sessionId = randomBytes(16);
      return { toy: startToyPairing({ code, sessionId, toyKeys: toyIdentity.publicKeys }), guardian: startGuardianPairing({ code, sessionId, headHash: randomBytes(32) }) };
    };
    const ok = run();
    const confirm = await ok.toy.receiveGuardianShare(ok.guardian.share);
    if (!confirm.ok) throw new Error(confirm.code);
    expect(confirm.value.message[1]).toBe(5);
    expect(bytesEqual(toyKeysOfConfirmation(confirm.value.message)!.kemKey!, toyIdentity.publicKeys.kemKey!)).toBe(true);
    await ok.guardian.receiveToyShare(ok.toy.share);
    const accepted = await ok.guardian.receiveToyConfirmation(confirm.value.message);
    expect(accepted.ok && bytesEqual(accepted.value.toyKeys.kemKey!, toyIdentity.publicKeys.kemKey!)).toBe(true);

    // A relay that drops the X-Wing key (re-typing the message as 3) or changes a byte of it is caught.
    for (const alter of [
      (m: Uint8Array) => { const sid = m[2]!; return concatBytes(Uint8Array.of(1, 3, sid), m.subarray(3, 3 + sid + 64), m.subarray(3 + sid + 64 + 1216)); },
      (m: Uint8Array) => { const c = m.slice(); c[3 + c[2]! + 64 + 600]! ^= 1; return c; },
    ]) {
      const r = run();
      const c = await r.toy.receiveGuardianShare(r.guardian.share);
      if (!c.ok) throw new Error(c.code);
      await r.guardian.receiveToyShare(r.toy.share);
      expect(await r.guardian.receiveToyConfirmation(alter(c.value.message))).toEqual({ ok: false, code: 'pairing/bad-message' });
    }
  });
});

describe('invites bind the X-Wing key', () => {
  it('a server that swaps, drops or adds a joiner\'s or guardian\'s X-Wing key breaks the invite proof', async () => {
    const [joiner, guardian] = await Promise.all([generateIdentity(), generateIdentity()]);
    const secret = generateInviteSecret();
    const inviteId = toBase64Url(randomBytes(16));
    const other = kemKeyPairFromSeed(randomBytes(32)).publicKey;
    const proof = await joinerInviteProof({ secret, inviteId, joinerId: 'gran', joinerKeys: joiner.publicKeys });
    expect(await verifyJoinerInviteProof({ secret, inviteId, joinerId: 'gran', joinerKeys: joiner.publicKeys, proof })).toEqual({ ok: true, value: true });
    const { kemKey: _dropped, ...classical } = joiner.publicKeys;
    for (const joinerKeys of [{ ...joiner.publicKeys, kemKey: other }, classical]) {
      expect(await verifyJoinerInviteProof({ secret, inviteId, joinerId: 'gran', joinerKeys, proof })).toEqual({ ok: false, code: 'invite/bad-joiner-proof' });
    }
    const terms = { role: 'relative' as const, children: ['child-1'], needsApproval: false };
    const familyId = toBase64Url(randomBytes(16));
    const forGuardian = { secret, familyId, inviteId, guardianId: 'mum', terms, headHash: randomBytes(32) };
    const made = await guardianInviteProof({ ...forGuardian, guardianKeys: guardian.publicKeys });
    expect((await verifyGuardianInviteProof({ ...forGuardian, guardianKeys: guardian.publicKeys, proof: made })).ok).toBe(true);
    expect((await verifyGuardianInviteProof({ ...forGuardian, guardianKeys: { ...guardian.publicKeys, kemKey: other }, proof: made })).ok).toBe(false);
    const { kemKey: _guardianKem, ...guardianClassical } = guardian.publicKeys;
    expect((await verifyGuardianInviteProof({ ...forGuardian, guardianKeys: guardianClassical, proof: made })).ok).toBe(false);
  });
});
