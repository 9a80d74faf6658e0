/**
 * The two back ends of an envelope's chunk cipher (src/crypto/chunk-cipher.ts, chunk-cipher-node.ts)
 * give the same bytes: each seals the published envelope vector (docs/vectors/envelope.json) to its
 * published chunks and hashes, opens them back, and refuses the same tampering with the same codes.
 * In Node both back ends run; in Chromium (the crypto-browser project) only WebCrypto exists, and
 * `createChunkCipher` must pick it.
 */
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../src/crypto/bytes.js';
import { webCryptoChunkCipher, type ChunkCipher } from '../../src/crypto/chunk-cipher.js';
import { nodeChunkCipher } from '../../src/crypto/chunk-cipher-node.js';
import {
  CHUNK_HASH_BYTES,
  CHUNK_PLAINTEXT_BYTES,
  CHUNK_TAG_BYTES,
  chunkCountOf,
  chunkNonce,
  chunkPlaintextLength,
  createChunkCipher,
  openChunk,
  sealChunks,
  sealedBodyLengthOf,
  sealedChunkOffset,
  type ChunkContext,
} from '../../src/crypto/envelope-chunks.js';
import published from '../../docs/vectors/envelope.json' with { type: 'json' };

const vector = published.vectors[0]!;
const headerBytes = fromHex(vector.headerBytes);
const envelope = fromHex(vector.envelope);
const { paddedLength } = vector;
const chunkCount = chunkCountOf(paddedLength);
/** The sealed chunks as published: the envelope's tail. */
const publishedBody = envelope.subarray(envelope.length - sealedBodyLengthOf(paddedLength));
const publishedHashes = fromHex(vector.chunks.map((chunk) => chunk.sha256).join(''));

/** The padded plaintext the vector seals: inner metadata ‖ audio ‖ zeros. */
function paddedPlaintext(): Uint8Array {
  const padded = new Uint8Array(paddedLength);
  const metadata = fromHex(vector.innerMetadata);
  padded.set(metadata);
  padded.set(fromHex(vector.inputs.audio), metadata.length);
  return padded;
}

const hasNodeCrypto = typeof (globalThis as { process?: { getBuiltinModule?: unknown } }).process?.getBuiltinModule === 'function';

type BackEnd = (rawKey: Uint8Array, usage: 'encrypt' | 'decrypt') => Promise<ChunkCipher | undefined>;
const backEnds: Array<[string, BackEnd]> = [
  ['webcrypto', (rawKey, usage) => webCryptoChunkCipher(rawKey, usage)],
  ['node:crypto', async (rawKey) => nodeChunkCipher(rawKey)],
];

describe('choosing the chunk cipher', () => {
  it('uses node:crypto where the environment provides it and WebCrypto elsewhere', async () => {
    const cipher = await createChunkCipher(fromHex(vector.messageKey), 'decrypt');
    expect(cipher.backEnd).toBe(hasNodeCrypto ? 'node:crypto' : 'webcrypto');
  });

  it('has no node:crypto back end in a browser', () => {
    if (hasNodeCrypto) return;
    expect(nodeChunkCipher(fromHex(vector.messageKey))).toBeUndefined();
  });
});

for (const [name, make] of backEnds) {
  describe(`the ${name} chunk cipher`, () => {
    const available = name === 'webcrypto' || hasNodeCrypto;

    async function context(usage: 'encrypt' | 'decrypt', count = chunkCount): Promise<ChunkContext> {
      const rawKey = fromHex(vector.messageKey);
      const cipher = await make(rawKey, usage);
      if (cipher === undefined) throw new Error(`${name} is not available here`);
      // Callers wipe the raw key once the cipher holds it.
      rawKey.fill(0);
      return { cipher, noncePrefix: fromHex(vector.noncePrefix), aad: headerBytes, chunkCount: count };
    }

    function sealedChunk(index: number): Uint8Array {
      const start = sealedChunkOffset(index);
      return publishedBody.slice(start, start + chunkPlaintextLength(paddedLength, index) + CHUNK_TAG_BYTES);
    }

    const expectedHash = (index: number) => publishedHashes.subarray(index * CHUNK_HASH_BYTES, (index + 1) * CHUNK_HASH_BYTES);

    it.runIf(available)('seals the published vector to its published chunks and chunk hashes, even after the raw key is wiped', async () => {
      const plaintext = paddedPlaintext();
      const body = new Uint8Array(sealedBodyLengthOf(paddedLength));
      for (let index = 0; index < chunkCount; index++) {
        const from = index * CHUNK_PLAINTEXT_BYTES;
        body.set(plaintext.subarray(from, from + chunkPlaintextLength(paddedLength, index)), sealedChunkOffset(index));
      }
      const hashes = new Uint8Array(chunkCount * CHUNK_HASH_BYTES);
      await sealChunks(await context('encrypt'), body, paddedLength, hashes);
      expect(body).toEqual(publishedBody);
      expect(hashes).toEqual(publishedHashes);
    });

    it.runIf(available)('opens every published chunk back to the padded plaintext, as a plain Uint8Array', async () => {
      const chunks = await context('decrypt');
      const plaintext = paddedPlaintext();
      for (let index = 0; index < chunkCount; index++) {
        const opened = await openChunk(chunks, index, sealedChunk(index), expectedHash(index));
        if (!opened.ok) throw new Error(opened.code);
        const from = index * CHUNK_PLAINTEXT_BYTES;
        expect(opened.value).toEqual(plaintext.subarray(from, from + chunkPlaintextLength(paddedLength, index)));
        // A Node Buffer would answer `slice` with a view of the plaintext instead of a copy.
        expect(Object.getPrototypeOf(opened.value)).toBe(Uint8Array.prototype);
      }
    });

    it.runIf(available)('refuses a chunk that is not the one the sender committed to', async () => {
      const tampered = sealedChunk(1);
      tampered[20]! ^= 1;
      expect(await openChunk(await context('decrypt'), 1, tampered, expectedHash(1))).toEqual({ ok: false, code: 'envelope/bad-signature' });
    });

    it.runIf(available)('refuses a committed chunk whose tag fails: altered, moved to another place, or no longer last', async () => {
      const chunks = await context('decrypt');
      const tampered = sealedChunk(1);
      tampered[tampered.length - 1]! ^= 1;
      const hashOf = async (bytes: Uint8Array) => new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
      expect(await openChunk(chunks, 1, tampered, await hashOf(tampered))).toEqual({ ok: false, code: 'envelope/decrypt-failed' });
      // Chunk 0 read as chunk 1: its nonce names another index.
      expect(await openChunk(chunks, 1, sealedChunk(0), expectedHash(0))).toEqual({ ok: false, code: 'envelope/decrypt-failed' });
      // The last chunk read as if more followed it: its nonce's last flag differs.
      expect(await openChunk(await context('decrypt', chunkCount + 1), 1, sealedChunk(1), expectedHash(1))).toEqual({ ok: false, code: 'envelope/decrypt-failed' });
    });

    it.runIf(available)('refuses a chunk sealed under other associated data (another header)', async () => {
      const chunks = await context('decrypt');
      const otherHeader = headerBytes.slice();
      otherHeader[otherHeader.length - 1]! ^= 1;
      expect(await openChunk({ ...chunks, aad: otherHeader }, 0, sealedChunk(0), expectedHash(0))).toEqual({ ok: false, code: 'envelope/decrypt-failed' });
    });

    it.runIf(available)('gives AES-256-GCM and SHA-256 their standard answers', async () => {
      const { cipher } = await context('encrypt');
      // FIPS 180-4 example: SHA-256("abc").
      expect(await cipher.sha256(new TextEncoder().encode('abc'))).toEqual(fromHex('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'));
      const nonce = chunkNonce(fromHex(vector.noncePrefix), 0, true);
      const out = new Uint8Array(3 + CHUNK_TAG_BYTES);
      out.set([1, 2, 3]);
      await cipher.seal(nonce, headerBytes, out.subarray(0, 3), out);
      const reference = await crypto.subtle.importKey('raw', fromHex(vector.messageKey) as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['encrypt']);
      const expected = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: headerBytes as Uint8Array<ArrayBuffer> }, reference, new Uint8Array([1, 2, 3]));
      expect(out).toEqual(new Uint8Array(expected));
    });
  });
}
