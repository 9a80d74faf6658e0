/**
 * The outcome of a verification: a value, or a stable code saying why it was refused.
 * Verification never throws and a failure never carries a key or a plaintext.
 */

/** A verified value, or a stable failure code such as `roster/bad-signature`. */
export type CryptoResult<T> = { ok: true; value: T } | { ok: false; code: string };

/** A successful result. */
export function ok<T>(value: T): CryptoResult<T> {
  return { ok: true, value };
}

/** A failed result with its code. */
export function fail<T = never>(code: string): CryptoResult<T> {
  return { ok: false, code };
}
