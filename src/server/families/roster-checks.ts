/**
 * What the server checks of a roster entry before it stores one: it decodes, it verifies from the
 * family's head (or as a genesis), and its wrapped keys cover exactly its members and toys. The
 * server must never store an entry a client would reject. Failures are `burrow/invalid-roster`.
 */
import { fromBase64Url, toBase64Url } from '../../crypto/bytes.js';
import { FAMILY_KEY_SUITE_SIZES, FAMILY_KEY_SUITES, type FamilyKeySuite } from '../../crypto/family-key.js';
import type { PublicIdentityKeys } from '../../crypto/identity.js';
import { profileEpoch } from '../../crypto/profile.js';
import { decodeRosterEntry, type RosterEntry } from '../../crypto/roster.js';
import { BurrowError } from '../../protocol/errors.js';
import type { WrappedKeyWire } from '../../protocol/families.js';

/** A refused entry: 400 `burrow/invalid-roster` with a detail that names the problem (never a key). */
export function invalidRoster(detail: string): BurrowError {
  return new BurrowError('burrow/invalid-roster', detail);
}

function bytesOf(text: string, what: string): Uint8Array {
  try {
    return fromBase64Url(text);
  } catch {
    throw new BurrowError('burrow/bad-request', `${what} is not base64url`);
  }
}

/** Decodes a roster entry from the wire, or throws `burrow/invalid-roster`. */
export function decodeEntryWire(wire: string): RosterEntry {
  const decoded = decodeRosterEntry(bytesOf(wire, 'The roster entry'));
  if (!decoded.ok) throw invalidRoster(`The roster entry does not decode (${decoded.code})`);
  return decoded.value;
}

/** Decodes an entry the server stored itself (it was checked on the way in). */
export function decodeStoredEntry(stored: string): RosterEntry {
  const decoded = decodeRosterEntry(fromBase64Url(stored));
  if (!decoded.ok) throw new Error(`a stored roster entry does not decode (${decoded.code})`);
  return decoded.value;
}

/**
 * Whether public keys as raw bytes equal keys as stored (base64url), the X-Wing key included: an
 * entry must carry an account's X-Wing key exactly when the account has one.
 */
export function keysEqual(keys: PublicIdentityKeys, stored: { signingKey: string; agreementKey: string; kemKey?: string | undefined }): boolean {
  const kemKey = keys.kemKey === undefined ? undefined : toBase64Url(keys.kemKey);
  return toBase64Url(keys.signingKey) === stored.signingKey && toBase64Url(keys.agreementKey) === stored.agreementKey && kemKey === stored.kemKey;
}

/** `keys` (raw) as `keysEqual` compares them. */
export function storedKeys(keys: PublicIdentityKeys): { signingKey: string; agreementKey: string; kemKey?: string } {
  const out: { signingKey: string; agreementKey: string; kemKey?: string } = { signingKey: toBase64Url(keys.signingKey), agreementKey: toBase64Url(keys.agreementKey) };
  if (keys.kemKey !== undefined) out.kemKey = toBase64Url(keys.kemKey);
  return out;
}

/**
 * Checks that `wrappedKeys` holds exactly one well-formed key of `entry`'s epoch for each of its
 * members and toys, under the suite its roster keys call for: X-Wing for those with an X-Wing key
 * (so a client cannot quietly wrap classically to someone who has one), classical for the others.
 */
export function checkWrappedKeys(entry: RosterEntry, wrappedKeys: readonly WrappedKeyWire[]): void {
  const suiteFor = new Map<string, FamilyKeySuite>();
  for (const p of [...entry.members.map((m) => ({ id: m.accountId, keys: m.keys })), ...entry.toys.map((t) => ({ id: t.toyId, keys: t.keys }))]) {
    suiteFor.set(p.id, p.keys.kemKey === undefined ? 'hpke-x25519-sha256-aes256gcm' : 'hpke-xwing-sha256-aes256gcm');
  }
  const expected = new Set<string>(suiteFor.keys());
  const seen = new Set<string>();
  for (const key of wrappedKeys) {
    if (key.epoch !== entry.epoch) throw invalidRoster(`A wrapped key is for epoch ${key.epoch}, not the entry's epoch ${entry.epoch}`);
    if (!(FAMILY_KEY_SUITES as readonly string[]).includes(key.suite)) throw invalidRoster(`Unknown wrapping suite ${JSON.stringify(key.suite)}`);
    if (!expected.has(key.recipientId)) throw invalidRoster('A wrapped key names a recipient who is not in the entry');
    if (seen.has(key.recipientId)) throw invalidRoster('Two wrapped keys name the same recipient');
    seen.add(key.recipientId);
    if (key.suite !== suiteFor.get(key.recipientId)) throw invalidRoster(`A wrapped key uses ${key.suite}, but its recipient's roster keys call for ${suiteFor.get(key.recipientId)!}`);
    // x25519: a 32-byte encapsulation; xwing: 1120 bytes. Both: the 32-byte key + a 16-byte tag.
    const sizes = FAMILY_KEY_SUITE_SIZES[key.suite as FamilyKeySuite];
    if (bytesOf(key.enc, 'A wrapped key enc').length !== sizes.enc || bytesOf(key.ciphertext, 'A wrapped key ciphertext').length !== sizes.ciphertext) {
      throw invalidRoster('A wrapped key has the wrong size for its suite');
    }
  }
  if (seen.size !== expected.size) throw invalidRoster('Every member and toy of the entry needs exactly one wrapped key');
}

/**
 * Checks `earlierKeys` of an entry that pairs toys: each is wrapped to a toy the entry adds
 * (`newToys`), for an epoch before the entry's that the family has, under the suite the toy's
 * roster keys call for, with its suite's sizes, at most one per toy and epoch. Whether the key
 * inside is that epoch's key only the toy can tell (against the entry's key commitment).
 */
export function checkEarlierKeys(entry: RosterEntry, newToys: ReadonlySet<string>, earlierKeys: readonly WrappedKeyWire[]): void {
  const seen = new Set<string>();
  for (const key of earlierKeys) {
    const toy = entry.toys.find((t) => t.toyId === key.recipientId);
    if (toy === undefined || !newToys.has(key.recipientId)) throw invalidRoster('An earlier key names a recipient who is not a toy this entry pairs');
    if (key.epoch >= entry.epoch) throw invalidRoster(`An earlier key is for epoch ${key.epoch}, not an epoch before the entry's ${entry.epoch}`);
    const id = `${key.recipientId} ${key.epoch}`;
    if (seen.has(id)) throw invalidRoster('Two earlier keys name the same toy and epoch');
    seen.add(id);
    const suite: FamilyKeySuite = toy.keys.kemKey === undefined ? 'hpke-x25519-sha256-aes256gcm' : 'hpke-xwing-sha256-aes256gcm';
    if (key.suite !== suite) throw invalidRoster(`An earlier key uses ${key.suite}, but its toy's roster keys call for ${suite}`);
    const sizes = FAMILY_KEY_SUITE_SIZES[suite];
    if (bytesOf(key.enc, 'An earlier key enc').length !== sizes.enc || bytesOf(key.ciphertext, 'An earlier key ciphertext').length !== sizes.ciphertext) {
      throw invalidRoster('An earlier key has the wrong size for its suite');
    }
  }
}

/** Checks a sealed profile's form and that it was sealed at an epoch the family has reached. */
export function checkSealedProfile(sealed: string, headEpoch: number, what: string): void {
  const epoch = profileEpoch(bytesOf(sealed, what));
  if (epoch === undefined) throw new BurrowError('burrow/bad-request', `${what} is not a sealed profile record`);
  if (epoch > headEpoch) throw new BurrowError('burrow/bad-request', `${what} is sealed for epoch ${epoch}, after the family's epoch ${headEpoch}`);
}
