/**
 * Voice-message envelopes, version 4 (docs/protocol.md, "Voice-message envelopes"): every
 * intermediate of a guardian's message to a child, sealed in two chunks under the child's scope
 * key, and of the child's toy's reply, and the refusals of a toy. The envelope is
 * 78 KB, so the refusals that alter it (a flipped bit, a missing last chunk, swapped chunks) are
 * given as edits of the vector's envelope (`applyEdit`) rather than as a copy of it each.
 */
import { openAndVerifyMessage, sealMessage, type SealedMessage } from '../../../src/crypto/envelope.js';
import type { Identity } from '../../../src/crypto/identity.js';
import { verifyRoster } from '../../../src/crypto/roster.js';
import { SIGNATURE_LABELS, signLabelled } from '../../../src/crypto/signature.js';
import { FAMILY_SCOPE } from '../../../src/crypto/key-scopes.js';
import { CHILD_ID, FAMILY_ID, GRAN_ID, HEAD, MUM_ID, T0, TOY_ID, vectorFamily, type VectorFamily } from '../family.js';
import { bucketOf, chunkNonceOf, cutEnvelope, messageKeyOf, openIndependently } from '../envelope-reader.js';
import { cat, expectHex, hexOf, labelled, sha256, str, text, toHexString, u32, u64, u8 } from '../independent.js';
import { fixedBytes, hex, withFixedRandom, type Construction, type Refusal } from '../support.js';

const AUDIO_TYPE = 'audio/ogg';
const CAPTION = 'Night night';
const CHUNK = 65_536;
/** Long enough that the inner record passes the 62,500-byte bucket: padded to 78,125, two chunks. */
const AUDIO_BYTES = 64_000;

/** `length` fixed bytes for the audio: SHA-256("burrow/vectors/" ‖ name ‖ u32 block), block by block. */
function fixedStream(name: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let block = 0; block * 32 < length; block++) out.set(sha256(cat(text(`burrow/vectors/${name}`), u32(block))).subarray(0, Math.min(32, length - block * 32)), block * 32);
  return out;
}

/** An edit of the vector's envelope, as a refusal's `input` gives it. */
type Edit = { envelope: string; flipLowBitOf: number } | { envelope: string; keepFirst: number } | { envelope: string; chunkOrder: number[] };

/** Applies a refusal's edit to `bytes` (the envelope it names). */
export function applyEdit(bytes: Uint8Array, edit: Edit): Uint8Array {
  if ('flipLowBitOf' in edit) {
    const out = bytes.slice();
    out[edit.flipLowBitOf] = out[edit.flipLowBitOf]! ^ 1;
    return out;
  }
  if ('keepFirst' in edit) return bytes.slice(0, edit.keepFirst);
  const cut = cutEnvelope(bytes);
  const before = bytes.subarray(0, bytes.length - cut.sealedChunks.reduce((n, c) => n + c.length, 0));
  return cat(before, ...edit.chunkOrder.map((i) => cut.sealedChunks[i]!));
}

/** The inner record (u8 2 ‖ string audioType ‖ u32 durationMs ‖ u8 hasCaption ‖ [string caption] ‖ u32 length) before the audio. */
function innerMetadata(durationMs: number, caption: string | undefined, audioLength: number): Uint8Array {
  return cat(u8(2), str(AUDIO_TYPE), u32(durationMs), caption === undefined ? u8(0) : cat(u8(1), str(caption)), u32(audioLength));
}

/**
 * An envelope a malicious member (Mum) seals and signs around a padded plaintext of her choosing:
 * the chunking, nonces, commitment and signature are all as documented, so only the reader's
 * padding rule refuses it. Built with WebCrypto here, since `sealMessage` never pads wrongly.
 */
async function sealPadded(header: Uint8Array, scopeKey: Uint8Array, messageId: Uint8Array, padded: Uint8Array, signer: Identity): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', messageKeyOf(scopeKey, messageId) as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['encrypt']);
  const prefix = fixedBytes('envelope/padding-prefix', 7);
  const n = Math.ceil(padded.length / CHUNK);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const iv = chunkNonceOf(prefix, i, i === n - 1) as Uint8Array<ArrayBuffer>;
    chunks.push(new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: header as Uint8Array<ArrayBuffer> }, key, padded.slice(i * CHUNK, (i + 1) * CHUNK))));
  }
  const commitment = cat(u32(padded.length), prefix, ...chunks.map((c) => sha256(c)));
  const signature = await signLabelled(signer, SIGNATURE_LABELS.message, cat(header, sha256(commitment)));
  return cat(header, commitment, signature, ...chunks);
}

/** Mum's short message padded against the rules: a non-zero padding byte, or the next bucket up. */
async function badPadding(family: VectorFamily): Promise<{ nonZero: Uint8Array; wrongBucket: Uint8Array }> {
  const messageId = fixedBytes('message-id/padding', 16);
  const audio = fixedBytes('audio', 48);
  const key = family.keyFor(HEAD, CHILD_ID)!;
  const honest = await withFixedRandom('envelope/padding', () =>
    sealMessage({ familyId: FAMILY_ID, epoch: HEAD, rosterHead: family.hashes[HEAD]!, scope: CHILD_ID, key, sender: { accountId: MUM_ID, identity: family.mum }, recipients: [CHILD_ID], audio, audioType: AUDIO_TYPE, durationMs: 1500, messageId, createdAt: T0 + 260_000 }),
  );
  const { header } = cutEnvelope(honest.bytes);
  const inner = cat(innerMetadata(1500, undefined, audio.length), audio);
  const padded = (length: number) => cat(inner, new Uint8Array(length - inner.length));
  const nonZero = padded(bucketOf(inner.length));
  nonZero[nonZero.length - 1] = 1;
  return {
    nonZero: await sealPadded(header, key, messageId, nonZero, family.mum),
    wrongBucket: await sealPadded(header, key, messageId, padded(bucketOf(bucketOf(inner.length) + 1)), family.mum),
  };
}

/** Every intermediate of one sealed message, as a vector shows it. */
function vectorOf(name: string, inputs: Record<string, unknown>, sealed: SealedMessage, scopeKey: Uint8Array, metadata: Uint8Array, audioLength: number): Record<string, unknown> {
  const cut = cutEnvelope(sealed.bytes);
  const innerLength = metadata.length + audioLength;
  const bodyStart = sealed.bytes.length - cut.sealedChunks.reduce((n, c) => n + c.length, 0);
  const chunks = cut.sealedChunks.map((c, i) => ({
    index: i,
    plaintextLength: c.length - 16,
    nonce: hex(chunkNonceOf(cut.noncePrefix, i, i === cut.sealedChunks.length - 1)),
    offset: bodyStart + i * (CHUNK + 16),
    sealedLength: c.length,
    sha256: hex(sha256(c)),
  }));
  return {
    name,
    inputs,
    headerBytes: hex(cut.header),
    messageKey: hex(messageKeyOf(scopeKey, cut.messageId)),
    innerMetadata: hex(metadata),
    innerLength,
    paddedLength: cut.paddedLength,
    paddingBytes: cut.paddedLength - innerLength,
    noncePrefix: hex(cut.noncePrefix),
    chunkAad: 'headerBytes',
    chunks,
    commitment: hex(sealed.commitment),
    ciphertextHash: hex(sealed.ciphertextHash),
    signedBytes: hex(labelled(SIGNATURE_LABELS.message, cat(cut.header, sealed.ciphertextHash))),
    signature: hex(sealed.signature),
    envelope: hex(sealed.bytes),
  };
}

export const envelope: Construction = {
  name: 'envelope',
  async generate() {
    const family = await vectorFamily();
    const messageId = fixedBytes('message-id', 16);
    const audio = fixedStream('audio', AUDIO_BYTES);
    // A message to a child is the child's conversation: sealed under the child's scope key at the sender's head.
    const childKey = family.keyFor(HEAD, CHILD_ID)!;
    const common = { familyId: FAMILY_ID, epoch: HEAD, rosterHead: family.hashes[HEAD]!, audioType: AUDIO_TYPE };
    const sealed = await withFixedRandom('envelope', () =>
      sealMessage({ ...common, scope: CHILD_ID, key: childKey, sender: { accountId: MUM_ID, identity: family.mum }, recipients: [CHILD_ID], audio, durationMs: 4000, caption: CAPTION, messageId, createdAt: T0 + 240_000 }),
    );
    // The toy's reply, into its child's conversation (recipient = the child): always the child's scope.
    const replyId = fixedBytes('message-id/reply', 16);
    const replyAudio = fixedBytes('audio/reply', 48);
    const reply = await withFixedRandom('envelope/reply', () =>
      sealMessage({ ...common, scope: CHILD_ID, key: childKey, sender: { toyId: TOY_ID, identity: family.toy }, recipients: [CHILD_ID], audio: replyAudio, durationMs: 1200, messageId: replyId, createdAt: T0 + 250_000 }),
    );
    const grans = await withFixedRandom('envelope/gran', () =>
      sealMessage({ familyId: FAMILY_ID, epoch: 1, rosterHead: family.hashes[1]!, audioType: AUDIO_TYPE, scope: CHILD_ID, key: family.keyFor(1, CHILD_ID)!, sender: { accountId: GRAN_ID, identity: family.gran }, recipients: [CHILD_ID], audio: fixedBytes('audio', 48), durationMs: 1500, messageId: fixedBytes('message-id/gran', 16), createdAt: T0 + 90_000 }),
    );
    // Mum's message to the child labelled and sealed as family-wide (adults only), under the key every member holds.
    const wrongScope = await withFixedRandom('envelope/wrong-scope', () =>
      sealMessage({ ...common, scope: FAMILY_SCOPE, key: family.keyFor(HEAD, FAMILY_SCOPE)!, sender: { accountId: MUM_ID, identity: family.mum }, recipients: [CHILD_ID], audio: fixedBytes('audio', 48), durationMs: 1500, messageId: fixedBytes('message-id/wrong-scope', 16), createdAt: T0 + 270_000 }),
    );
    const padding = await badPadding(family);
    const metadata = innerMetadata(4000, CAPTION, audio.length);
    const replyMetadata = innerMetadata(1200, undefined, replyAudio.length);

    const roster = await verifyRoster(family.chain, { genesisHash: family.hashes[0]! });
    if (!roster.ok) throw new Error(roster.code);
    // The toy holds its child's keys only; Mum every scope's.
    const read = async (bytes: Uint8Array, keyFor: (epoch: number, scope: string) => Uint8Array | undefined) => {
      const opened = await openAndVerifyMessage(bytes, { roster: roster.value, keyFor });
      return opened.ok ? 'accepted' : opened.code;
    };
    const asToy = (bytes: Uint8Array) => read(bytes, (epoch, scope) => (scope === CHILD_ID ? family.keyFor(epoch, scope) : undefined));
    const asMum = (bytes: Uint8Array) => read(bytes, family.keyFor);
    if ((await asToy(sealed.bytes)) !== 'accepted') throw new Error('the vector message does not open for the toy');
    if ((await asMum(reply.bytes)) !== 'accepted') throw new Error('the toy\'s reply does not open for Mum');
    const guardianToChild = vectorOf('guardian-to-child', { ...common, rosterHead: hex(family.hashes[HEAD]!), scope: CHILD_ID, scopeGeneration: roster.value.head.scopeKeys.find((k) => k.scope === CHILD_ID)!.generation, scopeKey: hex(childKey), messageId: hex(messageId), senderId: MUM_ID, senderSigningKey: hex(family.mum.publicKeys.signingKey), recipients: [CHILD_ID], createdAt: T0 + 240_000, durationMs: 4000, caption: CAPTION, audio: hex(audio) }, sealed, childKey, metadata, audio.length);
    const chunks = guardianToChild.chunks as { offset: number }[];
    const base = 'vectors[0].envelope';
    const edits: { name: string; change: string; edit: Edit }[] = [
      { name: 'tampered-chunk', change: 'the low bit of byte 20 of sealed chunk 1 flipped', edit: { envelope: base, flipLowBitOf: chunks[1]!.offset + 20 } },
      { name: 'truncated-stream', change: 'the envelope without its last chunk (chunk 1)', edit: { envelope: base, keepFirst: chunks[1]!.offset } },
      { name: 'chunks-swapped', change: 'the sealed chunks in the order 1, 0', edit: { envelope: base, chunkOrder: [1, 0] } },
    ];
    const refusals: Refusal[] = [];
    for (const { name, change, edit } of edits) refusals.push({ name, change, input: edit, expected: await asToy(applyEdit(sealed.bytes, edit)) });
    refusals.push(
      { name: 'non-zero-padding', change: 'Mum seals and signs a short message whose last padding byte is 1', input: { envelope: hex(padding.nonZero) }, expected: await asToy(padding.nonZero) },
      { name: 'wrong-bucket', change: 'Mum seals and signs a short message padded to 20,480 bytes, a bucket but not the one of its inner record', input: { envelope: hex(padding.wrongBucket) }, expected: await asToy(padding.wrongBucket) },
      { name: 'removed-sender', change: 'a message Gran sealed at epoch 1 under the child\'s key of generation 1, read by the toy whose head (epoch 3) removed her', input: { envelope: hex(grans.bytes) }, expected: await asToy(grans.bytes) },
      { name: 'wrong-scope', change: 'Mum\'s signed message to the child with scope "" (family-wide), sealed under the family-wide key, read by Mum', input: { envelope: hex(wrongScope.bytes) }, expected: await asMum(wrongScope.bytes) },
    );

    return {
      construction: 'envelope',
      version: { envelope: sealed.bytes[4]!, inner: metadata[0]! },
      spec: 'Voice-message envelopes (`envelope.ts`)',
      description: `Mum's message to the child at epoch ${HEAD}, as the child's toy receives it (roster: roster-entry.json), sealed under the child's scope key: 64,000 bytes of audio, padded to the 78,125-byte bucket and sealed in two chunks (65,536 + 12,589 bytes of plaintext); and the toy's reply into the child's conversation (recipient: the child), under the same key, in one chunk, as Mum reads it. The sealed chunks are not repeated: each is \`sealedLength\` bytes of \`envelope\` from \`offset\`. Refusals that alter the first envelope give the edit: \`flipLowBitOf\` (a byte offset), \`keepFirst\` (the first n bytes), \`chunkOrder\` (the sealed chunks reordered).`,
      vectors: [
        guardianToChild,
        vectorOf('toy-reply', { ...common, rosterHead: hex(family.hashes[HEAD]!), scope: CHILD_ID, scopeGeneration: roster.value.head.scopeKeys.find((k) => k.scope === CHILD_ID)!.generation, scopeKey: hex(childKey), messageId: hex(replyId), senderId: TOY_ID, senderSigningKey: hex(family.toy.publicKeys.signingKey), recipients: [CHILD_ID], createdAt: T0 + 250_000, durationMs: 1200, audio: hex(replyAudio) }, reply, childKey, replyMetadata, replyAudio.length),
      ],
      refusals,
    };
  },
  async checkIndependently(file) {
    const opened: Record<string, { envelope: Uint8Array; key: Uint8Array; signingKey: string }> = {};
    for (const v of file.vectors) {
      const name = v.name as string;
      const i = v.inputs as Record<string, unknown>;
      const recipients = i.recipients as string[];
      const header = cat(text('BRWM'), u8(4), str(i.familyId as string), u64(i.epoch as number), hexOf(i.rosterHead), str(i.scope as string), hexOf(i.messageId), str(i.senderId as string), u32(recipients.length), ...recipients.map(str), u64(i.createdAt as number));
      expectHex(header, v.headerBytes, `${name} envelope header`);
      const scopeKey = hexOf(i.scopeKey);
      expectHex(messageKeyOf(scopeKey, hexOf(i.messageId)), v.messageKey, `${name} message key`);
      const audio = hexOf(i.audio);
      const caption = i.caption === undefined ? u8(0) : cat(u8(1), str(i.caption as string));
      const metadata = cat(u8(2), str(i.audioType as string), u32(i.durationMs as number), caption, u32(audio.length));
      expectHex(metadata, v.innerMetadata, `${name} inner record before the audio`);
      const paddedLength = bucketOf(metadata.length + audio.length);
      if (paddedLength !== v.paddedLength || v.innerLength !== metadata.length + audio.length) throw new Error(`${name} padded length`);

      const envelopeBytes = hexOf(v.envelope);
      const result = await openIndependently(envelopeBytes, scopeKey, i.senderSigningKey as string);
      if (result.cut.scope !== i.scope) throw new Error(`${name} header scope`);
      expectHex(result.padded, toHexString(cat(metadata, audio, new Uint8Array(paddedLength - metadata.length - audio.length))), `${name} padded plaintext: inner record, then zeros`);
      expectHex(result.cut.commitment, v.commitment, `${name} commitment`);
      expectHex(sha256(result.cut.commitment), v.ciphertextHash, `${name} ciphertextHash = SHA-256(commitment)`);
      expectHex(labelled('burrow/message/v1', cat(header, sha256(result.cut.commitment))), v.signedBytes, `${name} signed bytes`);
      const chunks = v.chunks as { offset: number; sealedLength: number; sha256: string; nonce: string }[];
      for (const [n, chunk] of chunks.entries()) {
        const sealedChunk = envelopeBytes.subarray(chunk.offset, chunk.offset + chunk.sealedLength);
        expectHex(sealedChunk, toHexString(result.cut.sealedChunks[n]!), `${name} sealed chunk ${n} at its offset`);
        expectHex(sha256(sealedChunk), chunk.sha256, `${name} chunk ${n} hash`);
        expectHex(chunkNonceOf(hexOf(v.noncePrefix), n, n === chunks.length - 1), chunk.nonce, `${name} chunk ${n} nonce`);
      }
      expectHex(cat(header, result.cut.commitment, hexOf(v.signature), ...result.cut.sealedChunks), v.envelope, `${name} envelope bytes`);
      opened[name] = { envelope: envelopeBytes, key: scopeKey, signingKey: i.senderSigningKey as string };
    }

    const first = opened['guardian-to-child']!;
    const firstInputs = file.vectors[0]!.inputs as { scope: string; recipients: string[] };
    for (const refusal of file.refusals) {
      const input = refusal.input as Edit;
      const bytes = input.envelope === 'vectors[0].envelope' ? applyEdit(first.envelope, input) : hexOf(input.envelope);
      if (refusal.name === 'removed-sender') continue; // a roster rule, not a byte check
      if (refusal.name === 'wrong-scope') {
        // The same conversation as vectors[0] (a message to the child), labelled with another scope.
        const cut = cutEnvelope(bytes);
        if (JSON.stringify(cut.recipients) !== JSON.stringify(firstInputs.recipients) || cut.scope === firstInputs.scope) throw new Error('the wrong-scope refusal names the child\'s scope');
      }
      // Every other refusal fails this reader too, with the key a toy of the child holds.
      const result = await openIndependently(bytes, first.key, first.signingKey).then(() => 'opened', (error: Error) => error.message);
      if (result === 'opened') throw new Error(`envelope refusal ${refusal.name} opens from the documented layout`);
    }
  },
};
