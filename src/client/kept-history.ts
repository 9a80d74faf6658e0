/**
 * History that outlives a removal. Before a guardian signs a roster entry that removes members or
 * toys, their client lists what those senders sent, verifies and opens each message against the
 * head it holds (where they are still members), and signs the digests of the ones that open into
 * the entry (`kept`). Member readers then keep playing exactly those messages, labelled with the
 * removal; anything else from a removed sender — above all a message they sign after their removal,
 * dated and committed to an old head as they like — is refused. See docs/threat-model.md, "History
 * after a removal".
 */
import type { Static } from '@sinclair/typebox';
import { fromBase64Url } from '../crypto/bytes.js';
import { keptMessageDigest, MAX_ENVELOPE_BYTES as LARGEST_ENVELOPE, openAndVerifyMessage, type Approval } from '../crypto/envelope.js';
import { MAX_KEPT_MESSAGES, type Member, type RosterEntry, type Toy, type VerifiedRoster } from '../crypto/roster.js';
import { MessageList, type MessageView } from '../protocol/messages.js';
import { ApiError, type BurrowApi } from './api.js';

/** Largest envelope a download reads: the largest there can be (the largest audio, padded, in chunks). */
export const MAX_ENVELOPE_BYTES = LARGEST_ENVELOPE;

/** Relayed approvals or declines as the crypto reads them, over the id and hash the server describes (they must verify over them). */
export function decisionsOf(view: { messageId: string; ciphertextHash: string }, wire: Readonly<Static<typeof MessageView>['approvals']> | undefined): Approval[] {
  const messageId = fromBase64Url(view.messageId);
  const ciphertextHash = fromBase64Url(view.ciphertextHash);
  return (wire ?? []).map((a) => ({ guardianId: a.guardianId, messageId, ciphertextHash, rosterEpoch: a.rosterEpoch, rosterHead: fromBase64Url(a.rosterHead), signature: fromBase64Url(a.signature) }));
}

/**
 * The `keptMessageDigest`s of the messages `removedIds` sent that open for this guardian at its
 * verified head (signature, head commitment, membership, recipients, approvals), newest first, at
 * most MAX_KEPT_MESSAGES. The server's list only says where to look: its sender ids, hashes and
 * order decide nothing, as every message kept is one this client verified itself.
 */
export async function keptMessageDigests(options: {
  api: BurrowApi;
  roster: VerifiedRoster;
  keyFor: (epoch: number, scope: string) => Uint8Array | undefined;
  removedIds: ReadonlySet<string>;
  now: number;
}): Promise<Uint8Array[]> {
  const { api, roster, removedIds } = options;
  if (removedIds.size === 0) return [];
  const familyId = roster.familyId;
  const kept: Uint8Array[] = [];
  let before: string | undefined;
  for (;;) {
    const query = new URLSearchParams({ limit: '100', ...(before === undefined ? {} : { before }) });
    const page = await api.call('GET', `/v1/families/${familyId}/messages?${query.toString()}`, MessageList);
    for (const view of page.messages) {
      if (!removedIds.has(view.senderId)) continue;
      let envelope: Uint8Array;
      try {
        envelope = await api.download(`/v1/families/${familyId}/messages/${view.messageId}/envelope`, MAX_ENVELOPE_BYTES);
      } catch (error) {
        // Deleted meanwhile, or refused: not kept. Being offline stops the removal instead.
        if (error instanceof ApiError) continue;
        throw error;
      }
      const opened = await openAndVerifyMessage(envelope, {
        roster,
        keyFor: options.keyFor,
        approvals: decisionsOf(view, view.approvals),
        declines: decisionsOf(view, view.declines),
        expected: { familyId, messageId: fromBase64Url(view.messageId) },
        age: { now: options.now },
      });
      if (!opened.ok || !removedIds.has(opened.value.sender.id)) continue;
      const digest = await keptMessageDigest(envelope);
      if (digest.ok) kept.push(digest.value);
      if (kept.length === MAX_KEPT_MESSAGES) return kept;
    }
    if (page.nextCursor === undefined || page.messages.length === 0) return kept;
    before = page.nextCursor;
  }
}

/** A member or toy the head no longer lists, as the entries around their removal describe them. */
export interface FormerParticipant {
  /** The entry that removed them: its epoch and its signer's `createdAt`. */
  removed: { epoch: number; at: number };
  /** Their record in the entry before it (a member's role, a toy's child). */
  member?: Member;
  toy?: Toy;
}

/**
 * Who sent a message at `epoch` that the head no longer lists: the first entry after `epoch` without
 * them, and their record just before it; undefined when the head lists them or no entry ever did.
 * For labels ("Mia's toy, removed 12 Dec"); whether the message itself is history is decided by
 * `openAndVerifyMessage` with `history` (via `downloadAndOpenMessage`).
 */
export function formerParticipant(roster: VerifiedRoster, senderId: string, epoch: number): FormerParticipant | undefined {
  const listed = (entry: RosterEntry) => entry.members.some((m) => m.accountId === senderId) || entry.toys.some((t) => t.toyId === senderId);
  if (listed(roster.head)) return undefined;
  const removal = roster.entries.find((e) => e.epoch > epoch && !listed(e) && roster.entryAt(e.epoch - 1) !== undefined && listed(roster.entryAt(e.epoch - 1)!));
  if (removal === undefined) return undefined;
  const before = roster.entryAt(removal.epoch - 1)!;
  const member = before.members.find((m) => m.accountId === senderId);
  const toy = before.toys.find((t) => t.toyId === senderId);
  return { removed: { epoch: removal.epoch, at: removal.createdAt }, ...(member === undefined ? {} : { member }), ...(toy === undefined ? {} : { toy }) };
}
