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

/** One word for the sender's view of a message: Played, Delivered, Sent, or Unverified receipt when a receipt did not verify. */
export function receiptSummary(receipts: readonly CheckedReceipt[], me: string): 'Played' | 'Delivered' | 'Sent' | 'Unverified receipt' {
  const others = receipts.filter((r) => r.by !== me);
  const verified = others.filter((r) => r.verified);
  if (verified.some((r) => r.kind === 'played')) return 'Played';
  if (others.some((r) => !r.verified)) return 'Unverified receipt';
  if (verified.some((r) => r.kind === 'delivered')) return 'Delivered';
  return 'Sent';
}
