/**
 * The chunked body of a voice-message envelope (envelope.ts): the padding rule, the chunk layout,
 * the per-chunk nonces, and sealing and opening single chunks. In the spirit of STREAM (Hoang,
 * Reyhanitabar, Rogaway, Vizár, "Online Authenticated-Encryption and its Nonce-Reuse
 * Misuse-Resistance", CRYPTO 2015): every chunk is its own AES-256-GCM box under the message key,
 * with a nonce that names its index and whether it is the last, so a chunk cannot move, repeat, or
 * end the message early without failing its tag.
 *
 * The sealed plaintext (the inner record and its zero padding) is `paddedLength` bytes long, cut
 * into chunks of CHUNK_PLAINTEXT_BYTES (the last one shorter or equal). A sealed chunk is its
 * ciphertext followed by its 16-byte tag; the body is the chunks back to back. The commitment
 * the sender signs lists SHA-256 of every sealed chunk, so a reader checks each chunk against the
 * signature as it arrives, before decrypting it.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { bytesEqual } from './bytes.js';
import { webCryptoChunkCipher, type ChunkCipher } from './chunk-cipher.js';
import { nodeChunkCipher } from './chunk-cipher-node.js';
import { fail, ok, type CryptoResult } from './result.js';

/** Plaintext bytes of every chunk but the last (64 KiB). */
export const CHUNK_PLAINTEXT_BYTES = 64 * 1024;
/** The AES-GCM tag after each chunk's ciphertext. */
export const CHUNK_TAG_BYTES = 16;
/** The random part of every chunk nonce, carried in the commitment. */
export const NONCE_PREFIX_BYTES = 7;
/** SHA-256 of one sealed chunk, as listed in the commitment. */
export const CHUNK_HASH_BYTES = 32;
/** The smallest padded plaintext: every message shorter than this is padded to it. */
export const PADDING_FLOOR_BYTES = 16 * 1024;
/** Bytes before the chunk hashes in the commitment: u32 paddedLength ‖ nonce prefix. */
export const COMMITMENT_FIXED_BYTES = 4 + NONCE_PREFIX_BYTES;
/** How many chunks are sealed or opened at once when a whole message is at hand. */
const CHUNKS_IN_FLIGHT = 8;

/**
 * The padding bucket after `bucket`: B₀ = PADDING_FLOOR_BYTES, Bₖ₊₁ = Bₖ + ⌊Bₖ / 4⌋ (steps of
 * about 1.25×, in integers a small device computes without floating point).
 */
function nextBucket(bucket: number): number {
  return bucket + Math.floor(bucket / 4);
}

/**
 * The padded length of a plaintext of `length` bytes: the smallest bucket at least that long. The
 * padding costs at most 25 % (a plaintext one byte over a bucket) and on average about 12 % on
 * sizes spread evenly on a log scale; below the floor, up to 16 KiB.
 */
export function paddedLengthOf(length: number): number {
  if (!Number.isSafeInteger(length) || length < 0) throw new TypeError('length must be a non-negative integer');
  let bucket = PADDING_FLOOR_BYTES;
  while (bucket < length) bucket = nextBucket(bucket);
  return bucket;
}

/** Whether `length` is one of the buckets `paddedLengthOf` gives. */
export function isPaddedLength(length: number): boolean {
  return Number.isSafeInteger(length) && length >= PADDING_FLOOR_BYTES && paddedLengthOf(length) === length;
}

/** How many chunks a padded plaintext of `paddedLength` bytes is sealed in (at least one). */
export function chunkCountOf(paddedLength: number): number {
  return Math.max(1, Math.ceil(paddedLength / CHUNK_PLAINTEXT_BYTES));
}

/** Plaintext bytes of chunk `index` of a padded plaintext of `paddedLength` bytes. */
export function chunkPlaintextLength(paddedLength: number, index: number): number {
  return Math.min(CHUNK_PLAINTEXT_BYTES, paddedLength - index * CHUNK_PLAINTEXT_BYTES);
}

/** Bytes of the commitment: u32 paddedLength ‖ nonce prefix ‖ one hash per chunk. */
export function commitmentLengthOf(paddedLength: number): number {
  return COMMITMENT_FIXED_BYTES + CHUNK_HASH_BYTES * chunkCountOf(paddedLength);
}

/** Bytes of the sealed chunks: the padded plaintext and one tag per chunk. */
export function sealedBodyLengthOf(paddedLength: number): number {
  return paddedLength + CHUNK_TAG_BYTES * chunkCountOf(paddedLength);
}

/** Where sealed chunk `index` starts in the body. */
export function sealedChunkOffset(index: number): number {
  return index * (CHUNK_PLAINTEXT_BYTES + CHUNK_TAG_BYTES);
}

/**
 * Chunk `index`'s 96-bit nonce: the message's random 7-byte prefix ‖ u32 index ‖ u8 last (1 for
 * the final chunk, else 0), as in STREAM. The index binds the order; the flag binds the end, so
 * dropping the last chunks leaves a stream whose final chunk fails its tag.
 */
export function chunkNonce(prefix: Uint8Array, index: number, last: boolean): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(12);
  nonce.set(prefix, 0);
  new DataView(nonce.buffer).setUint32(NONCE_PREFIX_BYTES, index);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/**
 * The message key (32 bytes) as a `ChunkCipher` for `usage`: node:crypto's where the environment
 * has it (Node), else WebCrypto's (browsers). The two give the same bytes; the choice depends on
 * the environment only, never on the message. The caller wipes `rawKey` afterwards.
 */
export async function createChunkCipher(rawKey: Uint8Array, usage: 'encrypt' | 'decrypt'): Promise<ChunkCipher> {
  return nodeChunkCipher(rawKey) ?? (await webCryptoChunkCipher(rawKey, usage));
}

/** Everything a chunk's AES-GCM call needs besides its bytes. */
export interface ChunkContext {
  /** The message key, in the environment's back end (`createChunkCipher`). */
  cipher: ChunkCipher;
  noncePrefix: Uint8Array;
  /** The canonical header, authenticated by every chunk. */
  aad: Uint8Array;
  chunkCount: number;
}

/**
 * Seals every chunk of `body` in place (each slot holds its plaintext followed by CHUNK_TAG_BYTES
 * of room) and writes SHA-256 of each sealed chunk to `hashes` as soon as that chunk is sealed:
 * the hashing runs alongside the encryption of the next chunks, never as a second pass over the
 * whole body. On failure the body is zeroed so no plaintext lingers.
 */
export async function sealChunks(context: ChunkContext, body: Uint8Array, paddedLength: number, hashes: Uint8Array): Promise<void> {
  const sealOne = async (index: number): Promise<void> => {
    const length = chunkPlaintextLength(paddedLength, index);
    const slot = body.subarray(sealedChunkOffset(index), sealedChunkOffset(index) + length + CHUNK_TAG_BYTES);
    const iv = chunkNonce(context.noncePrefix, index, index === context.chunkCount - 1);
    await context.cipher.seal(iv, context.aad, slot.subarray(0, length), slot);
    hashes.set(await context.cipher.sha256(slot), index * CHUNK_HASH_BYTES);
  };
  try {
    await inParallel(context.chunkCount, sealOne);
  } catch (error) {
    body.fill(0);
    throw error;
  }
}

/**
 * Checks sealed chunk `index` against its committed hash, then opens it. The hash is checked
 * first, and the plaintext is returned only when both the hash and the tag pass.
 */
export async function openChunk(context: ChunkContext, index: number, sealed: Uint8Array, expectedHash: Uint8Array): Promise<CryptoResult<Uint8Array>> {
  if (sealed.length < CHUNK_TAG_BYTES) return fail('envelope/malformed');
  const iv = chunkNonce(context.noncePrefix, index, index === context.chunkCount - 1);
  // Both start at once (WebCrypto runs them side by side); the hash is judged first.
  const hashing = context.cipher.sha256(sealed);
  const decrypting = context.cipher.open(iv, context.aad, sealed);
  // A chunk other than the one the sender signed for this place is refused like a bad signature.
  if (!bytesEqual(await hashing, expectedHash)) {
    (await decrypting)?.fill(0);
    return fail('envelope/bad-signature');
  }
  const plaintext = await decrypting;
  return plaintext === undefined ? fail('envelope/decrypt-failed') : ok(plaintext);
}

/** Runs `task(0 … count − 1)` with at most CHUNKS_IN_FLIGHT running at once; rejects with the first failure. */
export async function inParallel(count: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(CHUNKS_IN_FLIGHT, count) }, worker));
}

/** A SHA-256 the server can feed piece by piece; node:crypto's `createHash('sha256')` fits, and so does @noble/hashes'. */
export interface IncrementalHash {
  update(piece: Uint8Array): unknown;
  digest(): Uint8Array;
}

/** @noble/hashes' SHA-256 as an `IncrementalHash`, for environments without node:crypto. */
export function nobleIncrementalSha256(): IncrementalHash {
  const hash = nobleSha256.create();
  return { update: (piece) => hash.update(piece), digest: () => hash.digest() };
}
