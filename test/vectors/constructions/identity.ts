/** Identities (docs/protocol.md, "Identities"): the secret's layout, public keys, a sealed copy. */
import { openSealedIdentity, sealIdentity } from '../../../src/crypto/identity.js';
import { deriveKey } from '../../../src/crypto/kdf.js';
import { MUM_ID } from '../family.js';
import { cat, expectHex, hexOf, hkdfSha256, text, u8 } from '../independent.js';
import { fixedBytes, fixedIdentity, fixedIdentitySecret, flipByte, hex, publicKeysHex, withFixedRandom, type Construction } from '../support.js';

const CONTEXT = 'burrow/account-identity/v1/password';
const EXPORT_KEY_LABEL = 'burrow/identity-seal/v1';

export const identity: Construction = {
  name: 'identity',
  async generate() {
    const secret = fixedIdentitySecret('mum');
    const mum = await fixedIdentity('mum');
    const exportKey = fixedBytes('opaque-export-key', 64);
    const sealingKey = await deriveKey(exportKey, EXPORT_KEY_LABEL);
    const sealed = await withFixedRandom('identity', () => sealIdentity(mum, sealingKey, CONTEXT));
    const tampered = flipByte(sealed, 20);
    const refused = await openSealedIdentity(tampered, sealingKey, CONTEXT);
    const otherContext = await openSealedIdentity(sealed, sealingKey, 'burrow/account-identity/v1/recovery');
    return {
      construction: 'identity',
      version: { secret: secret[0]!, box: sealed[0]! },
      spec: 'Identities',
      description: `The identity of account ${MUM_ID}: its 97-byte secret, its public keys, and the password copy sealed under a key from a fixed OPAQUE export_key.`,
      vectors: [
        {
          name: 'password-copy',
          secret: hex(secret),
          publicKeys: publicKeysHex(mum),
          exportKey: hex(exportKey),
          sealingKeyInfo: EXPORT_KEY_LABEL,
          sealingKey: hex(sealingKey),
          context: CONTEXT,
          gcmAad: hex(cat(u8(1), text(`${EXPORT_KEY_LABEL}\0${CONTEXT}`))),
          nonce: hex(sealed.subarray(1, 13)),
          sealed: hex(sealed),
        },
      ],
      refusals: [
        { name: 'tampered-ciphertext', change: 'one bit of the ciphertext flipped', input: { sealed: hex(tampered), context: CONTEXT }, expected: refused.ok ? 'accepted' : refused.code },
        { name: 'recovery-context', change: 'the password copy opened as the recovery copy', input: { sealed: hex(sealed), context: 'burrow/account-identity/v1/recovery' }, expected: otherContext.ok ? 'accepted' : otherContext.code },
      ],
    };
  },
  async checkIndependently(file) {
    const v = file.vectors[0]!;
    const key = hkdfSha256(hexOf(v.exportKey), new Uint8Array(0), v.sealingKeyInfo as string);
    expectHex(key, v.sealingKey, 'identity sealing key');
    const sealed = hexOf(v.sealed);
    const aesKey = await crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['decrypt']);
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.slice(1, 13), additionalData: hexOf(v.gcmAad) as Uint8Array<ArrayBuffer> }, aesKey, sealed.slice(13));
    expectHex(new Uint8Array(plain), v.secret, 'opened identity secret');
    expectHex(hexOf(v.secret).subarray(0, 1), '02', 'secret version');
  },
};
