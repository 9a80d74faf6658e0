/**
 * The outcome of a verification: a value, or a stable code saying why it was refused.
 * Verification never throws and a failure never carries a key or a plaintext.
 */

/**
 * Every code a verification in `src/crypto` may fail with, grouped by what was checked. Stable
 * once released: clients report them (the family security log) and put them into words
 * (`refusalWords` in src/protocol/client-errors.ts). Add new codes at the end of their group.
 */
export const CRYPTO_CODES = [
  'aead/decrypt-failed',
  'aead/malformed',
  'aead/unsupported-version',
  'envelope/bad-signature',
  'envelope/declined',
  'envelope/decrypt-failed',
  'envelope/expired',
  'envelope/from-the-future',
  'envelope/id-mismatch',
  'envelope/incomplete',
  'envelope/malformed',
  'envelope/needs-approval',
  'envelope/no-key',
  'envelope/recipient-not-allowed',
  'envelope/roster-behind',
  'envelope/roster-fork',
  'envelope/sender-not-member',
  'envelope/sender-removed',
  'envelope/unknown-epoch',
  'envelope/unsupported-version',
  'envelope/wrong-family',
  'envelope/wrong-scope',
  'identity/malformed',
  'identity/unseal-failed',
  'invite/bad-guardian-proof',
  'invite/bad-joiner-proof',
  'invite-description/bad-signature',
  'invite-description/malformed',
  'invite-description/refused',
  'invite-description/unsupported-version',
  'invite-joiner-name/malformed',
  'invite-joiner-name/refused',
  'invite-joiner-name/unsupported-version',
  'pairing/aborted',
  'pairing/bad-message',
  'pairing/out-of-order',
  'pairing/replayed',
  'pairing/wrong-code',
  'profile/bad-signature',
  'profile/decrypt-failed',
  'profile/malformed',
  'profile/no-key',
  'profile/signer-not-allowed',
  'profile/unsupported-version',
  'profile/wrong-family',
  'receipt/bad-signature',
  'receipt/malformed',
  'receipt/roster-fork',
  'receipt/unknown-signer',
  'receipt/wrong-message',
  'roster/bad-signature',
  'roster/broken-link',
  'roster/empty',
  'roster/epoch-gap',
  'roster/family-mismatch',
  'roster/key-not-rotated',
  'roster/malformed',
  'roster/not-anchored',
  'roster/settings-unreadable',
  'roster/signer-not-guardian',
  'scope-key/commitment-mismatch',
  'scope-key/malformed',
  'scope-key/no-kem-key',
  'scope-key/unknown-generation',
  'scope-key/unsupported-suite',
  'scope-key/unwrap-failed',
  'scope-key/wrong-recipient',
  'vault/decrypt-failed',
  'vault/malformed',
  'vault/unsupported-version',
] as const;

/** One of {@link CRYPTO_CODES}, such as `roster/bad-signature`. */
export type CryptoCode = (typeof CRYPTO_CODES)[number];

/** A verified value, or a stable failure code such as `roster/bad-signature`. */
export type CryptoResult<T> = { ok: true; value: T } | { ok: false; code: CryptoCode };

/** A successful result. */
export function ok<T>(value: T): CryptoResult<T> {
  return { ok: true, value };
}

/** A failed result with its code. */
export function fail<T = never>(code: CryptoCode): CryptoResult<T> {
  return { ok: false, code };
}
