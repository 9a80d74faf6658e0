import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesEqual, concatBytes, randomBytes, toHex, utf8 } from '../../src/crypto/bytes.js';
import { approvalDecision, approveMessage, declineMessage, MAX_CLOCK_SKEW_MS, messageAgeProblem, openAndVerifyMessage, parseEnvelopeHeader, parseEnvelopePrefix, sealMessage, type Approval } from '../../src/crypto/envelope.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { FAMILY_SCOPE, messageScope, scopedContentsOf } from '../../src/crypto/key-scopes.js';
import { hashRosterEntry, scopeKeyOf, verifyRoster, type RosterEntry, type VerifiedRoster } from '../../src/crypto/roster.js';
import { generateScopeKey } from '../../src/crypto/scope-key.js';
import { appendWith, family, guardianOf, person, relativeOf, settings, toyOf, type Person } from './fixtures.js';

async function verified(chain: RosterEntry[]): Promise<VerifiedRoster> {
  const result = await verifyRoster(chain, { genesisHash: await hashRosterEntry(chain[0]!) });
  if (!result.ok) throw new Error(result.code);
  return result.value;
}

/** Where an envelope's fields begin: the commitment right after the header, then the signature, then the chunks. */
function fieldsOf(bytes: Uint8Array): { headerLength: number; signatureAt: number; bodyAt: number; chunkCount: number } {
  const prefix = parseEnvelopePrefix(bytes);
  if (!prefix.ok) throw new Error(prefix.code);
  const { headerLength, chunkCount } = prefix.value;
  const signatureAt = headerLength + 4 + 7 + 32 * chunkCount;
  return { headerLength, signatureAt, bodyAt: signatureAt + 64, chunkCount };
}

async function setup() {
  const f = await family();
  const roster = await verified(f.chain);
  const keyFor = f.book.keyForIn(f.chain);
  // The sender's head is the entry at the epoch it seals in, unless a test says otherwise.
  const headAt = async (epoch: number) => (f.chain[epoch] === undefined ? randomBytes(32) : hashRosterEntry(f.chain[epoch]));
  /**
   * Seals as an honest client would: under the scope `messageScope` gives at the sender's entry
   * (`at`, by default the fixture's entry of the epoch) and that scope's key there; a test may
   * name another scope or key. Where the entry gives no scope, 'child-1' and a random key.
   */
  const send = async (from: Person, extra: Partial<Parameters<typeof sealMessage>[0]> = {}, at?: RosterEntry) => {
    const entry = at ?? f.chain[extra.epoch ?? 1];
    const computed = entry === undefined ? undefined : messageScope(scopedContentsOf(entry), from.accountId, extra.recipients ?? ['child-1']);
    const scope = extra.scope ?? (computed?.ok ? computed.value : 'child-1');
    const signed = entry === undefined ? undefined : scopeKeyOf(entry, scope);
    return sealMessage({
      familyId: 'fam-1',
      epoch: 1,
      rosterHead: await headAt(extra.epoch ?? 1),
      scope,
      key: (signed === undefined ? undefined : f.book.get(scope, signed.generation)) ?? generateScopeKey(),
      sender: from.accountId.startsWith('toy') ? { toyId: from.accountId, identity: from.identity } : { accountId: from.accountId, identity: from.identity },
      recipients: ['child-1'],
      audio: utf8('RIFF....WAVEfmt pretend audio'),
      audioType: 'audio/webm;codecs=opus',
      durationMs: 2500,
      caption: 'Goodnight, sleep tight',
      createdAt: 1_764_000_000_000,
      ...extra,
    });
  };
  const open = (bytes: Uint8Array, extra: { approvals?: Approval[]; declines?: Approval[]; openUnapproved?: boolean; expected?: { messageId?: Uint8Array; familyId?: string }; roster?: VerifiedRoster } = {}) =>
    openAndVerifyMessage(bytes, { roster: extra.roster ?? roster, keyFor: f.book.keyForIn((extra.roster ?? roster).entries), approvals: extra.approvals, declines: extra.declines, openUnapproved: extra.openUnapproved, expected: extra.expected });
  const decision = (sign: typeof approveMessage) => async (guardian: Person, sealed: { header: { messageId: Uint8Array }; ciphertextHash: Uint8Array }, head: { rosterEpoch?: number; rosterHead?: Uint8Array } = {}) =>
    sign({
      guardian,
      familyId: 'fam-1',
      messageId: sealed.header.messageId,
      ciphertextHash: sealed.ciphertextHash,
      rosterEpoch: head.rosterEpoch ?? 1,
      rosterHead: head.rosterHead ?? (await hashRosterEntry(f.chain[1]!)),
    });
  return { ...f, roster, keyFor, send, open, approve: decision(approveMessage), decline: decision(declineMessage) };
}

describe('voice-message envelopes', () => {
  it('a guardian’s message opens for the toy with its audio, type, duration and caption', async () => {
    const s = await setup();
    const sealed = await s.send(s.mum);
    const opened = await s.open(sealed.bytes, { expected: { messageId: sealed.header.messageId, familyId: 'fam-1' } });
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    expect(new TextDecoder().decode(opened.value.audio)).toBe('RIFF....WAVEfmt pretend audio');
    expect(opened.value.audioType).toBe('audio/webm;codecs=opus');
    expect(opened.value.durationMs).toBe(2500);
    expect(opened.value.caption).toBe('Goodnight, sleep tight');
    expect(opened.value.sender).toEqual({ kind: 'member', id: 'mum' });
    expect(bytesEqual(opened.value.ciphertextHash, sealed.ciphertextHash)).toBe(true);
  });

  it('the server can read the header without keys, and the ciphertext hides the caption and audio', async () => {
    const s = await setup();
    const sealed = await s.send(s.mum);
    const header = parseEnvelopeHeader(sealed.bytes);
    expect(header.ok).toBe(true);
    if (!header.ok) return;
    expect(header.value.familyId).toBe('fam-1');
    expect(header.value.epoch).toBe(1);
    expect(header.value.senderId).toBe('mum');
    expect(header.value.recipients).toEqual(['child-1']);
    expect(toHex(header.value.messageId)).toBe(toHex(sealed.header.messageId));
    // A short message is padded to the smallest bucket.
    expect(header.value.paddedLength).toBe(16_384);
    const hex = toHex(sealed.bytes);
    expect(hex).not.toContain(toHex(utf8('Goodnight')));
    expect(hex).not.toContain(toHex(utf8('pretend audio')));
  });

  it('a streaming server is asked for more bytes only while the prefix is merely short', async () => {
    const s = await setup();
    const sealed = await s.send(s.mum);
    const whole = parseEnvelopePrefix(sealed.bytes);
    if (!whole.ok) throw new Error(whole.code);
    expect(whole.value.envelopeLength).toBe(sealed.bytes.length);
    for (let cut = 0; cut < whole.value.headerLength + 4; cut++) {
      expect(parseEnvelopePrefix(sealed.bytes.subarray(0, cut)), `cut at ${cut}`).toEqual({ ok: false, code: 'envelope/incomplete' });
    }
    // An invalid UTF-8 family id can never become valid, however many bytes follow.
    const badUtf8 = sealed.bytes.slice();
    badUtf8[4 + 1 + 4] = 0xff;
    expect(parseEnvelopePrefix(badUtf8)).toEqual({ ok: false, code: 'envelope/malformed' });
    // A padded length that is not a bucket (here 5, and one byte over the floor) is refused at once.
    for (const length of [[0, 0, 0, 5], [0, 0, 0x40, 0x01]]) {
      const notABucket = sealed.bytes.slice(0, whole.value.headerLength + 4);
      notABucket.set(length, whole.value.headerLength);
      expect(parseEnvelopePrefix(notABucket)).toEqual({ ok: false, code: 'envelope/malformed' });
    }
  });

  it('a toy’s reply opens for a guardian and for a relative of its child', async () => {
    const s = await setup();
    const reply = await s.send(s.toy, { recipients: ['mum', 'gran'] });
    const opened = await s.open(reply.bytes);
    expect(opened.ok && opened.value.sender).toEqual({ kind: 'toy', id: 'toy-1' });
  });

  it('changing any byte of the envelope (header, commitment, signature, or a chunk) is refused', async () => {
    const s = await setup();
    const sealed = await s.send(s.mum, { caption: 'x', audio: randomBytes(8) });
    const { bodyAt } = fieldsOf(sealed.bytes);
    // Every byte before the chunks, and every 61st byte of the padded chunk (its tag in full).
    const positions = Array.from({ length: sealed.bytes.length }, (_, i) => i).filter((i) => i < bodyAt || i % 61 === 0 || i >= sealed.bytes.length - 16);
    for (const i of positions) {
      const tampered = sealed.bytes.slice();
      tampered[i]! ^= 0x01;
      const result = await s.open(tampered);
      expect(result.ok, `byte ${i}`).toBe(false);
    }
  });

  it('tampering with each authenticated field gives that check’s code', async () => {
    const s = await setup();
    const sealed = await s.send(s.mum);
    const { headerLength, signatureAt, bodyAt } = fieldsOf(sealed.bytes);
    const flip = (at: number, xor = 0x01) => {
      const b = sealed.bytes.slice();
      b[at]! ^= xor;
      return b;
    };
    const familyIdAt = 4 + 1 + 4;
    const epochAt = familyIdAt + 5;
    const rosterHeadAt = epochAt + 8;
    const scopeAt = rosterHeadAt + 32;
    const messageIdAt = scopeAt + 4 + 'child-1'.length;
    expect(await s.open(flip(0))).toEqual({ ok: false, code: 'envelope/malformed' });
    expect(await s.open(flip(4))).toEqual({ ok: false, code: 'envelope/unsupported-version' });
    expect(await s.open(flip(familyIdAt))).toEqual({ ok: false, code: 'envelope/wrong-family' });
    // Epoch 1 → 5 or 1 → 0, or another head: a server cannot fake a newer head or a fork, since
    // the signature of a sender the reader knows must cover the claim.
    expect(await s.open(flip(rosterHeadAt - 1, 0x04))).toEqual({ ok: false, code: 'envelope/bad-signature' });
    expect(await s.open(flip(rosterHeadAt - 1))).toEqual({ ok: false, code: 'envelope/bad-signature' });
    expect(await s.open(flip(rosterHeadAt))).toEqual({ ok: false, code: 'envelope/bad-signature' });
    // A scope changed in transit (child-1 → child-0) is a forged header: the signature fails first.
    expect(await s.open(flip(messageIdAt - 1))).toEqual({ ok: false, code: 'envelope/bad-signature' });
    expect(await s.open(flip(messageIdAt))).toEqual({ ok: false, code: 'envelope/bad-signature' });
    expect(await s.open(flip(messageIdAt + 16 + 4))).toEqual({ ok: false, code: 'envelope/sender-not-member' });
    expect(await s.open(flip(headerLength - 1))).toEqual({ ok: false, code: 'envelope/bad-signature' });
    // The padded length (no longer a bucket), the nonce prefix and a chunk hash, all signed.
    expect(await s.open(flip(headerLength + 3))).toEqual({ ok: false, code: 'envelope/malformed' });
    expect(await s.open(flip(headerLength + 5))).toEqual({ ok: false, code: 'envelope/bad-signature' });
    expect(await s.open(flip(headerLength + 11))).toEqual({ ok: false, code: 'envelope/bad-signature' });
    expect(await s.open(flip(signatureAt + 10))).toEqual({ ok: false, code: 'envelope/bad-signature' });
    // A chunk that is not the one the signed commitment lists.
    expect(await s.open(flip(bodyAt + 20))).toEqual({ ok: false, code: 'envelope/bad-signature' });
    expect(await s.open(flip(sealed.bytes.length - 1))).toEqual({ ok: false, code: 'envelope/bad-signature' });
    expect(await s.open(sealed.bytes.subarray(0, sealed.bytes.length - 1))).toEqual({ ok: false, code: 'envelope/malformed' });
    expect(await s.open(concatBytes(sealed.bytes, Uint8Array.of(0)))).toEqual({ ok: false, code: 'envelope/malformed' });
  });

  it('swapping chunks between two messages is refused (the CloudPets “ledger” redirection)', async () => {
    const s = await setup();
    const a = await s.send(s.mum, { caption: 'for child 1' });
    const b = await s.send(s.mum, { caption: 'another' });
    const fa = fieldsOf(a.bytes);
    const fb = fieldsOf(b.bytes);
    const headerB = b.bytes.subarray(0, fb.headerLength);
    // b's header and signature around a's commitment and chunks; then b's commitment with a's chunks.
    expect(await s.open(concatBytes(headerB, a.commitment, b.signature, a.bytes.subarray(fa.bodyAt)))).toEqual({ ok: false, code: 'envelope/bad-signature' });
    expect(await s.open(concatBytes(b.bytes.subarray(0, fb.bodyAt), a.bytes.subarray(fa.bodyAt)))).toEqual({ ok: false, code: 'envelope/bad-signature' });
    // Even a member who re-signs the swapped pair cannot make it decrypt: the key and AAD follow the header.
    const resigned = await sealMessage({ familyId: 'fam-1', epoch: 1, rosterHead: await hashRosterEntry(s.chain[1]!), scope: 'child-1', key: s.book.keyAt(s.chain[1]!, 'child-1'), sender: { accountId: 'mum', identity: s.mum.identity }, recipients: ['child-1'], audio: new Uint8Array(1), audioType: 'audio/webm', durationMs: 1, createdAt: 1 });
    const headerR = resigned.bytes.subarray(0, fieldsOf(resigned.bytes).headerLength);
    const forgedSig = new Uint8Array(await crypto.subtle.sign('Ed25519', s.mum.identity.signingPrivateKey, new Uint8Array(concatBytes(utf8('burrow/message/v1'), Uint8Array.of(0), headerR, a.ciphertextHash))));
    const reSigned = concatBytes(headerR, a.commitment, forgedSig, a.bytes.subarray(fa.bodyAt));
    expect(await s.open(reSigned)).toEqual({ ok: false, code: 'envelope/decrypt-failed' });
  });

  it('a message replayed under another id is refused', async () => {
    const s = await setup();
    const sealed = await s.send(s.mum);
    expect(await s.open(sealed.bytes, { expected: { messageId: randomBytes(16) } })).toEqual({ ok: false, code: 'envelope/id-mismatch' });
    expect(await s.open(sealed.bytes, { expected: { familyId: 'fam-2' } })).toEqual({ ok: false, code: 'envelope/wrong-family' });
  });

  it('a message from someone outside the roster is refused', async () => {
    const s = await setup();
    const sealed = await s.send(s.stranger);
    expect(await s.open(sealed.bytes)).toEqual({ ok: false, code: 'envelope/sender-not-member' });
  });

  it('a message signed by a removed member is refused, even at an epoch they belonged to', async () => {
    const s = await setup();
    const old = await s.send(s.gran);
    const withoutGran = s.members.filter((m) => m.accountId !== 'gran');
    const third = await appendWith(s.book, s.chain, { signer: s.mum, members: withoutGran, toys: s.chain[1]!.toys, settings });
    const roster = await verified([...s.chain, third]);
    expect(await s.open(old.bytes, { roster })).toEqual({ ok: false, code: 'envelope/sender-removed' });
    const current = await s.send(s.gran, { epoch: 2, rosterHead: await hashRosterEntry(third), scope: 'child-1', key: s.book.keyAt(third, 'child-1') });
    expect(await s.open(current.bytes, { roster })).toEqual({ ok: false, code: 'envelope/sender-not-member' });
  });

  it('a message signed with a key that is not the sender’s roster key is refused', async () => {
    const s = await setup();
    const forged = await s.send({ accountId: 'mum', identity: s.stranger.identity });
    expect(await s.open(forged.bytes)).toEqual({ ok: false, code: 'envelope/bad-signature' });
  });

  it('a message signed at an epoch newer than the reader’s head tells the reader to fetch the roster', async () => {
    const s = await setup();
    const sealed = await s.send(s.mum, { epoch: 5 });
    expect(await s.open(sealed.bytes)).toEqual({ ok: false, code: 'envelope/roster-behind' });
    // Only a sender the reader knows can hold it back: a stranger's claim is just an unknown epoch.
    expect(await s.open((await s.send(s.stranger, { epoch: 5 })).bytes)).toEqual({ ok: false, code: 'envelope/unknown-epoch' });
    const forged = await s.send({ accountId: 'mum', identity: s.stranger.identity }, { epoch: 5 });
    expect(await s.open(forged.bytes)).toEqual({ ok: false, code: 'envelope/bad-signature' });
  });

  it('a message committing to another entry than the reader holds at its epoch is a fork, refused', async () => {
    const s = await setup();
    // A second epoch 1 on top of genesis, signed by mum: the reader was shown this chain.
    const other = await appendWith(s.book, [s.chain[0]!], { signer: s.mum, members: [guardianOf(s.mum)], toys: [], settings: { ...settings, volumeLimit: 100 } });
    const forked = await verified([s.chain[0]!, other]);
    // Mum sealed at the real epoch 1: the reader knows her key from genesis, so this is evidence.
    const sealed = await s.send(s.mum);
    expect(await s.open(sealed.bytes, { roster: forked })).toEqual({ ok: false, code: 'envelope/roster-fork' });
    // Dad is not in the reader's chain at all: nothing to judge his claim with.
    expect(await s.open((await s.send(s.dad)).bytes, { roster: forked })).toEqual({ ok: false, code: 'envelope/sender-not-member' });
    // Forged in mum's name: no fork alarm, a bad signature.
    expect(await s.open((await s.send({ accountId: 'mum', identity: s.stranger.identity })).bytes, { roster: forked })).toEqual({ ok: false, code: 'envelope/bad-signature' });
    // The honest chain opens it.
    expect((await s.open(sealed.bytes)).ok).toBe(true);
  });

  it('a message whose scope key the reader does not hold is refused (a toy reading adults-only talk)', async () => {
    const s = await setup();
    const sealed = await s.send(s.mum, { recipients: ['dad'] });
    expect(sealed.header.scope).toBe(FAMILY_SCOPE);
    const roster = s.roster;
    // What the toy holds: its child's key, nothing family-wide.
    const toyKeyFor = (epoch: number, scope: string) => (scope === 'child-1' ? s.keyFor(epoch, scope) : undefined);
    expect(await openAndVerifyMessage(sealed.bytes, { roster, keyFor: toyKeyFor })).toEqual({ ok: false, code: 'envelope/no-key' });
    expect(await openAndVerifyMessage(sealed.bytes, { roster, keyFor: () => s.book.keyAt(s.chain[1]!, 'child-1') })).toEqual({ ok: false, code: 'envelope/decrypt-failed' });
    expect(await openAndVerifyMessage(sealed.bytes, { roster, keyFor: () => generateScopeKey() })).toEqual({ ok: false, code: 'envelope/decrypt-failed' });
    expect((await openAndVerifyMessage(sealed.bytes, { roster, keyFor: s.keyFor })).ok).toBe(true);
  });

  it("a message whose header scope is not its sender and recipients' conversation is refused, even sealed under that scope's key", async () => {
    const s = await setup();
    const childKey = s.book.keyAt(s.chain[1]!, 'child-1');
    const familyKey = s.book.keyAt(s.chain[1]!, FAMILY_SCOPE);
    // A child's message moved under the family-wide key, which the toy does not hold: members could read it, the toy could not.
    expect(await s.open((await s.send(s.mum, { scope: FAMILY_SCOPE, key: familyKey })).bytes)).toEqual({ ok: false, code: 'envelope/wrong-scope' });
    // Adults-only talk sealed under a child's key, which that child's toy holds.
    expect(await s.open((await s.send(s.mum, { recipients: ['dad'], scope: 'child-1', key: childKey })).bytes)).toEqual({ ok: false, code: 'envelope/wrong-scope' });
    // A toy's reply is always its child's.
    expect(await s.open((await s.send(s.toy, { recipients: ['mum'], scope: FAMILY_SCOPE, key: familyKey })).bytes)).toEqual({ ok: false, code: 'envelope/wrong-scope' });
    // A scope the entry does not have.
    expect(await s.open((await s.send(s.mum, { scope: 'child-2', key: childKey })).bytes)).toEqual({ ok: false, code: 'envelope/wrong-scope' });
    // Two children's conversations in one message have no scope at all.
    const toy2 = await person('toy-2');
    const third = await appendWith(s.book, s.chain, { signer: s.mum, members: s.members, toys: [...s.chain[1]!.toys, toyOf(toy2, 'child-2')], settings });
    const roster = await verified([...s.chain, third]);
    const both = await s.send(s.mum, { epoch: 2, rosterHead: roster.headHash, recipients: ['child-1', 'child-2'], scope: 'child-1', key: childKey }, third);
    expect(await s.open(both.bytes, { roster })).toEqual({ ok: false, code: 'envelope/wrong-scope' });
    // The honest scopes open.
    expect((await s.open((await s.send(s.mum)).bytes)).ok).toBe(true);
    expect((await s.open((await s.send(s.mum, { epoch: 2, rosterHead: roster.headHash, recipients: ['toy-2'] }, third)).bytes, { roster })).ok).toBe(true);
  });

  it('a relative may message only their own children, their toys and adults', async () => {
    const s = await setup();
    expect((await s.open((await s.send(s.gran, { recipients: ['child-1', 'toy-1', 'mum'] })).bytes)).ok).toBe(true);
    // child-2 is not one of hers (and has no conversation in this entry yet).
    expect(await s.open((await s.send(s.gran, { recipients: ['child-2'] })).bytes)).toEqual({ ok: false, code: 'envelope/recipient-not-allowed' });
    // A toy replies into its own child's conversation, never another child's.
    expect((await s.open((await s.send(s.toy, { recipients: ['child-1'] })).bytes)).ok).toBe(true);
    expect(await s.open((await s.send(s.toy, { recipients: ['child-2'] })).bytes)).toEqual({ ok: false, code: 'envelope/recipient-not-allowed' });
    // Once child-2 has a conversation, a relative holding a key of it still may not speak in it, nor a toy of child-1.
    const toy2 = await person('toy-2');
    const third = await appendWith(s.book, s.chain, { signer: s.mum, members: s.members, toys: [...s.chain[1]!.toys, toyOf(toy2, 'child-2')], settings });
    const roster = await verified([...s.chain, third]);
    const at2 = { epoch: 2, rosterHead: roster.headHash };
    expect(await s.open((await s.send(s.gran, { ...at2, recipients: ['child-2'] }, third)).bytes, { roster })).toEqual({ ok: false, code: 'envelope/recipient-not-allowed' });
    expect(await s.open((await s.send(s.toy, { ...at2, recipients: ['toy-2'], scope: 'child-2', key: s.book.keyAt(third, 'child-2') }, third)).bytes, { roster })).toEqual({ ok: false, code: 'envelope/recipient-not-allowed' });
    expect((await s.open((await s.send(s.dad, { ...at2, recipients: ['child-2'] }, third)).bytes, { roster })).ok).toBe(true);
  });

  it('a relative who needs approval is playable only with a current guardian’s approval of that exact message', async () => {
    const s = await setup();
    const sealed = await s.send(s.aunt);
    const other = await s.send(s.aunt);
    expect(await s.open(sealed.bytes)).toEqual({ ok: false, code: 'envelope/needs-approval' });
    const approval = await s.approve(s.dad, sealed);
    expect((await s.open(sealed.bytes, { approvals: [approval] })).ok).toBe(true);
    expect(await s.open(other.bytes, { approvals: [approval] })).toEqual({ ok: false, code: 'envelope/needs-approval' });
    const byRelative = await s.approve(s.gran, sealed);
    expect(await s.open(sealed.bytes, { approvals: [byRelative] })).toEqual({ ok: false, code: 'envelope/needs-approval' });
    const forged = await s.approve({ accountId: 'dad', identity: s.stranger.identity }, sealed);
    expect(await s.open(sealed.bytes, { approvals: [forged] })).toEqual({ ok: false, code: 'envelope/needs-approval' });
    const tampered = { ...approval, signature: approval.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) };
    expect(await s.open(sealed.bytes, { approvals: [tampered] })).toEqual({ ok: false, code: 'envelope/needs-approval' });
    // The head is signed: moving the approval to another epoch or head breaks it.
    expect(await s.open(sealed.bytes, { approvals: [{ ...approval, rosterEpoch: 0 }] })).toEqual({ ok: false, code: 'envelope/needs-approval' });
    expect(await s.open(sealed.bytes, { approvals: [{ ...approval, rosterHead: randomBytes(32) }] })).toEqual({ ok: false, code: 'envelope/needs-approval' });
    // An approval at an older head the reader holds the same is fine.
    expect((await s.open(sealed.bytes, { approvals: [await s.approve(s.dad, sealed, { rosterEpoch: 0, rosterHead: await hashRosterEntry(s.chain[0]!) })] })).ok).toBe(true);
  });

  it('a current guardian’s signed decline refuses the message, whatever approval comes with it', async () => {
    const s = await setup();
    const sealed = await s.send(s.aunt);
    const other = await s.send(s.aunt);
    const declined = await s.decline(s.dad, sealed);
    const approval = await s.approve(s.mum, sealed);
    expect(await s.open(sealed.bytes, { declines: [declined] })).toEqual({ ok: false, code: 'envelope/declined' });
    expect(await s.open(sealed.bytes, { approvals: [approval], declines: [declined] })).toEqual({ ok: false, code: 'envelope/declined' });
    // Only that exact message, by a guardian of the head, with an intact signature over its label, counts.
    expect((await s.open(other.bytes, { approvals: [await s.approve(s.mum, other)], declines: [declined] })).ok).toBe(true);
    const byRelative = await s.decline(s.gran, sealed);
    const forged = await s.decline({ accountId: 'dad', identity: s.stranger.identity }, sealed);
    const tampered = { ...declined, signature: declined.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) };
    const moved = { ...declined, rosterEpoch: 0 };
    for (const bad of [byRelative, forged, tampered, moved]) expect((await s.open(sealed.bytes, { approvals: [approval], declines: [bad] })).ok).toBe(true);
    // The labels keep the two apart: an approval relayed as a decline declines nothing, and a decline relayed as an approval approves nothing.
    expect((await s.open(sealed.bytes, { approvals: [approval], declines: [approval] })).ok).toBe(true);
    expect(await s.open(sealed.bytes, { approvals: [declined] })).toEqual({ ok: false, code: 'envelope/needs-approval' });
    // A decline committing to a newer head than the reader's holds everything back until the reader has it; a forked one is a fork.
    const newer = await s.decline(s.dad, sealed, { rosterEpoch: 2, rosterHead: randomBytes(32) });
    expect(await s.open(sealed.bytes, { approvals: [approval], declines: [newer] })).toEqual({ ok: false, code: 'envelope/roster-behind' });
    const forked = await s.decline(s.dad, sealed, { rosterHead: randomBytes(32) });
    expect(await s.open(sealed.bytes, { approvals: [approval], declines: [forked] })).toEqual({ ok: false, code: 'envelope/roster-fork' });
    expect(await approvalDecision(s.roster, { messageId: sealed.header.messageId, ciphertextHash: sealed.ciphertextHash, approvals: [approval], declines: [declined] })).toEqual({ ok: true, value: { state: 'declined', guardianId: 'dad' } });
  });

  it('a member’s app may open a message before a guardian decides, and it says where it stands; a toy’s may not', async () => {
    const s = await setup();
    const sealed = await s.send(s.aunt);
    const waiting = await s.open(sealed.bytes, { openUnapproved: true });
    expect(waiting.ok && waiting.value.approval).toEqual({ state: 'waiting' });
    const declined = await s.open(sealed.bytes, { openUnapproved: true, declines: [await s.decline(s.mum, sealed)] });
    expect(declined.ok && declined.value.approval).toEqual({ state: 'declined', guardianId: 'mum' });
    const approved = await s.open(sealed.bytes, { openUnapproved: true, approvals: [await s.approve(s.dad, sealed)] });
    expect(approved.ok && approved.value.approval).toEqual({ state: 'approved', guardianId: 'dad' });
    const fromGuardian = await s.open((await s.send(s.mum)).bytes);
    expect(fromGuardian.ok && fromGuardian.value.approval).toEqual({ state: 'not-needed' });
    // Opening it unapproved checks everything else as strictly: a forged sender is still refused.
    expect(await s.open((await s.send({ accountId: 'aunt', identity: s.stranger.identity })).bytes, { openUnapproved: true })).toEqual({ ok: false, code: 'envelope/bad-signature' });
  });

  it('an approval committing to a head the reader holds differently is a fork; to a newer head, the reader must fetch the roster', async () => {
    const s = await setup();
    const sealed = await s.send(s.aunt);
    const forkedHead = await s.approve(s.dad, sealed, { rosterHead: randomBytes(32) });
    expect(await s.open(sealed.bytes, { approvals: [forkedHead] })).toEqual({ ok: false, code: 'envelope/roster-fork' });
    const newer = await s.approve(s.dad, sealed, { rosterEpoch: 2, rosterHead: randomBytes(32) });
    expect(await s.open(sealed.bytes, { approvals: [newer] })).toEqual({ ok: false, code: 'envelope/roster-behind' });
    // A consistent approval beside them is enough.
    expect((await s.open(sealed.bytes, { approvals: [forkedHead, await s.approve(s.dad, sealed)] })).ok).toBe(true);
  });

  it('the head decides: a relative set to need approval since, sealing under an older epoch key, needs a head guardian’s approval', async () => {
    const s = await setup();
    const members = [guardianOf(s.mum), guardianOf(s.dad), relativeOf(s.gran, ['child-1'], true), relativeOf(s.aunt, ['child-1'], true)];
    const roster = await verified([...s.chain, await appendWith(s.book, s.chain, { signer: s.mum, members, toys: s.chain[1]!.toys, settings })]);
    const old = await s.send(s.gran);
    expect((await s.open(old.bytes)).ok).toBe(true);
    expect(await s.open(old.bytes, { roster })).toEqual({ ok: false, code: 'envelope/needs-approval' });
    const approval = await s.approve(s.dad, old);
    expect((await s.open(old.bytes, { roster, approvals: [approval] })).ok).toBe(true);
  });

  it('the head decides: a relative narrowed to fewer children cannot reach the child they lost under an older key', async () => {
    const s = await setup();
    const wideEntry = await appendWith(s.book, s.chain.slice(0, 1), { signer: s.mum, members: [guardianOf(s.mum), relativeOf(s.gran, ['child-1', 'child-2'])], toys: [toyOf(s.toy, 'child-2')], settings });
    const wide = await verified([...s.chain.slice(0, 1), wideEntry]);
    const narrowed = await appendWith(s.book, wide.entries, { signer: s.mum, members: [guardianOf(s.mum), relativeOf(s.gran, ['child-1'])], toys: [toyOf(s.toy, 'child-2')], settings });
    const roster = await verified([...wide.entries, narrowed]);
    // The rotation rule gave child-2 a new key gran never gets; the head refuses her old-key messages too.
    expect(scopeKeyOf(narrowed, 'child-2')!.generation).toBe(2);
    for (const recipients of [['child-2'], ['toy-1']]) {
      // Sealed by gran from the wide roster's head (its epoch 1), as her client would have.
      const old = await s.send(s.gran, { recipients, rosterHead: wide.headHash }, wideEntry);
      expect((await s.open(old.bytes, { roster: wide })).ok).toBe(true);
      expect(await s.open(old.bytes, { roster })).toEqual({ ok: false, code: 'envelope/recipient-not-allowed' });
    }
    // Both children in one message never had a scope.
    expect(await s.open((await s.send(s.gran, { recipients: ['child-1', 'child-2'], rosterHead: wide.headHash, scope: 'child-2' }, wideEntry)).bytes, { roster: wide })).toEqual({ ok: false, code: 'envelope/wrong-scope' });
    expect((await s.open((await s.send(s.gran, { recipients: ['child-1'], rosterHead: wide.headHash }, wideEntry)).bytes, { roster })).ok).toBe(true);
  });

  it('the head decides: a guardian demoted to a relative is judged as the relative they are now, and their approvals stop counting', async () => {
    const s = await setup();
    // Epoch 2 gives child-2 a toy (and so a conversation); epoch 3 demotes dad to a relative of child-1.
    const toy2 = await person('toy-2');
    const toys = [...s.chain[1]!.toys, toyOf(toy2, 'child-2')];
    const third = await appendWith(s.book, s.chain, { signer: s.mum, members: s.members, toys, settings });
    const before = await verified([...s.chain, third]);
    const members = [guardianOf(s.mum), relativeOf(s.dad, ['child-1']), relativeOf(s.gran, ['child-1']), relativeOf(s.aunt, ['child-1'], true)];
    const fourth = await appendWith(s.book, before.entries, { signer: s.mum, members, toys, settings });
    const roster = await verified([...before.entries, fourth]);
    const old = await s.send(s.dad, { epoch: 2, rosterHead: before.headHash, recipients: ['child-2'] }, third);
    expect((await s.open(old.bytes, { roster: before })).ok).toBe(true);
    expect(await s.open(old.bytes, { roster })).toEqual({ ok: false, code: 'envelope/recipient-not-allowed' });
    const fromAunt = await s.send(s.aunt);
    const byDad = await s.approve(s.dad, fromAunt);
    expect((await s.open(fromAunt.bytes, { approvals: [byDad] })).ok).toBe(true);
    expect(await s.open(fromAunt.bytes, { roster, approvals: [byDad] })).toEqual({ ok: false, code: 'envelope/needs-approval' });
  });

  it('the head decides: a toy moved to another child cannot reply into its old child’s conversation under an older key', async () => {
    const s = await setup();
    const roster = await verified([...s.chain, await appendWith(s.book, s.chain, { signer: s.mum, members: s.members, toys: [toyOf(s.toy, 'child-2')], settings })]);
    const old = await s.send(s.toy, { recipients: ['child-1'] });
    expect((await s.open(old.bytes)).ok).toBe(true);
    expect(await s.open(old.bytes, { roster })).toEqual({ ok: false, code: 'envelope/recipient-not-allowed' });
  });

  it('the head decides: a message is checked with the key the head holds for its sender', async () => {
    const s = await setup();
    const newKeys = await generateIdentity();
    const members = s.members.map((m) => (m.accountId === 'gran' ? { ...m, keys: newKeys.publicKeys } : m));
    const roster = await verified([...s.chain, await appendWith(s.book, s.chain, { signer: s.mum, members, toys: s.chain[1]!.toys, settings })]);
    const old = await s.send(s.gran);
    expect(await s.open(old.bytes, { roster })).toEqual({ ok: false, code: 'envelope/bad-signature' });
  });

  it('with the reader’s clock, a message past its signed retention or dated beyond the skew is refused', async () => {
    const s = await setup();
    const createdAt = 1_764_000_000_000;
    const sealed = await s.send(s.mum, { createdAt });
    const day = 24 * 3600_000;
    const open = (age: { now: number; retentionDays?: number }) => openAndVerifyMessage(sealed.bytes, { roster: s.roster, keyFor: s.keyFor, age });
    expect((await open({ now: createdAt, retentionDays: 30 })).ok).toBe(true);
    expect((await open({ now: createdAt + 30 * day - 1, retentionDays: 30 })).ok).toBe(true);
    expect(await open({ now: createdAt + 30 * day, retentionDays: 30 })).toEqual({ ok: false, code: 'envelope/expired' });
    // Without a retention (a member reading history, saved messages included) age does not matter.
    expect((await open({ now: createdAt + 400 * day })).ok).toBe(true);
    expect((await open({ now: createdAt - MAX_CLOCK_SKEW_MS, retentionDays: 30 })).ok).toBe(true);
    expect(await open({ now: createdAt - MAX_CLOCK_SKEW_MS - 1 })).toEqual({ ok: false, code: 'envelope/from-the-future' });
    // The signature is checked first: a forged date never earns a dating code.
    const forged = await s.send({ accountId: 'mum', identity: s.stranger.identity }, { createdAt });
    expect(await openAndVerifyMessage(forged.bytes, { roster: s.roster, keyFor: s.keyFor, age: { now: createdAt + 31 * day, retentionDays: 30 } })).toEqual({ ok: false, code: 'envelope/bad-signature' });
    expect(messageAgeProblem(createdAt, { now: createdAt })).toBeUndefined();
    await expect(open({ now: Number.NaN })).rejects.toThrow(/age\.now/);
    await expect(open({ now: createdAt, retentionDays: 0 })).rejects.toThrow(/age\.retentionDays/);
  });

  it('misuse throws a TypeError naming the argument', async () => {
    const s = await setup();
    await expect(s.send(s.mum, { key: new Uint8Array(31) })).rejects.toThrow(/key/);
    await expect(s.send(s.mum, { messageId: new Uint8Array(8) })).rejects.toThrow(/messageId/);
    await expect(s.send(s.mum, { recipients: [] })).rejects.toThrow(/recipients/);
    await expect(s.send(s.mum, { durationMs: -1 })).rejects.toThrow(/durationMs/);
    await expect(s.send(s.mum, { rosterHead: new Uint8Array(31) })).rejects.toThrow(/rosterHead/);
  });
});

describe('envelope properties', () => {
  it('any audio, caption and recipients round-trip', async () => {
    const s = await setup();
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2048 }),
        fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
        fc.uniqueArray(fc.constantFrom('child-1', 'toy-1', 'mum', 'dad', 'gran', 'aunt'), { minLength: 1 }),
        fc.nat({ max: 600_000 }),
        async (audio, caption, recipients, durationMs) => {
          const sealed = await s.send(s.dad, { audio, caption, recipients, durationMs });
          const opened = await s.open(sealed.bytes);
          expect(opened.ok).toBe(true);
          if (!opened.ok) return;
          expect(bytesEqual(opened.value.audio, audio)).toBe(true);
          expect(opened.value.caption).toBe(caption);
          expect(opened.value.header.recipients).toEqual(recipients);
          expect(opened.value.durationMs).toBe(durationMs);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('any single-byte mutation of an envelope is refused', async () => {
    const s = await setup();
    const sealed = await s.send(s.mum, { audio: randomBytes(300) });
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: sealed.bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
        const tampered = sealed.bytes.slice();
        tampered[at]! ^= xor;
        expect((await s.open(tampered)).ok).toBe(false);
      }),
      { numRuns: 150 },
    );
  });

  it('any truncation or extension of an envelope is refused', async () => {
    const s = await setup();
    const sealed = await s.send(s.mum);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: sealed.bytes.length - 1 }), fc.uint8Array({ minLength: 1, maxLength: 8 }), async (cut, extra) => {
        expect((await s.open(sealed.bytes.subarray(0, cut))).ok).toBe(false);
        expect((await s.open(concatBytes(sealed.bytes, extra))).ok).toBe(false);
      }),
      { numRuns: 60 },
    );
  });
});

describe('envelope misuse', () => {
  it('opening against a roster that did not come from verifyRoster throws', async () => {
    const s = await setup();
    const sealed = await s.send(s.mum);
    await expect(openAndVerifyMessage(sealed.bytes, { roster: { ...s.roster }, keyFor: s.keyFor })).rejects.toThrow(/roster/);
  });
});
