/**
 * What the crypto benchmark measures against raw AES-256-GCM: one message sealed and signed,
 * then verified and opened.
 *
 * Stand-in until src/crypto/envelope.ts (`sealMessage` / `openAndVerifyMessage`) lands: the same
 * steps DESIGN.md §3 describes, built from the modules that exist — a per-message key derived
 * from a family key (HKDF-SHA-256), AES-256-GCM over the audio (aead.ts), an Ed25519 signature
 * over the header and the ciphertext's SHA-256 (signature.ts); opening checks the signature
 * before decrypting.
 */
import { aeadOpen, aeadSeal } from '../src/crypto/aead.js';
import { concatBytes, randomBytes, utf8 } from '../src/crypto/bytes.js';
import { generateIdentity } from '../src/crypto/identity.js';
import { deriveKey } from '../src/crypto/kdf.js';
import { SIGNATURE_LABELS, signLabelled, verifyLabelled } from '../src/crypto/signature.js';
import { sha256 } from '../src/crypto/webcrypto.js';

/** Names the code under test in the report. */
export const MESSAGE_SUBJECT = 'stand-in: HKDF message key + aeadSeal + Ed25519 over header ‖ SHA-256(ciphertext)';

/** A prepared sender and recipient for one plaintext. */
export interface MessageSubject {
  seal(): Promise<Uint8Array>;
  open(sealed: Uint8Array): Promise<Uint8Array>;
}

/** Sets up keys for `plaintext`; seal and open then do the per-message work only. */
export async function prepareMessageSubject(plaintext: Uint8Array): Promise<MessageSubject> {
  const familyKey = randomBytes(32);
  const sender = await generateIdentity();
  const publicKey = sender.publicKeys.signingKey;
  return {
    async seal() {
      const messageId = randomBytes(16);
      const header = concatBytes(utf8('burrow/message/v1'), messageId);
      const key = await deriveKey(familyKey, `message ${messageId.join('.')}`);
      const ciphertext = await aeadSeal(key, plaintext, header);
      const signature = await signLabelled(sender, SIGNATURE_LABELS.message, concatBytes(header, await sha256(ciphertext)));
      return concatBytes(Uint8Array.of(header.length), header, signature, ciphertext);
    },
    async open(sealed) {
      const headerLength = sealed[0]!;
      const header = sealed.subarray(1, 1 + headerLength);
      const signature = sealed.subarray(1 + headerLength, 65 + headerLength);
      const ciphertext = sealed.subarray(65 + headerLength);
      const message = concatBytes(header, await sha256(ciphertext));
      if (!(await verifyLabelled({ publicKey, label: SIGNATURE_LABELS.message, message, signature }))) throw new Error('bad signature');
      const key = await deriveKey(familyKey, `message ${header.subarray(header.length - 16).join('.')}`);
      const opened = await aeadOpen(key, ciphertext, header);
      if (!opened.ok) throw new Error(opened.code);
      return opened.value;
    },
  };
}
