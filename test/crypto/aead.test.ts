import { describe, expect, it } from 'vitest';
import { randomBytes, toHex, utf8 } from '../../src/crypto/bytes.js';
import { AEAD_OVERHEAD, AEAD_PLAINTEXT_OFFSET, aeadOpen, aeadSeal, aeadSealInPlace, importSealingKey } from '../../src/crypto/aead.js';

describe('AES-256-GCM sealed box', () => {
  it('round-trips and adds a fixed overhead', async () => {
    const key = randomBytes(32);
    const sealed = await aeadSeal(key, utf8('hi'), utf8('aad'));
    expect(sealed).toHaveLength(2 + AEAD_OVERHEAD);
    const opened = await aeadOpen(key, sealed, utf8('aad'));
    expect(opened.ok && toHex(opened.value)).toBe(toHex(utf8('hi')));
  });

  it('refuses another aad, a changed version byte and a truncated box', async () => {
    const key = randomBytes(32);
    const sealed = await aeadSeal(key, utf8('hi'), utf8('aad'));
    expect(await aeadOpen(key, sealed, utf8('aae'))).toEqual({ ok: false, code: 'aead/decrypt-failed' });
    const v2 = sealed.slice();
    v2[0] = 2;
    expect(await aeadOpen(key, v2, utf8('aad'))).toEqual({ ok: false, code: 'aead/unsupported-version' });
    expect(await aeadOpen(key, sealed.subarray(0, 10), utf8('aad'))).toEqual({ ok: false, code: 'aead/malformed' });
  });

  it('uses a fresh nonce every time', async () => {
    const key = randomBytes(32);
    const a = await aeadSeal(key, utf8('same'), new Uint8Array(0));
    const b = await aeadSeal(key, utf8('same'), new Uint8Array(0));
    expect(toHex(a)).not.toBe(toHex(b));
  });
});

describe('AES-256-GCM sealed box, sealed in place', () => {
  it('turns a plaintext placed at its offset into the same layout aeadSeal gives, which aeadOpen opens', async () => {
    const key = randomBytes(32);
    const plaintext = randomBytes(1000);
    const box = new Uint8Array(plaintext.length + AEAD_OVERHEAD);
    box.set(plaintext, AEAD_PLAINTEXT_OFFSET);
    await aeadSealInPlace(key, box, utf8('aad'));
    expect(box[0]).toBe(1);
    // Independently: version ‖ nonce ‖ AES-256-GCM(plaintext, aad = version ‖ aad) with raw WebCrypto.
    const cryptoKey = await crypto.subtle.importKey('raw', new Uint8Array(key), 'AES-GCM', false, ['decrypt']);
    const raw = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: box.slice(1, 13), additionalData: new Uint8Array([1, ...utf8('aad')]) }, cryptoKey, box.slice(13));
    expect(toHex(new Uint8Array(raw))).toBe(toHex(plaintext));
    const opened = await aeadOpen(key, box, utf8('aad'));
    expect(opened.ok && toHex(opened.value)).toBe(toHex(plaintext));
    expect(toHex(box)).not.toContain(toHex(plaintext.subarray(0, 32)));
  });

  it('seals a box that is a view into a larger buffer and leaves the bytes around it alone', async () => {
    const key = randomBytes(32);
    const outer = new Uint8Array(100 + 5 + AEAD_OVERHEAD).fill(0xee);
    const box = outer.subarray(50, 50 + 5 + AEAD_OVERHEAD);
    box.set(utf8('hello'), AEAD_PLAINTEXT_OFFSET);
    await aeadSealInPlace(key, box, new Uint8Array(0));
    expect(outer.subarray(0, 50).every((b) => b === 0xee)).toBe(true);
    expect(outer.subarray(50 + box.length).every((b) => b === 0xee)).toBe(true);
    const opened = await aeadOpen(key, outer.subarray(50, 50 + box.length), new Uint8Array(0));
    expect(opened.ok && new TextDecoder().decode(opened.value)).toBe('hello');
  });

  it('refuses a box too small to hold the version, nonce and tag, naming the argument', async () => {
    await expect(aeadSealInPlace(randomBytes(32), new Uint8Array(AEAD_OVERHEAD - 1), new Uint8Array(0))).rejects.toThrow(/box/);
    await expect(aeadSealInPlace(randomBytes(31), new Uint8Array(AEAD_OVERHEAD), new Uint8Array(0))).rejects.toThrow(/key/);
  });
});

describe('AES-256-GCM sealing key imported ahead', () => {
  it('seals in place with a key from importSealingKey exactly as with the raw key', async () => {
    const key = randomBytes(32);
    const box = new Uint8Array(3 + AEAD_OVERHEAD);
    box.set(utf8('abc'), AEAD_PLAINTEXT_OFFSET);
    await aeadSealInPlace(await importSealingKey(key), box, utf8('aad'));
    const opened = await aeadOpen(key, box, utf8('aad'));
    expect(opened.ok && toHex(opened.value)).toBe(toHex(utf8('abc')));
  });

  it('refuses a CryptoKey that is not an AES-GCM encryption key', async () => {
    const hmac = await crypto.subtle.importKey('raw', new Uint8Array(32), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const decryptOnly = await crypto.subtle.importKey('raw', new Uint8Array(32), 'AES-GCM', false, ['decrypt']);
    await expect(aeadSealInPlace(hmac, new Uint8Array(AEAD_OVERHEAD), new Uint8Array(0))).rejects.toThrow(/key/);
    await expect(aeadSealInPlace(decryptOnly, new Uint8Array(AEAD_OVERHEAD), new Uint8Array(0))).rejects.toThrow(/key/);
    await expect(importSealingKey(new Uint8Array(16))).rejects.toThrow(/key/);
  });
});
