/**
 * A second, deliberately naive encoder of the layouts in docs/protocol.md ("Canonical encoding"),
 * written from the document and not from src/crypto/canonical.ts, plus @noble primitives: the
 * vector checks rebuild signed and hashed bytes with it, so the vectors check the document too.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { expect } from 'vitest';

export function fromHexString(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHexString(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const u8 = (n: number): Uint8Array => Uint8Array.of(n);
export const u32 = (n: number): Uint8Array => Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
export const u64 = (n: number): Uint8Array => cat(u32(Math.floor(n / 2 ** 32)), u32(n >>> 0));
export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
/** `string`: u32 byte length ‖ UTF-8. */
export const str = (s: string): Uint8Array => cat(u32(text(s).length), text(s));
/** `label ‖ 0x00 ‖ bytes`. */
export const labelled = (label: string, bytes: Uint8Array): Uint8Array => cat(text(label), u8(0), bytes);

export const hexOf = (value: unknown): Uint8Array => fromHexString(value as string);

export function expectHex(actual: Uint8Array, expected: unknown, what: string): void {
  expect(toHexString(actual), what).toBe(expected);
}

export function ed25519Verifies(signature: unknown, message: Uint8Array, publicKey: unknown): boolean {
  return ed25519.verify(hexOf(signature), message, hexOf(publicKey));
}

export const hkdfSha256 = (ikm: Uint8Array, salt: Uint8Array, info: string, length = 32): Uint8Array => hkdf(sha256, ikm, salt, text(info), length);
export const hmacSha256 = (key: Uint8Array, message: Uint8Array): Uint8Array => hmac(sha256, key, message);
export { sha256 };
