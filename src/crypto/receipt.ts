/**
 * Signed receipts: a toy or member says "I received (or played) this message", signed with its own
 * Ed25519 key, so a server that relays receipts cannot make one up to hide a message that never
 * reached a child. Signed over `"burrow/receipt/v1" ‖ 0x00 ‖ body`, where body is
 *
 *   u8 version (1) ‖ u32 len ‖ familyId ‖ messageId (16) ‖ u8 kind (1 delivered, 2 played)
 *   ‖ u32 len ‖ signerId ‖ u64 rosterEpoch ‖ rosterHead (32) ‖ u64 at (ms since 1970, signer's clock)
 *
 * `rosterEpoch`/`rosterHead` are the signer's verified roster head (`hashRosterEntry`), so a receipt,
 * like an envelope or an approval, exposes a forked chain.
 */
import { assertBytes, bytesEqual } from './bytes.js';
import { CanonicalWriter } from './canonical.js';
import type { Identity } from './identity.js';
import { fail, ok, type CryptoResult } from './result.js';
import type { VerifiedRoster } from './roster.js';
import { compareRosterHead, ROSTER_HEAD_LENGTH } from './roster-head.js';
import { SIGNATURE_LABELS, signLabelled, verifyLabelled } from './signature.js';

const RECEIPT_VERSION = 1;
const MESSAGE_ID_LENGTH = 16;
const MAX_ID_BYTES = 128;
const KINDS = { delivered: 1, played: 2 } as const;

/** What a receipt says happened to a message on the signer's device. */
export type ReceiptKind = keyof typeof KINDS;

/** A signed receipt as carried on the wire (ids as strings, bytes as bytes). */
export interface SignedReceipt {
  familyId: string;
  messageId: Uint8Array;
  kind: ReceiptKind;
  /** The account id or toy id of the signer. */
  signerId: string;
  rosterEpoch: number;
  rosterHead: Uint8Array;
  /** Milliseconds since 1970 by the signer's clock. */
  at: number;
  signature: Uint8Array;
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && new TextEncoder().encode(value).length <= MAX_ID_BYTES;
}

function wellFormed(r: Omit<SignedReceipt, 'signature'>): boolean {
  return (
    isId(r.familyId) &&
    r.messageId instanceof Uint8Array && r.messageId.length === MESSAGE_ID_LENGTH &&
    Object.hasOwn(KINDS, r.kind) &&
    isId(r.signerId) &&
    Number.isSafeInteger(r.rosterEpoch) && r.rosterEpoch >= 0 &&
    r.rosterHead instanceof Uint8Array && r.rosterHead.length === ROSTER_HEAD_LENGTH &&
    Number.isSafeInteger(r.at) && r.at >= 0
  );
}

/** The bytes a receipt's signature covers (without the label). */
export function encodeReceiptBody(r: Omit<SignedReceipt, 'signature'>): Uint8Array {
  return new CanonicalWriter().u8(RECEIPT_VERSION).string(r.familyId).fixed(r.messageId).u8(KINDS[r.kind]).string(r.signerId).u64(r.rosterEpoch).fixed(r.rosterHead).u64(r.at).finish();
}

/** Signs a receipt as its signer (a toy or a member), committing to the signer's verified head. */
export async function signReceipt(identity: Identity, body: Omit<SignedReceipt, 'signature'>): Promise<SignedReceipt> {
  assertBytes(body.messageId, 'messageId', MESSAGE_ID_LENGTH);
  assertBytes(body.rosterHead, 'rosterHead', ROSTER_HEAD_LENGTH);
  if (!wellFormed(body)) throw new TypeError('receipt is not well formed');
  const signature = await signLabelled(identity, SIGNATURE_LABELS.receipt, encodeReceiptBody(body));
  return { ...body, messageId: body.messageId.slice(), rosterHead: body.rosterHead.slice(), signature };
}

/** Whether `signature` over the receipt verifies with `signingKey` (the server's check; clients use `verifyReceipt`). */
export async function verifyReceiptSignature(receipt: SignedReceipt, signingKey: Uint8Array): Promise<boolean> {
  if (typeof receipt !== 'object' || receipt === null || !wellFormed(receipt)) return false;
  return verifyLabelled({ publicKey: signingKey, label: SIGNATURE_LABELS.receipt, message: encodeReceiptBody(receipt), signature: receipt.signature });
}

/**
 * Verifies a receipt against the reader's verified roster: for this family and message, signed by
 * a member or toy the roster lists at the receipt's epoch (or, for an epoch newer than the reader's
 * head, the signer's newest known key), whose head commitment does not contradict the reader's
 * chain. Codes: receipt/malformed, receipt/wrong-message, receipt/unknown-signer,
 * receipt/bad-signature, receipt/roster-fork.
 */
export async function verifyReceipt(receipt: SignedReceipt, options: { roster: VerifiedRoster; messageId: Uint8Array }): Promise<CryptoResult<{ kind: ReceiptKind; signerId: string; at: number }>> {
  const { roster } = options;
  if (typeof receipt !== 'object' || receipt === null || !wellFormed(receipt)) return fail('receipt/malformed');
  if (receipt.familyId !== roster.familyId || !bytesEqual(receipt.messageId, options.messageId)) return fail('receipt/wrong-message');
  const epoch = Math.min(receipt.rosterEpoch, roster.epoch);
  const key = signerKey(roster, epoch, receipt.signerId);
  if (key === undefined) return fail('receipt/unknown-signer');
  if (!(await verifyReceiptSignature(receipt, key))) return fail('receipt/bad-signature');
  if ((await compareRosterHead(roster, receipt.rosterEpoch, receipt.rosterHead)) === 'fork') return fail('receipt/roster-fork');
  return ok({ kind: receipt.kind, signerId: receipt.signerId, at: receipt.at });
}

function signerKey(roster: VerifiedRoster, epoch: number, id: string): Uint8Array | undefined {
  const member = roster.memberAt(epoch, id);
  if (member) return member.keys.signingKey;
  return roster.toyAt(epoch, id)?.keys.signingKey;
}
