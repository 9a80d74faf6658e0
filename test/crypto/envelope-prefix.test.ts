/** The server's streaming view of an envelope: header and lengths from its first bytes, and approval checks. */
import { describe, expect, it } from 'vitest';
import { randomBytes } from '../../src/crypto/bytes.js';
import { approveMessage, parseEnvelopeHeader, parseEnvelopePrefix, sealMessage, verifyApprovalSignature } from '../../src/crypto/envelope.js';
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
