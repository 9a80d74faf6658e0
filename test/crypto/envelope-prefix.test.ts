/** The server's streaming view of an envelope: header and lengths from its first bytes, and approval checks. */
import { describe, expect, it } from 'vitest';
import { concatBytes, randomBytes } from '../../src/crypto/bytes.js';
import { approveMessage, createEnvelopeStreamChecker, MAX_ENVELOPE_PREFIX_BYTES, parseEnvelopeHeader, parseEnvelopePrefix, sealMessage, verifyApprovalSignature } from '../../src/crypto/envelope.js';
import { sha256 } from '../../src/crypto/webcrypto.js';
import { person } from './fixtures.js';

async function sealed(audioBytes: number) {
  const mum = await person('mum');
  const message = await sealMessage({
    familyId: 'fam-1', epoch: 3, rosterHead: randomBytes(32), familyKey: randomBytes(32), sender: { accountId: 'mum', identity: mum.identity },
    recipients: ['child-1', 'toy-1'], audio: randomBytes(audioBytes), audioType: 'audio/webm', durationMs: 1200, createdAt: 1_700_000_000_000,
  });
  return { mum, message };
}

describe('parseEnvelopePrefix', () => {
  it('reads the header and the whole length from the first bytes of an envelope', async () => {
    const { message } = await sealed(5000);
    const full = parseEnvelopeHeader(message.bytes);
    if (!full.ok) throw new Error(full.code);
    const prefix = parseEnvelopePrefix(message.bytes.subarray(0, 400));
    if (!prefix.ok) throw new Error(prefix.code);
    expect(prefix.value.header.familyId).toBe('fam-1');
    expect(prefix.value.header.epoch).toBe(3);
    expect(prefix.value.header.rosterHead).toEqual(message.header.rosterHead);
    expect(prefix.value.header.recipients).toEqual(['child-1', 'toy-1']);
    expect(prefix.value.header.messageId).toEqual(message.header.messageId);
    expect(prefix.value.ciphertextLength).toBe(full.value.ciphertextLength);
    expect(prefix.value.envelopeLength).toBe(message.bytes.length);
    expect(prefix.value.headerLength + 4).toBeLessThan(400);
  });

  it('asks for more bytes until the ciphertext length is in, at every cut', async () => {
    const { message } = await sealed(10);
    const whole = parseEnvelopePrefix(message.bytes);
    if (!whole.ok) throw new Error(whole.code);
    for (let cut = 0; cut < whole.value.headerLength + 4; cut++) {
      const partial = parseEnvelopePrefix(message.bytes.subarray(0, cut));
      expect(partial.ok, `cut at ${cut}`).toBe(false);
      if (!partial.ok) expect(['envelope/incomplete', 'envelope/malformed'], `cut at ${cut}`).toContain(partial.code);
    }
    expect(parseEnvelopePrefix(message.bytes.subarray(0, whole.value.headerLength + 4)).ok).toBe(true);
  });

  it('refuses bytes that are not an envelope', () => {
    const bad = parseEnvelopePrefix(new TextEncoder().encode('GIF89a not an envelope at all, really not'));
    expect(bad).toEqual({ ok: false, code: 'envelope/malformed' });
  });
});

describe('MAX_ENVELOPE_PREFIX_BYTES', () => {
  it('is exactly the prefix of an envelope with the longest ids and the most recipients', async () => {
    const mum = await person('mum');
    const longest = (tag: string) => tag.padEnd(128, 'x');
    const recipients = Array.from({ length: 64 }, (_, i) => longest(`child-${i}`));
    const message = await sealMessage({
      familyId: longest('fam'), epoch: 1, rosterHead: randomBytes(32), familyKey: randomBytes(32), sender: { accountId: longest('mum'), identity: mum.identity },
      recipients, audio: randomBytes(10), audioType: 'audio/webm', durationMs: 10, createdAt: 1_700_000_000_000,
    });
    const prefix = parseEnvelopePrefix(message.bytes);
    if (!prefix.ok) throw new Error(prefix.code);
    expect(prefix.value.headerLength + 4).toBe(MAX_ENVELOPE_PREFIX_BYTES);
    expect(parseEnvelopePrefix(message.bytes.subarray(0, MAX_ENVELOPE_PREFIX_BYTES - 1))).toEqual({ ok: false, code: 'envelope/incomplete' });
  });
});

describe('createEnvelopeStreamChecker', () => {
  async function streamed(bytes: Uint8Array, cuts: number[]) {
    const prefix = parseEnvelopePrefix(bytes);
    if (!prefix.ok) throw new Error(prefix.code);
    const pieces: Uint8Array[] = [];
    const checker = createEnvelopeStreamChecker(prefix.value, (piece) => pieces.push(piece.slice()));
    const results = [];
    let at = 0;
    for (const cut of [...cuts, bytes.length]) {
      results.push(checker.push(bytes.subarray(at, cut)));
      at = cut;
    }
    return { results, ciphertext: concatBytes(...pieces) };
  }

  it('hands over exactly the ciphertext, however the bytes are cut', async () => {
    const { message } = await sealed(3000);
    const prefix = parseEnvelopePrefix(message.bytes);
    if (!prefix.ok) throw new Error(prefix.code);
    const edges = [prefix.value.headerLength, prefix.value.headerLength + 4, message.bytes.length - 68, message.bytes.length - 66, message.bytes.length - 64];
    for (const cuts of [[], [1], edges, edges.map((e) => e + 1), Array.from({ length: 40 }, (_, i) => (i + 1) * 97)]) {
      const { results, ciphertext } = await streamed(message.bytes, cuts);
      expect(results.every((r) => r.ok), `cuts ${cuts.join(',')}`).toBe(true);
      expect(ciphertext).toEqual(message.ciphertext);
      expect(await sha256(ciphertext)).toEqual(message.ciphertextHash);
    }
  });

  it('fails once the signature field does not declare 64 bytes, wherever its length prefix is cut', async () => {
    const { message } = await sealed(500);
    const tampered = message.bytes.slice();
    tampered[tampered.length - 65] = 63;
    for (const cut of [tampered.length - 70, tampered.length - 66, tampered.length - 65, tampered.length - 64]) {
      const { results } = await streamed(tampered, [cut]);
      expect(results.at(-1), `cut at ${cut}`).toEqual({ ok: false, code: 'envelope/malformed' });
    }
  });
});

describe('verifyApprovalSignature', () => {
  it('accepts a guardian approval of the exact message at its head, and refuses it for another message, family, head or key', async () => {
    const { mum, message } = await sealed(100);
    const other = await person('dad');
    const head = { rosterEpoch: 3, rosterHead: randomBytes(32) };
    const approval = await approveMessage({ guardian: mum, familyId: 'fam-1', messageId: message.header.messageId, ciphertextHash: message.ciphertextHash, ...head });
    const base = { signingKey: mum.identity.publicKeys.signingKey, familyId: 'fam-1', messageId: message.header.messageId, ciphertextHash: message.ciphertextHash, ...head, signature: approval.signature };
    expect(await verifyApprovalSignature(base)).toBe(true);
    expect(await verifyApprovalSignature({ ...base, signingKey: other.identity.publicKeys.signingKey })).toBe(false);
    expect(await verifyApprovalSignature({ ...base, messageId: randomBytes(16) })).toBe(false);
    expect(await verifyApprovalSignature({ ...base, ciphertextHash: randomBytes(32) })).toBe(false);
    expect(await verifyApprovalSignature({ ...base, familyId: 'fam-2' })).toBe(false);
    expect(await verifyApprovalSignature({ ...base, rosterEpoch: 4 })).toBe(false);
    expect(await verifyApprovalSignature({ ...base, rosterHead: randomBytes(32) })).toBe(false);
    expect(await verifyApprovalSignature({ ...base, signature: randomBytes(64) })).toBe(false);
    expect(await verifyApprovalSignature({ ...base, signature: randomBytes(10) })).toBe(false);
  });
});
