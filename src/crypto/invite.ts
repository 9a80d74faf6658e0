/**
 * Invite links and the two proofs that make them safe to relay through the server.
 *
 * A guardian's client makes a 128-bit secret and shares `<origin>/join#<inviteId>.<secret>`; the
 * secret sits in the URL fragment, which browsers never send (RFC 3986 §3.5), so the server never
 * sees it. Both sides derive the invite key `HKDF-SHA-256(secret, info "burrow/invite/v1")`
 * (RFC 5869) and MAC with HMAC-SHA-256 (RFC 2104) over a labelled canonical encoding:
 *
 *   guardian proof  "burrow/invite/guardian-proof/v3" ‖ 0x00 ‖ familyId ‖ inviteId ‖ guardianId
 *                   ‖ signing key ‖ agreement key ‖ (0 | 1 ‖ X-Wing key) ‖ role ‖ children (sorted)
 *                   ‖ needsApproval ‖ head hash (32)
 *   joiner proof    "burrow/invite/joiner-proof/v1"   ‖ 0x00 ‖ inviteId ‖ joinerId
 *                   ‖ signing key ‖ agreement key
 *
 * On the wire the guardian proof is 65 bytes: 0x03 (its version) ‖ head hash ‖ HMAC. The head hash
 * is the inviting guardian's verified roster head when the invite was made: the invitee anchors its
 * trust in the family there, so a chain forked before that head (by a guardian removed since, say)
 * never verifies for it. The guardian proof tells the invitee whose keys, which terms and which
 * roster head the link stands for; the joiner proof tells the guardian that these account keys
 * belong to whoever holds the link. Distinct
 * labels keep one direction from being replayed as the other. Verification uses WebCrypto's HMAC
 * verify, which compares in constant time.
 *
 * Key use: one secret per invite; its key MACs exactly two short messages.
 */
import { assertBytes, concatBytes, fromBase64Url, randomBytes, toBase64Url } from './bytes.js';
import { CanonicalWriter, labelled } from './canonical.js';
import { assertPublicKeys, type PublicIdentityKeys } from './identity.js';
import { deriveKey } from './kdf.js';
import { fail, ok, type CryptoResult } from './result.js';
import { buf, subtle } from './webcrypto.js';

/** Bytes of an invite secret (128 bits). */
export const INVITE_SECRET_LENGTH = 16;
/** Bytes of a proof (HMAC-SHA-256). */
export const INVITE_PROOF_LENGTH = 32;
/** Bytes of a guardian proof on the wire: version ‖ head hash ‖ HMAC. */
export const GUARDIAN_PROOF_LENGTH = 1 + 32 + INVITE_PROOF_LENGTH;
/** The guardian proof's version byte: 3 binds the roster head hash (and the X-Wing key flag). */
const GUARDIAN_PROOF_VERSION = 3;
const HEAD_HASH_BYTES = 32;

const INVITE_KEY_LABEL = 'burrow/invite/v1';
const GUARDIAN_PROOF_LABEL = 'burrow/invite/guardian-proof/v3';
const JOINER_PROOF_LABEL = 'burrow/invite/joiner-proof/v1';
const JOINER_PROOF_KEM_LABEL = 'burrow/invite/joiner-proof/v2';
const ID = /^[A-Za-z0-9_-]{22}$/;
const MAX_ID_BYTES = 128;

/** What a guardian offers in an invite: the role, the children a relative may message, approval. */
export interface InviteTerms {
  role: 'guardian' | 'relative';
  children: readonly string[];
  needsApproval: boolean;
}

/** A parsed invite link. */
export interface InviteLink {
  /** The server origin the link points at, such as `https://burrow.example`. */
  origin: string;
  inviteId: string;
  secret: Uint8Array;
}

/** A fresh random invite secret (16 bytes). */
export function generateInviteSecret(): Uint8Array {
  return randomBytes(INVITE_SECRET_LENGTH);
}

function assertInviteId(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || !ID.test(value)) throw new TypeError(`${name} must be a 22-character base64url id`);
}

function assertId(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || new TextEncoder().encode(value).length > MAX_ID_BYTES) {
    throw new TypeError(`${name} must be a non-empty string of at most 128 bytes`);
  }
}

/** `<origin>/join#<inviteId>.<secret base64url>`; the secret stays in the fragment. */
export function formatInviteLink(origin: string, inviteId: string, secret: Uint8Array): string {
  if (typeof origin !== 'string') throw new TypeError('origin must be a string');
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new TypeError('origin must be an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('origin must be an absolute http(s) URL');
  assertInviteId(inviteId, 'inviteId');
  assertBytes(secret, 'secret', INVITE_SECRET_LENGTH);
  const base = url.origin + url.pathname.replace(/\/+$/, '');
  return `${base}/join#${inviteId}.${toBase64Url(secret)}`;
}

/** Parses an invite link made by `formatInviteLink`; throws a TypeError naming what is wrong. */
export function parseInviteLink(link: string): InviteLink {
  if (typeof link !== 'string') throw new TypeError('link must be a string');
  let url: URL;
  try {
    url = new URL(link.trim());
  } catch {
    throw new TypeError('link is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('link must be an http(s) URL');
  if (!url.pathname.endsWith('/join')) throw new TypeError('link is not an invite link (no /join)');
  const match = /^#([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})$/.exec(url.hash);
  if (!match) throw new TypeError('link has no valid invite fragment');
  const secret = fromBase64Url(match[2]!);
  if (secret.length !== INVITE_SECRET_LENGTH) throw new TypeError('link has no valid invite secret');
  const origin = url.origin + url.pathname.slice(0, -'/join'.length);
  return { origin, inviteId: match[1]!, secret };
}

async function hmacKey(secret: Uint8Array, usage: 'sign' | 'verify'): Promise<CryptoKey> {
  assertBytes(secret, 'secret', INVITE_SECRET_LENGTH);
  const key = await deriveKey(secret, INVITE_KEY_LABEL, 32);
  try {
    return await subtle().importKey('raw', buf(key), { name: 'HMAC', hash: 'SHA-256' }, false, [usage]);
  } finally {
    key.fill(0);
  }
}

interface GuardianProofInput {
  secret: Uint8Array;
  familyId: string;
  inviteId: string;
  guardianId: string;
  guardianKeys: PublicIdentityKeys;
  terms: InviteTerms;
  /** The hash of the head of the roster the guardian verified (`VerifiedRoster.headHash`). */
  headHash: Uint8Array;
}

interface JoinerProofInput {
  secret: Uint8Array;
  inviteId: string;
  joinerId: string;
  joinerKeys: PublicIdentityKeys;
}

function guardianProofBytes(input: Omit<GuardianProofInput, 'secret'>): Uint8Array {
  const { familyId, inviteId, guardianId, guardianKeys, terms, headHash } = input;
  assertId(familyId, 'familyId');
  assertInviteId(inviteId, 'inviteId');
  assertId(guardianId, 'guardianId');
  assertPublicKeys(guardianKeys, 'guardianKeys');
  if (typeof terms !== 'object' || terms === null) throw new TypeError('terms must be an object');
  if (terms.role !== 'guardian' && terms.role !== 'relative') throw new TypeError('terms.role must be guardian or relative');
  if (!Array.isArray(terms.children)) throw new TypeError('terms.children must be an array');
  terms.children.forEach((c, i) => assertId(c, `terms.children[${i}]`));
  if (typeof terms.needsApproval !== 'boolean') throw new TypeError('terms.needsApproval must be a boolean');
  assertBytes(headHash, 'headHash', HEAD_HASH_BYTES);
  // The children are a set: sorting makes the proof independent of the order a server returns them in.
  const children = [...new Set(terms.children)].sort();
  const body = new CanonicalWriter()
    .string(familyId)
    .string(inviteId)
    .string(guardianId)
    .fixed(guardianKeys.signingKey)
    .fixed(guardianKeys.agreementKey);
  // An X-Wing key is bound too (behind a flag), so a server cannot add, drop or swap it in transit.
  if (guardianKeys.kemKey !== undefined) body.u8(1).fixed(guardianKeys.kemKey);
  else body.u8(0);
  body
    .u8(terms.role === 'guardian' ? 1 : 2)
    .strings(children)
    .u8(terms.needsApproval ? 1 : 0)
    .fixed(headHash);
  return labelled(GUARDIAN_PROOF_LABEL, body.finish());
}

function joinerProofBytes(input: Omit<JoinerProofInput, 'secret'>): Uint8Array {
  assertInviteId(input.inviteId, 'inviteId');
  assertId(input.joinerId, 'joinerId');
  assertPublicKeys(input.joinerKeys, 'joinerKeys');
  const body = new CanonicalWriter().string(input.inviteId).string(input.joinerId).fixed(input.joinerKeys.signingKey).fixed(input.joinerKeys.agreementKey);
  // The joiner's X-Wing key is what family keys get wrapped to: a server that swapped it could open
  // them, so the proof covers it (under a label of its own; keys without one keep the v1 bytes).
  if (input.joinerKeys.kemKey !== undefined) return labelled(JOINER_PROOF_KEM_LABEL, body.fixed(input.joinerKeys.kemKey).finish());
  return labelled(JOINER_PROOF_LABEL, body.finish());
}

async function mac(secret: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  const key = await hmacKey(secret, 'sign');
  return new Uint8Array(await subtle().sign('HMAC', key, buf(message)));
}

async function verifyMac(secret: Uint8Array, message: Uint8Array, proof: Uint8Array, code: 'invite/bad-guardian-proof' | 'invite/bad-joiner-proof'): Promise<CryptoResult<true>> {
  if (!(proof instanceof Uint8Array) || proof.length !== INVITE_PROOF_LENGTH) return fail(code);
  const key = await hmacKey(secret, 'verify');
  const valid = await subtle().verify('HMAC', key, buf(proof), buf(message));
  return valid ? ok(true) : fail(code);
}

/**
 * The guardian's proof (65 bytes: 0x03 ‖ head hash ‖ MAC): MAC under the invite key over the
 * guardian's id and keys, the family, the invite id, the terms and the guardian's roster head hash.
 */
export async function guardianInviteProof(input: GuardianProofInput): Promise<Uint8Array> {
  const tag = await mac(input.secret, guardianProofBytes(input));
  return concatBytes(Uint8Array.of(GUARDIAN_PROOF_VERSION), input.headHash, tag);
}

/**
 * Checks a guardian's proof as the invitee and returns the roster head hash it binds (the anchor for
 * the invitee's first look at the roster); `invite/bad-guardian-proof` when any bound field differs
 * or the proof is not version 3.
 */
export async function verifyGuardianInviteProof(input: Omit<GuardianProofInput, 'headHash'> & { proof: Uint8Array }): Promise<CryptoResult<{ headHash: Uint8Array }>> {
  const { proof } = input;
  if (!(proof instanceof Uint8Array) || proof.length !== GUARDIAN_PROOF_LENGTH || proof[0] !== GUARDIAN_PROOF_VERSION) return fail('invite/bad-guardian-proof');
  const headHash = proof.slice(1, 1 + HEAD_HASH_BYTES);
  let message: Uint8Array;
  try {
    message = guardianProofBytes({ ...input, headHash });
  } catch (error) {
    if (error instanceof TypeError) return fail('invite/bad-guardian-proof');
    throw error;
  }
  const verified = await verifyMac(input.secret, message, proof.subarray(1 + HEAD_HASH_BYTES), 'invite/bad-guardian-proof');
  return verified.ok ? ok({ headHash }) : verified;
}

/** The joiner's proof (32 bytes): MAC under the invite key over the invite id and the joiner's account id and keys. */
export async function joinerInviteProof(input: JoinerProofInput): Promise<Uint8Array> {
  return mac(input.secret, joinerProofBytes(input));
}

/** Checks a joiner's proof as the guardian; `invite/bad-joiner-proof` when any bound field differs. */
export async function verifyJoinerInviteProof(input: JoinerProofInput & { proof: Uint8Array }): Promise<CryptoResult<true>> {
  let message: Uint8Array;
  try {
    message = joinerProofBytes(input);
  } catch (error) {
    if (error instanceof TypeError) return fail('invite/bad-joiner-proof');
    throw error;
  }
  return verifyMac(input.secret, message, input.proof, 'invite/bad-joiner-proof');
}
