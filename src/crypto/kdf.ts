/**
 * Key derivation with HKDF-SHA-256 (RFC 5869) on WebCrypto.
 */
import { assertBytes, utf8 } from './bytes.js';
import { buf, subtle } from './webcrypto.js';

/** HKDF-SHA-256 (RFC 5869 §2): extract with `salt`, expand with `info` to `length` bytes (≤ 255·32). */
export async function hkdfSha256(options: { ikm: Uint8Array; salt: Uint8Array; info: Uint8Array; length: number }): Promise<Uint8Array> {
  const { ikm, salt, info, length } = options;
  assertBytes(ikm, 'ikm');
  assertBytes(salt, 'salt');
  assertBytes(info, 'info');
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32) throw new TypeError('length must be an integer from 1 to 8160');
  const base = await subtle().importKey('raw', buf(ikm), 'HKDF', false, ['deriveBits']);
  const bits = await subtle().deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: buf(salt), info: buf(info) }, base, length * 8);
  return new Uint8Array(bits);
}

/**
 * Derives `length` bytes (default 32) from a high-entropy `secret`, domain-separated by `label`
 * (used as HKDF info; the salt is empty, which RFC 5869 §2.2 treats as HashLen zero bytes).
 * `secret` must already be uniformly random or a KDF output: this is not a password hash.
 */
export async function deriveKey(secret: Uint8Array, label: string, length = 32): Promise<Uint8Array> {
  assertBytes(secret, 'secret');
  if (typeof label !== 'string' || label.length === 0) throw new TypeError('label must be a non-empty string');
  if (secret.length < 16) throw new TypeError('secret must be at least 16 bytes');
  return hkdfSha256({ ikm: secret, salt: new Uint8Array(0), info: utf8(label), length });
}
