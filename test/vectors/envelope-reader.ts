/**
 * A second reader of version-4 envelopes, written from docs/protocol.md ("Voice-message
 * envelopes") with @noble/hashes, @noble/curves and WebCrypto's bare AES-GCM, none of
 * src/crypto/envelope*.ts: the envelope vectors are rebuilt and opened with it, and their refusals
 * must fail it. It judges the bytes only (layout, signature with a given key, chunk hashes and tags,
 * the inner record and its padding); the roster rules are the vectors' `expected` codes.
 */
import { cat, ed25519Verifies, hkdfSha256, labelled, sha256, toHexString, u32, u8 } from './independent.js';

const CHUNK = 65_536;
const TAG = 16;

/** The buckets: B₀ = 16,384, Bₖ₊₁ = Bₖ + ⌊Bₖ / 4⌋; the smallest one at least `length`. */
export function bucketOf(length: number): number {
  let bucket = 16_384;
  while (bucket < length) bucket += Math.floor(bucket / 4);
  return bucket;
}

/** Chunk i's nonce: noncePrefix (7) ‖ u32 i ‖ u8 last. */
export function chunkNonceOf(prefix: Uint8Array, index: number, last: boolean): Uint8Array {
  return cat(prefix, u32(index), u8(last ? 1 : 0));
}

class Cursor {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}
  take(n: number): Uint8Array {
    if (this.at + n > this.bytes.length) throw new Error('short');
    this.at += n;
    return this.bytes.subarray(this.at - n, this.at);
  }
  uint(n: number): number {
    return Array.from(this.take(n)).reduce((v, b) => v * 256 + b, 0);
  }
  string(): string {
    return new TextDecoder('utf-8', { fatal: true }).decode(this.take(this.uint(4)));
  }
}

/** The fields of an envelope, cut by the documented layout. */
export interface EnvelopeCut {
  header: Uint8Array;
  /** The key scope the header names: a child's id, or '' (family-wide). */
  scope: string;
  messageId: Uint8Array;
  recipients: string[];
  commitment: Uint8Array;
  paddedLength: number;
  noncePrefix: Uint8Array;
  chunkHashes: Uint8Array[];
  signature: Uint8Array;
  sealedChunks: Uint8Array[];
}

/** Cuts an envelope into header, commitment, signature and sealed chunks; throws on a bad length. */
export function cutEnvelope(bytes: Uint8Array): EnvelopeCut {
  const c = new Cursor(bytes);
  if (toHexString(c.take(4)) !== '4252574d' || c.uint(1) !== 4) throw new Error('not BRWM version 4');
  c.string();
  c.uint(8);
  c.take(32);
  const scope = c.string();
  const messageId = c.take(16);
  c.string();
  const recipients: string[] = [];
  for (let count = c.uint(4); count > 0; count--) recipients.push(c.string());
  c.uint(8);
  const header = bytes.subarray(0, c.at);
  const commitmentStart = c.at;
  const paddedLength = c.uint(4);
  if (bucketOf(paddedLength) !== paddedLength) throw new Error('paddedLength is not a bucket');
  const n = Math.ceil(paddedLength / CHUNK);
  const noncePrefix = c.take(7);
  const chunkHashes = Array.from({ length: n }, () => c.take(32));
  const commitment = bytes.subarray(commitmentStart, c.at);
  const signature = c.take(64);
  const sealedChunks = Array.from({ length: n }, (_, i) => c.take(Math.min(CHUNK, paddedLength - i * CHUNK) + TAG));
  if (c.at !== bytes.length) throw new Error('bytes after the last chunk');
  return { header, scope, messageId, recipients, commitment, paddedLength, noncePrefix, chunkHashes, signature, sealedChunks };
}

/** The message key: HKDF-SHA-256(the scope key the header names, salt = messageId, info = "burrow/message-key/v1"). */
export function messageKeyOf(scopeKey: Uint8Array, messageId: Uint8Array): Uint8Array {
  return hkdfSha256(scopeKey, messageId, 'burrow/message-key/v1');
}

async function decrypt(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Promise<Uint8Array> {
  const aes = await crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['decrypt']);
  return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce as Uint8Array<ArrayBuffer>, additionalData: aad as Uint8Array<ArrayBuffer> }, aes, sealed as Uint8Array<ArrayBuffer>));
}

/** The inner record's fields and the padding check: u8 2 ‖ string audioType ‖ u32 durationMs ‖ u8 hasCaption ‖ [string caption] ‖ u32 length ‖ audio ‖ zeros. */
function readInner(padded: Uint8Array): { audioType: string; durationMs: number; caption?: string; audio: Uint8Array; innerLength: number } {
  const c = new Cursor(padded);
  if (c.uint(1) !== 2) throw new Error('inner version');
  const audioType = c.string();
  const durationMs = c.uint(4);
  const hasCaption = c.uint(1);
  if (hasCaption > 1) throw new Error('caption flag');
  const caption = hasCaption === 1 ? c.string() : undefined;
  const audio = c.take(c.uint(4));
  if (padded.subarray(c.at).some((b) => b !== 0)) throw new Error('non-zero padding');
  if (bucketOf(c.at) !== padded.length) throw new Error('padded to the wrong bucket');
  return { audioType, durationMs, audio, innerLength: c.at, ...(caption === undefined ? {} : { caption }) };
}

/**
 * Opens an envelope from the documented layout: the signature over "burrow/message/v1\0" ‖ header
 * ‖ SHA-256(commitment) with `senderSigningKey`, every chunk's SHA-256 against the commitment and
 * its tag, the inner record and its padding. Throws, naming the first failure.
 */
export async function openIndependently(bytes: Uint8Array, scopeKey: Uint8Array, senderSigningKey: string) {
  const cut = cutEnvelope(bytes);
  if (!ed25519Verifies(toHexString(cut.signature), labelled('burrow/message/v1', cat(cut.header, sha256(cut.commitment))), senderSigningKey)) throw new Error('signature');
  const key = messageKeyOf(scopeKey, cut.messageId);
  const padded = new Uint8Array(cut.paddedLength);
  for (const [i, sealed] of cut.sealedChunks.entries()) {
    if (toHexString(sha256(sealed)) !== toHexString(cut.chunkHashes[i]!)) throw new Error(`chunk ${i} is not the committed one`);
    try {
      padded.set(await decrypt(key, chunkNonceOf(cut.noncePrefix, i, i === cut.sealedChunks.length - 1), cut.header, sealed), i * CHUNK);
    } catch {
      throw new Error(`chunk ${i} fails its tag`);
    }
  }
  return { cut, padded, ...readInner(padded) };
}
