/**
 * Small adapters over WebCrypto (`globalThis.crypto.subtle`), shared by the crypto core.
 * Node (22+) and Chromium both provide every algorithm used here without flags.
 */

/** The platform's SubtleCrypto. */
export function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error('WebCrypto (crypto.subtle) is not available in this environment');
  return s;
}

/**
 * `bytes` typed as WebCrypto's BufferSource wants it: the same view when it is backed by a plain
 * ArrayBuffer (WebCrypto copies its inputs when called, so no copy is needed here), a copy only
 * when it is backed by something else (e.g. a SharedArrayBuffer).
 */
export function buf(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

/** SHA-256 (FIPS 180-4) of `data`. */
export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-256', buf(data)));
}

/** SHA-512 (FIPS 180-4) of `data`. */
export async function sha512(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-512', buf(data)));
}
