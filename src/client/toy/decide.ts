/**
 * The toy's decision on one message, pure: play, wait, or refuse with a reason code. It rests only
 * on the toy's verified family and its own clock; of what the server says, only the listed id
 * (which the envelope must carry) and the relayed approvals and declines (which must verify) count.
 */
import { fromBase64Url } from '../../crypto/bytes.js';
import { MESSAGE_ID_LENGTH, openAndVerifyMessage, parseEnvelopeHeader, type OpenedMessage, type OpenOptions } from '../../crypto/envelope.js';
import { checkAudio, isAudioFormat } from '../../protocol/audio-formats.js';
import { decisionsOf, type MessageViewT } from '../messages.js';
import { quietUntil } from '../quiet-hours.js';
import type { ToyFamily } from './trust.js';

type WireApproval = MessageViewT['approvals'][number];

/** Of a listed message, what the toy reads: the id (which the envelope must carry) and the relayed decisions (which must verify). */
export type ToyMessageView = { messageId: string; ciphertextHash: string; approvals: readonly WireApproval[]; declines?: readonly WireApproval[] };

/** Why a toy did not play a message. Envelope codes come from `openAndVerifyMessage`. */
export type ToyRefusalCode =
  | 'toy/not-for-this-toy'
  | 'toy/own-message'
  | 'toy/withdrawn'
  | 'toy/download-failed'
  | 'toy/toy-to-toy-off'
  | 'toy/audio-format'
  | 'envelope/malformed'
  | 'envelope/unsupported-version'
  | 'envelope/wrong-family'
  | 'envelope/id-mismatch'
  | 'envelope/unknown-epoch'
  | 'envelope/sender-not-member'
  | 'envelope/sender-removed'
  | 'envelope/recipient-not-allowed'
  | 'envelope/bad-signature'
  | 'envelope/no-key'
  | 'envelope/decrypt-failed'
  | 'envelope/needs-approval'
  | 'envelope/declined'
  | 'envelope/roster-fork'
  | 'envelope/expired'
  | 'envelope/from-the-future'
  | (string & {});

export type ToyDecision =
  | { action: 'play'; message: OpenedMessage; volume: number }
  | { action: 'wait'; reason: 'toy/quiet-hours'; notBefore: number; createdAt: number }
  | { action: 'wait'; reason: 'envelope/needs-approval' }
  | { action: 'wait'; reason: 'envelope/roster-behind' }
  | { action: 'wait'; reason: 'envelope/no-key' }
  | { action: 'refuse'; reason: ToyRefusalCode };

/** Whether `recipients` (signed by the sender) address this toy's child or the toy itself. */
export function addressedTo(family: ToyFamily, recipients: readonly string[]): boolean {
  return recipients.some((r) => r === family.childId || r === family.toyId);
}

/**
 * Decides whether the toy plays an envelope listed under `view.messageId`: verified against the
 * head of the toy's roster with the toy's clock `now` (signed retention, clock skew), addressed to
 * its child or itself and not by itself, not in quiet hours. Of `view`, only the id (which the
 * envelope must carry) and the approvals and declines (which must verify) count: a message a
 * guardian of the head declined is refused ('envelope/declined') whatever approval comes with it;
 * audio that is not Opus in Ogg or 16-bit PCM WAV, as its sealed type says, is refused ('toy/audio-format').
 * Never throws on a bad envelope.
 */
export async function decideMessage(
  family: ToyFamily,
  input: { envelope: Uint8Array; view: ToyMessageView; now: number },
): Promise<ToyDecision> {
  const { view } = input;
  let messageId: Uint8Array;
  try {
    messageId = fromBase64Url(view.messageId);
  } catch {
    return { action: 'refuse', reason: 'envelope/id-mismatch' };
  }
  if (messageId.length !== MESSAGE_ID_LENGTH) return { action: 'refuse', reason: 'envelope/id-mismatch' };
  const opened = await openAndVerifyMessage(input.envelope, toyOpenOptions(family, view, messageId, input.now));
  if (!opened.ok) {
    const refused = failedOpening(opened.code);
    if (opened.code === 'envelope/no-key') {
      // The header's signature verified before the key was needed, so its recipients are the sender's.
      const header = parseEnvelopeHeader(input.envelope);
      if (!header.ok || !addressedTo(family, header.value.recipients)) return { action: 'refuse', reason: 'toy/not-for-this-toy' };
    }
    return refused;
  }
  return afterOpening(family, opened.value, input.now) ?? { action: 'play', message: opened.value, volume: family.settings.volumeLimit };
}

/** How a toy opens a message listed under `view`: its head, keys and clock, and the relayed decisions over the listed id. */
export function toyOpenOptions(family: ToyFamily, view: ToyMessageView, messageId: Uint8Array, now: number): OpenOptions {
  return {
    roster: family.roster,
    keyFor: family.keyFor,
    approvals: decisionsOf(view, view.approvals),
    declines: decisionsOf(view, view.declines),
    expected: { familyId: family.familyId, messageId },
    age: { now, retentionDays: family.settings.retentionDays },
  };
}

/** What a toy does with a message that did not open: wait for what may still come, else refuse with its code. */
export function failedOpening(code: string): Exclude<ToyDecision, { action: 'play' }> {
  if (code === 'envelope/needs-approval') return { action: 'wait', reason: 'envelope/needs-approval' };
  // Signed by someone who holds a newer roster head: nothing plays until the toy holds it too.
  if (code === 'envelope/roster-behind') return { action: 'wait', reason: 'envelope/roster-behind' };
  // Signed by a member the toy knows, in an epoch whose key the toy was not (yet) given — one from
  // before it was paired, whose key a guardian's device wraps to it: it waits for the key.
  if (code === 'envelope/no-key') return { action: 'wait', reason: 'envelope/no-key' };
  return { action: 'refuse', reason: code };
}

/**
 * The toy's own checks on a verified message, before it plays: addressed to its child or itself,
 * not its own reply, a sibling toy's only where toy-to-toy is allowed, in a format a toy plays, not
 * in quiet hours.
 * Undefined when it may play.
 */
export function afterOpening(family: ToyFamily, message: Pick<OpenedMessage, 'header' | 'sender' | 'audioType'> & { audio?: Uint8Array }, now: number): Exclude<ToyDecision, { action: 'play' }> | undefined {
  if (!addressedTo(family, message.header.recipients)) return { action: 'refuse', reason: 'toy/not-for-this-toy' };
  // The toy's own reply, listed under another sender's name: never played back to the child.
  if (message.sender.kind === 'toy' && message.sender.id === family.toyId) return { action: 'refuse', reason: 'toy/own-message' };
  // A sibling toy's reply (to the child it shares) plays only where the signed settings allow toy-to-toy.
  if (message.sender.kind === 'toy' && message.sender.id !== family.toyId && family.roster.settings.toyToToy !== true) return { action: 'refuse', reason: 'toy/toy-to-toy-off' };
  // A toy plays Opus in Ogg or 16-bit PCM WAV and nothing else, whatever its sender sealed: the
  // bytes are checked where the whole message is at hand, the sealed type while it streams.
  if (message.audio !== undefined ? !checkAudio(message.audioType, message.audio).ok : !isAudioFormat(message.audioType)) return { action: 'refuse', reason: 'toy/audio-format' };
  const until = quietUntil(family.settings, now);
  if (until !== undefined) return { action: 'wait', reason: 'toy/quiet-hours', notBefore: until, createdAt: message.header.createdAt };
  return undefined;
}

/**
 * Whether a refusal goes to the family security log: everything the server delivered that the toy
 * must not play, but not its own reply, a message a guardian deleted, or a failed download.
 */
export function reportable(reason: string): boolean {
  return reason !== 'toy/own-message' && reason !== 'toy/withdrawn' && reason !== 'toy/download-failed';
}
