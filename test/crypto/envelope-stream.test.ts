/**
 * Chunked envelopes opened whole and while they arrive: every chunk boundary tampered, chunks
 * truncated, reordered, duplicated, swapped between messages, bytes appended, and a family member
 * who re-signs a message whose padding is not zero or whose padded length is not the bucket of its
 * content. Both openers must refuse each, and the streaming one must never hand out audio from a
 * chunk before that chunk checked.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesEqual, concatBytes, randomBytes, utf8 } from '../../src/crypto/bytes.js';
import { openAndVerifyMessage, paddedLengthOf, parseEnvelopePrefix, sealMessage, type SealedMessage } from '../../src/crypto/envelope.js';
import { openMessageStream } from '../../src/crypto/envelope-stream.js';
import { hkdfSha256 } from '../../src/crypto/kdf.js';
import { hashRosterEntry, verifyRoster, type VerifiedRoster } from '../../src/crypto/roster.js';
import { family } from './fixtures.js';

const CHUNK = 65_536;

async function setup() {
  const f = await family();
  const verified = await verifyRoster(f.chain, { genesisHash: await hashRosterEntry(f.chain[0]!) });
  if (!verified.ok) throw new Error(verified.code);
  const roster: VerifiedRoster = verified.value;
  const scopeKey = f.book.keyAt(f.chain[1]!, 'child-1');
  const keyFor = f.book.keyForIn(f.chain);
  const send = async (audio: Uint8Array) =>
    sealMessage({ familyId: 'fam-1', epoch: 1, rosterHead: await hashRosterEntry(f.chain[1]!), scope: 'child-1', key: scopeKey, sender: { accountId: 'mum', identity: f.mum.identity }, recipients: ['child-1'], audio, audioType: 'audio/wav', durationMs: 9000, createdAt: 1_764_000_000_000 });
  return { ...f, roster, scopeKey, keyFor, send };
}

/** The envelope cut into pieces of `size` bytes, as a download delivers it. */
async function* piecesOf(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, Math.min(bytes.length, at + size));
}

interface Layout { bodyAt: number; chunks: Array<[number, number]> }

function layoutOf(bytes: Uint8Array): Layout {
  const prefix = parseEnvelopePrefix(bytes);
  if (!prefix.ok) throw new Error(prefix.code);
  const { headerLength, chunkCount, paddedLength } = prefix.value;
  const bodyAt = headerLength + 11 + 32 * chunkCount + 64;
  const chunks = Array.from({ length: chunkCount }, (_, i): [number, number] => [bodyAt + i * (CHUNK + 16), bodyAt + i * (CHUNK + 16) + Math.min(CHUNK, paddedLength - i * CHUNK) + 16]);
  return { bodyAt, chunks };
}

/** Opens `bytes` while streaming: the audio handed out, and how it ended. */
async function streamOpen(s: Awaited<ReturnType<typeof setup>>, bytes: Uint8Array, pieceSize = 10_000) {
  const opened = await openMessageStream(piecesOf(bytes, pieceSize), { roster: s.roster, keyFor: s.keyFor });
  if (!opened.ok) return { code: opened.code, audio: new Uint8Array(0), maxBufferedBytes: 0 };
  const pieces: Uint8Array[] = [];
  for (;;) {
    const next = await opened.value.next();
    if (!next.ok) return { code: next.code, audio: concatBytes(...pieces), maxBufferedBytes: opened.value.maxBufferedBytes };
    if (next.value === undefined) return { code: 'ok', audio: concatBytes(...pieces), maxBufferedBytes: opened.value.maxBufferedBytes };
    pieces.push(next.value.slice());
  }
}

describe('chunked envelopes', () => {
  it('a message of several chunks opens whole and streamed, in any cut, to the same audio', async () => {
    const s = await setup();
    const audio = randomBytes(5 * CHUNK + 1234);
    const sealed = await s.send(audio);
    const whole = await openAndVerifyMessage(sealed.bytes, { roster: s.roster, keyFor: s.keyFor });
    expect(whole.ok && bytesEqual(whole.value.audio, audio)).toBe(true);
    for (const size of [1, 7, 4096, CHUNK + 16, sealed.bytes.length]) {
      if (size === 1 && sealed.bytes.length > 100_000) {
        // Byte by byte only through the fields before the chunks (every parse step), then larger pieces.
        const { bodyAt } = layoutOf(sealed.bytes);
        const pieces = async function* () {
          for (let at = 0; at < bodyAt + 3; at++) yield sealed.bytes.subarray(at, at + 1);
          yield sealed.bytes.subarray(bodyAt + 3);
        };
        const opened = await openMessageStream(pieces(), { roster: s.roster, keyFor: s.keyFor });
        expect(opened.ok).toBe(true);
        continue;
      }
      const streamed = await streamOpen(s, sealed.bytes, size);
      expect(streamed.code, `pieces of ${size}`).toBe('ok');
      expect(bytesEqual(streamed.audio, audio), `pieces of ${size}`).toBe(true);
    }
  });

  it('the streaming reader holds one chunk at a time, however long the message', async () => {
    const s = await setup();
    const small = await streamOpen(s, (await s.send(randomBytes(3 * CHUNK))).bytes);
    const large = await streamOpen(s, (await s.send(randomBytes(40 * CHUNK))).bytes);
    expect(small.code).toBe('ok');
    expect(large.code).toBe('ok');
    // A sealed chunk and its plaintext, a transport piece, and the fields before the chunks.
    const bound = 2 * (CHUNK + 16) + 10_000 + 2_000;
    expect(large.maxBufferedBytes).toBeLessThanOrEqual(bound);
    // Only the commitment grows with the length (32 bytes a chunk), and where the pieces fall.
    expect(large.maxBufferedBytes - small.maxBufferedBytes).toBeLessThan(4_000);
  });

  it('a byte changed at every chunk boundary is refused whole and streamed, and no audio of that chunk is handed out', async () => {
    const s = await setup();
    const audio = randomBytes(3 * CHUNK + 100);
    const sealed = await s.send(audio);
    const { chunks } = layoutOf(sealed.bytes);
    for (const [index, [start, end]] of chunks.entries()) {
      for (const at of [start, start + 1, end - 17, end - 16, end - 1]) {
        const tampered = sealed.bytes.slice();
        tampered[at]! ^= 0x80;
        expect(await openAndVerifyMessage(tampered, { roster: s.roster, keyFor: s.keyFor }), `byte ${at}`).toEqual({ ok: false, code: 'envelope/bad-signature' });
        const streamed = await streamOpen(s, tampered);
        expect(streamed.code, `byte ${at}`).toBe('envelope/bad-signature');
        // Only the chunks before the tampered one were handed out (the first holds the metadata and opens before any audio).
        expect(streamed.audio.length, `byte ${at}`).toBeLessThanOrEqual(index * CHUNK);
      }
    }
  });

  it('truncated, extended, reordered, duplicated or swapped chunks are refused', async () => {
    const s = await setup();
    const a = await s.send(randomBytes(3 * CHUNK + 100));
    const b = await s.send(randomBytes(3 * CHUNK + 100));
    const la = layoutOf(a.bytes);
    const lb = layoutOf(b.bytes);
    const chunk = (m: SealedMessage, l: Layout, i: number) => m.bytes.subarray(...l.chunks[i]!);
    const fields = a.bytes.subarray(0, la.bodyAt);
    const n = la.chunks.length;
    const all = Array.from({ length: n }, (_, i) => chunk(a, la, i));
    const cases: Record<string, Uint8Array> = {
      'last chunk missing': concatBytes(fields, ...all.slice(0, -1)),
      'cut inside the last chunk': a.bytes.subarray(0, a.bytes.length - 5),
      'a byte appended': concatBytes(a.bytes, Uint8Array.of(0)),
      'a chunk appended again': concatBytes(a.bytes, all[1]!),
      'two chunks swapped': concatBytes(fields, all[1]!, all[0]!, ...all.slice(2)),
      'a chunk duplicated in place of the next': concatBytes(fields, all[0]!, all[1]!, all[1]!, ...all.slice(3)),
      'a chunk from another message': concatBytes(fields, all[0]!, chunk(b, lb, 1), ...all.slice(2)),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      const whole = await openAndVerifyMessage(bytes, { roster: s.roster, keyFor: s.keyFor });
      expect(whole.ok, name).toBe(false);
      const streamed = await streamOpen(s, bytes);
      expect(streamed.code, name).not.toBe('ok');
    }
  });

  it('a family member who re-signs a message with non-zero padding, or padded to another length, is refused', async () => {
    const s = await setup();
    const audio = utf8('short message');
    const sealed = await s.send(audio);
    const prefix = parseEnvelopePrefix(sealed.bytes);
    if (!prefix.ok) throw new Error(prefix.code);
    const { headerLength } = prefix.value;
    const header = sealed.bytes.subarray(0, headerLength);
    const noncePrefix = sealed.bytes.subarray(headerLength + 4, headerLength + 11);
    const keyBytes = await hkdfSha256({ ikm: s.scopeKey, salt: sealed.header.messageId, info: utf8('burrow/message-key/v1'), length: 32 });
    const key = await crypto.subtle.importKey('raw', new Uint8Array(keyBytes), 'AES-GCM', false, ['encrypt', 'decrypt']);
    const iv = new Uint8Array(12);
    iv.set(noncePrefix);
    iv[11] = 1;
    const plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: new Uint8Array(header), tagLength: 128 }, key, new Uint8Array(sealed.bytes.subarray(layoutOf(sealed.bytes).bodyAt))));

    /** Seals `padded` as one chunk and signs it with mum's real key, as a malicious sender could. */
    const forge = async (padded: Uint8Array): Promise<Uint8Array> => {
      const chunk = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: new Uint8Array(header), tagLength: 128 }, key, new Uint8Array(padded)));
      const length = new Uint8Array(4);
      new DataView(length.buffer).setUint32(0, padded.length);
      const commitment = concatBytes(length, noncePrefix, new Uint8Array(await crypto.subtle.digest('SHA-256', chunk)));
      const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(commitment)));
      const signature = new Uint8Array(await crypto.subtle.sign('Ed25519', s.mum.identity.signingPrivateKey, new Uint8Array(concatBytes(utf8('burrow/message/v1'), Uint8Array.of(0), header, hash))));
      return concatBytes(header, commitment, signature, chunk);
    };
    // The forgery machinery is right: the honest plaintext re-sealed opens.
    const honest = await forge(plain);
    expect((await openAndVerifyMessage(honest, { roster: s.roster, keyFor: s.keyFor })).ok).toBe(true);
    expect((await streamOpen(s, honest)).code).toBe('ok');

    await fc.assert(fc.asyncProperty(fc.integer({ min: plain.length - 200, max: plain.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, value) => {
      const marked = plain.slice();
      marked[at] = value;
      const forged = await forge(marked);
      expect(await openAndVerifyMessage(forged, { roster: s.roster, keyFor: s.keyFor })).toEqual({ ok: false, code: 'envelope/malformed' });
      expect((await streamOpen(s, forged)).code).toBe('envelope/malformed');
    }), { numRuns: 12 });
    // Padded to the next bucket instead: a valid bucket, but not the one of this content.
    const longer = new Uint8Array(paddedLengthOf(plain.length + 1));
    longer.set(plain);
    const overPadded = await forge(longer);
    expect(await openAndVerifyMessage(overPadded, { roster: s.roster, keyFor: s.keyFor })).toEqual({ ok: false, code: 'envelope/malformed' });
    expect((await streamOpen(s, overPadded)).code).toBe('envelope/malformed');
  });
});
