/**
 * Pairing a toy with a guardian's client over an untrusted relay, authenticated by an 8-digit
 * code that the toy shows or speaks. CPace (draft-irtf-cfrg-cpace-21, CPACE-RISTR255-SHA512)
 * turns the code into a shared key ISK; explicit key confirmation in both directions then
 * authenticates the toy's public keys to the guardian and the guardian's verified roster head hash
 * to the toy, which anchors its trust there (so a fork made beside that head never verifies).
 *
 * Four messages, two per side; each side's second message depends only on the other side's first:
 *
 *   toy                         relay                        guardian
 *   share   (Ya)          ───────────────►
 *                         ◄───────────────          share   (Yb)
 *   confirm (keys, tags)  ───────────────►
 *                         ◄───────────────          confirm (head hash, tags)
 *
 * An online attacker tests one code per run; the toy itself answers at most 3 runs and for at most
 * 10 minutes per code (src/client/toys.ts), whatever the relay says, so a hostile relay gets three
 * guesses; the relayed messages give nothing to test codes against offline (CPace's security property). Byte-oriented: every message is a Uint8Array that the
 * relay can carry as base64url.
 */
import { assertBytes, bytesEqual, concatBytes, randomBytes, utf8 } from './bytes.js';
import { CPACE_ELEMENT_BYTES, lvCat, startCPace, transcriptIr, type CPaceParty } from './cpace.js';
import { assertPublicKeys, type PublicIdentityKeys } from './identity.js';
import { hkdfSha256 } from './kdf.js';
import { fail, ok, type CryptoResult } from './result.js';
import { buf, subtle } from './webcrypto.js';
import { XWING_PUBLIC_KEY_BYTES } from './xwing.js';

/** Number of decimal digits in a pairing code. */
export const PAIRING_CODE_DIGITS = 8;

/** Why a pairing step was refused. */
export type PairingFailureCode =
  /** The peer's key confirmation failed: a different code, or a share altered in transit. */
  | 'pairing/wrong-code'
  /** The message is malformed, carries an invalid group element, or an authenticated field was altered. */
  | 'pairing/bad-message'
  /** The message belongs to another session, reflects our own share, or repeats a step already done. Ignored: the attempt goes on. */
  | 'pairing/replayed'
  /** The message arrived before the step it depends on. Nothing changed; deliver it again later. */
  | 'pairing/out-of-order'
  /** This pairing attempt already failed; start a new one (with a new code). */
  | 'pairing/aborted';

/** Version 2: the guardian's confirmation carries exactly its 32-byte roster head hash. */
const VERSION = 0x02;
/**
 * Message 3 comes in two types: `ToyConfirm` carries Ed25519 + X25519 keys (toys whose identity
 * predates X-Wing), `ToyConfirmKem` also the toy's 1216-byte X-Wing key. Their key MACs use
 * different labels, so a relay cannot turn one into the other by adding or dropping the X-Wing key.
 */
const MessageType = { ToyShare: 1, GuardianShare: 2, ToyConfirm: 3, GuardianConfirm: 4, ToyConfirmKem: 5 } as const;
type MessageType = (typeof MessageType)[keyof typeof MessageType];
const MIN_SESSION_ID = 16;
const MAX_SESSION_ID = 64;
const TAG_BYTES = 32;
const KEYS_BYTES = 64;
const KEYS_WITH_KEM_BYTES = KEYS_BYTES + XWING_PUBLIC_KEY_BYTES;
/** A roster head hash (src/crypto/roster.ts `hashRosterEntry`). */
const HEAD_HASH_BYTES = 32;

// Channel identifier (draft "CPace inputs"): protocol, version and the two roles, so a share made for
// another protocol or with the roles swapped yields an unrelated key. Never sent.
const CHANNEL_ID = lvCat(utf8('burrow/pairing/v1'), utf8('toy'), utf8('guardian'));
const NO_AD = new Uint8Array(0);
const CONFIRM_LABEL = 'burrow/pairing/v1 confirm';
const MAC_LABEL = 'burrow/pairing/v1 mac';

/** A fresh 8-digit code, uniform over 00000000–99999999 (rejection sampling on 32 random bits). */
export function generatePairingCode(): string {
  // 4,200,000,000 is the largest multiple of 10^8 below 2^32: values above it would bias the low codes.
  for (;;) {
    const r = randomBytes(4);
    const value = ((r[0]! << 24) >>> 0) + (r[1]! << 16) + (r[2]! << 8) + r[3]!;
    if (value < 4_200_000_000) return String(value % 100_000_000).padStart(PAIRING_CODE_DIGITS, '0');
  }
}

/**
 * A code for a relay slot: the slot's digits (chosen by the relay, which therefore knows them)
 * followed by fresh uniform digits up to 8. With a 3-digit slot the relay is left 10^5 codes.
 */
export function pairingCodeForSlot(slot: string): string {
  if (typeof slot !== 'string' || !/^[0-9]{1,4}$/.test(slot)) throw new TypeError('slot must be 1 to 4 decimal digits');
  return slot + generatePairingCode().slice(slot.length);
}

/**
 * The toy's public keys as carried, unauthenticated, in a toy confirmation (message 3). For the
 * relay, which checks that a roster entry adds the toy with the keys it relayed; only the
 * guardian's `receiveToyConfirmation` authenticates them. Undefined when the message is not one.
 */
export function toyKeysOfConfirmation(message: Uint8Array): PublicIdentityKeys | undefined {
  if (!(message instanceof Uint8Array) || message.length < 3 || message[0] !== VERSION) return undefined;
  if (message[1] !== MessageType.ToyConfirm && message[1] !== MessageType.ToyConfirmKem) return undefined;
  const body = message.subarray(3 + message[2]!);
  return parseToyConfirmBody(message[1], body)?.toyKeys;
}

/** Splits a message-3 body of `type` into the toy's keys, the keys' MAC and the confirmation tag. */
function parseToyConfirmBody(type: number, body: Uint8Array): { toyKeys: PublicIdentityKeys; keysMac: Uint8Array; tag: Uint8Array } | undefined {
  const keysLength = type === MessageType.ToyConfirmKem ? KEYS_WITH_KEM_BYTES : KEYS_BYTES;
  if (body.length !== keysLength + 2 * TAG_BYTES) return undefined;
  const toyKeys: PublicIdentityKeys = { signingKey: body.slice(0, 32), agreementKey: body.slice(32, 64) };
  if (type === MessageType.ToyConfirmKem) toyKeys.kemKey = body.slice(KEYS_BYTES, KEYS_WITH_KEM_BYTES);
  return { toyKeys, keysMac: body.subarray(keysLength, keysLength + TAG_BYTES), tag: body.subarray(keysLength + TAG_BYTES) };
}

/** The 8 digits of a code as typed by a person (spaces and hyphens ignored), or null if it is not one. */
export function normalizePairingCode(input: string): string | null {
  if (typeof input !== 'string') return null;
  const digits = input.replace(/[\s-]/g, '');
  return /^[0-9]{8}$/.test(digits) ? digits : null;
}

function assertCode(code: unknown): asserts code is string {
  if (typeof code !== 'string' || !/^[0-9]{8}$/.test(code)) throw new TypeError('code must be a string of 8 decimal digits');
}

function assertSessionId(sessionId: unknown): asserts sessionId is Uint8Array {
  assertBytes(sessionId, 'sessionId');
  if (sessionId.length < MIN_SESSION_ID || sessionId.length > MAX_SESSION_ID) {
    throw new TypeError(`sessionId must be ${MIN_SESSION_ID} to ${MAX_SESSION_ID} bytes`);
  }
}

/** version ‖ type ‖ len(sessionId) ‖ sessionId ‖ body. */
function encode(type: MessageType, sessionId: Uint8Array, body: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(VERSION, type, sessionId.length), sessionId, body);
}

type Decoded = { ok: true; body: Uint8Array } | { ok: false; code: PairingFailureCode };

function decode(message: unknown, type: MessageType, sessionId: Uint8Array, bodyLength?: number): Decoded {
  if (!(message instanceof Uint8Array) || message.length < 3) return { ok: false, code: 'pairing/bad-message' };
  if (message[0] !== VERSION || message[1] !== type) return { ok: false, code: 'pairing/bad-message' };
  const sidLength = message[2]!;
  if (message.length < 3 + sidLength) return { ok: false, code: 'pairing/bad-message' };
  const body = message.subarray(3 + sidLength);
  if (bodyLength !== undefined && body.length !== bodyLength) return { ok: false, code: 'pairing/bad-message' };
  // A well-formed message for another session: a replay or a cross-session splice.
  if (!bytesEqual(message.subarray(3, 3 + sidLength), sessionId)) return { ok: false, code: 'pairing/replayed' };
  return { ok: true, body };
}

async function hmacKey(key: Uint8Array): Promise<CryptoKey> {
  return subtle().importKey('raw', buf(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

async function hmac(key: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().sign('HMAC', key, buf(data)));
}

async function hmacVerify(key: CryptoKey, tag: Uint8Array, data: Uint8Array): Promise<boolean> {
  return subtle().verify('HMAC', key, buf(tag), buf(data));
}

interface SessionKeys {
  /** Keys the confirmation tags over the transcript. */
  confirm: CryptoKey;
  /** Keys the MACs over the payloads (toy keys, roster head hash). */
  mac: CryptoKey;
  transcript: Uint8Array;
}

/** Runs CPace to ISK, then HKDF-SHA-256(ISK, salt = sessionId) into two keys with distinct labels. */
async function deriveSessionKeys(cpace: CPaceParty, peerY: Uint8Array, sessionId: Uint8Array, toyY: Uint8Array, guardianY: Uint8Array): Promise<SessionKeys | null> {
  const isk = cpace.finish({ y: peerY, ad: NO_AD });
  if (isk === null) return null;
  const [confirm, mac] = await Promise.all([
    hkdfSha256({ ikm: isk, salt: sessionId, info: utf8(CONFIRM_LABEL), length: 32 }),
    hkdfSha256({ ikm: isk, salt: sessionId, info: utf8(MAC_LABEL), length: 32 }),
  ]);
  isk.fill(0);
  const keys = { confirm: await hmacKey(confirm), mac: await hmacKey(mac), transcript: transcriptIr(toyY, NO_AD, guardianY, NO_AD) };
  confirm.fill(0);
  mac.fill(0);
  return keys;
}

function toyConfirmData(keys: SessionKeys): Uint8Array {
  return lvCat(utf8('toy confirms'), keys.transcript);
}

function guardianConfirmData(keys: SessionKeys): Uint8Array {
  return lvCat(utf8('guardian confirms'), keys.transcript);
}

function toyKeysData(toyKeys: PublicIdentityKeys): Uint8Array {
  if (toyKeys.kemKey !== undefined) return lvCat(utf8('toy keys with kem'), toyKeys.signingKey, toyKeys.agreementKey, toyKeys.kemKey);
  return lvCat(utf8('toy keys'), toyKeys.signingKey, toyKeys.agreementKey);
}

function rosterHeadData(headHash: Uint8Array): Uint8Array {
  return lvCat(utf8('roster head'), headHash);
}

type Phase = 'share-sent' | 'confirm-sent' | 'done' | 'failed';

/** The toy's side of a pairing attempt. */
export interface ToyPairing {
  /** The toy's CPace share, to relay to the guardian. */
  readonly share: Uint8Array;
  /** Takes the guardian's share; returns the toy's confirmation (its public keys, MACed) to relay. */
  receiveGuardianShare(message: Uint8Array): Promise<CryptoResult<{ message: Uint8Array }>>;
  /** Takes the guardian's confirmation; returns the guardian's roster head hash it authenticated. */
  receiveGuardianConfirmation(message: Uint8Array): Promise<CryptoResult<{ headHash: Uint8Array }>>;
}

/**
 * Starts pairing on the toy. `code` is the 8-digit code it shows (from `generatePairingCode`),
 * `sessionId` the relay's id for this attempt (16–64 bytes, unique per attempt), `toyKeys` its
 * public identity keys. One use: a failed step ends the attempt.
 */
export function startToyPairing(options: { code: string; toyKeys: PublicIdentityKeys; sessionId: Uint8Array }): ToyPairing {
  const { code, sessionId } = options;
  assertCode(code);
  assertSessionId(sessionId);
  assertPublicKeys(options.toyKeys, 'toyKeys');
  const toyKeys: PublicIdentityKeys = { signingKey: options.toyKeys.signingKey.slice(), agreementKey: options.toyKeys.agreementKey.slice() };
  if (options.toyKeys.kemKey !== undefined) toyKeys.kemKey = options.toyKeys.kemKey.slice();
  const sid = sessionId.slice();
  const cpace = startCPace({ prs: utf8(code), ci: CHANNEL_ID, sid, ad: NO_AD, role: 'initiator' });
  const ownY = cpace.share.y;
  let phase: Phase = 'share-sent';
  let keys: SessionKeys | null = null;

  const refuse = (code: PairingFailureCode, end: boolean) => {
    if (end) phase = 'failed';
    return fail(code);
  };

  return {
    share: encode(MessageType.ToyShare, sid, ownY),
    async receiveGuardianShare(message) {
      if (phase === 'failed') return fail('pairing/aborted');
      if (phase !== 'share-sent') return fail('pairing/replayed');
      const decoded = decode(message, MessageType.GuardianShare, sid, CPACE_ELEMENT_BYTES);
      if (!decoded.ok) return refuse(decoded.code, decoded.code === 'pairing/bad-message');
      if (bytesEqual(decoded.body, ownY)) return fail('pairing/replayed');
      phase = 'confirm-sent';
      keys = await deriveSessionKeys(cpace, decoded.body.slice(), sid, ownY, decoded.body.slice());
      if (keys === null) return refuse('pairing/bad-message', true);
      const keysMac = await hmac(keys.mac, toyKeysData(toyKeys));
      const tag = await hmac(keys.confirm, toyConfirmData(keys));
      if (toyKeys.kemKey !== undefined) {
        return ok({ message: encode(MessageType.ToyConfirmKem, sid, concatBytes(toyKeys.signingKey, toyKeys.agreementKey, toyKeys.kemKey, keysMac, tag)) });
      }
      return ok({ message: encode(MessageType.ToyConfirm, sid, concatBytes(toyKeys.signingKey, toyKeys.agreementKey, keysMac, tag)) });
    },
    async receiveGuardianConfirmation(message) {
      if (phase === 'failed') return fail('pairing/aborted');
      if (phase === 'share-sent') return fail('pairing/out-of-order');
      if (phase === 'done' || keys === null) return fail('pairing/replayed');
      const decoded = decode(message, MessageType.GuardianConfirm, sid, HEAD_HASH_BYTES + 2 * TAG_BYTES);
      if (!decoded.ok) return refuse(decoded.code, decoded.code === 'pairing/bad-message');
      const body = decoded.body;
      const headHash = body.slice(0, HEAD_HASH_BYTES);
      const headMac = body.subarray(HEAD_HASH_BYTES, HEAD_HASH_BYTES + TAG_BYTES);
      const tag = body.subarray(HEAD_HASH_BYTES + TAG_BYTES);
      if (!(await hmacVerify(keys.confirm, tag, guardianConfirmData(keys)))) return refuse('pairing/wrong-code', true);
      if (!(await hmacVerify(keys.mac, headMac, rosterHeadData(headHash)))) return refuse('pairing/bad-message', true);
      phase = 'done';
      return ok({ headHash });
    },
  };
}

/** The guardian's side of a pairing attempt. */
export interface GuardianPairing {
  /** The guardian's CPace share, to relay to the toy. */
  readonly share: Uint8Array;
  /** Takes the toy's share; returns the guardian's confirmation (its roster head hash, MACed) to relay. */
  receiveToyShare(message: Uint8Array): Promise<CryptoResult<{ message: Uint8Array }>>;
  /** Takes the toy's confirmation; returns the toy's public keys it authenticated. */
  receiveToyConfirmation(message: Uint8Array): Promise<CryptoResult<{ toyKeys: PublicIdentityKeys }>>;
}

/**
 * Starts pairing on the guardian's client. `code` is what the person typed (see
 * `normalizePairingCode`), `sessionId` the relay's id for the attempt, `headHash` the hash of the
 * head of the roster this guardian verified (`VerifiedRoster.headHash`, 32 bytes): the toy trusts
 * the family from that entry on. One use.
 */
export function startGuardianPairing(options: { code: string; sessionId: Uint8Array; headHash: Uint8Array }): GuardianPairing {
  const { code, sessionId } = options;
  assertCode(code);
  assertSessionId(sessionId);
  assertBytes(options.headHash, 'headHash', HEAD_HASH_BYTES);
  const headHash = options.headHash.slice();
  const sid = sessionId.slice();
  const cpace = startCPace({ prs: utf8(code), ci: CHANNEL_ID, sid, ad: NO_AD, role: 'responder' });
  const ownY = cpace.share.y;
  let phase: Phase = 'share-sent';
  let keys: SessionKeys | null = null;

  const refuse = (code: PairingFailureCode, end: boolean) => {
    if (end) phase = 'failed';
    return fail(code);
  };

  return {
    share: encode(MessageType.GuardianShare, sid, ownY),
    async receiveToyShare(message) {
      if (phase === 'failed') return fail('pairing/aborted');
      if (phase !== 'share-sent') return fail('pairing/replayed');
      const decoded = decode(message, MessageType.ToyShare, sid, CPACE_ELEMENT_BYTES);
      if (!decoded.ok) return refuse(decoded.code, decoded.code === 'pairing/bad-message');
      if (bytesEqual(decoded.body, ownY)) return fail('pairing/replayed');
      phase = 'confirm-sent';
      keys = await deriveSessionKeys(cpace, decoded.body.slice(), sid, decoded.body.slice(), ownY);
      if (keys === null) return refuse('pairing/bad-message', true);
      const headMac = await hmac(keys.mac, rosterHeadData(headHash));
      const tag = await hmac(keys.confirm, guardianConfirmData(keys));
      return ok({ message: encode(MessageType.GuardianConfirm, sid, concatBytes(headHash, headMac, tag)) });
    },
    async receiveToyConfirmation(message) {
      if (phase === 'failed') return fail('pairing/aborted');
      if (phase === 'share-sent') return fail('pairing/out-of-order');
      if (phase === 'done' || keys === null) return fail('pairing/replayed');
      const type = message instanceof Uint8Array && message[1] === MessageType.ToyConfirmKem ? MessageType.ToyConfirmKem : MessageType.ToyConfirm;
      const decoded = decode(message, type, sid);
      if (!decoded.ok) return refuse(decoded.code, decoded.code === 'pairing/bad-message');
      const parsed = parseToyConfirmBody(type, decoded.body);
      if (parsed === undefined) return refuse('pairing/bad-message', true);
      const { toyKeys, keysMac, tag } = parsed;
      if (!(await hmacVerify(keys.confirm, tag, toyConfirmData(keys)))) return refuse('pairing/wrong-code', true);
      if (!(await hmacVerify(keys.mac, keysMac, toyKeysData(toyKeys)))) return refuse('pairing/bad-message', true);
      phase = 'done';
      return ok({ toyKeys });
    },
  };
}
