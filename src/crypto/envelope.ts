/**
 * Voice-message envelopes.
 *
 * A message is sealed on the sender's device under a single-use key derived from the key of its
 * conversation (its key scope, key-scopes.ts `messageScope`: a child's, or the family-wide one for
 * adults only) at the sender's epoch and the message id (HKDF-SHA-256, RFC 5869), padded to a size bucket and encrypted in chunks
 * of 64 KiB, each its own AES-256-GCM box whose nonce names its index and whether it is the last
 * (envelope-chunks.ts), with the canonical header as every chunk's AAD. The sender signs (Ed25519,
 * RFC 8032) `"burrow/message/v1" ‖ 0x00 ‖ header ‖ SHA-256(commitment)`, where the commitment lists
 * SHA-256 of every sealed chunk and comes before them: a reader verifies the signature before the
 * first chunk arrives, then checks each chunk against its listed hash and its tag as it arrives.
 *
 * Envelope bytes (all integers big-endian):
 *
 *   header      "BRWM" ‖ u8 version (4)
 *               ‖ u32 len ‖ familyId (UTF-8)     ‖ u64 epoch ‖ rosterHead (32 bytes)
 *               ‖ u32 len ‖ scope (UTF-8; empty for the family-wide scope)
 *               ‖ messageId (16 bytes)           ‖ u32 len ‖ senderId (UTF-8)
 *               ‖ u32 count ‖ (u32 len ‖ recipient id)*   ‖ u64 createdAt (ms since 1970)
 *   commitment  u32 paddedLength ‖ noncePrefix (7) ‖ SHA-256(sealed chunk i) (32) for each chunk
 *   signature   Ed25519 signature (64)
 *   chunks      for each chunk: AES-256-GCM ciphertext of its plaintext ‖ tag (16)
 *
 * `paddedLength` is one of the padding buckets (`paddedLengthOf`); it fixes the chunk count
 * (⌈paddedLength / 65536⌉) and so every length after the header. The padded plaintext is the inner
 * record `u8 2 ‖ string audioType ‖ u32 durationMs ‖ u8 hasCaption ‖ [string caption] ‖ u32 len ‖
 * audio` followed by zero bytes up to `paddedLength`, which must be the bucket of the record's
 * length; a reader refuses any other length or a non-zero padding byte. The record's metadata always
 * lies in the first chunk, so a reader knows what it plays once that chunk has opened.
 *
 * `rosterHead` is `hashRosterEntry` of the sender's verified entry at `epoch` (a sender seals under
 * its verified head's key, so it is the sender's head): a reader that holds another entry for that
 * epoch has been shown a different chain than the sender (`envelope/roster-fork`), and one whose
 * head is older must fetch the roster before it plays anything (`envelope/roster-behind`).
 *
 * The server parses the header without keys (`parseEnvelopePrefix`) to check that an upload matches
 * its route and sender, and `createEnvelopeStreamChecker` to check every chunk against the
 * commitment as the upload streams. The message's `ciphertextHash` (what approvals, declines and
 * receipts sign) is SHA-256(commitment).
 *
 * `scope` names the key the message is sealed under; a reader refuses a message whose scope is not
 * the one its sender and recipients give at `epoch` (`envelope/wrong-scope`), so a sender cannot
 * seal a child's conversation under a key other holders than that child's may have.
 *
 * Key use: the message key is derived per message id and used for one message only; within it every
 * chunk has its own nonce, and the random nonce prefix keeps two sealings under a reused id apart.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { assertBytes, bytesEqual, concatBytes, randomBytes, utf8 } from './bytes.js';
import { CanonicalError, CanonicalReader, CanonicalWriter, labelled } from './canonical.js';
import {
  CHUNK_HASH_BYTES,
  CHUNK_PLAINTEXT_BYTES,
  CHUNK_TAG_BYTES,
  chunkCountOf,
  chunkPlaintextLength,
  COMMITMENT_FIXED_BYTES,
  commitmentLengthOf,
  createChunkCipher,
  inParallel,
  isPaddedLength,
  NONCE_PREFIX_BYTES,
  nobleIncrementalSha256,
  openChunk,
  paddedLengthOf,
  sealChunks,
  sealedBodyLengthOf,
  sealedChunkOffset,
  type ChunkContext,
  type IncrementalHash,
} from './envelope-chunks.js';
import type { ChunkCipher } from './chunk-cipher.js';
import { assertIdentity, type Identity } from './identity.js';
import { messageScope, scopedContentsOf } from './key-scopes.js';
import { fail, ok, type CryptoResult } from './result.js';
import { entryKeeps, isVerifiedRoster, type Member, type RosterEntry, type Toy, type VerifiedRoster } from './roster.js';
import { compareRosterHead, ROSTER_HEAD_LENGTH, signingKeyKnownAt } from './roster-head.js';
import { SIGNATURE_LABELS, signLabelled, verifyLabelled } from './signature.js';
import { buf, sha256, subtle } from './webcrypto.js';

export { paddedLengthOf, CHUNK_PLAINTEXT_BYTES } from './envelope-chunks.js';
export type { IncrementalHash } from './envelope-chunks.js';

const MAGIC = utf8('BRWM');
const VERSION = 4;
const INNER_VERSION = 2;
const MESSAGE_KEY_INFO_BYTES = utf8('burrow/message-key/v1');
const KEPT_MESSAGE_LABEL = 'burrow/kept-message/v1';
export const MESSAGE_ID_LENGTH = 16;
const MAX_ID_BYTES = 128;
const MAX_RECIPIENTS = 64;
const MAX_AUDIO_TYPE_BYTES = 128;
const MAX_CAPTION_BYTES = 4096;
/** Largest audio a message may carry (32 MiB). */
export const MAX_AUDIO_BYTES = 32 * 1024 * 1024;
/** The longest inner record: version, audio type, duration, caption flag, caption, audio. */
const MAX_INNER_BYTES = 1 + (4 + MAX_AUDIO_TYPE_BYTES) + 4 + 1 + (4 + MAX_CAPTION_BYTES) + 4 + MAX_AUDIO_BYTES;
/** The largest padded plaintext any message has: the bucket of the longest inner record. */
const MAX_PADDED_BYTES = paddedLengthOf(MAX_INNER_BYTES);
const SIGNATURE_BYTES = 64;
/** Each length field before a variable part (strings, recipient count) and the padded length. */
const LENGTH_FIELD_BYTES = 4;
const MAX_HEADER_BYTES =
  MAGIC.length + 1 + (LENGTH_FIELD_BYTES + MAX_ID_BYTES) + 8 + ROSTER_HEAD_LENGTH + (LENGTH_FIELD_BYTES + MAX_ID_BYTES) + MESSAGE_ID_LENGTH + (LENGTH_FIELD_BYTES + MAX_ID_BYTES)
  + LENGTH_FIELD_BYTES + MAX_RECIPIENTS * (LENGTH_FIELD_BYTES + MAX_ID_BYTES) + 8;
/**
 * The longest prefix `parseEnvelopePrefix` can need: the largest valid header and the padded
 * length. A prefix this long that is still 'envelope/incomplete' cannot become an envelope.
 */
export const MAX_ENVELOPE_PREFIX_BYTES = MAX_HEADER_BYTES + LENGTH_FIELD_BYTES;
/** The largest envelope there can be: the largest header, with the largest padded audio. */
export const MAX_ENVELOPE_BYTES = MAX_HEADER_BYTES + commitmentLengthOf(MAX_PADDED_BYTES) + SIGNATURE_BYTES + sealedBodyLengthOf(MAX_PADDED_BYTES);

export interface EnvelopeHeader {
  version: 4;
  familyId: string;
  epoch: number;
  /** `hashRosterEntry` of the sender's verified roster entry at `epoch`. */
  rosterHead: Uint8Array;
  /** The key scope the message is sealed under: a child's id, or '' (family-wide: adults only). */
  scope: string;
  messageId: Uint8Array;
  senderId: string;
  /** Child ids, toy ids or account ids the message is for. */
  recipients: string[];
  /** Milliseconds since 1970-01-01 UTC, as the sender's clock said. */
  createdAt: number;
}

export interface SealedMessage {
  header: EnvelopeHeader;
  /** The commitment the sender signed (its hash is `ciphertextHash`). */
  commitment: Uint8Array;
  /** SHA-256(commitment): what approvals, declines and receipts sign. */
  ciphertextHash: Uint8Array;
  signature: Uint8Array;
  /** The whole envelope as one blob, as uploaded and stored. */
  bytes: Uint8Array;
}

export interface OpenedMessage {
  header: EnvelopeHeader;
  audio: Uint8Array;
  audioType: string;
  durationMs: number;
  caption?: string;
  ciphertextHash: Uint8Array;
  sender: { kind: 'member' | 'toy'; id: string };
  /** Where the message stands on approval, judged by the head: see `ApprovalState`. */
  approval: ApprovalState;
  /**
   * Set when the sender is no longer in the head and the message is history (only with `history`):
   * the entry that removed them, with its epoch and its signer's `createdAt`.
   */
  removed?: { epoch: number; at: number };
}

/**
 * A message's approval, from the head and the signed decisions alone: 'not-needed' (the head does
 * not mark the sender as needing approval), 'approved' or 'declined' by a guardian of the head, or
 * 'waiting' for a guardian's decision. Only `openUnapproved` readers ever get 'waiting' or
 * 'declined' from `openAndVerifyMessage`; a toy gets `envelope/needs-approval` or `envelope/declined`.
 */
export type ApprovalState =
  | { state: 'not-needed' }
  | { state: 'approved'; guardianId: string }
  | { state: 'declined'; guardianId: string }
  | { state: 'waiting' };

/** A guardian's signature that lets a message from a relative who needs approval be played. */
export interface Approval {
  guardianId: string;
  messageId: Uint8Array;
  ciphertextHash: Uint8Array;
  /** The epoch of the guardian's verified roster head when approving. */
  rosterEpoch: number;
  /** `hashRosterEntry` of that head. */
  rosterHead: Uint8Array;
  signature: Uint8Array;
}

/**
 * A guardian's signed refusal of one exact message from a relative who needs approval (label
 * `burrow/decline/v1`, the same fields as an `Approval`): a valid decline by a guardian of the head
 * outweighs every approval, so no toy plays the message, whatever the server relays beside it.
 */
export type Decline = Approval;

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && utf8(value).length <= MAX_ID_BYTES;
}

function headerWriter(h: EnvelopeHeader): CanonicalWriter {
  return new CanonicalWriter().fixed(MAGIC).u8(h.version).string(h.familyId).u64(h.epoch).fixed(h.rosterHead).string(h.scope).fixed(h.messageId).string(h.senderId).strings(h.recipients).u64(h.createdAt);
}

function readHeader(r: CanonicalReader): EnvelopeHeader | 'envelope/malformed' | 'envelope/unsupported-version' {
  if (!bytesEqual(r.fixed(MAGIC.length), MAGIC)) return 'envelope/malformed';
  const version = r.u8();
  if (version !== VERSION) return 'envelope/unsupported-version';
  const familyId = r.string(MAX_ID_BYTES);
  const epoch = r.u64();
  const rosterHead = r.fixed(ROSTER_HEAD_LENGTH);
  const scope = r.string(MAX_ID_BYTES);
  const messageId = r.fixed(MESSAGE_ID_LENGTH);
  const senderId = r.string(MAX_ID_BYTES);
  const recipients = r.strings(MAX_RECIPIENTS, MAX_ID_BYTES);
  const createdAt = r.u64();
  const header: EnvelopeHeader = { version: VERSION, familyId, epoch, rosterHead, scope, messageId, senderId, recipients, createdAt };
  return headerProblem(header) ? 'envelope/malformed' : header;
}

function headerProblem(h: EnvelopeHeader): string | undefined {
  if (!isId(h.familyId)) return 'familyId';
  if (!Number.isSafeInteger(h.epoch) || h.epoch < 0) return 'epoch';
  if (!(h.rosterHead instanceof Uint8Array) || h.rosterHead.length !== ROSTER_HEAD_LENGTH) return 'rosterHead';
  if (typeof h.scope !== 'string' || utf8(h.scope).length > MAX_ID_BYTES) return 'scope';
  if (!(h.messageId instanceof Uint8Array) || h.messageId.length !== MESSAGE_ID_LENGTH) return 'messageId';
  if (!isId(h.senderId)) return 'senderId';
  if (!Array.isArray(h.recipients) || h.recipients.length === 0 || h.recipients.length > MAX_RECIPIENTS) return 'recipients';
  if (!h.recipients.every(isId) || new Set(h.recipients).size !== h.recipients.length) return 'recipients';
  if (!Number.isSafeInteger(h.createdAt) || h.createdAt < 0) return 'createdAt';
  return undefined;
}

/** An envelope cut into its fields, nothing verified yet. */
export interface EnvelopeParts {
  header: EnvelopeHeader;
  headerBytes: Uint8Array;
  /** u32 paddedLength ‖ nonce prefix ‖ chunk hashes, as signed. */
  commitment: Uint8Array;
  paddedLength: number;
  chunkCount: number;
  noncePrefix: Uint8Array;
  /** The chunk hashes, CHUNK_HASH_BYTES each, in chunk order. */
  chunkHashes: Uint8Array;
  signature: Uint8Array;
}

/** The header and padded length at the start of `bytes`; throws CanonicalError when they are cut short or impossible. */
function readPrefix(bytes: Uint8Array): { header: EnvelopeHeader | 'envelope/malformed' | 'envelope/unsupported-version'; headerLength: number; paddedLength: number } {
  const r = new CanonicalReader(bytes);
  const header = readHeader(r);
  if (typeof header === 'string') return { header, headerLength: 0, paddedLength: 0 };
  const headerLength = r.position;
  const paddedLength = r.u32();
  return { header, headerLength, paddedLength };
}

/**
 * Cuts the fields before the chunks (header, commitment, signature) from `bytes`, which may go on
 * with the chunks or not. Fails 'envelope/incomplete' when `bytes` ends before the signature does.
 */
export function parseEnvelopeParts(bytes: Uint8Array): CryptoResult<EnvelopeParts & { partsLength: number }> {
  try {
    const { header, headerLength, paddedLength } = readPrefix(bytes);
    if (typeof header === 'string') return fail(header);
    if (!isPaddedLength(paddedLength) || paddedLength > MAX_PADDED_BYTES) return fail('envelope/malformed');
    const commitmentEnd = headerLength + commitmentLengthOf(paddedLength);
    const partsLength = commitmentEnd + SIGNATURE_BYTES;
    if (bytes.length < partsLength) return fail('envelope/incomplete');
    const commitment = bytes.subarray(headerLength, commitmentEnd);
    return ok({
      header,
      headerBytes: bytes.subarray(0, headerLength),
      commitment,
      paddedLength,
      chunkCount: chunkCountOf(paddedLength),
      noncePrefix: commitment.subarray(LENGTH_FIELD_BYTES, COMMITMENT_FIXED_BYTES),
      chunkHashes: commitment.subarray(COMMITMENT_FIXED_BYTES),
      signature: bytes.subarray(commitmentEnd, partsLength),
      partsLength,
    });
  } catch (error) {
    if (error instanceof CanonicalError) return fail(error.truncated ? 'envelope/incomplete' : 'envelope/malformed');
    throw error;
  }
}

interface ParsedEnvelope extends EnvelopeParts {
  /** The sealed chunks, back to back. */
  body: Uint8Array;
}

function parseEnvelope(bytes: Uint8Array): CryptoResult<ParsedEnvelope> {
  const parts = parseEnvelopeParts(bytes);
  if (!parts.ok) return parts.code === 'envelope/incomplete' ? fail('envelope/malformed') : parts;
  const { partsLength, ...rest } = parts.value;
  const body = bytes.subarray(partsLength);
  if (body.length !== sealedBodyLengthOf(rest.paddedLength)) return fail('envelope/malformed');
  return ok({ ...rest, body });
}

/**
 * Reads an envelope's header without any key, for the server: version, family, epoch, message id,
 * sender, recipients, creation time and the padded length. Nothing here is authenticated until a
 * client verifies the signature; the server uses it only to check an upload against its route.
 */
export function parseEnvelopeHeader(bytes: Uint8Array): CryptoResult<EnvelopeHeader & { paddedLength: number }> {
  assertBytes(bytes, 'bytes');
  const parsed = parseEnvelope(bytes);
  if (!parsed.ok) return parsed;
  return ok({ ...parsed.value.header, paddedLength: parsed.value.paddedLength });
}

/** What `parseEnvelopePrefix` learns from the first bytes of an envelope. */
export interface EnvelopePrefix {
  header: EnvelopeHeader;
  /** Bytes of the canonical header; the commitment follows it. */
  headerLength: number;
  /** The padded plaintext's length, a padding bucket: it fixes every length after the header. */
  paddedLength: number;
  chunkCount: number;
  /** The whole envelope's length as the prefix declares it: header, commitment, signature and chunks. */
  envelopeLength: number;
}

/**
 * Reads the key-free header and the declared padded length from the first bytes of an envelope,
 * so a server can check an upload before streaming the rest to storage. Fails with
 * 'envelope/incomplete' when `prefix` ends before the padded length (read more, or refuse once
 * past MAX_ENVELOPE_PREFIX_BYTES), with 'envelope/malformed' when that length is not a padding
 * bucket, and with the `parseEnvelopeHeader` codes otherwise.
 */
export function parseEnvelopePrefix(prefix: Uint8Array): CryptoResult<EnvelopePrefix> {
  assertBytes(prefix, 'prefix');
  try {
    const { header, headerLength, paddedLength } = readPrefix(prefix);
    if (typeof header === 'string') return fail(header);
    if (!isPaddedLength(paddedLength) || paddedLength > MAX_PADDED_BYTES) return fail('envelope/malformed');
    const envelopeLength = headerLength + commitmentLengthOf(paddedLength) + SIGNATURE_BYTES + sealedBodyLengthOf(paddedLength);
    return ok({ header, headerLength, paddedLength, chunkCount: chunkCountOf(paddedLength), envelopeLength });
  } catch (error) {
    // Only running out of bytes is worth waiting for; a bad string or count never becomes valid.
    if (error instanceof CanonicalError) return fail(error.truncated ? 'envelope/incomplete' : 'envelope/malformed');
    throw error;
  }
}

/** Checks an envelope's bytes as they stream past; made by `createEnvelopeStreamChecker`. */
export interface EnvelopeStreamChecker {
  /**
   * Takes the next bytes of the envelope, from its first byte on. Fails with 'envelope/malformed'
   * once a sealed chunk's SHA-256 is not the one the commitment lists for it, or once bytes go on
   * past the declared length; after a failure the checker is done.
   */
  push(piece: Uint8Array): CryptoResult<void>;
  /** After the last byte: the message's `ciphertextHash` (SHA-256 of the commitment), or 'envelope/incomplete' when bytes are missing. */
  finish(): CryptoResult<Uint8Array>;
}

/**
 * For a server storing an upload without keys, after `parseEnvelopePrefix` accepted its first
 * bytes: hashes the commitment (the `ciphertextHash` approvals and receipts sign) and every sealed
 * chunk as it passes, checking each against the commitment, so an upload whose chunks are not the
 * ones its sender committed to is refused before it is stored. The signature itself is checked by
 * each reader (`openAndVerifyMessage`). `newHash` gives a fresh SHA-256 (node:crypto's is faster
 * than the default, @noble/hashes').
 */
export function createEnvelopeStreamChecker(prefix: EnvelopePrefix, newHash: () => IncrementalHash = nobleIncrementalSha256): EnvelopeStreamChecker {
  const commitmentStart = prefix.headerLength;
  const hashesStart = commitmentStart + COMMITMENT_FIXED_BYTES;
  const commitmentEnd = commitmentStart + commitmentLengthOf(prefix.paddedLength);
  const bodyStart = commitmentEnd + SIGNATURE_BYTES;
  const hashes = new Uint8Array(commitmentEnd - hashesStart);
  const commitmentHash = newHash();
  let chunkHash = newHash();
  let chunkIndex = 0;
  let offset = 0;
  let failed = false;

  /** Where the current region ends, and what to do with bytes in it. */
  const region = (): { end: number; take: (piece: Uint8Array) => void; chunkEnd?: boolean } => {
    if (offset < commitmentStart) return { end: commitmentStart, take: () => undefined };
    if (offset < commitmentEnd) {
      return {
        end: commitmentEnd,
        take: (piece) => {
          commitmentHash.update(piece);
          const from = Math.max(offset, hashesStart);
          if (offset + piece.length > from) hashes.set(piece.subarray(from - offset), from - hashesStart);
        },
      };
    }
    if (offset < bodyStart) return { end: bodyStart, take: () => undefined };
    const chunkStart = bodyStart + sealedChunkOffset(chunkIndex);
    return { end: chunkStart + chunkPlaintextLength(prefix.paddedLength, chunkIndex) + CHUNK_TAG_BYTES, take: (piece) => chunkHash.update(piece), chunkEnd: true };
  };

  return {
    push(piece) {
      assertBytes(piece, 'piece');
      if (failed || offset + piece.length > prefix.envelopeLength) {
        failed = true;
        return fail('envelope/malformed');
      }
      let at = 0;
      while (at < piece.length) {
        const { end, take, chunkEnd } = region();
        const part = piece.subarray(at, at + Math.min(piece.length - at, end - offset));
        take(part);
        at += part.length;
        offset += part.length;
        if (chunkEnd === true && offset === end) {
          const expected = hashes.subarray(chunkIndex * CHUNK_HASH_BYTES, (chunkIndex + 1) * CHUNK_HASH_BYTES);
          if (!bytesEqual(new Uint8Array(chunkHash.digest()), expected)) {
            failed = true;
            return fail('envelope/malformed');
          }
          chunkIndex += 1;
          chunkHash = newHash();
        }
      }
      return ok(undefined);
    },
    finish() {
      if (failed) return fail('envelope/malformed');
      if (offset !== prefix.envelopeLength) return fail('envelope/incomplete');
      return ok(new Uint8Array(commitmentHash.digest()));
    },
  };
}

/**
 * HKDF-SHA-256 (RFC 5869) of the scope key, salted with the message id: the message's AES-256-GCM
 * key, the same bytes `hkdfSha256` gives. Computed with @noble/hashes, synchronously: for a key this
 * short, WebCrypto's import + deriveBits round trip costs Node about half an AES-GCM encryption of a
 * 1 MiB message in CPU and one more thread-pool wait, on both the sealing and the opening path.
 */
function messageKey(scopeKey: Uint8Array, messageId: Uint8Array): Uint8Array {
  return hkdf(nobleSha256, scopeKey, messageId, MESSAGE_KEY_INFO_BYTES, 32);
}

/** The message key as the environment's chunk cipher (`createChunkCipher`); the raw bytes are wiped once imported. */
async function importMessageKey(scopeKey: Uint8Array, messageId: Uint8Array, usage: 'encrypt' | 'decrypt'): Promise<ChunkCipher> {
  const key = messageKey(scopeKey, messageId);
  try {
    return await createChunkCipher(key, usage);
  } finally {
    key.fill(0);
  }
}

function signedBytes(headerBytes: Uint8Array, ciphertextHash: Uint8Array): Uint8Array {
  return concatBytes(headerBytes, ciphertextHash);
}

/** SHA-256 of the commitment: the `ciphertextHash` a message is signed, approved and receipted by. */
function commitmentHash(commitment: Uint8Array): Uint8Array {
  return nobleSha256(commitment);
}

/**
 * The inner record's metadata: u8 INNER_VERSION ‖ string audioType ‖ u32 durationMs ‖ u8 hasCaption
 * ‖ [string caption] ‖ u32 audio length. The audio and the padding follow it.
 */
function innerMetadata(audioType: string, durationMs: number, caption: string | undefined, audioLength: number): CanonicalWriter {
  const inner = new CanonicalWriter().u8(INNER_VERSION).string(audioType).u32(durationMs);
  if (caption !== undefined) inner.u8(1).string(caption);
  else inner.u8(0);
  return inner.u32(audioLength);
}

/** Copies `source` into the padded plaintext at `at`, which lies in chunk slots of the body (each followed by room for its tag). */
function writeIntoChunks(body: Uint8Array, at: number, source: Uint8Array): void {
  let done = 0;
  while (done < source.length) {
    const position = at + done;
    const index = Math.floor(position / CHUNK_PLAINTEXT_BYTES);
    const within = position - index * CHUNK_PLAINTEXT_BYTES;
    const length = Math.min(source.length - done, CHUNK_PLAINTEXT_BYTES - within);
    body.set(source.subarray(done, done + length), sealedChunkOffset(index) + within);
    done += length;
  }
}

/**
 * Encrypts, signs and serialises a voice message for the given epoch of a family, under `key`, the
 * key of `scope` at that epoch (the sender works `scope` out with key-scopes.ts `messageScope`).
 */
export async function sealMessage(options: {
  familyId: string;
  epoch: number;
  /** `hashRosterEntry` of the sender's verified entry at `epoch` (its head). */
  rosterHead: Uint8Array;
  scope: string;
  key: Uint8Array;
  /** A member (`accountId`) or a toy (`toyId`) with its identity. */
  sender: { accountId: string; identity: Identity } | { toyId: string; identity: Identity };
  recipients: string[];
  audio: Uint8Array;
  audioType: string;
  durationMs: number;
  caption?: string;
  messageId?: Uint8Array;
  createdAt: number;
}): Promise<SealedMessage> {
  const { sender, audio, audioType, durationMs, caption } = options;
  const scopeKey = options.key;
  assertBytes(scopeKey, 'key', 32);
  assertIdentity(sender?.identity, 'sender.identity');
  assertBytes(audio, 'audio');
  if (audio.length > MAX_AUDIO_BYTES) throw new TypeError(`audio must be at most ${MAX_AUDIO_BYTES} bytes`);
  if (typeof audioType !== 'string' || audioType.length === 0 || utf8(audioType).length > MAX_AUDIO_TYPE_BYTES) throw new TypeError('audioType must be a non-empty string of at most 128 bytes');
  if (!Number.isInteger(durationMs) || durationMs < 0 || durationMs > 0xffff_ffff) throw new TypeError('durationMs must be a non-negative integer');
  if (caption !== undefined && (typeof caption !== 'string' || utf8(caption).length > MAX_CAPTION_BYTES)) throw new TypeError('caption must be a string of at most 4096 bytes');
  const messageId = options.messageId ?? randomBytes(MESSAGE_ID_LENGTH);
  assertBytes(messageId, 'messageId', MESSAGE_ID_LENGTH);
  assertBytes(options.rosterHead, 'rosterHead', ROSTER_HEAD_LENGTH);
  const header: EnvelopeHeader = {
    version: VERSION,
    familyId: options.familyId,
    epoch: options.epoch,
    rosterHead: options.rosterHead.slice(),
    scope: options.scope,
    messageId: messageId.slice(),
    senderId: 'accountId' in sender ? sender.accountId : sender.toyId,
    recipients: [...options.recipients],
    createdAt: options.createdAt,
  };
  const problem = headerProblem(header);
  if (problem) throw new TypeError(`${problem} is not valid`);
  const headerFields = headerWriter(header);
  const metadata = innerMetadata(audioType, durationMs, caption, audio.length).finish();
  const paddedLength = paddedLengthOf(metadata.length + audio.length);
  const chunkCount = chunkCountOf(paddedLength);

  // Audio is large, and a fresh full-size buffer costs a good part of an AES-GCM encryption (in
  // Chromium about half: page faults, GC pressure). So the envelope is allocated once at its final
  // size and the plaintext written straight into the chunk slots, where WebCrypto reads it (taking
  // its own copy) and each chunk's ciphertext and tag then overwrite it in place. The padding is the
  // zeros the fresh buffer already holds.
  const headerLength = headerFields.length;
  const commitmentAt = headerLength;
  const signatureAt = commitmentAt + commitmentLengthOf(paddedLength);
  const bodyAt = signatureAt + SIGNATURE_BYTES;
  const bytes = new Uint8Array(bodyAt + sealedBodyLengthOf(paddedLength));
  // The key import runs on WebCrypto's side while the audio is copied below.
  const sealingKey = importMessageKey(scopeKey, messageId, 'encrypt');
  headerFields.writeTo(bytes, 0);
  const commitment = bytes.subarray(commitmentAt, signatureAt);
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(commitmentAt, paddedLength);
  const noncePrefix = randomBytes(NONCE_PREFIX_BYTES);
  commitment.set(noncePrefix, LENGTH_FIELD_BYTES);
  const body = bytes.subarray(bodyAt);
  writeIntoChunks(body, 0, metadata);
  writeIntoChunks(body, metadata.length, audio);
  const headerBytes = bytes.subarray(0, headerLength);
  const context: ChunkContext = { cipher: await sealingKey, noncePrefix, aad: headerBytes, chunkCount };
  await sealChunks(context, body, paddedLength, commitment.subarray(COMMITMENT_FIXED_BYTES));
  const ciphertextHash = commitmentHash(commitment);
  const signature = await signLabelled(sender.identity, SIGNATURE_LABELS.message, signedBytes(headerBytes, ciphertextHash));
  bytes.set(signature, signatureAt);
  return { header, commitment, ciphertextHash, signature, bytes };
}

/**
 * What an approval (label `burrow/approval/v2`) and a decline (label `burrow/decline/v1`) sign:
 * u32 len ‖ familyId ‖ messageId (16) ‖ ciphertextHash (32) ‖ u64 rosterEpoch ‖ rosterHead (32) —
 * the exact message, and the head of the roster the guardian verified when deciding, so a decision
 * also exposes a forked chain. The labels keep an approval from being replayed as a decline and back.
 */
function decisionBytes(familyId: string, messageId: Uint8Array, ciphertextHash: Uint8Array, rosterEpoch: number, rosterHead: Uint8Array): Uint8Array {
  return new CanonicalWriter().string(familyId).fixed(messageId).fixed(ciphertextHash).u64(rosterEpoch).fixed(rosterHead).finish();
}

interface DecisionOptions {
  guardian: { accountId: string; identity: Identity };
  familyId: string;
  messageId: Uint8Array;
  ciphertextHash: Uint8Array;
  /** The guardian's verified roster head: its epoch and `hashRosterEntry`. */
  rosterEpoch: number;
  rosterHead: Uint8Array;
}

async function signDecision(label: string, options: DecisionOptions): Promise<Approval> {
  const { guardian, familyId, messageId, ciphertextHash, rosterEpoch, rosterHead } = options;
  assertIdentity(guardian?.identity, 'guardian.identity');
  if (!isId(guardian.accountId)) throw new TypeError('guardian.accountId must be a non-empty string');
  if (!isId(familyId)) throw new TypeError('familyId must be a non-empty string');
  assertBytes(messageId, 'messageId', MESSAGE_ID_LENGTH);
  assertBytes(ciphertextHash, 'ciphertextHash', 32);
  if (!Number.isSafeInteger(rosterEpoch) || rosterEpoch < 0) throw new TypeError('rosterEpoch must be a non-negative integer');
  assertBytes(rosterHead, 'rosterHead', ROSTER_HEAD_LENGTH);
  const signature = await signLabelled(guardian.identity, label, decisionBytes(familyId, messageId, ciphertextHash, rosterEpoch, rosterHead));
  return { guardianId: guardian.accountId, messageId: messageId.slice(), ciphertextHash: ciphertextHash.slice(), rosterEpoch, rosterHead: rosterHead.slice(), signature };
}

interface VerifyDecisionOptions {
  signingKey: Uint8Array;
  familyId: string;
  messageId: Uint8Array;
  ciphertextHash: Uint8Array;
  rosterEpoch: number;
  rosterHead: Uint8Array;
  signature: Uint8Array;
}

async function verifyDecision(label: string, options: VerifyDecisionOptions): Promise<boolean> {
  const { signingKey, familyId, messageId, ciphertextHash, rosterEpoch, rosterHead, signature } = options;
  if (!isId(familyId)) return false;
  if (!(messageId instanceof Uint8Array) || messageId.length !== MESSAGE_ID_LENGTH) return false;
  if (!(ciphertextHash instanceof Uint8Array) || ciphertextHash.length !== 32) return false;
  if (!Number.isSafeInteger(rosterEpoch) || rosterEpoch < 0) return false;
  if (!(rosterHead instanceof Uint8Array) || rosterHead.length !== ROSTER_HEAD_LENGTH) return false;
  return verifyLabelled({ publicKey: signingKey, label, message: decisionBytes(familyId, messageId, ciphertextHash, rosterEpoch, rosterHead), signature });
}

/** A guardian approves one exact message (its id and ciphertext hash) from a relative who needs approval, committing to the guardian's verified head. */
export function approveMessage(options: DecisionOptions): Promise<Approval> {
  return signDecision(SIGNATURE_LABELS.approval, options);
}

/** A guardian declines one exact message (its id and ciphertext hash) from a relative who needs approval, committing to the guardian's verified head. */
export function declineMessage(options: DecisionOptions): Promise<Decline> {
  return signDecision(SIGNATURE_LABELS.decline, options);
}

/** Whether `signature` is the approval `approveMessage` makes, by the holder of `signingKey`, of this exact message and head. */
export function verifyApprovalSignature(options: VerifyDecisionOptions): Promise<boolean> {
  return verifyDecision(SIGNATURE_LABELS.approval, options);
}

/** Whether `signature` is the decline `declineMessage` makes, by the holder of `signingKey`, of this exact message and head. */
export function verifyDeclineSignature(options: VerifyDecisionOptions): Promise<boolean> {
  return verifyDecision(SIGNATURE_LABELS.decline, options);
}

type Sender = { kind: 'member'; member: Member } | { kind: 'toy'; toy: Toy };

function findSender(roster: VerifiedRoster, epoch: number, id: string): Sender | undefined {
  const member = roster.memberAt(epoch, id);
  if (member) return { kind: 'member', member };
  const toy = roster.toyAt(epoch, id);
  return toy ? { kind: 'toy', toy } : undefined;
}

/**
 * Whether every recipient is someone this sender may address, judged by the head entry: its
 * members, its toys' children, and the sender's role and children there (never at the message's
 * epoch, whose key the sender may still hold after a guardian narrowed them or moved a toy).
 */
function recipientsAllowed(roster: VerifiedRoster, sender: Sender, recipients: readonly string[], head: number): boolean {
  if (sender.kind === 'member' && sender.member.role === 'guardian') return true;
  if (sender.kind === 'member') {
    // A relative: their children, those children's toys, and other adults of the family.
    const children = new Set(sender.member.children ?? []);
    return recipients.every((r) => {
      if (children.has(r)) return true;
      const toy = roster.toyAt(head, r);
      if (toy) return children.has(toy.childId);
      return roster.memberAt(head, r) !== undefined;
    });
  }
  // A toy replies into its own child's conversation (the child id, or its own toy id), or to
  // adults who may talk to its child.
  const { childId, toyId } = sender.toy;
  return recipients.every((r) => {
    if (r === childId || r === toyId) return true;
    const member = roster.memberAt(head, r);
    return member !== undefined && (member.role === 'guardian' || (member.children ?? []).includes(childId));
  });
}

/** The first entry after `epoch` that no longer lists `id`: the one that removed them. */
function removalOf(roster: VerifiedRoster, epoch: number, id: string): RosterEntry | undefined {
  return roster.entries.find((e) => e.epoch > epoch && !e.members.some((m) => m.accountId === id) && !e.toys.some((t) => t.toyId === id));
}

function keptDigestOf(headerBytes: Uint8Array, ciphertextHash: Uint8Array): Promise<Uint8Array> {
  return sha256(labelled(KEPT_MESSAGE_LABEL, concatBytes(headerBytes, ciphertextHash)));
}

/**
 * The digest a roster entry lists to keep a message in history when it removes the message's
 * sender: SHA-256("burrow/kept-message/v1" ‖ 0x00 ‖ header ‖ SHA-256(commitment)), i.e. of exactly
 * what the sender signed, so it names one message with one content (the commitment lists every
 * sealed chunk's hash). Fails like `parseEnvelopeHeader`.
 */
export async function keptMessageDigest(bytes: Uint8Array): Promise<CryptoResult<Uint8Array>> {
  assertBytes(bytes, 'bytes');
  const parsed = parseEnvelope(bytes);
  if (!parsed.ok) return parsed;
  return ok(await keptDigestOf(parsed.value.headerBytes, commitmentHash(parsed.value.commitment)));
}

/** How far a signed `createdAt` may lie ahead of the reader's clock (clocks drift): 10 minutes. */
export const MAX_CLOCK_SKEW_MS = 10 * 60_000;
const DAY_MS = 24 * 3600_000;

function assertAge(age: { now: number; retentionDays?: number }): void {
  if (typeof age !== 'object' || age === null || !Number.isSafeInteger(age.now)) throw new TypeError('age.now must be an integer (ms since 1970)');
  if (age.retentionDays !== undefined && !(Number.isSafeInteger(age.retentionDays) && age.retentionDays > 0)) throw new TypeError('age.retentionDays must be a positive integer');
}

/**
 * Why a message is too old or too new for a reader whose clock says `now`: past its signed
 * `createdAt` plus `retentionDays` (`envelope/expired`), or dated beyond `MAX_CLOCK_SKEW_MS` ahead
 * (`envelope/from-the-future`); undefined when neither.
 */
export function messageAgeProblem(createdAt: number, age: { now: number; retentionDays?: number }): 'envelope/expired' | 'envelope/from-the-future' | undefined {
  assertAge(age);
  if (createdAt > age.now + MAX_CLOCK_SKEW_MS) return 'envelope/from-the-future';
  if (age.retentionDays !== undefined && age.now >= createdAt + age.retentionDays * DAY_MS) return 'envelope/expired';
  return undefined;
}


type DecisionVerdict = { state: 'approved' | 'declined'; guardianId: string } | 'envelope/roster-fork' | 'envelope/roster-behind' | undefined;

/**
 * The strongest verdict among signed decisions of one kind: a valid one by a guardian **of the head**
 * (one since demoted or removed decides nothing) at a head the reader holds or predates; else a
 * validly signed one whose head contradicts the reader's ('envelope/roster-fork') or is newer
 * ('envelope/roster-behind'); else undefined.
 */
async function strongestDecision(
  roster: VerifiedRoster,
  kind: 'approved' | 'declined',
  decisions: readonly Approval[],
  messageId: Uint8Array,
  ciphertextHash: Uint8Array,
): Promise<DecisionVerdict> {
  const verify = kind === 'approved' ? verifyApprovalSignature : verifyDeclineSignature;
  let problem: DecisionVerdict;
  for (const decision of decisions) {
    if (typeof decision !== 'object' || decision === null) continue;
    const guardian = roster.members.find((m) => m.accountId === decision.guardianId);
    if (!guardian || guardian.role !== 'guardian') continue;
    if (!(decision.messageId instanceof Uint8Array) || !bytesEqual(decision.messageId, messageId)) continue;
    if (!(decision.ciphertextHash instanceof Uint8Array) || !bytesEqual(decision.ciphertextHash, ciphertextHash)) continue;
    const { rosterEpoch, rosterHead } = decision;
    if (!(await verify({ signingKey: guardian.keys.signingKey, familyId: roster.familyId, messageId, ciphertextHash, rosterEpoch, rosterHead, signature: decision.signature }))) continue;
    const relation = await compareRosterHead(roster, rosterEpoch, rosterHead);
    if (relation === 'same' || relation === 'unknown') return { state: kind, guardianId: guardian.accountId };
    if (relation === 'fork') problem = 'envelope/roster-fork';
    else if (problem !== 'envelope/roster-fork') problem = 'envelope/roster-behind';
  }
  return problem;
}

/**
 * Where a message that needs approval stands, from the guardians' signed decisions over its id and
 * ciphertext hash: a valid decline by a guardian of the head outweighs every approval ('declined');
 * else a valid approval ('approved'); else 'waiting'. A validly signed decision whose head
 * contradicts the reader's roster is evidence of a fork ('envelope/roster-fork'); one from a newer
 * head means the reader must fetch the roster first ('envelope/roster-behind') — for a decline even
 * beside an approval, so a server cannot have a toy play a message by withholding the head a
 * decline was made at. Never throws on bad input.
 */
export async function approvalDecision(
  roster: VerifiedRoster,
  input: { messageId: Uint8Array; ciphertextHash: Uint8Array; approvals?: readonly Approval[]; declines?: readonly Decline[] },
): Promise<CryptoResult<Exclude<ApprovalState, { state: 'not-needed' }>>> {
  if (!isVerifiedRoster(roster)) throw new TypeError('roster must come from verifyRoster');
  const { messageId, ciphertextHash } = input;
  if (!(messageId instanceof Uint8Array) || !(ciphertextHash instanceof Uint8Array)) return ok({ state: 'waiting' });
  const declined = await strongestDecision(roster, 'declined', Array.isArray(input.declines) ? input.declines : [], messageId, ciphertextHash);
  if (typeof declined === 'object') return ok(declined);
  if (declined !== undefined) return fail(declined);
  const approved = await strongestDecision(roster, 'approved', Array.isArray(input.approvals) ? input.approvals : [], messageId, ciphertextHash);
  if (typeof approved === 'object') return ok(approved);
  if (approved !== undefined) return fail(approved);
  return ok({ state: 'waiting' });
}

/** Whether the head marks `senderId` as a relative whose messages need a guardian's approval. */
export function needsApprovalAtHead(roster: VerifiedRoster, senderId: string): boolean {
  if (!isVerifiedRoster(roster)) throw new TypeError('roster must come from verifyRoster');
  const member = roster.memberAt(roster.epoch, senderId);
  return member !== undefined && member.role === 'relative' && member.needsApproval === true;
}

/** What the inner record says before its audio, and where the audio lies in the padded plaintext. */
export interface InnerMetadata {
  audioType: string;
  durationMs: number;
  caption?: string;
  audioOffset: number;
  audioLength: number;
}

/**
 * Reads the inner record's metadata from the first chunk's plaintext (where it always lies) and
 * checks the padding rule: `paddedLength` must be the bucket of the record's length. Undefined for
 * anything else; the caller checks that the padding bytes after the audio are zero.
 */
export function readInnerMetadata(firstChunk: Uint8Array, paddedLength: number): InnerMetadata | undefined {
  try {
    const r = new CanonicalReader(firstChunk);
    if (r.u8() !== INNER_VERSION) return undefined;
    const audioType = r.string(MAX_AUDIO_TYPE_BYTES);
    const durationMs = r.u32();
    const hasCaption = r.u8();
    if (hasCaption > 1) return undefined;
    const caption = hasCaption === 1 ? r.string(MAX_CAPTION_BYTES) : undefined;
    const audioLength = r.u32();
    const audioOffset = r.position;
    if (audioLength > MAX_AUDIO_BYTES || paddedLengthOf(audioOffset + audioLength) !== paddedLength) return undefined;
    const metadata: InnerMetadata = { audioType, durationMs, audioOffset, audioLength };
    if (caption !== undefined) metadata.caption = caption;
    return metadata;
  } catch (error) {
    if (error instanceof CanonicalError) return undefined;
    throw error;
  }
}

/** Whether every byte is zero (the padding), looking at all of them. */
export function allZero(bytes: Uint8Array): boolean {
  let seen = 0;
  for (const byte of bytes) seen |= byte;
  return seen === 0;
}

/** An Ed25519 public key imported for `verifyMessageSignature`; undefined when it is not a valid key. */
async function importVerifyingKey(publicKey: Uint8Array): Promise<CryptoKey | undefined> {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return undefined;
  try {
    return await subtle().importKey('raw', buf(publicKey), 'Ed25519', false, ['verify']);
  } catch {
    return undefined;
  }
}

/** `verifyLabelled` for a message signature, with the sender's key already imported (see signature.ts). */
async function verifyMessageSignature(key: CryptoKey | undefined, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (key === undefined || signature.length !== 64) return false;
  try {
    return await subtle().verify('Ed25519', key, buf(signature), buf(labelled(SIGNATURE_LABELS.message, message)));
  } catch {
    return false;
  }
}

/** How a reader opens a message: its verified roster and keys, and what it was told beside the envelope. */
export interface OpenOptions {
  roster: VerifiedRoster;
  /** The reader's key of `scope` as the entry of `epoch` names it (its generation there); undefined when it holds none. */
  keyFor: (epoch: number, scope: string) => Uint8Array | undefined | Promise<Uint8Array | undefined>;
  approvals?: readonly Approval[];
  /** Guardians' signed declines, as relayed: a valid one refuses the message ('envelope/declined'). */
  declines?: readonly Decline[];
  /**
   * A member's app (the sender, a guardian) may listen before a guardian decides: the message
   * then opens with `approval` 'waiting' or 'declined' instead of failing. A toy never sets it.
   */
  openUnapproved?: boolean;
  expected?: { messageId?: Uint8Array; familyId?: string };
  /**
   * The reader's clock: refuse a message dated beyond MAX_CLOCK_SKEW_MS ahead of `now`, and, with
   * `retentionDays` (a toy passes its head's signed retention), one whose retention has passed.
   */
  age?: { now: number; retentionDays?: number };
  /** A member reading history: open what the entry that removed a sender kept (see `openAndVerifyMessage`). */
  history?: boolean;
}

/** What `verifyEnvelopeParts` established: who sent it, as judged, and what they signed. */
export interface VerifiedParts {
  sender: { kind: 'member' | 'toy'; id: string };
  ciphertextHash: Uint8Array;
  removal?: RosterEntry;
  /** Whether the head marks the sender as a relative whose messages need a guardian's approval. */
  needsApproval: boolean;
  /** The chunks' AES-GCM context: the message key, nonce prefix, header AAD and chunk count. */
  chunks: ChunkContext;
}

/**
 * Everything `openAndVerifyMessage` checks before the first chunk (see there), from the fields
 * before the chunks alone, ending with the message key: so a streaming reader knows whether to
 * play before any audio arrives. Never throws on bad input.
 */
export async function verifyEnvelopeParts(parts: EnvelopeParts, options: OpenOptions): Promise<CryptoResult<VerifiedParts>> {
  const { roster, expected } = options;
  const { header, headerBytes, signature } = parts;
  if (header.familyId !== roster.familyId) return fail('envelope/wrong-family');
  if (expected?.familyId !== undefined && header.familyId !== expected.familyId) return fail('envelope/wrong-family');
  if (expected?.messageId !== undefined && !bytesEqual(header.messageId, expected.messageId)) return fail('envelope/id-mismatch');
  const ciphertextHash = commitmentHash(parts.commitment);
  const relation = await compareRosterHead(roster, header.epoch, header.rosterHead);
  if (relation === 'unknown') return fail('envelope/unknown-epoch');
  if (relation !== 'same') {
    // The sender saw another chain than this reader: newer (this reader is held back) or different
    // (a fork). Only a signature by someone this reader knows makes that evidence, so a server
    // cannot stall a toy or raise an alarm with a made-up header.
    const knownKey = signingKeyKnownAt(roster, header.epoch, header.senderId);
    if (knownKey === undefined) return fail(relation === 'behind' ? 'envelope/unknown-epoch' : 'envelope/sender-not-member');
    if (!(await verifyMessageSignature(await importVerifyingKey(knownKey), signedBytes(headerBytes, ciphertextHash), signature))) return fail('envelope/bad-signature');
    return fail(relation === 'behind' ? 'envelope/roster-behind' : 'envelope/roster-fork');
  }

  // Only someone in the message's epoch was given its key, and only the key of its conversation.
  if (!findSender(roster, header.epoch, header.senderId)) return fail('envelope/sender-not-member');
  // Everything else is judged by the head. Whoever held an epoch key keeps it: a member removed,
  // demoted, narrowed to fewer children or set to need approval since (or a toy moved to another
  // child) could otherwise seal under a key from before the change and be judged by the old entry.
  let sender = findSender(roster, roster.epoch, header.senderId);
  // History: a removed sender is judged as the last entry that listed them describes them, and
  // only for a message the entry removing them kept (checked once the signature verified).
  let removal: RosterEntry | undefined;
  if (!sender) {
    if (options.history !== true) return fail('envelope/sender-removed');
    removal = removalOf(roster, header.epoch, header.senderId);
    sender = removal === undefined ? undefined : findSender(roster, removal.epoch - 1, header.senderId);
    if (removal === undefined || !sender) return fail('envelope/sender-removed');
  }
  const judgedAt = removal === undefined ? roster.epoch : removal.epoch - 1;
  if (!recipientsAllowed(roster, sender, header.recipients, judgedAt)) return fail('envelope/recipient-not-allowed');

  const senderKeys = sender.kind === 'member' ? sender.member.keys : sender.toy.keys;
  if (!(await verifyMessageSignature(await importVerifyingKey(senderKeys.signingKey), signedBytes(headerBytes, ciphertextHash), signature))) return fail('envelope/bad-signature');
  if (removal !== undefined && !entryKeeps(removal, await keptDigestOf(headerBytes, ciphertextHash))) return fail('envelope/sender-removed');
  // Checked once the signature holds, so a header the server changed is reported as forged.
  const scope = messageScope(scopedContentsOf(roster.entryAt(header.epoch)!), header.senderId, header.recipients);
  if (!scope.ok || scope.value !== header.scope) return fail('envelope/wrong-scope');
  if (options.age !== undefined) {
    const problem = messageAgeProblem(header.createdAt, options.age);
    if (problem !== undefined) return fail(problem);
  }

  const scopeKey = await options.keyFor(header.epoch, header.scope);
  if (!(scopeKey instanceof Uint8Array) || scopeKey.length !== 32) return fail('envelope/no-key');
  const key = await importMessageKey(scopeKey, header.messageId, 'decrypt');
  // The head's flag: a relative set to need approval since the message's epoch needs it now.
  // A kept message was judged, approvals included, by the guardian who kept it.
  const needsApproval = removal === undefined && sender.kind === 'member' && sender.member.role === 'relative' && sender.member.needsApproval === true;
  const verified: VerifiedParts = {
    sender: { kind: sender.kind, id: header.senderId },
    ciphertextHash,
    needsApproval,
    chunks: { cipher: key, noncePrefix: parts.noncePrefix, aad: headerBytes, chunkCount: parts.chunkCount },
  };
  if (removal !== undefined) verified.removal = removal;
  return ok(verified);
}

/**
 * Where a verified message stands on approval (`approvalDecision`), refusing 'envelope/declined'
 * or 'envelope/needs-approval' unless the reader opens unapproved messages.
 */
export async function approvalOf(parts: EnvelopeParts, verified: VerifiedParts, options: OpenOptions): Promise<CryptoResult<ApprovalState>> {
  if (!verified.needsApproval) return ok({ state: 'not-needed' });
  const decided = await approvalDecision(options.roster, { messageId: parts.header.messageId, ciphertextHash: verified.ciphertextHash, approvals: options.approvals ?? [], declines: options.declines ?? [] });
  if (!decided.ok) return decided;
  if (options.openUnapproved !== true && decided.value.state === 'declined') return fail('envelope/declined');
  if (options.openUnapproved !== true && decided.value.state === 'waiting') return fail('envelope/needs-approval');
  return decided;
}

/** Checks and opens every chunk of a whole envelope's body (a few at once) into one padded plaintext. */
async function openBody(parsed: ParsedEnvelope, context: ChunkContext): Promise<CryptoResult<Uint8Array>> {
  const plaintext = new Uint8Array(parsed.paddedLength);
  let problem: CryptoResult<never> | undefined;
  await inParallel(parsed.chunkCount, async (index) => {
    if (problem !== undefined) return;
    const start = sealedChunkOffset(index);
    const sealed = parsed.body.subarray(start, start + chunkPlaintextLength(parsed.paddedLength, index) + CHUNK_TAG_BYTES);
    const opened = await openChunk(context, index, sealed, parsed.chunkHashes.subarray(index * CHUNK_HASH_BYTES, (index + 1) * CHUNK_HASH_BYTES));
    if (opened.ok) plaintext.set(opened.value, index * CHUNK_PLAINTEXT_BYTES);
    else problem ??= opened;
  });
  if (problem !== undefined) {
    plaintext.fill(0);
    return problem;
  }
  return ok(plaintext);
}

/**
 * Verifies and opens an envelope against a verified roster. Checks, in order: the format; the
 * family (and the expected family/message id, e.g. from the route); that the sender's head
 * commitment matches the reader's entry at that epoch (else, once signed by a sender the reader
 * knows, 'envelope/roster-behind' for a newer epoch or 'envelope/roster-fork' for a different
 * entry — both to be acted on by the caller: fetch the roster, or report the fork); that the
 * sender is a member or toy at that epoch (so was given its key) and is one in the head; that the
 * sender, as the head describes them, may address every recipient; the signature, with the head's
 * key for the sender; with `age`, the signed creation time against the reader's clock; the key;
 * every chunk against its committed hash and its tag; the inner record and its padding; and for a
 * sender the head marks as needing approval, the approval of a guardian of the head and no decline
 * by one (`approvalDecision`; with `openUnapproved`, the message opens anyway and says where it
 * stands). The head decides role, children, approval and membership whatever epoch the message
 * was sealed in. Never throws on bad input; every refusal is a result with its own code. A
 * reader that cannot hold the whole message uses `openMessageStream` (envelope-stream.ts), which
 * checks the same things in the same order.
 *
 * With `history` (member readers; never a toy), a message whose sender the head no longer lists is
 * judged against the roster of its time instead of refused: the entry that removed the sender must
 * keep it (`kept` holds its `keptMessageDigest`, signed by the guardian who removed them), the
 * sender is judged, and their signature checked, as the entry before that one describes them, and
 * the result carries `removed`. A message that entry does not keep is 'envelope/sender-removed'.
 */
export async function openAndVerifyMessage(bytes: Uint8Array, options: OpenOptions): Promise<CryptoResult<OpenedMessage>> {
  if (!isVerifiedRoster(options.roster)) throw new TypeError('roster must come from verifyRoster');
  if (options.age !== undefined) assertAge(options.age);
  if (!(bytes instanceof Uint8Array)) return fail('envelope/malformed');
  const parsed = parseEnvelope(bytes);
  if (!parsed.ok) return parsed;
  const verified = await verifyEnvelopeParts(parsed.value, options);
  if (!verified.ok) return verified;
  const opened = await openBody(parsed.value, verified.value.chunks);
  if (!opened.ok) return opened;
  const plaintext = opened.value;
  const inner = readInnerMetadata(plaintext.subarray(0, CHUNK_PLAINTEXT_BYTES), parsed.value.paddedLength);
  const audioEnd = inner === undefined ? 0 : inner.audioOffset + inner.audioLength;
  if (inner === undefined || !allZero(plaintext.subarray(audioEnd))) return fail('envelope/malformed');
  const approval = await approvalOf(parsed.value, verified.value, options);
  if (!approval.ok) return approval;

  const { header } = parsed.value;
  const result: OpenedMessage = {
    header,
    // A view into the freshly decrypted plaintext, which nothing else holds.
    audio: plaintext.subarray(inner.audioOffset, audioEnd),
    audioType: inner.audioType,
    durationMs: inner.durationMs,
    ciphertextHash: verified.value.ciphertextHash,
    sender: verified.value.sender,
    approval: approval.value,
  };
  const { removal } = verified.value;
  if (removal !== undefined) result.removed = { epoch: removal.epoch, at: removal.createdAt };
  if (inner.caption !== undefined) result.caption = inner.caption;
  return ok(result);
}
