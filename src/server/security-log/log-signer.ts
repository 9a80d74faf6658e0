/** The server's log key: an Ed25519 key (RFC 8032) from the 32-byte seed in the secrets file. */
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { familyLogSignedBytes } from '../../crypto/family-log.js';

/** RFC 8410 §7: the PKCS #8 DER prefix of an Ed25519 private key, followed by the 32-byte seed. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface LogSigner {
  /** The 32-byte public key clients pin. */
  readonly publicKey: Uint8Array;
  /** The log key's signature over an event hash (see `familyLogSignedBytes`). */
  signHash(hash: Uint8Array): Uint8Array;
}

/** Builds the signer from the seed; the seed is not kept outside the KeyObject. */
export function createLogSigner(seed: Uint8Array): LogSigner {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new TypeError('seed must be 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const publicKey = new Uint8Array(spki.subarray(spki.length - 32));
  return {
    publicKey,
    signHash: (hash) => new Uint8Array(sign(null, familyLogSignedBytes(hash), privateKey)),
  };
}
