/**
 * Voice-message envelopes, version 3 (docs/protocol.md, "Voice-message envelopes"): every
 * intermediate of one message sealed in two chunks, and the refusals of a toy. The envelope is
 * 78 KB, so the refusals that alter it (a flipped bit, a missing last chunk, swapped chunks) are
 * given as edits of the vector's envelope (`applyEdit`) rather than as a copy of it each.
 */
import { openAndVerifyMessage, sealMessage } from '../../../src/crypto/envelope.js';
import type { Identity } from '../../../src/crypto/identity.js';
import { verifyRoster } from '../../../src/crypto/roster.js';
import { SIGNATURE_LABELS, signLabelled } from '../../../src/crypto/signature.js';
import { CHILD_ID, FAMILY_ID, GRAN_ID, MUM_ID, T0, vectorFamily, type VectorFamily } from '../family.js';
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
async function sealPadded(header: Uint8Array, familyKey: Uint8Array, messageId: Uint8Array, padded: Uint8Array, signer: Identity): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', messageKeyOf(familyKey, messageId) as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['encrypt']);
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
  const honest = await withFixedRandom('envelope/padding', () =>
    sealMessage({ familyId: FAMILY_ID, epoch: 2, rosterHead: family.hashes[2]!, familyKey: family.keys[2]!, sender: { accountId: MUM_ID, identity: family.mum }, recipients: [CHILD_ID], audio, audioType: AUDIO_TYPE, durationMs: 1500, messageId, createdAt: T0 + 200_000 }),
  );
  const { header } = cutEnvelope(honest.bytes);
  const inner = cat(innerMetadata(1500, undefined, audio.length), audio);
  const padded = (length: number) => cat(inner, new Uint8Array(length - inner.length));
  const nonZero = padded(bucketOf(inner.length));
  nonZero[nonZero.length - 1] = 1;
  return {
    nonZero: await sealPadded(header, family.keys[2]!, messageId, nonZero, family.mum),
    wrongBucket: await sealPadded(header, family.keys[2]!, messageId, padded(bucketOf(bucketOf(inner.length) + 1)), family.mum),
  };
}

export const envelope: Construction = {
  name: 'envelope',
  async generate() {
    const family = await vectorFamily();
    const messageId = fixedBytes('message-id', 16);
    const audio = fixedStream('audio', AUDIO_BYTES);
    const sealed = await withFixedRandom('envelope', () =>
      sealMessage({ familyId: FAMILY_ID, epoch: 2, rosterHead: family.hashes[2]!, familyKey: family.keys[2]!, sender: { accountId: MUM_ID, identity: family.mum }, recipients: [CHILD_ID], audio, audioType: AUDIO_TYPE, durationMs: 4000, caption: CAPTION, messageId, createdAt: T0 + 180_000 }),
    );
    const grans = await withFixedRandom('envelope/gran', () =>
      sealMessage({ familyId: FAMILY_ID, epoch: 1, rosterHead: family.hashes[1]!, familyKey: family.keys[1]!, sender: { accountId: GRAN_ID, identity: family.gran }, recipients: [CHILD_ID], audio: fixedBytes('audio', 48), audioType: AUDIO_TYPE, durationMs: 1500, messageId: fixedBytes('message-id/gran', 16), createdAt: T0 + 90_000 }),
    );
    const padding = await badPadding(family);
    const cut = cutEnvelope(sealed.bytes);
    const metadata = innerMetadata(4000, CAPTION, audio.length);
    const innerLength = metadata.length + audio.length;
    const bodyStart = sealed.bytes.length - cut.sealedChunks.reduce((n, c) => n + c.length, 0);
    const chunks = cut.sealedChunks.map((c, i) => ({
      index: i,
      plaintextLength: c.length - 16,
      nonce: hex(chunkNonceOf(cut.noncePrefix, i, i === cut.sealedChunks.length - 1)),
      offset: bodyStart + i * (CHUNK + 16),
      sealedLength: c.length,
      sha256: hex(sha256(c)),
    }));

    const roster = await verifyRoster(family.chain, { genesisHash: family.hashes[0]! });
    if (!roster.ok) throw new Error(roster.code);
    const asToy = async (bytes: Uint8Array) => {
      const opened = await openAndVerifyMessage(bytes, { roster: roster.value, familyKeyForEpoch: (epoch) => family.keys[epoch] });
      return opened.ok ? 'accepted' : opened.code;
    };
    if ((await asToy(sealed.bytes)) !== 'accepted') throw new Error('the vector message does not open');
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
      { name: 'removed-sender', change: 'a message Gran sealed at epoch 1, read by the toy whose head (epoch 2) removed her', input: { envelope: hex(grans.bytes) }, expected: await asToy(grans.bytes) },
    );

    return {
      construction: 'envelope',
      version: { envelope: sealed.bytes[4]!, inner: metadata[0]! },
      spec: 'Voice-message envelopes (`envelope.ts`)',
      description: 'Mum\'s message to the child at epoch 2, as the toy receives it (roster: roster-entry.json): 64,000 bytes of audio, padded to the 78,125-byte bucket and sealed in two chunks (65,536 + 12,589 bytes of plaintext). The sealed chunks are not repeated: each is `sealedLength` bytes of `envelope` from `offset`. Refusals that alter this envelope give the edit: `flipLowBitOf` (a byte offset), `keepFirst` (the first n bytes), `chunkOrder` (the sealed chunks reordered).',
      vectors: [
        {
          name: 'guardian-to-child',
          inputs: { familyId: FAMILY_ID, epoch: 2, rosterHead: hex(family.hashes[2]!), familyKey: hex(family.keys[2]!), messageId: hex(messageId), senderId: MUM_ID, senderSigningKey: hex(family.mum.publicKeys.signingKey), recipients: [CHILD_ID], createdAt: T0 + 180_000, audioType: AUDIO_TYPE, durationMs: 4000, caption: CAPTION, audio: hex(audio) },
          headerBytes: hex(cut.header),
          messageKey: hex(messageKeyOf(family.keys[2]!, messageId)),
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
        },
      ],
      refusals,
    };
  },
  async checkIndependently(file) {
    const v = file.vectors[0]!;
    const i = v.inputs as Record<string, unknown>;
    const recipients = i.recipients as string[];
    const header = cat(text('BRWM'), u8(3), str(i.familyId as string), u64(i.epoch as number), hexOf(i.rosterHead), hexOf(i.messageId), str(i.senderId as string), u32(recipients.length), ...recipients.map(str), u64(i.createdAt as number));
    expectHex(header, v.headerBytes, 'envelope header');
    expectHex(messageKeyOf(hexOf(i.familyKey), hexOf(i.messageId)), v.messageKey, 'message key');
    const audio = hexOf(i.audio);
    const metadata = cat(u8(2), str(i.audioType as string), u32(i.durationMs as number), u8(1), str(i.caption as string), u32(audio.length));
    expectHex(metadata, v.innerMetadata, 'inner record before the audio');
    const paddedLength = bucketOf(metadata.length + audio.length);
    if (paddedLength !== v.paddedLength || v.innerLength !== metadata.length + audio.length) throw new Error('padded length');

    const envelopeBytes = hexOf(v.envelope);
    const opened = await openIndependently(envelopeBytes, hexOf(i.familyKey), i.senderSigningKey as string);
    expectHex(opened.padded, toHexString(cat(metadata, audio, new Uint8Array(paddedLength - metadata.length - audio.length))), 'padded plaintext: inner record, then zeros');
    expectHex(opened.cut.commitment, v.commitment, 'commitment');
    expectHex(sha256(opened.cut.commitment), v.ciphertextHash, 'ciphertextHash = SHA-256(commitment)');
    expectHex(labelled('burrow/message/v1', cat(header, sha256(opened.cut.commitment))), v.signedBytes, 'signed bytes');
    const chunks = v.chunks as { offset: number; sealedLength: number; sha256: string; nonce: string }[];
    for (const [n, chunk] of chunks.entries()) {
      const sealed = envelopeBytes.subarray(chunk.offset, chunk.offset + chunk.sealedLength);
      expectHex(sealed, toHexString(opened.cut.sealedChunks[n]!), `sealed chunk ${n} at its offset`);
      expectHex(sha256(sealed), chunk.sha256, `chunk ${n} hash`);
      expectHex(chunkNonceOf(hexOf(v.noncePrefix), n, n === chunks.length - 1), chunk.nonce, `chunk ${n} nonce`);
    }
    expectHex(cat(header, opened.cut.commitment, hexOf(v.signature), ...opened.cut.sealedChunks), v.envelope, 'envelope bytes');

    // Every refusal that is the vector's envelope edited, or Mum's padded one, fails this reader too.
    for (const refusal of file.refusals.filter((r) => r.name !== 'removed-sender')) {
      const input = refusal.input as Edit;
      const bytes = input.envelope === 'vectors[0].envelope' ? applyEdit(envelopeBytes, input) : hexOf(input.envelope);
      const result = await openIndependently(bytes, hexOf(i.familyKey), i.senderSigningKey as string).then(() => 'opened', (error: Error) => error.message);
      if (result === 'opened') throw new Error(`envelope refusal ${refusal.name} opens from the documented layout`);
    }
  },
};
