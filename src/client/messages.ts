/**
 * Voice messages from the client's side: seal and upload (sealMessage under the head epoch's
 * key), list, download and open against the verified roster (openAndVerifyMessage, with the
 * guardians' approvals and declines the server relays), where a message stands on approval (from
 * the head and the signed decisions, never the server's `needsApproval`), approve, decline,
 * receipts, save and delete.
 */
import type { Static } from '@sinclair/typebox';
import { fromBase64Url, toBase64Url } from '../crypto/bytes.js';
import {
  approvalDecision,
  approveMessage as signApproval,
  declineMessage as signDecline,
  needsApprovalAtHead,
  openAndVerifyMessage,
  parseEnvelopeHeader,
  sealMessage,
  type ApprovalState,
  type OpenedMessage,
} from '../crypto/envelope.js';
import { messageScope, scopedContentsOf } from '../crypto/key-scopes.js';
import type { CryptoResult } from '../crypto/result.js';
import type { VerifiedRoster } from '../crypto/roster.js';
import { MessageAccepted, MessageList, MessageView } from '../protocol/messages.js';
import { ApiError } from './api.js';
import { assertSendableAudio } from './audio/sendable-audio.js';
import { ClientError } from './client-error.js';
import { decisionsOf, MAX_ENVELOPE_BYTES } from './kept-history.js';

export { decisionsOf };
import { reportRefusal } from './refusal-report.js';
import { sendReceipt } from './receipts.js';
import { assertFamilyId, loadFamily, type ClientContext, type OpenedFamily } from './families.js';

export type MessageViewT = Static<typeof MessageView>;


/**
 * Per device (its key store): the newest head epoch a member this device knows signed and the
 * server has not yet shown it, per family. While one is set, messages open only once the roster
 * reaches it — a server that withholds the entry removing someone cannot keep the older view.
 */
const heldBack = new WeakMap<object, Map<string, number>>();

function assertMessageId(messageId: unknown): asserts messageId is string {
  if (typeof messageId !== 'string' || !/^[A-Za-z0-9_-]{22}$/.test(messageId)) throw new TypeError('messageId must be a 22-character id');
}

function messagePath(familyId: string, messageId: string): string {
  assertFamilyId(familyId);
  assertMessageId(messageId);
  return `/v1/families/${familyId}/messages/${messageId}`;
}

/** The conversations (child and toy ids) this member may address, from the verified roster. */
export function addressableConversations(family: OpenedFamily): Set<string> {
  const children = family.self.role === 'guardian' ? family.children.map((c) => c.childId) : (family.self.children ?? []);
  const out = new Set(children);
  for (const toy of family.roster.toys) if (out.has(toy.childId)) out.add(toy.toyId);
  return out;
}

/**
 * Seals a voice message for children or toys of the family under the key of its conversation at
 * the current epoch (the child's; crypto/key-scopes.ts `messageScope`), signed by this account,
 * and uploads it. `onProgress` hears the bytes sent. The audio must be Opus in
 * Ogg or 16-bit PCM WAV, as `audioType` says ('client/audio-format' otherwise): what every toy plays.
 */
export async function sendMessage(
  ctx: ClientContext,
  options: {
    familyId: string;
    to: string | string[];
    audio: Uint8Array;
    audioType: string;
    durationMs: number;
    caption?: string;
    onProgress?: (sent: number, total: number) => void;
    family?: OpenedFamily;
  },
): Promise<{ messageId: string; receivedAt: number; size: number; epoch: number }> {
  const recipients = [...new Set(Array.isArray(options.to) ? options.to : [options.to])];
  if (recipients.length === 0) throw new TypeError('to must name at least one child or toy');
  assertSendableAudio(options.audioType, options.audio);
  for (let attempt = 0; attempt < 2; attempt++) {
    const family = attempt === 0 && options.family !== undefined ? options.family : await loadFamily(ctx, options.familyId);
    const allowed = addressableConversations(family);
    for (const r of recipients) if (!allowed.has(r)) throw new ClientError('client/unknown-recipient', `${r} is not a child or toy you may send to in this family`);
    const scope = messageScope(scopedContentsOf(family.roster.head), ctx.me.accountId, recipients);
    if (!scope.ok) throw new ClientError('client/unknown-recipient', 'one message goes to one child’s conversation: send to each child separately');
    const key = family.headKeyOf(scope.value);
    if (key === undefined) throw new ClientError('client/no-key', 'this device does not hold the key of that conversation; reload the family and try again');
    const sealed = await sealMessage({
      familyId: family.familyId,
      epoch: family.roster.epoch,
      rosterHead: family.roster.headHash,
      scope: scope.value,
      key,
      sender: ctx.me,
      recipients,
      audio: options.audio,
      audioType: options.audioType,
      durationMs: options.durationMs,
      ...(options.caption === undefined ? {} : { caption: options.caption }),
      createdAt: Date.now(),
    });
    options.onProgress?.(0, sealed.bytes.length);
    try {
      const accepted = await uploadEnvelope(ctx, { familyId: family.familyId, envelope: sealed.bytes, messageId: toBase64Url(sealed.header.messageId) });
      options.onProgress?.(sealed.bytes.length, sealed.bytes.length);
      return { ...accepted, epoch: family.roster.epoch };
    } catch (error) {
      // Another guardian moved the roster on between loading and sending: seal again under the new epoch.
      if (attempt === 0 && error instanceof ApiError && error.code === 'burrow/stale-epoch') continue;
      throw error;
    }
  }
  throw new ClientError('client/roster-busy', 'the family kept changing epochs; try again');
}

/** Uploads a sealed envelope (a member's message or a toy's reply); the server must acknowledge its id. */
export async function uploadEnvelope(ctx: Pick<ClientContext, 'api'>, options: { familyId: string; envelope: Uint8Array; messageId: string }): Promise<Static<typeof MessageAccepted>> {
  assertFamilyId(options.familyId);
  const accepted = await ctx.api.upload(`/v1/families/${options.familyId}/messages`, options.envelope, MessageAccepted);
  if (accepted.messageId !== options.messageId) throw new ClientError('client/message-refused', 'the server acknowledged another message id');
  return accepted;
}

/** One page of messages this account (or toy) may see, newest first. */
export async function listMessages(
  ctx: Pick<ClientContext, 'api'>,
  options: { familyId: string; conversation?: string; before?: string; limit?: number; pendingApproval?: boolean },
): Promise<Static<typeof MessageList>> {
  assertFamilyId(options.familyId);
  const query = new URLSearchParams();
  if (options.before !== undefined) query.set('before', options.before);
  if (options.limit !== undefined) query.set('limit', String(options.limit));
  if (options.conversation !== undefined) query.set('conversation', options.conversation);
  if (options.pendingApproval !== undefined) query.set('pendingApproval', String(options.pendingApproval));
  const suffix = query.size > 0 ? `?${query.toString()}` : '';
  return ctx.api.call('GET', `/v1/families/${options.familyId}/messages${suffix}`, MessageList);
}

/** Every message this account may see in a family, newest first, following the cursor. */
export async function listAllMessages(ctx: ClientContext, options: { familyId: string; conversation?: string; pendingApproval?: boolean }): Promise<MessageViewT[]> {
  const out: MessageViewT[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await listMessages(ctx, { ...options, limit: 100, ...(before === undefined ? {} : { before }) });
    out.push(...page.messages);
    if (page.nextCursor === undefined || page.messages.length === 0) return out;
    before = page.nextCursor;
  }
}

/** What the server knows about one message. */
export async function getMessage(ctx: Pick<ClientContext, 'api'>, options: { familyId: string; messageId: string }): Promise<MessageViewT> {
  return ctx.api.call('GET', messagePath(options.familyId, options.messageId), MessageView);
}

/** The envelope bytes of a message, as uploaded. */
export async function downloadEnvelope(ctx: Pick<ClientContext, 'api'>, options: { familyId: string; messageId: string }): Promise<Uint8Array> {
  return ctx.api.download(`${messagePath(options.familyId, options.messageId)}/envelope`, MAX_ENVELOPE_BYTES);
}

/** Where a listed message stands on approval, or 'unverified' when a signed decision contradicts or outruns this client's roster (opening it says more). */
export type MessageApproval = ApprovalState | { state: 'unverified'; code: string };

/**
 * Where a message stands on approval, without downloading it: whether the head of the verified
 * roster marks its sender as needing approval, and what the relayed approvals and declines, signed
 * by guardians of the head over the message's id and described hash, say (a decline outweighs an
 * approval). The server's `needsApproval` is never read. A hash the server misstates makes every
 * decision fail to verify, so the message shows as waiting; opening it checks the real hash.
 */
export async function approvalStateOf(family: OpenedFamily, view: MessageViewT): Promise<MessageApproval> {
  if (view.senderKind !== 'member' || !needsApprovalAtHead(family.roster, view.senderId)) return { state: 'not-needed' };
  let ids: { messageId: Uint8Array; ciphertextHash: Uint8Array };
  try {
    ids = { messageId: fromBase64Url(view.messageId), ciphertextHash: fromBase64Url(view.ciphertextHash) };
  } catch {
    return { state: 'waiting' };
  }
  const decided = await approvalDecision(family.roster, { ...ids, approvals: decisionsOf(view, view.approvals), declines: decisionsOf(view, view.declines) });
  return decided.ok ? decided.value : { state: 'unverified', code: decided.code };
}

/** A downloaded message: the server's view, the envelope, and the result of verifying and opening it. */
export interface DownloadedMessage {
  view: MessageViewT;
  envelope: Uint8Array;
  opened: CryptoResult<OpenedMessage>;
}

/**
 * Downloads a message and verifies and opens it against the verified roster with the family
 * keys this account holds and the guardians' approvals and declines. `opened.ok` means: signed by a
 * current member allowed, as the head describes them, to address its recipients, not dated beyond
 * the clock skew ahead, decrypted, and approved (not declined) by a guardian of the head where the
 * head requires it — or history: sent by a member or toy since removed, and kept by the entry that
 * removed them (`opened.value.removed` then says which entry, and when). With `openUnapproved` (the
 * sender's or a guardian's app, to listen before a guardian decides), a message waiting for or
 * declined at approval opens too and says so in `opened.value.approval`. Retention is not applied:
 * a member reads history, messages a guardian saved included.
 */
export async function downloadAndOpenMessage(
  ctx: ClientContext,
  options: { familyId: string; messageId: string; family?: OpenedFamily; view?: MessageViewT; openUnapproved?: boolean },
): Promise<DownloadedMessage> {
  let family = options.family ?? (await loadFamily(ctx, options.familyId));
  const view = options.view ?? (await getMessage(ctx, options));
  const envelope = await downloadEnvelope(ctx, options);
  const open = (roster: VerifiedRoster, keyFor: OpenedFamily['keyFor']) => openAndVerifyMessage(envelope, {
    roster,
    keyFor,
    approvals: decisionsOf(view, view.approvals),
    declines: decisionsOf(view, view.declines),
    openUnapproved: options.openUnapproved === true,
    expected: { familyId: family.familyId, messageId: fromBase64Url(options.messageId) },
    age: { now: Date.now() },
    history: true,
  });
  const awaited = heldBack.get(ctx.store)?.get(family.familyId);
  if (awaited !== undefined && family.roster.epoch < awaited) family = await loadFamily(ctx, options.familyId);
  let opened = await open(family.roster, family.keyFor);
  // The sender (or an approving guardian) signed a newer head than this client holds: fetch and
  // verify the roster before judging the message, so a server that withholds an entry (one that
  // removes someone, say) cannot keep this client on the older view.
  if (!opened.ok && opened.code === 'envelope/roster-behind') {
    family = await loadFamily(ctx, options.familyId);
    opened = await open(family.roster, family.keyFor);
  }
  const header = parseEnvelopeHeader(envelope);
  if (!opened.ok && opened.code === 'envelope/roster-behind' && header.ok) {
    // Still withheld: until this device holds that head, nothing from the older view opens.
    const waits = heldBack.get(ctx.store) ?? new Map<string, number>();
    waits.set(family.familyId, Math.max(header.value.epoch, waits.get(family.familyId) ?? 0));
    heldBack.set(ctx.store, waits);
  }
  const awaiting = heldBack.get(ctx.store)?.get(family.familyId);
  if (awaiting !== undefined && family.roster.epoch >= awaiting) heldBack.get(ctx.store)?.delete(family.familyId);
  else if (awaiting !== undefined && opened.ok) opened = { ok: false, code: 'envelope/roster-behind' };
  if (!opened.ok && opened.code === 'envelope/roster-fork') {
    await reportRefusal(ctx.api, { familyId: family.familyId, code: opened.code, ...(header.ok ? { epoch: header.value.epoch } : {}), messageId: options.messageId });
  } else if (!opened.ok) {
    await reportOnce(ctx, family.familyId, options.messageId, opened.code);
  }
  return { view, envelope, opened };
}

/**
 * Refusals a member's client reports: only those an honest family never causes. A member reads
 * history, where messages of removed or since-narrowed relatives and epochs before they joined are
 * refused as a matter of course; the toy, which sees each message once, reports those.
 */
const REPORTED_BY_MEMBERS = new Set(['envelope/malformed', 'envelope/unsupported-version', 'envelope/wrong-family', 'envelope/id-mismatch', 'envelope/sender-not-member', 'envelope/bad-signature', 'envelope/decrypt-failed', 'envelope/from-the-future']);
const reported = new WeakMap<ClientContext, Set<string>>();

/** Reports a refusal to the family security log once per message and client context (best effort). */
async function reportOnce(ctx: ClientContext, familyId: string, messageId: string, code: string): Promise<void> {
  if (!REPORTED_BY_MEMBERS.has(code)) return;
  const seen = reported.get(ctx) ?? new Set<string>();
  reported.set(ctx, seen);
  if (seen.has(messageId)) return;
  seen.add(messageId);
  await reportRefusal(ctx.api, { familyId, code, messageId });
}

/**
 * Signs a guardian's decision on a relative's message and sends it. First opens the message with
 * this guardian's own decision, so a guardian only ever decides on a message that verifies, whose
 * sender the head marks as needing approval, and whose ciphertext hash the server reported
 * truthfully (the signature covers that hash); returns what was decided on.
 */
async function decide(ctx: ClientContext, kind: 'approvals' | 'declines', options: { familyId: string; messageId: string }): Promise<OpenedMessage> {
  const verb = kind === 'approvals' ? 'approved' : 'declined';
  const family = await loadFamily(ctx, options.familyId);
  if (family.self.role !== 'guardian') throw new ClientError('client/not-a-guardian', `only a guardian can ${kind === 'approvals' ? 'approve' : 'decline'} a message`);
  const view = await getMessage(ctx, options);
  const sign = kind === 'approvals' ? signApproval : signDecline;
  const decision = await sign({
    guardian: ctx.me,
    familyId: family.familyId,
    messageId: fromBase64Url(view.messageId),
    ciphertextHash: fromBase64Url(view.ciphertextHash),
    rosterEpoch: family.roster.epoch,
    rosterHead: family.roster.headHash,
  });
  const envelope = await downloadEnvelope(ctx, options);
  const opened = await openAndVerifyMessage(envelope, {
    roster: family.roster,
    keyFor: family.keyFor,
    ...(kind === 'approvals' ? { approvals: [decision] } : { declines: [decision], openUnapproved: true }),
    expected: { familyId: family.familyId, messageId: fromBase64Url(options.messageId) },
    age: { now: Date.now() },
  });
  if (!opened.ok) throw new ClientError('client/message-refused', `the message does not verify, so it was not ${verb} (${opened.code})`);
  if (opened.value.approval.state === 'not-needed') throw new ClientError('client/no-approval-needed', `its sender's messages need no approval, so it was not ${verb}`);
  await ctx.api.call('POST', `${messagePath(options.familyId, options.messageId)}/${kind}`, undefined, {
    signature: toBase64Url(decision.signature),
    rosterEpoch: decision.rosterEpoch,
    rosterHead: toBase64Url(decision.rosterHead),
  });
  return opened.value;
}

/**
 * Approves a relative's message as a guardian (signed, `burrow/approval/v2`), after checking it
 * verifies (see `decide`); returns what was approved. Toys play it from then on.
 */
export function approveMessage(ctx: ClientContext, options: { familyId: string; messageId: string }): Promise<OpenedMessage> {
  return decide(ctx, 'approvals', options);
}

/**
 * Declines a relative's message as a guardian (signed, `burrow/decline/v1`), after checking it
 * verifies (see `decide`); returns what was declined. No toy plays it, whatever approval the server
 * relays beside the decline; the server hides it from toys and other relatives, and its sender
 * sees who declined it.
 */
export function declineMessage(ctx: ClientContext, options: { familyId: string; messageId: string }): Promise<OpenedMessage> {
  return decide(ctx, 'declines', options);
}

/** Records, signed by this account at its verified head, that it received or played a message. */
export async function markReceipt(ctx: ClientContext, options: { familyId: string; messageId: string; kind: 'delivered' | 'played'; family?: OpenedFamily }): Promise<void> {
  const family = options.family ?? (await loadFamily(ctx, options.familyId));
  assertMessageId(options.messageId);
  await sendReceipt(ctx.api, { signer: { id: ctx.me.accountId, identity: ctx.me.identity }, roster: family.roster, messageId: options.messageId, kind: options.kind, at: Date.now() });
}

/** Saves a message (exempt from retention) or unsaves it. */
export async function saveMessage(ctx: ClientContext, options: { familyId: string; messageId: string; saved: boolean }): Promise<void> {
  await ctx.api.call('PUT', `${messagePath(options.familyId, options.messageId)}/saved`, undefined, { saved: options.saved });
}

/** Deletes a message (its sender or a guardian). */
export async function deleteMessage(ctx: ClientContext, options: { familyId: string; messageId: string }): Promise<void> {
  await ctx.api.call('DELETE', messagePath(options.familyId, options.messageId), undefined);
}
