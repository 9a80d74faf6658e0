import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../src/crypto/bytes.js';
import { deriveKey, hkdfSha256 } from '../../src/crypto/kdf.js';

describe('HKDF-SHA-256', () => {
  // RFC 5869 Appendix A.1, test case 1.
  it('matches the RFC 5869 A.1 known-answer vector', async () => {
    const okm = await hkdfSha256({
      ikm: fromHex('0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b'),
      salt: fromHex('000102030405060708090a0b0c'),
      info: fromHex('f0f1f2f3f4f5f6f7f8f9'),
      length: 42,
    });
    expect(toHex(okm)).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  });

  it('deriveKey separates labels and defaults to 32 bytes', async () => {
    const secret = utf8('a secret of at least sixteen bytes');
    const a = await deriveKey(secret, 'burrow/a');
    const b = await deriveKey(secret, 'burrow/b');
    expect(a).toHaveLength(32);
    expect(toHex(a)).not.toBe(toHex(b));
    expect(toHex(await deriveKey(secret, 'burrow/a'))).toBe(toHex(a));
    expect(await deriveKey(secret, 'burrow/a', 64)).toHaveLength(64);
  });

  it('deriveKey refuses a short secret or an empty label, naming the argument', async () => {
    await expect(deriveKey(new Uint8Array(8), 'x')).rejects.toThrow(/secret/);
    await expect(deriveKey(new Uint8Array(32), '')).rejects.toThrow(/label/);
  });
});
