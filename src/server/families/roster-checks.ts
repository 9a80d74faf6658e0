/**
 * What the server checks of a roster entry before it stores one: it decodes, it verifies from the
 * family's head (or as a genesis), and its wrapped keys are exactly the ones the change needs:
 * each fresh scope key to every holder of the scope, each kept one to its new holders only. The
 * server must never store an entry a client would reject. Failures are `burrow/invalid-roster`.
 */
import { fromBase64Url, toBase64Url } from '../../crypto/bytes.js';
import type { PublicIdentityKeys } from '../../crypto/identity.js';
import { profileEpoch } from '../../crypto/profile.js';
import { decodeRosterEntry, scopeKeyOf, wrapsNeededBy, type RosterEntry } from '../../crypto/roster.js';
import { WRAP_SUITE_SIZES, WRAP_SUITES, type WrapSuite } from '../../crypto/wrap-suites.js';
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

function suiteFor(keys: PublicIdentityKeys): WrapSuite {
  return keys.kemKey === undefined ? 'hpke-x25519-sha256-aes256gcm' : 'hpke-xwing-sha256-aes256gcm';
}

/** A wrap's suite is known and the one its recipient's roster keys call for, and its parts have that suite's sizes. */
function checkWrapForm(key: WrappedKeyWire, recipientKeys: PublicIdentityKeys, what: string): void {
  if (!(WRAP_SUITES as readonly string[]).includes(key.suite)) throw invalidRoster(`Unknown wrapping suite ${JSON.stringify(key.suite)}`);
  // X-Wing for those with an X-Wing key, so a client cannot quietly wrap classically to someone who has one.
  const suite = suiteFor(recipientKeys);
  if (key.suite !== suite) throw invalidRoster(`${what} uses ${key.suite}, but its recipient's roster keys call for ${suite}`);
  // x25519: a 32-byte encapsulation; xwing: 1120 bytes. Both: the 32-byte key + a 16-byte tag.
  const sizes = WRAP_SUITE_SIZES[suite];
  if (bytesOf(key.enc, `${what} enc`).length !== sizes.enc || bytesOf(key.ciphertext, `${what} ciphertext`).length !== sizes.ciphertext) {
    throw invalidRoster(`${what} has the wrong size for its suite`);
  }
}

/**
 * Checks that `wrappedKeys` are exactly the wraps `entry` needs after `previous` (undefined for a
 * genesis): crypto/roster.ts `wrapsNeededBy`, one per (scope, generation, recipient), each
 * well formed for its recipient. Whether the key inside is the committed one only its recipient
 * can tell; the server makes sure nobody is left without a key the entry gives them, and nobody
 * gets a wrap the entry does not give them.
 */
export function checkWrappedKeys(previous: RosterEntry | undefined, entry: RosterEntry, wrappedKeys: readonly WrappedKeyWire[]): void {
  const needed = wrapsNeededBy(previous, entry);
  const expected = new Map(needed.map((w) => [`${w.recipient.id} ${w.generation}/${w.scope}`, w.recipient.keys]));
  const seen = new Set<string>();
  for (const key of wrappedKeys) {
    const id = `${key.recipientId} ${key.generation}/${key.scope}`;
    const recipientKeys = expected.get(id);
    if (recipientKeys === undefined) throw invalidRoster('A wrapped key is one this entry does not give: wrong recipient, scope or generation');
    if (seen.has(id)) throw invalidRoster('Two wrapped keys name the same recipient, scope and generation');
    seen.add(id);
    checkWrapForm(key, recipientKeys, 'A wrapped key');
  }
  if (seen.size !== expected.size) throw invalidRoster('Every holder the entry gives a fresh or new scope key needs exactly one wrap of it');
}

/**
 * Checks `earlierKeys` of an entry that pairs toys: each is wrapped to a toy the entry adds
 * (`newToys`), of its child's scope, for a generation before the entry's current one for that
 * scope, under the suite the toy's roster keys call for, with its suite's sizes, at most one per
 * toy and generation. Whether the key inside is that generation's key only the toy can tell
 * (against the commitments of the signed entries).
 */
export function checkEarlierKeys(entry: RosterEntry, newToys: ReadonlySet<string>, earlierKeys: readonly WrappedKeyWire[]): void {
  const seen = new Set<string>();
  for (const key of earlierKeys) {
    const toy = entry.toys.find((t) => t.toyId === key.recipientId);
    if (toy === undefined || !newToys.has(key.recipientId)) throw invalidRoster('An earlier key names a recipient who is not a toy this entry pairs');
    if (key.scope !== toy.childId) throw invalidRoster("An earlier key is not of its toy's child's scope");
    const current = scopeKeyOf(entry, toy.childId)!.generation;
    if (key.generation >= current) throw invalidRoster(`An earlier key is for generation ${key.generation}, not one before the current ${current}`);
    const id = `${key.recipientId} ${key.generation}`;
    if (seen.has(id)) throw invalidRoster('Two earlier keys name the same toy and generation');
    seen.add(id);
    checkWrapForm(key, toy.keys, 'An earlier key');
  }
}

/** Checks a sealed profile's form and that it was sealed at an epoch the family has reached. */
export function checkSealedProfile(sealed: string, headEpoch: number, what: string): void {
  const epoch = profileEpoch(bytesOf(sealed, what));
  if (epoch === undefined) throw new BurrowError('burrow/bad-request', `${what} is not a sealed profile record`);
  if (epoch > headEpoch) throw new BurrowError('burrow/bad-request', `${what} is sealed for epoch ${epoch}, after the family's epoch ${headEpoch}`);
}
