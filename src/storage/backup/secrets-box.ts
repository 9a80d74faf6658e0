/**
 * Seals the secrets file for a backup under a passphrase: scrypt (RFC 7914; N = 2^17, r = 8,
 * p = 1, 16-byte random salt, 128 MiB of memory per guess) derives a 256-bit key, AES-256-GCM
 * seals with a random 96-bit nonce. One key per backup (a fresh salt), so one nonce per key.
 */
import { createCipheriv, createDecipheriv, scryptSync } from 'node:crypto';
import { fromBase64Url, randomBytes, toBase64Url } from '../../crypto/bytes.js';
import { BackupError, type SealedSecretsInfo } from './format.js';

export const SCRYPT_PARAMS = { N: 2 ** 17, r: 8, p: 1 } as const;
const AAD = Buffer.from('burrow-backup/secrets/v1', 'utf8');
/** The shortest passphrase accepted: scrypt slows guessing, it does not make "1234" safe. */
export const MIN_PASSPHRASE_LENGTH = 12;

function keyFrom(passphrase: string, salt: Uint8Array, params: { N: number; r: number; p: number }): Buffer {
  return scryptSync(passphrase.normalize('NFC'), salt, 32, { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 });
}

/** Seals `plaintext`; returns the sealed bytes (nonce ‖ ciphertext ‖ tag) and the manifest entry's parameters. */
export function sealSecrets(plaintext: Uint8Array, passphrase: string, path: string): { sealed: Uint8Array; info: SealedSecretsInfo } {
  if (typeof passphrase !== 'string' || passphrase.length < MIN_PASSPHRASE_LENGTH) {
    throw new BackupError(`the backup passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters`);
  }
  const salt = randomBytes(16);
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFrom(passphrase, salt, SCRYPT_PARAMS), nonce);
  cipher.setAAD(AAD);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return {
    sealed: new Uint8Array(Buffer.concat([nonce, body, cipher.getAuthTag()])),
    info: { path, kdf: { name: 'scrypt', ...SCRYPT_PARAMS, salt: toBase64Url(salt) }, cipher: 'aes-256-gcm' },
  };
}

/** Opens sealed secrets; a wrong passphrase or altered bytes give one and the same error. */
export function openSecrets(sealed: Uint8Array, passphrase: string, info: SealedSecretsInfo): Uint8Array {
  const { N, r, p } = info.kdf;
  if (!Number.isSafeInteger(N) || N < 2 ** 14 || N > 2 ** 22 || r < 1 || r > 32 || p < 1 || p > 16) throw new BackupError('the backup\'s key-derivation parameters are out of range');
  if (sealed.length < 28) throw new BackupError('the sealed secrets are too short');
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyFrom(passphrase, fromBase64Url(info.kdf.salt), { N, r, p }), sealed.subarray(0, 12));
    decipher.setAAD(AAD);
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    return new Uint8Array(Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]));
  } catch {
    throw new BackupError('the secrets in this backup cannot be opened: wrong passphrase, or the backup was altered');
  }
}
