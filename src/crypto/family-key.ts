/**
 * Family keys: one random 256-bit key per roster epoch, wrapped to every member and toy of that
 * epoch with HPKE base mode (RFC 9180 §5.1.1) — DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
 * AES-256-GCM — via @hpke/core on WebCrypto.
 *
 * Each wrap is a single-shot HPKE seal with a fresh ephemeral key, so its AEAD key and nonce are
 * used once (RFC 9180 §9.7.1 limits do not come into play). The family id and epoch are bound as
 * HPKE `info`, the recipient id and epoch as AAD: a wrap cannot be replayed into another family,
 * epoch or recipient. Removing a member or toy starts a new epoch whose key is only wrapped to the
 * remaining ones. Every wrap names its `suite`, and unwrapping dispatches on it, so a second
 * (e.g. post-quantum hybrid) suite can be added alongside without a flag day.
 */
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { assertBytes, randomBytes } from './bytes.js';
import { CanonicalWriter, labelled } from './canonical.js';
import { fail, ok, type CryptoResult } from './result.js';
import type { RosterEntry } from './roster.js';
import { buf } from './webcrypto.js';

/** Names of the wrapping suites this code can open. */
export const FAMILY_KEY_SUITES = ['hpke-x25519-sha256-aes256gcm'] as const;
export type FamilyKeySuite = (typeof FAMILY_KEY_SUITES)[number];

/** A family key wrapped to one member or toy. */
export interface WrappedKey {
  suite: FamilyKeySuite;
  recipientId: string;
  epoch: number;
  /** HPKE encapsulated key (32 bytes for X25519). */
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

/** Wraps `key` (epoch `epoch` of `familyId`) to one recipient's X25519 public key. */
export async function wrapFamilyKey(options: { familyId: string; epoch: number; key: Uint8Array; recipient: { id: string; agreementKey: Uint8Array } }): Promise<WrappedKey> {
  const { familyId, epoch, key, recipient } = options;
  if (typeof familyId !== 'string' || familyId.length === 0) throw new TypeError('familyId must be a non-empty string');
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new TypeError('epoch must be a non-negative integer');
  assertBytes(key, 'key', 32);
  if (typeof recipient?.id !== 'string' || recipient.id.length === 0) throw new TypeError('recipient.id must be a non-empty string');
  assertBytes(recipient.agreementKey, 'recipient.agreementKey', 32);
  const suite = x25519Suite();
  const recipientPublicKey = await suite.kem.deserializePublicKey(buf(recipient.agreementKey));
  const sealed = await suite.seal({ recipientPublicKey, info: buf(info(familyId, epoch)) }, buf(key), buf(aad(recipient.id, epoch)));
  return { suite: 'hpke-x25519-sha256-aes256gcm', recipientId: recipient.id, epoch, enc: new Uint8Array(sealed.enc), ciphertext: new Uint8Array(sealed.ct) };
}

/**
 * Unwraps a family key for `recipientId`. A wrap addressed to someone else gives
 * `family-key/wrong-recipient`; a wrong private key, family, epoch or changed byte gives
 * `family-key/unwrap-failed`; an unknown suite `family-key/unsupported-suite`.
 */
export async function unwrapFamilyKey(
  wrapped: WrappedKey,
  options: { familyId: string; recipientId: string; agreementPrivateKey: CryptoKey; epoch?: number },
): Promise<CryptoResult<Uint8Array>> {
  if (typeof wrapped !== 'object' || wrapped === null) return fail('family-key/malformed');
  if (!(FAMILY_KEY_SUITES as readonly string[]).includes(wrapped.suite)) return fail('family-key/unsupported-suite');
  if (wrapped.recipientId !== options.recipientId) return fail('family-key/wrong-recipient');
  if (options.epoch !== undefined && wrapped.epoch !== options.epoch) return fail('family-key/wrong-epoch');
  if (!Number.isSafeInteger(wrapped.epoch) || wrapped.epoch < 0) return fail('family-key/malformed');
  if (!(wrapped.enc instanceof Uint8Array) || wrapped.enc.length !== 32) return fail('family-key/malformed');
  if (!(wrapped.ciphertext instanceof Uint8Array) || wrapped.ciphertext.length !== 48) return fail('family-key/malformed');
  switch (wrapped.suite) {
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

/** Wraps `key` to every member and toy of a (verified) roster entry, for that entry's epoch. */
export async function wrapFamilyKeyForRoster(entry: RosterEntry, key: Uint8Array): Promise<WrappedKey[]> {
  assertBytes(key, 'key', 32);
  const recipients = [
    ...entry.members.map((m) => ({ id: m.accountId, agreementKey: m.keys.agreementKey })),
    ...entry.toys.map((t) => ({ id: t.toyId, agreementKey: t.keys.agreementKey })),
  ];
  return Promise.all(recipients.map((recipient) => wrapFamilyKey({ familyId: entry.familyId, epoch: entry.epoch, key, recipient })));
}
