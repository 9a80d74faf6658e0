import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesEqual, concatBytes, fromBase64Url, fromHex, randomBytes, toBase64Url, toHex } from '../../src/crypto/bytes.js';

describe('byte helpers', () => {
  it('base64url matches RFC 4648 §10 test vectors (unpadded, url alphabet)', () => {
    const vectors: Array<[string, string]> = [['', ''], ['f', 'Zg'], ['fo', 'Zm8'], ['foo', 'Zm9v'], ['foob', 'Zm9vYg'], ['fooba', 'Zm9vYmE'], ['foobar', 'Zm9vYmFy']];
    for (const [plain, encoded] of vectors) {
      expect(toBase64Url(new TextEncoder().encode(plain))).toBe(encoded);
      expect(new TextDecoder().decode(fromBase64Url(encoded))).toBe(plain);
    }
    expect(toBase64Url(new Uint8Array([0xfb, 0xff]))).toBe('-_8');
  });

  it('base64url and hex round-trip any bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      expect(fromBase64Url(toBase64Url(bytes))).toEqual(bytes);
      expect(fromHex(toHex(bytes))).toEqual(bytes);
    }));
  });

  it('base64url refuses foreign characters, padding and non-canonical forms', () => {
    for (const bad of ['Zg==', 'Z', 'Zh', 'a+b/', 'é', 'Zm9v Yg']) expect(() => fromBase64Url(bad)).toThrow(TypeError);
  });

  it('hex refuses odd lengths and non-hex characters', () => {
    for (const bad of ['a', 'zz', '0x00']) expect(() => fromHex(bad)).toThrow(TypeError);
  });

  it('compares and concatenates', () => {
    expect(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(bytesEqual(new Uint8Array([1]), new Uint8Array([1, 2]))).toBe(false);
    expect(concatBytes(new Uint8Array([1]), new Uint8Array([]), new Uint8Array([2, 3]))).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('draws random bytes beyond one getRandomValues call', () => {
    const big = randomBytes(100_000);
    expect(big.length).toBe(100_000);
    expect(big.subarray(70_000, 70_032).some((b) => b !== 0)).toBe(true);
  });
});
