/** The server's streaming view of an envelope: header and lengths from its first bytes, and approval checks. */
import { describe, expect, it } from 'vitest';
import { concatBytes, randomBytes } from '../../src/crypto/bytes.js';
import { approveMessage, createEnvelopeStreamChecker, MAX_ENVELOPE_PREFIX_BYTES, parseEnvelopeHeader, parseEnvelopePrefix, sealMessage, verifyApprovalSignature } from '../../src/crypto/envelope.js';
import { person } from './fixtures.js';

async function sealed(audioBytes: number) {
  const mum = await person('mum');
  const message = await sealMessage({
    familyId: 'fam-1', epoch: 3, rosterHead: randomBytes(32), scope: 'child-1', key: randomBytes(32), sender: { accountId: 'mum', identity: mum.identity },
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
    expect(prefix.value.paddedLength).toBe(full.value.paddedLength);
    expect(prefix.value.envelopeLength).toBe(message.bytes.length);
    expect(prefix.value.headerLength + 4).toBeLessThan(400);
  });

  it('asks for more bytes until the padded length is in, at every cut', async () => {
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
      familyId: longest('fam'), epoch: 1, rosterHead: randomBytes(32), scope: longest('child-0'), key: randomBytes(32), sender: { accountId: longest('mum'), identity: mum.identity },
      recipients, audio: randomBytes(10), audioType: 'audio/webm', durationMs: 10, createdAt: 1_700_000_000_000,
    });
    const prefix = parseEnvelopePrefix(message.bytes);
    if (!prefix.ok) throw new Error(prefix.code);
    expect(prefix.value.headerLength + 4).toBe(MAX_ENVELOPE_PREFIX_BYTES);
    expect(parseEnvelopePrefix(message.bytes.subarray(0, MAX_ENVELOPE_PREFIX_BYTES - 1))).toEqual({ ok: false, code: 'envelope/incomplete' });
  });
});

describe('createEnvelopeStreamChecker', () => {
  function streamed(bytes: Uint8Array, cuts: number[]) {
    const prefix = parseEnvelopePrefix(bytes);
    if (!prefix.ok) throw new Error(prefix.code);
    const checker = createEnvelopeStreamChecker(prefix.value);
    const results = [];
    let at = 0;
    for (const cut of [...cuts, bytes.length]) {
      results.push(checker.push(bytes.subarray(at, cut)));
      at = cut;
    }
    return { results, finished: checker.finish() };
  }

  /** Where each sealed chunk begins and ends in the envelope. */
  function chunkEdges(bytes: Uint8Array): number[] {
    const prefix = parseEnvelopePrefix(bytes);
    if (!prefix.ok) throw new Error(prefix.code);
    const bodyAt = prefix.value.headerLength + 11 + 32 * prefix.value.chunkCount + 64;
    return Array.from({ length: prefix.value.chunkCount }, (_, i) => bodyAt + i * (65_536 + 16));
  }

  it('gives the commitment’s hash (what approvals sign), however the bytes are cut', async () => {
    const { message } = await sealed(200_000);
    const prefix = parseEnvelopePrefix(message.bytes);
    if (!prefix.ok) throw new Error(prefix.code);
    const edges = [prefix.value.headerLength, prefix.value.headerLength + 4, prefix.value.headerLength + 11, ...chunkEdges(message.bytes)];
    for (const cuts of [[], [1], edges, edges.map((e) => e + 1), edges.map((e) => e - 1), Array.from({ length: 40 }, (_, i) => (i + 1) * 997)]) {
      const { results, finished } = streamed(message.bytes, cuts);
      expect(results.every((r) => r.ok), `cuts ${cuts.join(',')}`).toBe(true);
      expect(finished).toEqual({ ok: true, value: message.ciphertextHash });
    }
  });

  it('fails on a chunk its commitment does not list, at every chunk boundary, and on missing or extra bytes', async () => {
    const { message } = await sealed(200_000);
    // The first and last byte of every chunk (the byte before the first chunk is the signature's, which readers check).
    for (const [index, edge] of chunkEdges(message.bytes).entries()) {
      for (const at of index === 0 ? [edge] : [edge, edge - 1]) {
        const tampered = message.bytes.slice();
        tampered[at]! ^= 1;
        const { results } = streamed(tampered, [at, at + 1]);
        expect(results.some((r) => !r.ok), `byte ${at}`).toBe(true);
      }
    }
    const last = message.bytes.slice();
    last[last.length - 1]! ^= 1;
    expect(streamed(last, []).results.at(-1)).toEqual({ ok: false, code: 'envelope/malformed' });
    const short = streamed(message.bytes.subarray(0, message.bytes.length - 1), []);
    expect(short.finished).toEqual({ ok: false, code: 'envelope/incomplete' });
    const long = streamed(concatBytes(message.bytes, Uint8Array.of(0)), []);
    expect(long.results.at(-1)).toEqual({ ok: false, code: 'envelope/malformed' });
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
