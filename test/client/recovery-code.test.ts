import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/crypto/bytes.js';
import {
  deriveRecoveryKeys,
  formatRecoveryCode,
  generateRecoveryCode,
  InvalidRecoveryCodeError,
  parseRecoveryCode,
  RECOVERY_CODE_BYTES,
} from '../../src/client/recovery-code.js';

describe('recovery codes', () => {
  it('are eight groups of four Crockford base32 characters carrying at least 128 random bits', () => {
    const code = generateRecoveryCode();
    expect(code).toMatch(/^([0-9A-HJKMNP-TV-Z]{4}-){7}[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(RECOVERY_CODE_BYTES * 8).toBeGreaterThanOrEqual(128);
    expect(parseRecoveryCode(code)).toHaveLength(RECOVERY_CODE_BYTES);
  });

  it('are different every time', () => {
    const codes = new Set(Array.from({ length: 200 }, () => generateRecoveryCode()));
    expect(codes.size).toBe(200);
  });

  it('round-trip through parsing and formatting', () => {
    for (let i = 0; i < 50; i++) {
      const code = generateRecoveryCode();
      expect(formatRecoveryCode(code)).toBe(code);
    }
  });

  it('are read the same whatever the case, spacing, dashes, or O/0 and I/L/1 confusion', () => {
    const code = '0123-4567-89AB-CDEF-GHJK-MNPQ-RSTV-WXYZ';
    const expected = toHex(parseRecoveryCode(code));
    for (const typed of [
      code.toLowerCase(),
      code.replace(/-/g, ''),
      code.replace(/-/g, ' '),
      `  ${code.replace(/-/g, '  ')}  `,
      code.replace('0', 'O').replace('1', 'l'),
      code.replace('0', 'o').replace('1', 'I'),
    ]) {
      expect(toHex(parseRecoveryCode(typed)), typed).toBe(expected);
    }
  });

  it('refuse a code with a wrong length or a character outside the alphabet, saying which', () => {
    expect(() => parseRecoveryCode('0123-4567')).toThrow(InvalidRecoveryCodeError);
    expect(() => parseRecoveryCode('0123-4567')).toThrow(/has 32 letters and digits, this one has 8/);
    expect(() => parseRecoveryCode('0123-4567-89AB-CDEF-GHJK-MNPQ-RSTV-WXYU')).toThrow(/cannot contain "U"/);
    expect(() => parseRecoveryCode('0123-4567-89AB-CDEF-GHJK-MNPQ-RSTV-WXY!')).toThrow(/cannot contain "!"/);
  });

  it('decode the all-zero and all-ones codes to the expected bytes', () => {
    expect(toHex(parseRecoveryCode('0'.repeat(32)))).toBe('00'.repeat(20));
    expect(toHex(parseRecoveryCode('Z'.repeat(32)))).toBe('ff'.repeat(20));
  });

  it('derive a sealing key and a proof that differ, and a verifier that is the SHA-256 of the proof', async () => {
    const code = generateRecoveryCode();
    const keys = await deriveRecoveryKeys(code);
    expect(keys.recoverySealingKey).toHaveLength(32);
    expect(keys.recoveryProof).toHaveLength(32);
    expect(toHex(keys.recoverySealingKey)).not.toBe(toHex(keys.recoveryProof));
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', keys.recoveryProof as Uint8Array<ArrayBuffer>));
    expect(toHex(keys.recoveryVerifier)).toBe(toHex(digest));
  });

  it('derive the same keys from the code however it is typed, and other keys from another code', async () => {
    const code = generateRecoveryCode();
    const a = await deriveRecoveryKeys(code);
    const b = await deriveRecoveryKeys(code.toLowerCase().replace(/-/g, ' '));
    expect(toHex(b.recoveryProof)).toBe(toHex(a.recoveryProof));
    expect(toHex(b.recoverySealingKey)).toBe(toHex(a.recoverySealingKey));
    const c = await deriveRecoveryKeys(generateRecoveryCode());
    expect(toHex(c.recoveryProof)).not.toBe(toHex(a.recoveryProof));
  });
});
