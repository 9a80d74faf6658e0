import { Aes128Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { describe, expect, it } from 'vitest';
import { bytesEqual, fromHex, toHex } from '../../src/crypto/bytes.js';
import { generateFamilyKey, unwrapFamilyKey, wrapFamilyKey, wrapFamilyKeyForRoster, type WrappedKey } from '../../src/crypto/family-key.js';
import { appendRosterEntry } from '../../src/crypto/roster.js';
import { family, settings } from './fixtures.js';

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

describe('family keys', () => {
  it('every member and toy of an epoch can unwrap its key', async () => {
    const f = await family();
    const key = generateFamilyKey();
    const wraps = await wrapFamilyKeyForRoster(f.chain[1]!, key);
    expect(wraps.map((w) => w.recipientId).sort()).toEqual(['aunt', 'dad', 'gran', 'mum', 'toy-1']);
    for (const p of [f.mum, f.dad, f.gran, f.aunt, f.toy]) {
      const wrap = wraps.find((w) => w.recipientId === p.accountId)!;
      // Identities made now have X-Wing keys, so the hybrid suite is the default.
      expect(wrap.suite).toBe('hpke-xwing-sha256-aes256gcm');
      expect(wrap.enc).toHaveLength(1120);
      const result = await unwrapFamilyKey(wrap, { familyId: 'fam-1', recipientId: p.accountId, agreementPrivateKey: p.identity.agreementPrivateKey, epoch: 1 });
      expect(result.ok && bytesEqual(result.value, key)).toBe(true);
    }
  });

  it('a removed member cannot unwrap the key of the epoch that removed them', async () => {
    const f = await family();
    const withoutGran = f.members.filter((m) => m.accountId !== 'gran');
    const key = generateFamilyKey();
    const third = await appendRosterEntry(f.chain, { signer: f.mum, members: withoutGran, toys: f.chain[1]!.toys, settings , familyKey: key });
    const wraps = await wrapFamilyKeyForRoster(third, key);
    expect(wraps.some((w) => w.recipientId === 'gran')).toBe(false);
    const mumsWrap = wraps.find((w) => w.recipientId === 'mum')!;
    // Offered another member's wrap, under their own id or claiming the other's.
    expect(await unwrapFamilyKey(mumsWrap, { familyId: 'fam-1', recipientId: 'gran', agreementPrivateKey: f.gran.identity.agreementPrivateKey })).toEqual({ ok: false, code: 'family-key/wrong-recipient' });
    expect(await unwrapFamilyKey(mumsWrap, { familyId: 'fam-1', recipientId: 'mum', agreementPrivateKey: f.gran.identity.agreementPrivateKey })).toEqual({ ok: false, code: 'family-key/unwrap-failed' });
    const relabelled: WrappedKey = { ...mumsWrap, recipientId: 'gran' };
    expect(await unwrapFamilyKey(relabelled, { familyId: 'fam-1', recipientId: 'gran', agreementPrivateKey: f.gran.identity.agreementPrivateKey })).toEqual({ ok: false, code: 'family-key/unwrap-failed' });
  });

  it('a wrap does not open for another family, epoch or recipient id', async () => {
    const f = await family();
    const key = generateFamilyKey();
    const wrap = await wrapFamilyKey({ familyId: 'fam-1', epoch: 3, key, recipient: { id: 'mum', agreementKey: f.mum.identity.publicKeys.agreementKey } });
    const mum = { recipientId: 'mum', agreementPrivateKey: f.mum.identity.agreementPrivateKey };
    expect(await unwrapFamilyKey(wrap, { ...mum, familyId: 'fam-2' })).toEqual({ ok: false, code: 'family-key/unwrap-failed' });
    expect(await unwrapFamilyKey({ ...wrap, epoch: 4 }, { ...mum, familyId: 'fam-1' })).toEqual({ ok: false, code: 'family-key/unwrap-failed' });
    expect(await unwrapFamilyKey(wrap, { ...mum, familyId: 'fam-1', epoch: 2 })).toEqual({ ok: false, code: 'family-key/wrong-epoch' });
    expect((await unwrapFamilyKey(wrap, { ...mum, familyId: 'fam-1' })).ok).toBe(true);
  });

  it('changing any byte of enc or ciphertext makes the unwrap fail', async () => {
    const f = await family();
    const wrap = await wrapFamilyKey({ familyId: 'fam-1', epoch: 1, key: generateFamilyKey(), recipient: { id: 'mum', agreementKey: f.mum.identity.publicKeys.agreementKey } });
    const opts = { familyId: 'fam-1', recipientId: 'mum', agreementPrivateKey: f.mum.identity.agreementPrivateKey };
    for (const field of ['enc', 'ciphertext'] as const) {
      for (let i = 0; i < wrap[field].length; i++) {
        const bytes = wrap[field].slice();
        bytes[i]! ^= 0x80;
        const result = await unwrapFamilyKey({ ...wrap, [field]: bytes }, opts);
        expect(result.ok, `${field}[${i}]`).toBe(false);
      }
    }
  });

  it('an unknown suite is refused by name, so new suites can be added beside the old', async () => {
    const f = await family();
    const wrap = await wrapFamilyKey({ familyId: 'fam-1', epoch: 1, key: generateFamilyKey(), recipient: { id: 'mum', agreementKey: f.mum.identity.publicKeys.agreementKey } });
    const future = { ...wrap, suite: 'hpke-mlkem1024-sha384-aes256gcm' } as unknown as WrappedKey;
    expect(await unwrapFamilyKey(future, { familyId: 'fam-1', recipientId: 'mum', agreementPrivateKey: f.mum.identity.agreementPrivateKey })).toEqual({ ok: false, code: 'family-key/unsupported-suite' });
  });

  it('misuse throws a TypeError naming the argument', async () => {
    await expect(wrapFamilyKey({ familyId: 'fam-1', epoch: 0, key: new Uint8Array(16), recipient: { id: 'x', agreementKey: new Uint8Array(32) } })).rejects.toThrow(/key/);
    await expect(wrapFamilyKey({ familyId: 'fam-1', epoch: 0, key: new Uint8Array(32), recipient: { id: 'x', agreementKey: new Uint8Array(31) } })).rejects.toThrow(/recipient.agreementKey/);
  });
});
