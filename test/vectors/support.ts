/**
 * Shared pieces of the known-answer vector generator (docs/vectors/README.md): the file shape,
 * fixed inputs (identities, ids) and fixed randomness, so that every run of a construction's
 * generator gives the same bytes.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, toBase64Url, toHex, utf8 } from '../../src/crypto/bytes.js';
import { importIdentitySecret, type Identity } from '../../src/crypto/identity.js';

/** One refusal a verifier must get right: what was changed, the changed input, and the code to expect. */
export interface Refusal {
  name: string;
  change: string;
  input: Record<string, unknown>;
  expected: string;
}

/** One file of docs/vectors: a construction at its current version. */
export interface VectorFile {
  construction: string;
  /** The version byte(s) of the formats the file covers; a byte change needs one of them to change. */
  version: Record<string, number>;
  /** The docs/protocol.md section that specifies the construction. */
  spec: string;
  description: string;
  vectors: Record<string, unknown>[];
  refusals: Refusal[];
}

/** A construction's generator: one module per construction, listed in generate.ts. */
export interface Construction {
  /** The file name under docs/vectors, without `.json`. */
  name: string;
  generate(): Promise<VectorFile>;
  /** Checks the committed file from the documented layout alone (not through the production functions). */
  checkIndependently?(file: VectorFile): void | Promise<void>;
}

/** Bytes as they appear in every vector file: lowercase hex. */
export const hex = toHex;

/** 32 bytes derived from a name: fixed "random" inputs anybody can recompute. */
export function fixedBytes(name: string, length = 32): Uint8Array {
  const out = new Uint8Array(length);
  for (let block = 0; block * 32 < length; block++) {
    const part = sha256(concatBytes(utf8(`burrow/vectors/${name}`), Uint8Array.of(block)));
    out.set(part.subarray(0, Math.min(32, length - block * 32)), block * 32);
  }
  return out;
}

/** A base64url id of 16 fixed bytes, as family, account, toy and child ids are. */
export function fixedId(name: string): string {
  return toBase64Url(fixedBytes(`id/${name}`, 16));
}

/** The identity secret (version 2: 0x02 ‖ Ed25519 seed ‖ X25519 key ‖ X-Wing seed) of a fixed identity. */
export function fixedIdentitySecret(name: string): Uint8Array {
  return concatBytes(Uint8Array.of(2), fixedBytes(`identity/${name}/ed25519`), fixedBytes(`identity/${name}/x25519`), fixedBytes(`identity/${name}/x-wing`));
}

export function fixedIdentity(name: string): Promise<Identity> {
  return importIdentitySecret(fixedIdentitySecret(name));
}

/** The public keys of an identity as vector files show them. */
export function publicKeysHex(identity: Identity): Record<string, string> {
  const keys = identity.publicKeys;
  return { signingKey: hex(keys.signingKey), agreementKey: hex(keys.agreementKey), ...(keys.kemKey ? { kemKey: hex(keys.kemKey) } : {}) };
}

/**
 * Runs `fn` with `crypto.getRandomValues` replaced by a fixed stream (SHA-256 of the label and a
 * counter), so that the random nonces of AES-GCM boxes repeat from run to run. Only the vector
 * generator uses it; the nonces it yields are in the vector files, so a second implementation never
 * needs this stream. Not re-entrant: generators run one at a time.
 */
export async function withFixedRandom<T>(label: string, fn: () => Promise<T>): Promise<T> {
  let counter = 0;
  const fill = <A extends ArrayBufferView | null>(array: A): A => {
    if (array === null) return array;
    const out = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    for (let at = 0; at < out.length; at += 32) {
      const block = sha256(concatBytes(utf8(`burrow/vectors/random/${label}`), Uint8Array.of(counter >>> 24, counter >>> 16, counter >>> 8, counter)));
      counter++;
      out.set(block.subarray(0, Math.min(32, out.length - at)), at);
    }
    return array;
  };
  Object.defineProperty(globalThis.crypto, 'getRandomValues', { value: fill, configurable: true, writable: true });
  try {
    return await fn();
  } finally {
    delete (globalThis.crypto as { getRandomValues?: unknown }).getRandomValues;
  }
}

/** Flips the lowest bit of byte `at` (a copy): the "tampered byte" of every refusal vector. */
export function flipByte(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice();
  out[at] = out[at]! ^ 0x01;
  return out;
}
