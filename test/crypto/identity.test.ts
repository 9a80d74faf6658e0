import { describe, expect, it } from 'vitest';
import { bytesEqual, randomBytes, utf8 } from '../../src/crypto/bytes.js';
import {
  exportIdentitySecret,
  generateIdentity,
  importIdentitySecret,
  openSealedIdentity,
  safetyCode,
  safetyCodeMatchesScan,
  sealIdentity,
} from '../../src/crypto/identity.js';

async function signs(identity: Awaited<ReturnType<typeof generateIdentity>>): Promise<boolean> {
  const message = new Uint8Array(utf8('hello'));
  const signature = await crypto.subtle.sign('Ed25519', identity.signingPrivateKey, message);
  const publicKey = await crypto.subtle.importKey('raw', new Uint8Array(identity.publicKeys.signingKey), 'Ed25519', false, ['verify']);
  return crypto.subtle.verify('Ed25519', publicKey, signature, message);
}

describe('identities', () => {
  it('a generated identity has 32-byte Ed25519 and X25519 public keys and signs verifiably', async () => {
    const identity = await generateIdentity();
    expect(identity.publicKeys.signingKey).toHaveLength(32);
    expect(identity.publicKeys.agreementKey).toHaveLength(32);
    expect(await signs(identity)).toBe(true);
  });

  it('an exported secret imports to the same public keys and a working signing key', async () => {
    const identity = await generateIdentity();
    const secret = await exportIdentitySecret(identity);
    // Version 2: Ed25519 seed, X25519 key and X-Wing seed.
    expect(secret).toHaveLength(97);
    expect(secret[0]).toBe(2);
    const again = await importIdentitySecret(secret, { extractable: false });
    expect(bytesEqual(again.publicKeys.signingKey, identity.publicKeys.signingKey)).toBe(true);
    expect(bytesEqual(again.publicKeys.agreementKey, identity.publicKeys.agreementKey)).toBe(true);
    expect(bytesEqual(again.publicKeys.kemKey!, identity.publicKeys.kemKey!)).toBe(true);
    expect(again.signingPrivateKey.extractable).toBe(false);
    expect(await signs(again)).toBe(true);
  });

  it('both imported key pairs agree on the same X25519 shared secret', async () => {
    const a = await importIdentitySecret(await exportIdentitySecret(await generateIdentity()));
    const b = await generateIdentity();
    const bPublic = await crypto.subtle.importKey('raw', new Uint8Array(b.publicKeys.agreementKey), 'X25519', false, []);
    const aPublic = await crypto.subtle.importKey('raw', new Uint8Array(a.publicKeys.agreementKey), 'X25519', false, []);
    const ab = new Uint8Array(await crypto.subtle.deriveBits({ name: 'X25519', public: bPublic }, a.agreementPrivateKey, 256));
    const ba = new Uint8Array(await crypto.subtle.deriveBits({ name: 'X25519', public: aPublic }, b.agreementPrivateKey, 256));
    expect(bytesEqual(ab, ba)).toBe(true);
  });

  it('a non-extractable identity cannot be exported', async () => {
    const identity = await generateIdentity({ extractable: false });
    await expect(exportIdentitySecret(identity)).rejects.toThrow(TypeError);
  });

  it('a malformed secret is refused with a TypeError naming it', async () => {
    await expect(importIdentitySecret(new Uint8Array(64))).rejects.toThrow(/secret/);
    const wrongVersion = new Uint8Array(65);
    wrongVersion[0] = 2;
    await expect(importIdentitySecret(wrongVersion)).rejects.toThrow(/version/);
  });
});

describe('sealed identities', () => {
  it('a sealed identity opens with the same key and context', async () => {
    const identity = await generateIdentity();
    const key = randomBytes(32);
    const sealed = await sealIdentity(identity, key, 'account:a1/password');
    const opened = await openSealedIdentity(sealed, key, 'account:a1/password');
    expect(opened.ok).toBe(true);
    if (opened.ok) expect(bytesEqual(opened.value.publicKeys.signingKey, identity.publicKeys.signingKey)).toBe(true);
  });

  it('a sealed identity does not open with another key, another context or any changed byte', async () => {
    const identity = await generateIdentity();
    const key = randomBytes(32);
    const sealed = await sealIdentity(identity, key, 'account:a1/password');
    expect(await openSealedIdentity(sealed, randomBytes(32), 'account:a1/password')).toEqual({ ok: false, code: 'identity/unseal-failed' });
    expect(await openSealedIdentity(sealed, key, 'account:a2/password')).toEqual({ ok: false, code: 'identity/unseal-failed' });
    for (let i = 0; i < sealed.length; i++) {
      const tampered = sealed.slice();
      tampered[i]! ^= 0x01;
      const result = await openSealedIdentity(tampered, key, 'account:a1/password');
      expect(result.ok, `byte ${i}`).toBe(false);
    }
  });

  it('sealing with a wrongly sized key throws a TypeError naming it', async () => {
    const identity = await generateIdentity();
    await expect(sealIdentity(identity, new Uint8Array(16), 'ctx')).rejects.toThrow(/sealingKey/);
  });
});

describe('safety codes', () => {
  it('a safety code is 12 digits in groups of four, the same from either side, and changes when a key changes', async () => {
    const a = await generateIdentity();
    const b = await generateIdentity();
    const c = await generateIdentity();
    const ab = await safetyCode(a.publicKeys, b.publicKeys);
    expect(ab.digits).toMatch(/^\d{4} \d{4} \d{4}$/);
    expect((await safetyCode(b.publicKeys, a.publicKeys)).qr).toBe(ab.qr);
    expect((await safetyCode(a.publicKeys, c.publicKeys)).qr).not.toBe(ab.qr);
    const swapped = { signingKey: b.publicKeys.signingKey, agreementKey: c.publicKeys.agreementKey };
    expect((await safetyCode(a.publicKeys, swapped)).qr).not.toBe(ab.qr);
    const otherKem = { ...b.publicKeys, kemKey: c.publicKeys.kemKey! };
    expect((await safetyCode(a.publicKeys, otherKem)).qr).not.toBe(ab.qr);
  });

  it("a scan matches only the same pair's QR text, in full", async () => {
    const a = await generateIdentity();
    const b = await generateIdentity();
    const code = await safetyCode(a.publicKeys, b.publicKeys);
    expect(safetyCodeMatchesScan(code, (await safetyCode(b.publicKeys, a.publicKeys)).qr)).toBe(true);
    // Another character in place of the second-to-last one (which carries six bits of the value).
    const at = code.qr.length - 2;
    const flipped = code.qr.slice(0, at) + (code.qr[at] === 'A' ? 'B' : 'A') + code.qr.slice(at + 1);
    for (const bad of [flipped, code.qr.slice(0, -1), code.digits, '', 'burrow-safety-code:v1:', code.qr.replace('v1', 'v2')]) expect(safetyCodeMatchesScan(code, bad)).toBe(false);
  });
});
