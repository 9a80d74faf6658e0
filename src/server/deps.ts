/** Side effects the services depend on, injected so that tests can make them deterministic. */
import { randomBytes, toBase64Url } from '../crypto/bytes.js';

/** The time, in milliseconds since the Unix epoch. */
export interface Clock {
  now(): number;
}

/** Cryptographically secure random bytes. Tests may inject a seeded source; production never does. */
export interface Random {
  bytes(length: number): Uint8Array;
}

export const systemClock: Clock = { now: () => Date.now() };
export const systemRandom: Random = { bytes: (length) => randomBytes(length) };

/** A new 128-bit id, 22 characters of base64url (the `Id` schema in src/protocol/common.ts). */
export function newId(random: Random): string {
  return toBase64Url(random.bytes(16));
}
