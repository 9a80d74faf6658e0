/**
 * What sealing and opening an envelope's chunks (envelope-chunks.ts) needs from the platform:
 * AES-256-GCM (NIST SP 800-38D) under one message key, and SHA-256 (FIPS 180-4). The format —
 * nonces, AAD, chunk layout, the order of checks — lives in envelope-chunks.ts alone; a back end
 * only runs these three primitives. Two back ends give the same bytes: WebCrypto (this file, every
 * environment) and, where the platform has node:crypto, AES-GCM there with SHA-256 still on
 * WebCrypto (chunk-cipher-node.ts).
 *
 * Key use: one message key per message, one nonce per chunk (envelope-chunks.ts); a back end never
 * chooses a nonce.
 */
import { buf, subtle } from './webcrypto.js';

/** The AES-GCM tag length every chunk carries, in bytes. */
export const GCM_TAG_BYTES = 16;

/** A value, or a promise of it: node:crypto answers at once, WebCrypto later. */
export type MaybePromise<T> = T | Promise<T>;

/** AES-256-GCM under one message key, and SHA-256, for an envelope's chunks. */
export interface ChunkCipher {
  /** Which back end this is (the benchmark reports it). */
  readonly backEnd: 'webcrypto' | 'node:crypto';
  /**
   * Encrypts `plaintext` with `nonce` (12 bytes) and `aad`, writing ciphertext ‖ tag (16 bytes) to
   * `out`, which is `plaintext.length + 16` bytes long and may begin with `plaintext` itself.
   */
  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): MaybePromise<void>;
  /** Decrypts ciphertext ‖ tag: the plaintext, or undefined when the tag does not verify. */
  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): MaybePromise<Uint8Array | undefined>;
  /** SHA-256 of `bytes`. */
  sha256(bytes: Uint8Array): MaybePromise<Uint8Array>;
}

/**
 * The WebCrypto back end, for every environment: imports `rawKey` (32 bytes) as a non-extractable
 * AES-GCM key for `usage`. The caller wipes `rawKey` afterwards.
 */
export async function webCryptoChunkCipher(rawKey: Uint8Array, usage: 'encrypt' | 'decrypt'): Promise<ChunkCipher> {
  const key = await subtle().importKey('raw', buf(rawKey), { name: 'AES-GCM' }, false, [usage]);
  const params = (nonce: Uint8Array, aad: Uint8Array): AesGcmParams => ({ name: 'AES-GCM', iv: buf(nonce), additionalData: buf(aad), tagLength: GCM_TAG_BYTES * 8 });
  return {
    backEnd: 'webcrypto',
    async seal(nonce, aad, plaintext, out) {
      out.set(new Uint8Array(await subtle().encrypt(params(nonce, aad), key, buf(plaintext))));
    },
    async open(nonce, aad, sealed) {
      try {
        return new Uint8Array(await subtle().decrypt(params(nonce, aad), key, buf(sealed)));
      } catch {
        return undefined;
      }
    },
    sha256: webCryptoSha256,
  };
}

/** SHA-256 on WebCrypto: in Node on libuv's thread pool, so it runs beside work in the calling thread. */
export async function webCryptoSha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-256', buf(bytes)));
}
