/** Side effects the services depend on, injected so that tests can make them deterministic. */
import { randomFillSync } from 'node:crypto';
import { randomBytes, toBase64Url } from '../crypto/bytes.js';

/** The time, in milliseconds since the Unix epoch. */
export interface Clock {
  now(): number;
}

/** Cryptographically secure random bytes. Tests may inject a seeded source; production never does. */
export interface Random {
  bytes(length: number): Uint8Array;
}

/** Bytes drawn from the CSPRNG at once for small requests (ids, tokens, nonces). */
const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let poolOffset = POOL_BYTES;

/**
 * Small requests are cut from a pool refilled from the CSPRNG 4 KiB at a time, as Node's own
 * `randomUUID` does: one call into the CSPRNG for a few hundred ids and tokens instead of one each
 * (every request id, login id, session id and token). Each byte is handed out once and zeroed in
 * the pool as it goes, so the pool never holds a copy of a token already issued.
 */
function pooledRandomBytes(length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > POOL_BYTES / 16) return randomBytes(length);
  if (poolOffset + length > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const out = pool.slice(poolOffset, poolOffset + length);
  pool.fill(0, poolOffset, poolOffset + length);
  poolOffset += length;
  return out;
}

export const systemClock: Clock = { now: () => Date.now() };
export const systemRandom: Random = { bytes: pooledRandomBytes };

/** A new 128-bit id, 22 characters of base64url (the `Id` schema in src/protocol/common.ts). */
export function newId(random: Random): string {
  return toBase64Url(random.bytes(16));
}
