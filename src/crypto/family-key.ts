/**
 * Family keys: one random 256-bit key per roster epoch, wrapped to every member and toy of that
 * epoch with HPKE base mode (RFC 9180 §5.1.1), HKDF-SHA256, AES-256-GCM via @hpke/core, under one
 * of two suites:
 *
 * - 'hpke-xwing-sha256-aes256gcm' (the default whenever the recipient's keys carry an X-Wing
 *   `kemKey`): the KEM is X-Wing (X25519 + ML-KEM-768, see xwing.ts), so a wrap stays closed
 *   unless both X25519 and ML-KEM-768 are broken — ciphertext harvested now is not opened by a
 *   future quantum computer that breaks X25519 alone.
 * - 'hpke-x25519-sha256-aes256gcm' (classical): DHKEM(X25519, HKDF-SHA256), for recipients whose
 *   identity predates X-Wing, and for every wrap written before it. Such wraps stay readable.
 *
 * Each wrap is a single-shot HPKE seal with a fresh ephemeral key, so its AEAD key and nonce are
 * used once (RFC 9180 §9.7.1 limits do not come into play). The family id and epoch are bound as
 * HPKE `info`, the recipient id and epoch as AAD: a wrap cannot be replayed into another family,
 * epoch or recipient. Removing a member or toy starts a new epoch whose key is only wrapped to the
 * remaining ones. Every wrap names its `suite`, and unwrapping dispatches on it, so a second
 * (e.g. post-quantum hybrid) suite can be added alongside without a flag day.
 *
 * HPKE base mode does not authenticate the sender, so anyone holding a recipient's public keys —
 * the server included — can wrap a key of its own to them. Clients therefore unwrap only through
 * `unwrapAndCheckFamilyKey`, which checks the key against the commitment in the verified roster
 * entry of its epoch (key-commitment.ts) before returning it.
 */
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { assertBytes, randomBytes } from './bytes.js';
import { CanonicalWriter, labelled } from './canonical.js';
import { fail, ok, type CryptoResult } from './result.js';
import { isVerifiedRoster, type RosterEntry, type VerifiedRoster } from './roster.js';
import { buf } from './webcrypto.js';
import { assertIdentity, kemPrivateKeyOf, type Identity } from './identity.js';
import { familyKeyMatchesCommitment } from './key-commitment.js';
import { isKemPrivateKey, XWING_CIPHERTEXT_BYTES, XWING_PUBLIC_KEY_BYTES, XWingKem, type KemPrivateKey } from './xwing.js';

/** Names of the wrapping suites this code can open. */
export const FAMILY_KEY_SUITES = ['hpke-x25519-sha256-aes256gcm', 'hpke-xwing-sha256-aes256gcm'] as const;
export type FamilyKeySuite = (typeof FAMILY_KEY_SUITES)[number];

/** Byte sizes of each suite's encapsulation and ciphertext (the wrapped 32-byte key plus a 16-byte tag). */
export const FAMILY_KEY_SUITE_SIZES: Readonly<Record<FamilyKeySuite, { enc: number; ciphertext: number }>> = Object.freeze({
  'hpke-x25519-sha256-aes256gcm': { enc: 32, ciphertext: 48 },
  'hpke-xwing-sha256-aes256gcm': { enc: XWING_CIPHERTEXT_BYTES, ciphertext: 48 },
});

/** A family key wrapped to one member or toy. */
export interface WrappedKey {
  suite: FamilyKeySuite;
  recipientId: string;
  epoch: number;
  /** HPKE encapsulated key (32 bytes for X25519, 1120 for X-Wing). */
  enc: Uint8Array;
  /** HPKE ciphertext of the 32-byte key (48 bytes with the tag). */
  ciphertext: Uint8Array;
}

const INFO_LABEL = 'burrow/family-key/v1';
const AAD_LABEL = 'burrow/family-key-recipient/v1';

let hpkeSuite: CipherSuite | undefined;
function x25519Suite(): CipherSuite {
  hpkeSuite ??= new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
  return hpkeSuite;
}

let hpkeXWingSuite: CipherSuite | undefined;
function xwingSuite(): CipherSuite {
  hpkeXWingSuite ??= new CipherSuite({ kem: new XWingKem(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
  return hpkeXWingSuite;
}

/** The HPKE cipher suite of a wrapping suite name (shared with scope-key.ts, which wraps under the same suites). */
export function hpkeCipherSuite(suite: FamilyKeySuite): CipherSuite {
  return suite === 'hpke-xwing-sha256-aes256gcm' ? xwingSuite() : x25519Suite();
}

function info(familyId: string, epoch: number): Uint8Array {
  return labelled(INFO_LABEL, new CanonicalWriter().string(familyId).u64(epoch).finish());
}

function aad(recipientId: string, epoch: number): Uint8Array {
  return labelled(AAD_LABEL, new CanonicalWriter().string(recipientId).u64(epoch).finish());
}

/** A fresh random 256-bit family key. */
export function generateFamilyKey(): Uint8Array {
  return randomBytes(32);
}

/**
 * Wraps `key` (epoch `epoch` of `familyId`) to one recipient: to its X-Wing `kemKey` with the
 * hybrid suite when it has one, else to its X25519 `agreementKey` with the classical suite.
 */
export async function wrapFamilyKey(options: {
  familyId: string;
  epoch: number;
  key: Uint8Array;
  recipient: { id: string; agreementKey: Uint8Array; kemKey?: Uint8Array | undefined };
  /**
   * Known-answer vectors only (docs/vectors): the ephemeral key material instead of a fresh key —
   * RFC 9180's ikmE (32 bytes, DeriveKeyPair) for the classical suite, X-Wing's 64-byte eseed for
   * the hybrid one. Never set in production: a repeated ekm repeats the wrap's AEAD key and nonce.
   */
  ekm?: Uint8Array;
}): Promise<WrappedKey> {
  const { familyId, epoch, key, recipient } = options;
  const ekm = options.ekm === undefined ? {} : { ekm: buf(options.ekm) };
  if (typeof familyId !== 'string' || familyId.length === 0) throw new TypeError('familyId must be a non-empty string');
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new TypeError('epoch must be a non-negative integer');
  assertBytes(key, 'key', 32);
  if (typeof recipient?.id !== 'string' || recipient.id.length === 0) throw new TypeError('recipient.id must be a non-empty string');
  assertBytes(recipient.agreementKey, 'recipient.agreementKey', 32);
  if (recipient.kemKey !== undefined) {
    assertBytes(recipient.kemKey, 'recipient.kemKey', XWING_PUBLIC_KEY_BYTES);
    const suite = xwingSuite();
    const recipientPublicKey = await suite.kem.deserializePublicKey(buf(recipient.kemKey));
    const sealed = await suite.seal({ recipientPublicKey, info: buf(info(familyId, epoch)), ...ekm }, buf(key), buf(aad(recipient.id, epoch)));
    return { suite: 'hpke-xwing-sha256-aes256gcm', recipientId: recipient.id, epoch, enc: new Uint8Array(sealed.enc), ciphertext: new Uint8Array(sealed.ct) };
  }
  const suite = x25519Suite();
  const recipientPublicKey = await suite.kem.deserializePublicKey(buf(recipient.agreementKey));
  const sealed = await suite.seal({ recipientPublicKey, info: buf(info(familyId, epoch)), ...ekm }, buf(key), buf(aad(recipient.id, epoch)));
  return { suite: 'hpke-x25519-sha256-aes256gcm', recipientId: recipient.id, epoch, enc: new Uint8Array(sealed.enc), ciphertext: new Uint8Array(sealed.ct) };
}

/**
 * Unwraps a family key for `recipientId`, dispatching on the wrap's suite. A wrap addressed to
 * someone else gives `family-key/wrong-recipient`; a wrong private key, family, epoch or changed
 * byte gives `family-key/unwrap-failed`; an unknown suite `family-key/unsupported-suite`; an X-Wing
 * wrap without an X-Wing private key `family-key/no-kem-key`. The X-Wing key is
 * `kemPrivateKey`, or else the one of the identity whose `agreementPrivateKey` is given.
 */
export async function unwrapFamilyKey(
  wrapped: WrappedKey,
  options: { familyId: string; recipientId: string; agreementPrivateKey: CryptoKey; kemPrivateKey?: KemPrivateKey | undefined; epoch?: number },
): Promise<CryptoResult<Uint8Array>> {
  if (typeof wrapped !== 'object' || wrapped === null) return fail('family-key/malformed');
  if (!(FAMILY_KEY_SUITES as readonly string[]).includes(wrapped.suite)) return fail('family-key/unsupported-suite');
  if (wrapped.recipientId !== options.recipientId) return fail('family-key/wrong-recipient');
  if (options.epoch !== undefined && wrapped.epoch !== options.epoch) return fail('family-key/wrong-epoch');
  if (!Number.isSafeInteger(wrapped.epoch) || wrapped.epoch < 0) return fail('family-key/malformed');
  const sizes = FAMILY_KEY_SUITE_SIZES[wrapped.suite];
  if (!(wrapped.enc instanceof Uint8Array) || wrapped.enc.length !== sizes.enc) return fail('family-key/malformed');
  if (!(wrapped.ciphertext instanceof Uint8Array) || wrapped.ciphertext.length !== sizes.ciphertext) return fail('family-key/malformed');
  switch (wrapped.suite) {
    case 'hpke-xwing-sha256-aes256gcm': {
      const kemPrivateKey = options.kemPrivateKey ?? kemPrivateKeyOf(options.agreementPrivateKey);
      if (kemPrivateKey === undefined || !isKemPrivateKey(kemPrivateKey)) return fail('family-key/no-kem-key');
      try {
        const plaintext = await xwingSuite().open(
          { recipientKey: kemPrivateKey as unknown as CryptoKey, enc: buf(wrapped.enc), info: buf(info(options.familyId, wrapped.epoch)) },
          buf(wrapped.ciphertext),
          buf(aad(options.recipientId, wrapped.epoch)),
        );
        const key = new Uint8Array(plaintext);
        return key.length === 32 ? ok(key) : fail('family-key/unwrap-failed');
      } catch {
        return fail('family-key/unwrap-failed');
      }
    }
    case 'hpke-x25519-sha256-aes256gcm': {
      try {
        const plaintext = await x25519Suite().open(
          { recipientKey: options.agreementPrivateKey, enc: buf(wrapped.enc), info: buf(info(options.familyId, wrapped.epoch)) },
          buf(wrapped.ciphertext),
          buf(aad(options.recipientId, wrapped.epoch)),
        );
        const key = new Uint8Array(plaintext);
        return key.length === 32 ? ok(key) : fail('family-key/unwrap-failed');
      } catch {
        return fail('family-key/unwrap-failed');
      }
    }
  }
}

/**
 * Wraps `key` to every member and toy of a (verified) roster entry, for that entry's epoch: with
 * the X-Wing suite to those whose roster keys carry a `kemKey`, classically to the others.
 */
export async function wrapFamilyKeyForRoster(entry: RosterEntry, key: Uint8Array): Promise<WrappedKey[]> {
  assertBytes(key, 'key', 32);
  const recipients = [
    ...entry.members.map((m) => ({ id: m.accountId, agreementKey: m.keys.agreementKey, kemKey: m.keys.kemKey })),
    ...entry.toys.map((t) => ({ id: t.toyId, agreementKey: t.keys.agreementKey, kemKey: t.keys.kemKey })),
  ];
  return Promise.all(recipients.map((recipient) => wrapFamilyKey({ familyId: entry.familyId, epoch: entry.epoch, key, recipient })));
}

/**
 * Unwraps the family key of `wrap.epoch` for `recipientId` and checks it against the key
 * commitment of that epoch's entry in the verified `roster`: the only unwrap a client may use.
 * A key the entry does not commit to (one the server chose and wrapped itself) is zeroed and
 * refused with `family-key/commitment-mismatch`; an epoch the roster does not hold gives
 * `family-key/unknown-epoch`; the unwrap's own failures are `unwrapFamilyKey`'s codes.
 */
export async function unwrapAndCheckFamilyKey(options: { wrap: WrappedKey; recipientId: string; identity: Identity; roster: VerifiedRoster }): Promise<CryptoResult<Uint8Array>> {
  const { wrap, recipientId, identity, roster } = options;
  if (!isVerifiedRoster(roster)) throw new TypeError('roster must be a roster returned by verifyRoster');
  assertIdentity(identity, 'identity');
  if (typeof wrap !== 'object' || wrap === null || !Number.isSafeInteger(wrap.epoch)) return fail('family-key/malformed');
  const entry = roster.entryAt(wrap.epoch);
  if (entry === undefined) return fail('family-key/unknown-epoch');
  const unwrapped = await unwrapFamilyKey(wrap, { familyId: roster.familyId, recipientId, agreementPrivateKey: identity.agreementPrivateKey, kemPrivateKey: identity.kemPrivateKey, epoch: entry.epoch });
  if (!unwrapped.ok) return unwrapped;
  const key = unwrapped.value;
  if (!(await familyKeyMatchesCommitment({ familyId: entry.familyId, epoch: entry.epoch, key, commitment: entry.keyCommitment }))) {
    key.fill(0);
    return fail('family-key/commitment-mismatch');
  }
  return ok(key);
}
