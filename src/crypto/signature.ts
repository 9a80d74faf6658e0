/**
 * Ed25519 signatures (RFC 8032 §5.1) on WebCrypto, always over `label ‖ 0x00 ‖ message` so that a
 * signature made for one purpose (a roster entry, a message, an approval, a decline) is useless for another.
 */
import { assertBytes } from './bytes.js';
import { labelled } from './canonical.js';
import type { Identity } from './identity.js';
import { buf, subtle } from './webcrypto.js';

/** Domain-separation labels of every Burrow signature. */
export const SIGNATURE_LABELS = {
  rosterEntry: 'burrow/roster-entry/v1',
  message: 'burrow/message/v1',
  approval: 'burrow/approval/v2',
  decline: 'burrow/decline/v1',
  receipt: 'burrow/receipt/v1',
  profile: 'burrow/profile-signature/v1',
  inviteDescription: 'burrow/invite/description-signature/v1',
} as const;

/** Signs `message` under `label` with the identity's Ed25519 key; 64 bytes. */
export async function signLabelled(identity: Identity, label: string, message: Uint8Array): Promise<Uint8Array> {
  assertBytes(message, 'message');
  const signature = await subtle().sign('Ed25519', identity.signingPrivateKey, buf(labelled(label, message)));
  return new Uint8Array(signature);
}

/** True only if `signature` is a valid Ed25519 signature by `publicKey` over `label ‖ 0x00 ‖ message`. */
export async function verifyLabelled(options: { publicKey: Uint8Array; label: string; message: Uint8Array; signature: Uint8Array }): Promise<boolean> {
  const { publicKey, label, message, signature } = options;
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
  if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
  try {
    const key = await subtle().importKey('raw', buf(publicKey), 'Ed25519', false, ['verify']);
    return await subtle().verify('Ed25519', key, buf(signature), buf(labelled(label, message)));
  } catch {
    return false;
  }
}
