/**
 * The HPKE suites scope keys are wrapped under (scope-key.ts): HPKE base mode (RFC 9180 §5.1.1),
 * HKDF-SHA256 and AES-256-GCM via @hpke/core, with one of two KEMs:
 *
 * - 'hpke-xwing-sha256-aes256gcm' (whenever the recipient's keys carry an X-Wing `kemKey`, which
 *   every identity made by this code has): the KEM is X-Wing (X25519 + ML-KEM-768, see xwing.ts),
 *   so a wrap stays closed unless both X25519 and ML-KEM-768 are broken — ciphertext harvested now
 *   is not opened by a future quantum computer that breaks X25519 alone.
 * - 'hpke-x25519-sha256-aes256gcm' (classical): DHKEM(X25519, HKDF-SHA256), for a recipient whose
 *   keys have no `kemKey`.
 *
 * Each wrap is a single-shot HPKE seal with a fresh ephemeral key, so its AEAD key and nonce are
 * used once (RFC 9180 §9.7.1 limits do not come into play). Every wrap names its suite, and
 * unwrapping dispatches on it.
 */
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { XWING_CIPHERTEXT_BYTES, XWingKem } from './xwing.js';

/** Names of the wrapping suites this code can open. */
export const WRAP_SUITES = ['hpke-x25519-sha256-aes256gcm', 'hpke-xwing-sha256-aes256gcm'] as const;
export type WrapSuite = (typeof WRAP_SUITES)[number];

/** Byte sizes of each suite's encapsulation and ciphertext (the wrapped 32-byte key plus a 16-byte tag). */
export const WRAP_SUITE_SIZES: Readonly<Record<WrapSuite, { enc: number; ciphertext: number }>> = Object.freeze({
  'hpke-x25519-sha256-aes256gcm': { enc: 32, ciphertext: 48 },
  'hpke-xwing-sha256-aes256gcm': { enc: XWING_CIPHERTEXT_BYTES, ciphertext: 48 },
});

let x25519: CipherSuite | undefined;
let xwing: CipherSuite | undefined;

/** The HPKE cipher suite of a wrapping suite name. */
export function hpkeCipherSuite(suite: WrapSuite): CipherSuite {
  if (suite === 'hpke-xwing-sha256-aes256gcm') return (xwing ??= new CipherSuite({ kem: new XWingKem(), kdf: new HkdfSha256(), aead: new Aes256Gcm() }));
  return (x25519 ??= new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() }));
}
