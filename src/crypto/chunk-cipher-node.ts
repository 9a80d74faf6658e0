/**
 * The Node back end of `ChunkCipher` (chunk-cipher.ts): AES-256-GCM by node:crypto, run
 * synchronously by OpenSSL in the calling thread, and SHA-256 on WebCrypto, which Node runs on
 * libuv's thread pool. A WebCrypto job copies its input, runs on the pool and resolves a promise
 * back on the main thread, and its output is one more buffer to collect: for 64 KiB chunks that
 * overhead is a large part of the work. So the encryption runs in the calling thread, while each
 * sealed chunk's hash runs on the pool beside the encryption of the next chunks (and, when
 * opening, beside the chunk's own decryption): the two passes the format needs run side by side.
 *
 * The crypto core runs in browsers too, so it imports no Node module: node:crypto is asked for at
 * run time through `process.getBuiltinModule` (Node ≥ 22.3), which only Node-like environments
 * have. Elsewhere `nodeChunkCipher` answers undefined and the WebCrypto back end is used.
 */
import { GCM_TAG_BYTES, webCryptoSha256, type ChunkCipher } from './chunk-cipher.js';

/** The parts of node:crypto used here, typed structurally (no Node types in the crypto core). */
interface NodeCrypto {
  createSecretKey(key: Uint8Array): object;
  createCipheriv(algorithm: 'aes-256-gcm', key: object, iv: Uint8Array, options: { authTagLength: number }): {
    setAAD(aad: Uint8Array): unknown;
    update(data: Uint8Array): Uint8Array;
    final(): Uint8Array;
    getAuthTag(): Uint8Array;
  };
  createDecipheriv(algorithm: 'aes-256-gcm', key: object, iv: Uint8Array, options: { authTagLength: number }): {
    setAAD(aad: Uint8Array): unknown;
    setAuthTag(tag: Uint8Array): unknown;
    update(data: Uint8Array): Uint8Array;
    final(): Uint8Array;
  };
}

/** node:crypto when the environment provides it, looked up once. */
const nodeCrypto: NodeCrypto | undefined = (() => {
  const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof process?.getBuiltinModule !== 'function') return undefined;
  try {
    const module = process.getBuiltinModule('node:crypto') as Partial<NodeCrypto> | undefined;
    const complete = typeof module?.createCipheriv === 'function' && typeof module.createDecipheriv === 'function' && typeof module.createSecretKey === 'function';
    return complete ? (module as NodeCrypto) : undefined;
  } catch {
    return undefined;
  }
})();

/** A plain Uint8Array over a Buffer's bytes (no copy), so callers never meet Buffer's own `slice`. */
function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * The node:crypto back end for `rawKey` (32 bytes), which it copies into a KeyObject (the caller
 * wipes `rawKey` afterwards); undefined where node:crypto is not available.
 */
export function nodeChunkCipher(rawKey: Uint8Array): ChunkCipher | undefined {
  if (nodeCrypto === undefined) return undefined;
  const crypto = nodeCrypto;
  const key = crypto.createSecretKey(rawKey);
  const options = { authTagLength: GCM_TAG_BYTES };
  return {
    backEnd: 'node:crypto',
    seal(nonce, aad, plaintext, out) {
      const cipher = crypto.createCipheriv('aes-256-gcm', key, nonce, options);
      cipher.setAAD(aad);
      // `update` reads all of `plaintext` before `out` (which may begin with it) is written.
      const ciphertext = cipher.update(plaintext);
      out.set(ciphertext);
      // GCM is a stream mode: `final` adds no bytes, it computes the tag.
      out.set(cipher.final(), ciphertext.length);
      out.set(cipher.getAuthTag(), plaintext.length);
    },
    open(nonce, aad, sealed) {
      const end = sealed.length - GCM_TAG_BYTES;
      const decipher = crypto.createDecipheriv('aes-256-gcm', key, nonce, options);
      decipher.setAAD(aad);
      decipher.setAuthTag(sealed.subarray(end));
      const plaintext = decipher.update(sealed.subarray(0, end));
      try {
        decipher.final();
      } catch {
        // OpenSSL decrypts before it checks the tag: what it produced is not authentic.
        plaintext.fill(0);
        return undefined;
      }
      return plain(plaintext);
    },
    sha256: webCryptoSha256,
  };
}
