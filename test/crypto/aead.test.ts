import { describe, expect, it } from 'vitest';
import { randomBytes, toHex, utf8 } from '../../src/crypto/bytes.js';
import { AEAD_OVERHEAD, aeadOpen, aeadSeal } from '../../src/crypto/aead.js';

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
