/**
 * Voice-message envelopes in their current form (docs/protocol.md, "Voice-message envelopes"):
 * every intermediate of one sealed message, and the refusals of a toy.
 */
import { openAndVerifyMessage, sealMessage } from '../../../src/crypto/envelope.js';
import { labelled } from '../../../src/crypto/canonical.js';
import { hkdfSha256 } from '../../../src/crypto/kdf.js';
import { utf8 } from '../../../src/crypto/bytes.js';
import { verifyRoster } from '../../../src/crypto/roster.js';
import { SIGNATURE_LABELS } from '../../../src/crypto/signature.js';
import { CHILD_ID, FAMILY_ID, GRAN_ID, MUM_ID, T0, vectorFamily } from '../family.js';
import { cat, ed25519Verifies, expectHex, hexOf, hkdfSha256 as nobleHkdf, labelled as label, sha256, str, u32, u64, u8, text } from '../independent.js';
import { fixedBytes, flipByte, hex, withFixedRandom, type Construction } from '../support.js';

const AUDIO_TYPE = 'audio/ogg; codecs=opus';

export const envelope: Construction = {
  name: 'envelope',
  async generate() {
    const family = await vectorFamily();
    const messageId = fixedBytes('message-id', 16);
    const audio = fixedBytes('audio', 48);
    const sealed = await withFixedRandom('envelope', () =>
      sealMessage({ familyId: FAMILY_ID, epoch: 2, rosterHead: family.hashes[2]!, familyKey: family.keys[2]!, sender: { accountId: MUM_ID, identity: family.mum }, recipients: [CHILD_ID], audio, audioType: AUDIO_TYPE, durationMs: 1500, caption: 'Night night', messageId, createdAt: T0 + 180_000 }),
    );
    const grans = await withFixedRandom('envelope/gran', () =>
      sealMessage({ familyId: FAMILY_ID, epoch: 1, rosterHead: family.hashes[1]!, familyKey: family.keys[1]!, sender: { accountId: GRAN_ID, identity: family.gran }, recipients: [CHILD_ID], audio, audioType: AUDIO_TYPE, durationMs: 1500, messageId: fixedBytes('message-id/gran', 16), createdAt: T0 + 90_000 }),
    );
    const headerLength = sealed.bytes.length - sealed.ciphertext.length - 4 - 4 - 64;
    const headerBytes = sealed.bytes.subarray(0, headerLength);
    const roster = await verifyRoster(family.chain, { genesisHash: family.hashes[0]! });
    if (!roster.ok) throw new Error(roster.code);
    const asToy = (bytes: Uint8Array) => openAndVerifyMessage(bytes, { roster: roster.value, familyKeyForEpoch: (epoch) => family.keys[epoch] });
    const opened = await asToy(sealed.bytes);
    if (!opened.ok) throw new Error(opened.code);
    const tampered = await asToy(flipByte(sealed.bytes, headerLength + 4 + 20));
    const removed = await asToy(grans.bytes);
    const messageKey = await hkdfSha256({ ikm: family.keys[2]!, salt: messageId, info: utf8('burrow/message-key/v1'), length: 32 });
    return {
      construction: 'envelope',
      version: { envelope: sealed.bytes[4]!, inner: 1, box: sealed.ciphertext[0]! },
      spec: 'Voice-message envelopes (`envelope.ts`)',
      description: 'Mum\'s message to the child at epoch 2, as the toy receives it (roster: roster-entry.json).',
      vectors: [
        {
          name: 'guardian-to-child',
          inputs: { familyId: FAMILY_ID, epoch: 2, rosterHead: hex(family.hashes[2]!), familyKey: hex(family.keys[2]!), messageId: hex(messageId), senderId: MUM_ID, senderSigningKey: hex(family.mum.publicKeys.signingKey), recipients: [CHILD_ID], createdAt: T0 + 180_000, audioType: AUDIO_TYPE, durationMs: 1500, caption: 'Night night', audio: hex(audio) },
          headerBytes: hex(headerBytes),
          messageKey: hex(messageKey),
          gcmAad: hex(cat(u8(1), headerBytes)),
          nonce: hex(sealed.ciphertext.subarray(1, 13)),
          innerPlaintext: hex(cat(u8(1), str(AUDIO_TYPE), u32(1500), u8(1), str('Night night'), u32(audio.length), audio)),
          ciphertext: hex(sealed.ciphertext),
          ciphertextHash: hex(sealed.ciphertextHash),
          signedBytes: hex(labelled(SIGNATURE_LABELS.message, cat(headerBytes, sealed.ciphertextHash))),
          signature: hex(sealed.signature),
          envelope: hex(sealed.bytes),
        },
      ],
      refusals: [
        { name: 'tampered-ciphertext', change: 'one bit of the ciphertext flipped', input: { envelope: hex(flipByte(sealed.bytes, headerLength + 4 + 20)) }, expected: tampered.ok ? 'accepted' : tampered.code },
        { name: 'removed-sender', change: 'a message Gran sealed at epoch 1, read by the toy whose head (epoch 2) removed her', input: { envelope: hex(grans.bytes) }, expected: removed.ok ? 'accepted' : removed.code },
      ],
    };
  },
  async checkIndependently(file) {
    const v = file.vectors[0]!;
    const i = v.inputs as Record<string, unknown>;
    const header = cat(text('BRWM'), u8(2), str(i.familyId as string), u64(i.epoch as number), hexOf(i.rosterHead), hexOf(i.messageId), str(i.senderId as string), u32(1), str((i.recipients as string[])[0]!), u64(i.createdAt as number));
    expectHex(header, v.headerBytes, 'envelope header');
    const key = nobleHkdf(hexOf(i.familyKey), hexOf(i.messageId), 'burrow/message-key/v1');
    expectHex(key, v.messageKey, 'message key');
    const ciphertext = hexOf(v.ciphertext);
    expectHex(sha256(ciphertext), v.ciphertextHash, 'ciphertext hash covers the whole box, version byte included');
    const aesKey = await crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['decrypt']);
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: ciphertext.slice(1, 13), additionalData: cat(u8(1), header) as Uint8Array<ArrayBuffer> }, aesKey, ciphertext.slice(13));
    expectHex(new Uint8Array(plain), v.innerPlaintext, 'inner plaintext');
    const signed = label('burrow/message/v1', cat(header, sha256(ciphertext)));
    if (!ed25519Verifies(v.signature, signed, i.senderSigningKey)) throw new Error('envelope signature');
    expectHex(cat(header, u32(ciphertext.length), ciphertext, u32(64), hexOf(v.signature)), v.envelope, 'envelope bytes');
  },
};
