/**
 * Signed receipts from the client's side: what a toy or member posts when it received or played a
 * message (signed at its verified head, src/crypto/receipt.ts), and the check every front end runs
 * on the receipts the server relays, so one the server made up shows as unverified.
 */
import type { Static } from '@sinclair/typebox';
import { fromBase64Url, toBase64Url } from '../crypto/bytes.js';
import type { Identity } from '../crypto/identity.js';
import { signReceipt, verifyReceipt, type ReceiptKind } from '../crypto/receipt.js';
import type { CryptoResult } from '../crypto/result.js';
import type { VerifiedRoster } from '../crypto/roster.js';
import type { MessageView } from '../protocol/messages.js';
import type { BurrowApi } from './api.js';
import type { LiveConnection } from './live.js';
import { reportRefusal } from './refusal-report.js';

type MessageViewT = Static<typeof MessageView>;

/** The body of a receipt POST, signed by `signer` at its verified head (src/crypto/receipt.ts). */
export async function signedReceiptBody(options: {
  signer: { id: string; identity: Identity };
  roster: VerifiedRoster;
  messageId: string;
  kind: ReceiptKind;
  at: number;
}): Promise<{ kind: ReceiptKind; signedAt: number; rosterEpoch: number; rosterHead: string; signature: string }> {
  const { roster } = options;
  const receipt = await signReceipt(options.signer.identity, {
    familyId: roster.familyId,
    messageId: fromBase64Url(options.messageId),
    kind: options.kind,
    signerId: options.signer.id,
    rosterEpoch: roster.epoch,
    rosterHead: roster.headHash,
    at: options.at,
  });
  return { kind: options.kind, signedAt: receipt.at, rosterEpoch: receipt.rosterEpoch, rosterHead: toBase64Url(receipt.rosterHead), signature: toBase64Url(receipt.signature) };
}

/**
 * Signs a receipt as `signer` at its verified head and stores it for the message: over `live` when
 * that connection is open and ready (one frame instead of a request), else, or when the frame got
 * no answer before the connection closed, posted over HTTP (a repeated receipt is stored once).
 */
export async function sendReceipt(api: BurrowApi, options: Parameters<typeof signedReceiptBody>[0] & { live?: Pick<LiveConnection, 'sendReceipt'> | undefined }): Promise<void> {
  const receipt = await signedReceiptBody(options);
  const familyId = options.roster.familyId;
  if ((await options.live?.sendReceipt({ familyId, messageId: options.messageId, receipt })) !== undefined) return;
  await api.call('POST', `/v1/families/${familyId}/messages/${options.messageId}/receipts`, undefined, receipt);
}

/** A relayed receipt after verification: `verified` only when its signer's signature checks against the verified roster. */
export interface CheckedReceipt {
  by: string;
  kind: ReceiptKind;
  /** The signer's signed time when verified, else the server's. */
  at: number;
  verified: boolean;
  /** Why it did not verify (a `receipt/…` code). */
  code?: string;
}

/**
 * Verifies every receipt the server relays for a message against the verified roster. A receipt
 * the server made up (or altered, or replayed from another message) comes back `verified: false`,
 * and front ends show it as unverified, never as "Played". With `api`, a receipt that shows a forked
 * roster is also reported to the family security log.
 */
export async function checkReceipts(roster: VerifiedRoster, view: MessageViewT, options: { api?: BurrowApi } = {}): Promise<CheckedReceipt[]> {
  const messageId = fromBase64Url(view.messageId);
  const out: CheckedReceipt[] = [];
  for (const r of view.receipts) {
    let result: CryptoResult<{ kind: ReceiptKind; signerId: string; at: number }>;
    try {
      result = await verifyReceipt(
        { familyId: view.familyId, messageId, kind: r.kind, signerId: r.by, rosterEpoch: r.rosterEpoch, rosterHead: fromBase64Url(r.rosterHead), at: r.signedAt, signature: fromBase64Url(r.signature) },
        { roster, messageId },
      );
    } catch {
      result = { ok: false, code: 'receipt/malformed' };
    }
    // A receipt signed at a head this client holds differently: a forked roster, for the guardians to see.
    if (!result.ok && result.code === 'receipt/roster-fork' && options.api !== undefined) {
      await reportRefusal(options.api, { familyId: roster.familyId, code: result.code, epoch: r.rosterEpoch, messageId: view.messageId });
    }
    out.push(result.ok ? { by: r.by, kind: r.kind, at: result.value.at, verified: true } : { by: r.by, kind: r.kind, at: r.at, verified: false, code: result.code });
  }
  return out;
}

/** Whether `toyId` is, in any entry of the verified roster, a toy of one of `recipients` (a child id, or the toy's own id). */
function isToyOf(roster: VerifiedRoster, toyId: string, recipients: readonly string[]): boolean {
  return roster.entries.some((e) => e.toys.some((t) => t.toyId === toyId && (recipients.includes(t.childId) || recipients.includes(t.toyId))));
}

/**
 * Whether a toy of the message's recipients played it: a `played` receipt that verified against
 * the roster, signed by a toy the roster binds to one of `recipients`. A member who listened, or a
 * receipt the server made up, never counts.
 */
export function playedOnToyOf(roster: VerifiedRoster, receipts: readonly CheckedReceipt[], recipients: readonly string[]): boolean {
  return receipts.some((r) => r.verified && r.kind === 'played' && isToyOf(roster, r.by, recipients));
}

/** The sender's view of a message, in one phrase (see `receiptSummary`). */
export type ReceiptSummary = 'Played' | 'Delivered' | 'Waiting for a toy' | 'Sent' | 'Unverified receipt';

/**
 * One phrase for the sender's view of a message, from receipts verified against the roster:
 * Played or Delivered only by a verified receipt of a toy of the message's recipients (`recipients`:
 * the child or toy ids it was sent to — a toy signs only for a message it verified was addressed to
 * it, so a wrong list can hide a receipt but never make one up); Unverified receipt when a receipt
 * did not verify; Waiting for a toy while no recipient has a toy in the roster's head; else Sent.
 */
export function receiptSummary(receipts: readonly CheckedReceipt[], options: { me: string; roster: VerifiedRoster; recipients: readonly string[] }): ReceiptSummary {
  const { me, roster, recipients } = options;
  const others = receipts.filter((r) => r.by !== me);
  if (playedOnToyOf(roster, others, recipients)) return 'Played';
  if (others.some((r) => !r.verified)) return 'Unverified receipt';
  if (others.some((r) => r.verified && r.kind === 'delivered' && isToyOf(roster, r.by, recipients))) return 'Delivered';
  if (!roster.toys.some((t) => recipients.includes(t.childId) || recipients.includes(t.toyId))) return 'Waiting for a toy';
  return 'Sent';
}
