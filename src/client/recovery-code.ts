/**
 * Account recovery codes: 160 random bits shown once at sign-up, in Crockford base32 (no I, L, O
 * or U; case-insensitive) as eight groups of four characters. The code seals a second copy of the
 * identity and proves itself to the server through a hash the server stores.
 */
import { deriveKey } from '../crypto/kdf.js';
import { randomBytes } from '../crypto/bytes.js';
import { ClientError } from './client-error.js';

/** Random bytes in a recovery code: 160 bits, above the 128-bit floor, and a whole number of base32 characters. */
export const RECOVERY_CODE_BYTES = 20;
const CHARACTERS = (RECOVERY_CODE_BYTES * 8) / 5;
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** HKDF labels: one key seals the identity copy, the other proves the code to the server. */
const SEAL_LABEL = 'burrow/recovery-seal/v1';
const PROOF_LABEL = 'burrow/recovery-proof/v1';

/** Thrown when a typed recovery code cannot be a Burrow recovery code. */
export class InvalidRecoveryCodeError extends ClientError {
  constructor(message: string) {
    super('client/bad-input', message);
    this.name = 'InvalidRecoveryCodeError';
  }
}

function encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >> bits) & 31]!;
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}

/** A new random recovery code, such as `7KQ2-M9XD-…` (8 groups of 4). Show it once; never store it. */
export function generateRecoveryCode(): string {
  const bytes = randomBytes(RECOVERY_CODE_BYTES);
  const text = encode(bytes);
  bytes.fill(0);
  return text.match(/.{4}/g)!.join('-');
}

/**
 * The 20 bytes of a recovery code as typed: ignores case, spaces and dashes, and reads O as 0 and
 * I or L as 1 (Crockford's rules). Throws {@link InvalidRecoveryCodeError} naming what is wrong.
 */
export function parseRecoveryCode(text: string): Uint8Array {
  if (typeof text !== 'string') throw new TypeError('recovery code must be a string');
  const cleaned = text
    .toUpperCase()
    .replace(/[\s\-_.]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
  for (const char of cleaned) {
    if (!ALPHABET.includes(char)) throw new InvalidRecoveryCodeError(`a recovery code cannot contain "${char}"`);
  }
  if (cleaned.length !== CHARACTERS) {
    throw new InvalidRecoveryCodeError(`a recovery code has ${CHARACTERS} letters and digits, this one has ${cleaned.length}`);
  }
  const out = new Uint8Array(RECOVERY_CODE_BYTES);
  let buffer = 0;
  let bits = 0;
  let o = 0;
  for (const char of cleaned) {
    buffer = (buffer << 5) | ALPHABET.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (buffer >> bits) & 0xff;
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}

/** The canonical printed form of a typed recovery code (upper case, groups of four). */
export function formatRecoveryCode(text: string): string {
  return encode(parseRecoveryCode(text)).match(/.{4}/g)!.join('-');
}

/** What a recovery code yields: a key that seals the identity copy, a proof for the server, and the proof's hash. */
export interface RecoveryKeys {
  /** 32 bytes; seals the recovery copy of the identity. Never leaves the client. */
  recoverySealingKey: Uint8Array;
  /** 32 bytes; sent only when recovering. */
  recoveryProof: Uint8Array;
  /** SHA-256(recoveryProof); stored by the server at registration. */
  recoveryVerifier: Uint8Array;
}

/** Derives the recovery keys from a code (typed or generated) with HKDF under two distinct labels. */
export async function deriveRecoveryKeys(code: string): Promise<RecoveryKeys> {
  const secret = parseRecoveryCode(code);
  try {
    const recoverySealingKey = await deriveKey(secret, SEAL_LABEL, 32);
    const recoveryProof = await deriveKey(secret, PROOF_LABEL, 32);
    const recoveryVerifier = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', recoveryProof as Uint8Array<ArrayBuffer>));
    return { recoverySealingKey, recoveryProof, recoveryVerifier };
  } finally {
    secret.fill(0);
  }
}
