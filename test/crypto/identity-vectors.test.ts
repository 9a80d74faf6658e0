import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex } from '../../src/crypto/bytes.js';
import { exportIdentitySecret, importIdentitySecret, safetyCode } from '../../src/crypto/identity.js';

// RFC 8032 §7.1, TEST 1 (Ed25519): secret key, public key, and the signature of the empty message.
const ED25519 = {
  seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
  publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
  signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
};
// RFC 7748 §6.1 (X25519): Alice's private and public keys, Bob's public key and their shared secret.
const X25519 = {
  alicePrivate: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  alicePublic: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  bobPublic: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  shared: '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
};

const secret = concatBytes(Uint8Array.of(1), fromHex(ED25519.seed), fromHex(X25519.alicePrivate));

describe('identity known-answer vectors', () => {
  it('an identity imported from the RFC 8032 seed has the RFC public key and signature', async () => {
    const identity = await importIdentitySecret(secret);
    expect(toHex(identity.publicKeys.signingKey)).toBe(ED25519.publicKey);
    const signature = await crypto.subtle.sign('Ed25519', identity.signingPrivateKey, new Uint8Array(0));
    expect(toHex(new Uint8Array(signature))).toBe(ED25519.signature);
  });

  it('an identity imported from the RFC 7748 private key has the RFC public key and shared secret', async () => {
    const identity = await importIdentitySecret(secret, { extractable: false });
    expect(toHex(identity.publicKeys.agreementKey)).toBe(X25519.alicePublic);
    const bob = await crypto.subtle.importKey('raw', new Uint8Array(fromHex(X25519.bobPublic)), 'X25519', false, []);
    const shared = await crypto.subtle.deriveBits({ name: 'X25519', public: bob }, identity.agreementPrivateKey, 256);
    expect(toHex(new Uint8Array(shared))).toBe(X25519.shared);
  });

  it('exporting an imported identity gives back the same 65-byte secret', async () => {
    expect(toHex(await exportIdentitySecret(await importIdentitySecret(secret)))).toBe(toHex(secret));
  });

  // Burrow’s own regression vectors (not from a spec; cross-checked once with an independent SHA-512
  // implementation, Python's hashlib): a safety code must never change for the same keys.
  it('the safety code of the RFC keys is stable', async () => {
    const identity = await importIdentitySecret(secret);
    const other = { signingKey: fromHex(ED25519.publicKey), agreementKey: fromHex(X25519.bobPublic) };
    const code = await safetyCode(identity.publicKeys, other);
    expect(code.digits).toBe(SAFETY_CODE_DIGITS);
    expect(code.qr).toBe(SAFETY_CODE_QR);
  });
});

const SAFETY_CODE_DIGITS = '3979 4056 6861';
const SAFETY_CODE_QR = 'burrow-safety-code:v1:tgB7Cglnu036rguFXaXd-Ss8X18OTyjzpB_r6eDJemE';
