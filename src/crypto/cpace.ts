/**
 * CPace over ristretto255 with SHA-512 (cipher suite CPACE-RISTR255-SHA512), as specified in
 * draft-irtf-cfrg-cpace-21, "CPace, a balanced composable PAKE".
 *
 * The group arithmetic, the ristretto255 encoding (RFC 9496 §4.3) and the element derivation
 * (RFC 9496 §4.3.4) come from @noble/curves; this module only does the protocol framing:
 * generator_string, calculate_generator, sample_scalar, scalar_mult(_vfy), the transcripts
 * and the ISK derivation. K never leaves this module (draft, "Key derivation": a leaked K
 * allows offline guessing of the password).
 */
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import { bytesToNumberLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { assertBytes, bytesEqual, concatBytes, randomBytes, utf8 } from './bytes.js';

type RistrettoPoint = InstanceType<typeof ristretto255.Point>;

/** Element derivation from 64 uniform bytes (RFC 9496 §4.3.4); optional in the hasher's type, present for ristretto255. */
const deriveElement: (bytes: Uint8Array) => RistrettoPoint = (() => {
  const derive = ristretto255_hasher.deriveToCurve;
  if (derive === undefined) throw new Error('@noble/curves lacks ristretto255 element derivation');
  return derive;
})();

/** G_Ristretto255.DSI (draft, "CPace group objects G_Ristretto255 and G_Decaf448"). */
export const CPACE_DSI = utf8('CPaceRistretto255');
/** Input block size of SHA-512 in bytes (H.s_in_bytes, draft "Hash function H"). */
const SHA512_BLOCK_BYTES = 128;
/** Length of an encoded ristretto255 element (G_Ristretto255.field_size_bytes). */
export const CPACE_ELEMENT_BYTES = 32;
/** G.I: the encoding of the neutral element (draft, G_Ristretto255). */
const IDENTITY = new Uint8Array(CPACE_ELEMENT_BYTES);

/** prepend_len: the LEB128 encoding of len(data) followed by data (draft appendix, "prepend_len function"). */
export function prependLen(data: Uint8Array): Uint8Array {
  assertBytes(data, 'data');
  const prefix: number[] = [];
  let length = data.length;
  do {
    prefix.push(length < 128 ? length : (length & 0x7f) | 0x80);
    length = Math.floor(length / 128);
  } while (length > 0);
  return concatBytes(Uint8Array.from(prefix), data);
}

/** lv_cat: the concatenation of prepend_len of each argument (draft appendix, "lv_cat function"). */
export function lvCat(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(...parts.map((part) => prependLen(part)));
}

/** True when `a` is lexicographically larger than `b` (draft appendix, "Definitions for lexiographical ordering"). */
function lexicographicallyLarger(a: Uint8Array, b: Uint8Array): boolean {
  const min = Math.min(a.length, b.length);
  for (let i = 0; i < min; i++) {
    if (a[i]! !== b[i]!) return a[i]! > b[i]!;
  }
  return a.length > b.length;
}

/** o_cat: b"oc" followed by the larger string, then the smaller one (draft appendix, "Definitions for ordered concatenation"). */
export function orderedCat(a: Uint8Array, b: Uint8Array): Uint8Array {
  return lexicographicallyLarger(a, b) ? concatBytes(utf8('oc'), a, b) : concatBytes(utf8('oc'), b, a);
}

/** transcript_ir: the transcript when A always speaks first (draft, "Notation for string operations"). */
export function transcriptIr(ya: Uint8Array, adA: Uint8Array, yb: Uint8Array, adB: Uint8Array): Uint8Array {
  return concatBytes(lvCat(ya, adA), lvCat(yb, adB));
}

/** transcript_oc: the transcript when either party may speak first (draft, "Notation for string operations"). */
export function transcriptOc(ya: Uint8Array, adA: Uint8Array, yb: Uint8Array, adB: Uint8Array): Uint8Array {
  return orderedCat(lvCat(ya, adA), lvCat(yb, adB));
}

/**
 * generator_string(DSI, PRS, CI, sid, s_in_bytes) (draft, "Common function for computing
 * generators"): the zero padding
 * makes DSI and PRS fill the first hash block, so the hashed length does not depend on a short PRS.
 */
export function generatorString(dsi: Uint8Array, prs: Uint8Array, ci: Uint8Array, sid: Uint8Array, sInBytes: number): Uint8Array {
  const zpad = Math.max(0, sInBytes - 1 - prependLen(prs).length - prependLen(dsi).length);
  return lvCat(dsi, prs, new Uint8Array(zpad), ci, sid);
}

/** G.calculate_generator(H, PRS, CI, sid) for ristretto255 with SHA-512 (draft, G_Ristretto255). */
export function calculateGenerator(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): RistrettoPoint {
  assertBytes(prs, 'prs');
  assertBytes(ci, 'ci');
  assertBytes(sid, 'sid');
  const hash = sha512(generatorString(CPACE_DSI, prs, ci, sid, SHA512_BLOCK_BYTES));
  // 2 * field_size_bytes = 64 bytes, all of SHA-512's output, into element derivation (RFC 9496 §4.3.4).
  return deriveElement(hash);
}

/**
 * G.sample_scalar() (draft, G_Ristretto255): 32 random bytes with the bits above group_size_bits (252) cleared,
 * read little-endian. The result is below the group order; zero (probability 2^-252) is resampled
 * because it would make the public share the identity.
 */
export function sampleScalar(): Uint8Array {
  for (;;) {
    const bytes = randomBytes(32);
    bytes[31] = bytes[31]! & 0x0f;
    if (bytesToNumberLE(bytes) !== 0n) return bytes;
  }
}

function scalarFromBytes(scalar: Uint8Array): bigint {
  assertBytes(scalar, 'scalar', 32);
  const value = bytesToNumberLE(scalar);
  if (value === 0n || value >= ristretto255.Point.Fn.ORDER) throw new RangeError('scalar must be in [1, group order)');
  return value;
}

/** G.scalar_mult(y, g): encode(y * g) for an internal (decoded) element g (draft, G_Ristretto255). */
export function scalarMult(scalar: Uint8Array, g: RistrettoPoint): Uint8Array {
  return g.multiply(scalarFromBytes(scalar)).toBytes();
}

/**
 * G.scalar_mult_vfy(y, X) (draft, G_Ristretto255): encode(y * decode(X)), or G.I when X does not decode.
 * Callers MUST abort when the result equals G.I (draft, "CPace protocol instructions" and
 * "Implementation verification").
 */
export function scalarMultVfy(scalar: Uint8Array, encoded: Uint8Array): Uint8Array {
  const y = scalarFromBytes(scalar);
  if (!(encoded instanceof Uint8Array) || encoded.length !== CPACE_ELEMENT_BYTES) return IDENTITY.slice();
  let point: RistrettoPoint;
  try {
    point = ristretto255.Point.fromBytes(encoded);
  } catch {
    return IDENTITY.slice();
  }
  if (point.is0()) return IDENTITY.slice();
  return point.multiply(y).toBytes();
}

/** Who speaks first: fixed initiator/responder roles (transcript_ir) or either party (transcript_oc). */
export type CPaceMode = 'initiator-responder' | 'symmetric';

/** One party's inputs (draft, "CPace inputs"). All may be empty except PRS; both parties must agree on prs, ci and sid. */
export interface CPaceInputs {
  /** Password-related string. */
  prs: Uint8Array;
  /** Channel identifier: never sent, must be the same on both sides. */
  ci: Uint8Array;
  /** Session identifier, public and unique per session. */
  sid: Uint8Array;
  /** This party's associated data, sent in clear and authenticated by the ISK. */
  ad: Uint8Array;
}

/** What a party sends: its public share Y and its associated data AD. */
export interface CPaceShare {
  y: Uint8Array;
  ad: Uint8Array;
}

/** A party between sending its share and receiving the peer's. Use once. */
export interface CPaceParty {
  readonly share: CPaceShare;
  /**
   * Derives ISK from the peer's share, or returns null when the peer's Y is invalid or yields
   * the identity (the abort of the draft's "CPace protocol instructions").
   */
  finish(peer: CPaceShare): Uint8Array | null;
}

/** Which side of the exchange a party is: A (the initiator) or B (the responder). */
export type CPaceRole = 'initiator' | 'responder';

/**
 * Starts CPace for one party: derives the generator from PRS, CI and sid, samples y and
 * computes Y = y * g (draft, "CPace protocol instructions"). `scalar` exists for known-answer tests only.
 */
export function startCPace(options: CPaceInputs & { role: CPaceRole; mode?: CPaceMode; scalar?: Uint8Array }): CPaceParty {
  const { prs, ci, sid, ad, role } = options;
  assertBytes(ad, 'ad');
  if (role !== 'initiator' && role !== 'responder') throw new TypeError('role must be "initiator" or "responder"');
  const mode = options.mode ?? 'initiator-responder';
  if (mode !== 'initiator-responder' && mode !== 'symmetric') throw new TypeError('mode must be "initiator-responder" or "symmetric"');
  const scalar = (options.scalar ?? sampleScalar()).slice();
  const y = scalarMult(scalar, calculateGenerator(prs, ci, sid));
  const share: CPaceShare = { y, ad: ad.slice() };
  let used = false;
  return {
    share,
    finish(peer) {
      if (used) throw new Error('a CPace party finishes once');
      used = true;
      if (typeof peer !== 'object' || peer === null || !(peer.y instanceof Uint8Array) || !(peer.ad instanceof Uint8Array)) {
        scalar.fill(0);
        return null;
      }
      const k = scalarMultVfy(scalar, peer.y);
      scalar.fill(0);
      if (bytesEqual(k, IDENTITY)) return null;
      const [a, b] = role === 'initiator' ? [share, peer] : [peer, share];
      const transcript = mode === 'symmetric' ? transcriptOc(a.y, a.ad, b.y, b.ad) : transcriptIr(a.y, a.ad, b.y, b.ad);
      return deriveIsk(sid, k, transcript);
    },
  };
}

/** ISK = H.hash(lv_cat(G.DSI || b"_ISK", sid, K) || transcript) (draft, "CPace protocol instructions"). */
function deriveIsk(sid: Uint8Array, k: Uint8Array, transcript: Uint8Array): Uint8Array {
  return sha512(concatBytes(lvCat(concatBytes(CPACE_DSI, utf8('_ISK')), sid, k), transcript));
}

/** sid_output = H.hash(b"CPaceSidOutput" || transcript), for runs without an input sid (draft, "Calculating a session
 * identifier alongside with the CPace run"). */
export function cpaceSidOutput(transcript: Uint8Array): Uint8Array {
  return sha512(concatBytes(utf8('CPaceSidOutput'), transcript));
}
