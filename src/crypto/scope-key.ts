/**
 * Scope keys: one random 256-bit key per key scope (key-scopes.ts: the family-wide scope or one
 * child's conversation) and generation, committed to by the signed roster (roster.ts `scopeKeys`)
 * and wrapped only to that scope's holders.
 *
 * Commitment:
 *
 *   commitKey  = HKDF-SHA-256(ikm = key, salt = empty, info = "burrow/scope-key-commitment/v1")   (32 bytes)
 *   commitment = HMAC-SHA-256(commitKey, "burrow/scope-key-commitment/v1" ‖ 0x00 ‖ string familyId ‖ string scope ‖ u64 generation)
 *
 * Committing: for a fixed (familyId, scope, generation), two keys with one commitment need two
 * 32-byte HMAC keys with one tag, i.e. a SHA-256 collision (HMAC's inner and outer hashes take the
 * fixed-length key as their first block; every commitKey is 32 bytes, so there is no zero-padding
 * ambiguity), or two keys with one HKDF output, again a collision. So a server that knows the
 * commitment cannot find a second key that matches it, even choosing both keys itself. Hiding: the
 * commitment is a PRF output under a key derived from a uniformly random 256-bit secret, so the
 * server, which stores it, learns nothing about the key; the HKDF label keeps commitKey independent
 * of every other key derived from the scope key. The family id, scope and generation inside it stop
 * a commitment being moved to another family, scope or generation.
 *
 * Wraps: HPKE base mode under the suites of wrap-suites.ts (X-Wing for recipients with a `kemKey`,
 * else X25519), single-shot, with
 *
 *   info = "burrow/scope-key/v1" ‖ 0x00 ‖ string familyId ‖ string scope ‖ u64 generation
 *   aad  = "burrow/scope-key-recipient/v1" ‖ 0x00 ‖ string recipientId ‖ string scope ‖ u64 generation
 *
 * so a wrap opens only as the family, scope, generation and recipient it was made for. HPKE base
 * mode authenticates no sender — the server can wrap a key of its own to anyone — so a client
 * takes a key only through `unwrapAndCheckScopeKey`, which checks it against the signed commitment.
 */
import { assertBytes, bytesEqual, randomBytes } from './bytes.js';
import { CanonicalWriter, labelled } from './canonical.js';
import { WRAP_SUITE_SIZES, WRAP_SUITES, hpkeCipherSuite, type WrapSuite } from './wrap-suites.js';
import { assertIdentity, type Identity } from './identity.js';
import { deriveKey } from './kdf.js';
import { fail, ok, type CryptoResult } from './result.js';
import { buf, subtle } from './webcrypto.js';
import { XWING_PUBLIC_KEY_BYTES } from './xwing.js';

export const SCOPE_KEY_COMMITMENT_LABEL = 'burrow/scope-key-commitment/v1';
const INFO_LABEL = 'burrow/scope-key/v1';
const AAD_LABEL = 'burrow/scope-key-recipient/v1';
/** Bytes of a commitment (an HMAC-SHA-256 tag). */
export const SCOPE_KEY_COMMITMENT_BYTES = 32;

/** What a signed roster entry says of one scope: its current generation and the commitment to its key. */
export interface ScopeKeyCommitment {
  scope: string;
  generation: number;
  commitment: Uint8Array;
}

/** A fresh random 256-bit scope key. */
export function generateScopeKey(): Uint8Array {
  return randomBytes(32);
}

/** One scope key of one generation, wrapped to one member or toy. */
export interface WrappedScopeKey {
  suite: WrapSuite;
  recipientId: string;
  scope: string;
  generation: number;
  /** HPKE encapsulated key (32 bytes for X25519, 1120 for X-Wing). */
  enc: Uint8Array;
  /** HPKE ciphertext of the 32-byte key (48 bytes with the tag). */
  ciphertext: Uint8Array;
}

function checkContext(familyId: unknown, scope: unknown, generation: unknown): void {
  if (typeof familyId !== 'string' || familyId.length === 0) throw new TypeError('familyId must be a non-empty string');
  if (typeof scope !== 'string') throw new TypeError('scope must be a string');
  if (!Number.isSafeInteger(generation) || (generation as number) < 0) throw new TypeError('generation must be a non-negative integer');
}

function context(label: string, familyId: string, scope: string, generation: number): Uint8Array {
  return labelled(label, new CanonicalWriter().string(familyId).string(scope).u64(generation).finish());
}

function recipientContext(recipientId: string, scope: string, generation: number): Uint8Array {
  return labelled(AAD_LABEL, new CanonicalWriter().string(recipientId).string(scope).u64(generation).finish());
}

/** The commitment to `key` as `scope`'s key of `generation` in `familyId` (see the module comment). */
export async function scopeKeyCommitment(options: { familyId: string; scope: string; generation: number; key: Uint8Array }): Promise<Uint8Array> {
  const { familyId, scope, generation, key } = options;
  checkContext(familyId, scope, generation);
  assertBytes(key, 'key', 32);
  const commitKey = await deriveKey(key, SCOPE_KEY_COMMITMENT_LABEL, 32);
  try {
    const hmacKey = await subtle().importKey('raw', buf(commitKey), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return new Uint8Array(await subtle().sign('HMAC', hmacKey, buf(context(SCOPE_KEY_COMMITMENT_LABEL, familyId, scope, generation))));
  } finally {
    commitKey.fill(0);
  }
}

/**
 * Wraps `key` (`scope`'s key of `generation` in `familyId`) to one recipient: to its X-Wing
 * `kemKey` when it has one, else to its X25519 `agreementKey`.
 */
export async function wrapScopeKey(options: {
  familyId: string;
  scope: string;
  generation: number;
  key: Uint8Array;
  recipient: { id: string; agreementKey: Uint8Array; kemKey?: Uint8Array | undefined };
  /**
   * Known-answer vectors only (docs/vectors): the ephemeral key material instead of a fresh key —
   * RFC 9180's ikmE (32 bytes, DeriveKeyPair) for the classical suite, X-Wing's 64-byte eseed for
   * the hybrid one. Never set in production: a repeated ekm repeats the wrap's AEAD key and nonce.
   */
  ekm?: Uint8Array;
}): Promise<WrappedScopeKey> {
  const { familyId, scope, generation, key, recipient } = options;
  const ekm = options.ekm === undefined ? {} : { ekm: buf(options.ekm) };
  checkContext(familyId, scope, generation);
  assertBytes(key, 'key', 32);
  if (typeof recipient?.id !== 'string' || recipient.id.length === 0) throw new TypeError('recipient.id must be a non-empty string');
  assertBytes(recipient.agreementKey, 'recipient.agreementKey', 32);
  if (recipient.kemKey !== undefined) assertBytes(recipient.kemKey, 'recipient.kemKey', XWING_PUBLIC_KEY_BYTES);
  const suiteName: WrapSuite = recipient.kemKey === undefined ? 'hpke-x25519-sha256-aes256gcm' : 'hpke-xwing-sha256-aes256gcm';
  const suite = hpkeCipherSuite(suiteName);
  const recipientPublicKey = await suite.kem.deserializePublicKey(buf(recipient.kemKey ?? recipient.agreementKey));
  const sealed = await suite.seal({ recipientPublicKey, info: buf(context(INFO_LABEL, familyId, scope, generation)), ...ekm }, buf(key), buf(recipientContext(recipient.id, scope, generation)));
  return { suite: suiteName, recipientId: recipient.id, scope, generation, enc: new Uint8Array(sealed.enc), ciphertext: new Uint8Array(sealed.ct) };
}

function wrapProblem(wrap: WrappedScopeKey): CryptoResult<never> | undefined {
  if (typeof wrap !== 'object' || wrap === null) return fail('scope-key/malformed');
  if (!(WRAP_SUITES as readonly string[]).includes(wrap.suite)) return fail('scope-key/unsupported-suite');
  if (typeof wrap.scope !== 'string' || typeof wrap.recipientId !== 'string' || !Number.isSafeInteger(wrap.generation) || wrap.generation < 0) return fail('scope-key/malformed');
  const sizes = WRAP_SUITE_SIZES[wrap.suite];
  if (!(wrap.enc instanceof Uint8Array) || wrap.enc.length !== sizes.enc) return fail('scope-key/malformed');
  if (!(wrap.ciphertext instanceof Uint8Array) || wrap.ciphertext.length !== sizes.ciphertext) return fail('scope-key/malformed');
  return undefined;
}

async function openWrap(wrap: WrappedScopeKey, familyId: string, recipientId: string, identity: Identity): Promise<CryptoResult<Uint8Array>> {
  let recipientKey: CryptoKey;
  if (wrap.suite === 'hpke-xwing-sha256-aes256gcm') {
    if (identity.kemPrivateKey === undefined) return fail('scope-key/no-kem-key');
    recipientKey = identity.kemPrivateKey as unknown as CryptoKey;
  } else {
    recipientKey = identity.agreementPrivateKey;
  }
  try {
    const plaintext = await hpkeCipherSuite(wrap.suite).open(
      { recipientKey, enc: buf(wrap.enc), info: buf(context(INFO_LABEL, familyId, wrap.scope, wrap.generation)) },
      buf(wrap.ciphertext),
      buf(recipientContext(recipientId, wrap.scope, wrap.generation)),
    );
    const key = new Uint8Array(plaintext);
    return key.length === 32 ? ok(key) : fail('scope-key/unwrap-failed');
  } catch {
    return fail('scope-key/unwrap-failed');
  }
}

/**
 * Unwraps a scope key for `recipientId` and checks it against the signed `commitments` (those of
 * the verified roster entries that carry the wrap's scope and generation): the only unwrap a client
 * may use. A wrap for someone else is `scope-key/wrong-recipient`; one for a (scope, generation)
 * the signed entries never named is `scope-key/unknown-generation` — a wrap the server relabelled
 * for another scope or generation either fails that way or fails to open, as the label is bound
 * into HPKE; a key the entries do not commit to (one the server chose and wrapped itself) is
 * zeroed and refused with `scope-key/commitment-mismatch`.
 */
export async function unwrapAndCheckScopeKey(options: {
  wrap: WrappedScopeKey;
  familyId: string;
  recipientId: string;
  identity: Identity;
  commitments: readonly ScopeKeyCommitment[];
}): Promise<CryptoResult<Uint8Array>> {
  const { wrap, familyId, recipientId, identity, commitments } = options;
  assertIdentity(identity, 'identity');
  const problem = wrapProblem(wrap);
  if (problem !== undefined) return problem;
  if (wrap.recipientId !== recipientId) return fail('scope-key/wrong-recipient');
  const signed = commitments.find((c) => c.scope === wrap.scope && c.generation === wrap.generation);
  if (signed === undefined) return fail('scope-key/unknown-generation');
  const unwrapped = await openWrap(wrap, familyId, recipientId, identity);
  if (!unwrapped.ok) return unwrapped;
  const key = unwrapped.value;
  const expected = await scopeKeyCommitment({ familyId, scope: wrap.scope, generation: wrap.generation, key });
  if (!bytesEqual(expected, signed.commitment)) {
    key.fill(0);
    return fail('scope-key/commitment-mismatch');
  }
  return ok(key);
}

/** Every scope-key commitment the verified entries of `roster` sign, each (scope, generation) once. */
export function commitmentsOf(entries: readonly { scopeKeys: readonly ScopeKeyCommitment[] }[]): ScopeKeyCommitment[] {
  const seen = new Map<string, ScopeKeyCommitment>();
  for (const entry of entries) for (const k of entry.scopeKeys) seen.set(`${k.generation}/${k.scope}`, k);
  return [...seen.values()];
}
