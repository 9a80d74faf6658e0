/** Signed receipts (src/crypto/receipt.ts): a receipt verifies only as its signer made it, for its message, at a head the reader does not hold differently. */
import { describe, expect, it } from 'vitest';
import { randomBytes, toHex, utf8 } from '../../src/crypto/bytes.js';
import { labelled } from '../../src/crypto/canonical.js';
import { encodeReceiptBody, signReceipt, verifyReceipt, verifyReceiptSignature, type SignedReceipt } from '../../src/crypto/receipt.js';
import { hashRosterEntry, verifyRoster, type RosterEntry, type VerifiedRoster } from '../../src/crypto/roster.js';
import { appendWith, family, guardianOf, settings } from './fixtures.js';

async function verified(chain: RosterEntry[]): Promise<VerifiedRoster> {
  const result = await verifyRoster(chain, { genesisHash: await hashRosterEntry(chain[0]!) });
  if (!result.ok) throw new Error(result.code);
  return result.value;
}

async function setup() {
  const f = await family();
  const roster = await verified(f.chain);
  const messageId = randomBytes(16);
  const byToy = await signReceipt(f.toy.identity, { familyId: 'fam-1', messageId, kind: 'played', signerId: 'toy-1', rosterEpoch: 1, rosterHead: roster.headHash, at: 1_764_000_000_000 });
  return { ...f, roster, messageId, byToy };
}

describe('signed receipts', () => {
  it("a toy's 'played' receipt verifies against the roster", async () => {
    const s = await setup();
    expect(await verifyReceipt(s.byToy, { roster: s.roster, messageId: s.messageId })).toEqual({ ok: true, value: { kind: 'played', signerId: 'toy-1', at: 1_764_000_000_000 } });
  });

  it('the body has the documented layout', async () => {
    const s = await setup();
    const body = encodeReceiptBody(s.byToy);
    const u32 = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
    const u64 = (n: number) => [...u32(Math.floor(n / 2 ** 32)), ...u32(n >>> 0)];
    const expected = Uint8Array.from([1, ...u32(5), ...utf8('fam-1'), ...s.messageId, 2, ...u32(5), ...utf8('toy-1'), ...u64(1), ...s.roster.headHash, ...u64(1_764_000_000_000)]);
    expect(toHex(body)).toBe(toHex(expected));
    const raw = await crypto.subtle.importKey('raw', new Uint8Array(s.toy.identity.publicKeys.signingKey), 'Ed25519', false, ['verify']);
    expect(await crypto.subtle.verify('Ed25519', raw, new Uint8Array(s.byToy.signature), new Uint8Array(labelled('burrow/receipt/v1', body)))).toBe(true);
  });

  it('changing any signed field, or the signature, makes it unverified', async () => {
    const s = await setup();
    const tampered: Array<[string, SignedReceipt]> = [
      ['kind', { ...s.byToy, kind: 'delivered' }],
      ['at', { ...s.byToy, at: s.byToy.at + 1 }],
      ['rosterEpoch', { ...s.byToy, rosterEpoch: 0 }],
      ['signature', { ...s.byToy, signature: s.byToy.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) }],
      ['signerId (another member)', { ...s.byToy, signerId: 'mum' }],
    ];
    for (const [field, receipt] of tampered) expect((await verifyReceipt(receipt, { roster: s.roster, messageId: s.messageId })).ok, field).toBe(false);
    expect(await verifyReceipt({ ...s.byToy, rosterHead: randomBytes(32) }, { roster: s.roster, messageId: s.messageId })).toEqual({ ok: false, code: 'receipt/bad-signature' });
    expect(await verifyReceipt(s.byToy, { roster: s.roster, messageId: randomBytes(16) })).toEqual({ ok: false, code: 'receipt/wrong-message' });
    expect(await verifyReceipt({ ...s.byToy, familyId: 'fam-2' }, { roster: s.roster, messageId: s.messageId })).toEqual({ ok: false, code: 'receipt/wrong-message' });
  });

  it('a receipt the server makes up — by a stranger, or in the toy\'s name with another key — is unverified', async () => {
    const s = await setup();
    const fake = await signReceipt(s.stranger.identity, { familyId: 'fam-1', messageId: s.messageId, kind: 'played', signerId: 'toy-1', rosterEpoch: 1, rosterHead: s.roster.headHash, at: 1 });
    expect(await verifyReceipt(fake, { roster: s.roster, messageId: s.messageId })).toEqual({ ok: false, code: 'receipt/bad-signature' });
    const byStranger = await signReceipt(s.stranger.identity, { familyId: 'fam-1', messageId: s.messageId, kind: 'played', signerId: 'stranger', rosterEpoch: 1, rosterHead: s.roster.headHash, at: 1 });
    expect(await verifyReceipt(byStranger, { roster: s.roster, messageId: s.messageId })).toEqual({ ok: false, code: 'receipt/unknown-signer' });
    expect(await verifyReceipt({ ...s.byToy, signature: randomBytes(64) }, { roster: s.roster, messageId: s.messageId })).toEqual({ ok: false, code: 'receipt/bad-signature' });
    expect(await verifyReceipt({ ...s.byToy, messageId: randomBytes(3) }, { roster: s.roster, messageId: s.messageId })).toEqual({ ok: false, code: 'receipt/malformed' });
  });

  it('a receipt signed at a head the reader holds differently is a fork', async () => {
    const s = await setup();
    const other = await appendWith(s.book, [s.chain[0]!], { signer: s.mum, members: [guardianOf(s.mum)], toys: [], settings: { ...settings, volumeLimit: 100 } });
    const byMum = await signReceipt(s.mum.identity, { familyId: 'fam-1', messageId: s.messageId, kind: 'delivered', signerId: 'mum', rosterEpoch: 1, rosterHead: await hashRosterEntry(other), at: 5 });
    expect(await verifyReceipt(byMum, { roster: s.roster, messageId: s.messageId })).toEqual({ ok: false, code: 'receipt/roster-fork' });
    // At a newer epoch than the reader's head, the signer's newest known key decides.
    const newer = await signReceipt(s.mum.identity, { familyId: 'fam-1', messageId: s.messageId, kind: 'delivered', signerId: 'mum', rosterEpoch: 7, rosterHead: randomBytes(32), at: 5 });
    expect((await verifyReceipt(newer, { roster: s.roster, messageId: s.messageId })).ok).toBe(true);
  });

  it('the server-side check needs the signer key and the exact body', async () => {
    const s = await setup();
    expect(await verifyReceiptSignature(s.byToy, s.toy.identity.publicKeys.signingKey)).toBe(true);
    expect(await verifyReceiptSignature(s.byToy, s.mum.identity.publicKeys.signingKey)).toBe(false);
    expect(await verifyReceiptSignature({ ...s.byToy, kind: 'nope' as never }, s.toy.identity.publicKeys.signingKey)).toBe(false);
  });

  it('misuse throws naming the argument', async () => {
    const s = await setup();
    await expect(signReceipt(s.toy.identity, { ...s.byToy, messageId: new Uint8Array(3) })).rejects.toThrow(/messageId/);
    await expect(signReceipt(s.toy.identity, { ...s.byToy, rosterHead: new Uint8Array(3) })).rejects.toThrow(/rosterHead/);
    await expect(signReceipt(s.toy.identity, { ...s.byToy, at: -1 })).rejects.toThrow(/receipt/);
  });
});
