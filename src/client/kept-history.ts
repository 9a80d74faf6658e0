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
import { keptMessageDigest, MAX_AUDIO_BYTES, openAndVerifyMessage, type Approval } from '../crypto/envelope.js';
import { MAX_KEPT_MESSAGES, type VerifiedRoster } from '../crypto/roster.js';
import { MessageList, type MessageView } from '../protocol/messages.js';
import type { BurrowApi } from './api.js';

/** Largest envelope a download reads: the largest audio plus generous room for header and caption. */
export const MAX_ENVELOPE_BYTES = MAX_AUDIO_BYTES + 64 * 1024;

/** The guardians' approvals the server relays with a message, in the form `openAndVerifyMessage` takes. */
export function approvalsOf(view: Static<typeof MessageView>): Approval[] {
  const messageId = fromBase64Url(view.messageId);
  const ciphertextHash = fromBase64Url(view.ciphertextHash);
  return view.approvals.map((a) => ({ guardianId: a.guardianId, messageId, ciphertextHash, rosterEpoch: a.rosterEpoch, rosterHead: fromBase64Url(a.rosterHead), signature: fromBase64Url(a.signature) }));
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
  keyForEpoch: (epoch: number) => Uint8Array | undefined;
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
      const envelope = await api.download(`/v1/families/${familyId}/messages/${view.messageId}/envelope`, MAX_ENVELOPE_BYTES);
      const opened = await openAndVerifyMessage(envelope, {
        roster,
        familyKeyForEpoch: options.keyForEpoch,
        approvals: approvalsOf(view),
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
