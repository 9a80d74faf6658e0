/**
 * History after a removal (issue #21 item 2): a removed sender's message opens for a member reader
 * only when the guardian-signed entry that removed them keeps its digest; the toy's rule (nothing
 * from a sender the head no longer lists) is unchanged; and a removed sender who signs a new
 * envelope committing to an old head — the backdating attack — is refused.
 */
import { describe, expect, it } from 'vitest';
import { bytesEqual, concatBytes } from '../../src/crypto/bytes.js';
import { keptMessageDigest, openAndVerifyMessage, sealMessage } from '../../src/crypto/envelope.js';
import { decodeRosterEntry, encodeRosterEntry, entryKeeps, hashRosterEntry, MAX_KEPT_MESSAGES, signRosterEntry, verifyRoster, type RosterEntry, type VerifiedRoster } from '../../src/crypto/roster.js';
import { FAMILY_SCOPE } from '../../src/crypto/key-scopes.js';
import { appendWith, family, settings, type Person } from './fixtures.js';

const DAY = 86_400_000;
const REMOVED_AT = Date.UTC(2026, 11, 12, 15, 30);

function byBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

async function verified(chain: RosterEntry[]): Promise<VerifiedRoster> {
  const result = await verifyRoster(chain, { genesisHash: await hashRosterEntry(chain[0]!) });
  if (!result.ok) throw new Error(result.code);
  return result.value;
}

/** The fixture family, with the toy's reply and gran's message at epoch 1, then mum removing both at epoch 2. */
async function setup(options: { keep: 'both' | 'reply' | 'none' }) {
  const f = await family();
  const head1 = await hashRosterEntry(f.chain[1]!);
  const seal = (from: Person, extra: Partial<Parameters<typeof sealMessage>[0]> & { kind?: 'toy' | 'member' } = {}) => {
    const { kind, ...rest } = extra;
    return sealMessage({
      familyId: 'fam-1', epoch: 1, rosterHead: head1, scope: 'child-1', key: f.book.keyAt(f.chain[1]!, 'child-1'),
      sender: kind === 'toy' ? { toyId: from.accountId, identity: from.identity } : { accountId: from.accountId, identity: from.identity },
      recipients: ['child-1'], audio: new TextEncoder().encode(`from ${from.accountId}`), audioType: 'audio/webm', durationMs: 900,
      createdAt: REMOVED_AT - DAY, ...rest,
    });
  };
  const reply = await seal(f.toy, { kind: 'toy' });
  const granMessage = await seal(f.gran);
  const digest = async (bytes: Uint8Array) => {
    const d = await keptMessageDigest(bytes);
    if (!d.ok) throw new Error(d.code);
    return d.value;
  };
  const kept = options.keep === 'none' ? [] : options.keep === 'reply' ? [await digest(reply.bytes)] : [await digest(reply.bytes), await digest(granMessage.bytes)];
  const removal = await appendWith(f.book, f.chain, {
    signer: f.mum, members: f.members.filter((m) => m.accountId !== 'gran'), toys: [], settings, kept, createdAt: REMOVED_AT,
  });
  const chain = [...f.chain, removal];
  const roster = await verified(chain);
  const open = (bytes: Uint8Array, history: boolean) => openAndVerifyMessage(bytes, { roster, keyFor: f.book.keyForIn(chain), age: { now: REMOVED_AT + DAY }, history });
  return { f, head1, seal, reply, granMessage, removal, chain, roster, open };
}

describe('history after a removal', () => {
  it('a member reader opens a removed toy’s kept reply, labelled with the removal entry’s epoch and signed time', async () => {
    const s = await setup({ keep: 'both' });
    const opened = await s.open(s.reply.bytes, true);
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    expect(new TextDecoder().decode(opened.value.audio)).toBe('from toy-1');
    expect(opened.value.sender).toEqual({ kind: 'toy', id: 'toy-1' });
    expect(opened.value.removed).toEqual({ epoch: 2, at: REMOVED_AT });
    const gran = await s.open(s.granMessage.bytes, true);
    expect(gran.ok && gran.value.removed).toEqual({ epoch: 2, at: REMOVED_AT });
  });

  it('the toy’s rule is unchanged: without `history` every message of a removed sender is refused, kept or not', async () => {
    const s = await setup({ keep: 'both' });
    expect(await s.open(s.reply.bytes, false)).toEqual({ ok: false, code: 'envelope/sender-removed' });
    expect(await s.open(s.granMessage.bytes, false)).toEqual({ ok: false, code: 'envelope/sender-removed' });
  });

  it('a message the removal entry does not keep is refused, also to a member reader', async () => {
    const s = await setup({ keep: 'reply' });
    expect((await s.open(s.reply.bytes, true)).ok).toBe(true);
    expect(await s.open(s.granMessage.bytes, true)).toEqual({ ok: false, code: 'envelope/sender-removed' });
  });

  it('backdating: the removed relative’s real keys sign a new envelope at the old head, dated before the removal — refused', async () => {
    const s = await setup({ keep: 'both' });
    // Gran still holds epoch 1's key and her signing key; she knows the head hash of epoch 1.
    const backdated = await s.seal(s.f.gran, { audio: new TextEncoder().encode('meet me at the park'), createdAt: REMOVED_AT - 2 * DAY });
    expect(await s.open(backdated.bytes, true)).toEqual({ ok: false, code: 'envelope/sender-removed' });
    // Reusing a kept message's id (the server would serve it under that id) with new content: refused too.
    const sameId = await s.seal(s.f.gran, { messageId: s.granMessage.header.messageId, audio: new TextEncoder().encode('new words') });
    expect(await s.open(sameId.bytes, true)).toEqual({ ok: false, code: 'envelope/sender-removed' });
    // The removed toy, the same.
    const toyBackdated = await s.seal(s.f.toy, { kind: 'toy', createdAt: REMOVED_AT - 3 * DAY, audio: new TextEncoder().encode('again') });
    expect(await s.open(toyBackdated.bytes, true)).toEqual({ ok: false, code: 'envelope/sender-removed' });
    // At an even older epoch it is no better.
    const atGenesis = await sealMessage({
      familyId: 'fam-1', epoch: 0, rosterHead: await hashRosterEntry(s.chain[0]!), scope: FAMILY_SCOPE, key: s.f.book.keyAt(s.chain[0]!, FAMILY_SCOPE), sender: { accountId: 'mum', identity: s.f.mum.identity },
      recipients: ['mum'], audio: new Uint8Array(3), audioType: 'audio/webm', durationMs: 1, createdAt: 1,
    });
    // (mum is still a member, so her old message opens as an ordinary one: history applies only to removed senders.)
    expect((await s.open(atGenesis.bytes, true)).ok).toBe(true);
  });

  it('a kept message is still checked: a changed byte, another signer or a stranger does not open', async () => {
    const s = await setup({ keep: 'both' });
    const tampered = s.reply.bytes.slice();
    tampered[tampered.length - 1]! ^= 1;
    expect(await s.open(tampered, true)).toEqual({ ok: false, code: 'envelope/bad-signature' });
    const strangerSeal = await s.seal(s.f.stranger);
    expect(await s.open(strangerSeal.bytes, true)).toEqual({ ok: false, code: 'envelope/sender-not-member' });
  });

  it('the kept list and the removal time are signed: a server that adds a digest or moves the date breaks the guardian’s signature', async () => {
    const s = await setup({ keep: 'reply' });
    const gran = await keptMessageDigest(s.granMessage.bytes);
    if (!gran.ok) throw new Error(gran.code);
    const forged: RosterEntry = { ...s.removal, kept: [...s.removal.kept, gran.value].sort(byBytes) };
    const refused = await verifyRoster([...s.chain.slice(0, 2), forged], { genesisHash: await hashRosterEntry(s.chain[0]!) });
    expect(refused).toEqual({ ok: false, code: 'roster/bad-signature' });
    const moved: RosterEntry = { ...s.removal, createdAt: REMOVED_AT - 30 * DAY };
    expect(await verifyRoster([...s.chain.slice(0, 2), moved], { genesisHash: await hashRosterEntry(s.chain[0]!) })).toEqual({ ok: false, code: 'roster/bad-signature' });
  });

  it('encodes the kept digests canonically: strictly ascending 32-byte values, at most MAX_KEPT_MESSAGES, round-tripping', async () => {
    const s = await setup({ keep: 'both' });
    const bytes = encodeRosterEntry(s.removal);
    const decoded = decodeRosterEntry(bytes);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.value.kept.length).toBe(2);
    expect(decoded.value.createdAt).toBe(REMOVED_AT);
    for (const d of s.removal.kept) expect(entryKeeps(decoded.value, d)).toBe(true);
    expect(entryKeeps(decoded.value, new Uint8Array(32))).toBe(false);
    // Swapping the two digests (an unsorted list) is not a canonical encoding.
    const at = bytes.length - (4 + 3 + 4 + 64) - 64;
    const swapped = concatBytes(bytes.subarray(0, at), bytes.subarray(at + 32, at + 64), bytes.subarray(at, at + 32), bytes.subarray(at + 64));
    expect(bytesEqual(swapped, bytes)).toBe(false);
    expect(decodeRosterEntry(swapped)).toEqual({ ok: false, code: 'roster/malformed' });
    // Signing sorts and drops duplicates; too many digests are refused by name.
    const again = await signRosterEntry({ ...s.removal, settings, scopeKeys: s.f.book.keysFor(s.chain[1]!, s.removal, 2), kept: [s.removal.kept[1]!, s.removal.kept[0]!, s.removal.kept[1]!] }, s.f.mum.identity);
    expect(again.kept).toEqual(s.removal.kept);
    const tooMany = Array.from({ length: MAX_KEPT_MESSAGES + 1 }, (_, i) => Uint8Array.from({ length: 32 }, (_, j) => (j < 4 ? (i >>> (8 * (3 - j))) & 0xff : 0)));
    await expect(signRosterEntry({ ...s.removal, settings, scopeKeys: s.f.book.keysFor(s.chain[1]!, s.removal, 2), kept: tooMany }, s.f.mum.identity)).rejects.toThrow(/kept/);
  });
});
