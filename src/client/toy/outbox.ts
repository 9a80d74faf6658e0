/**
 * The toy's replies: sealed at recording under the newest epoch it verified, with a message id
 * fixed from then on, queued in its storage, and sent in order, each once. A reply recorded offline
 * waits; one whose epoch the family left is sealed again under the same id, so an upload that did
 * arrive earlier counts as sent (the server answers conflict) and none is sent twice.
 */
import { fromBase64Url, randomBytes, toBase64Url } from '../../crypto/bytes.js';
import { MESSAGE_ID_LENGTH, sealMessage } from '../../crypto/envelope.js';
import { ApiError, type BurrowApi } from '../api.js';
import { assertSendableAudio } from '../audio/sendable-audio.js';
import { ClientError } from '../client-error.js';
import { uploadEnvelope } from '../messages.js';
import type { OutboxItem, ToyStorage } from './storage.js';
import type { ToyDevice, ToyFamily } from './trust.js';

/** What the outbox needs of the runtime around it. */
export interface OutboxContext {
  api: BurrowApi;
  device: ToyDevice;
  storage: Pick<ToyStorage, 'loadOutbox' | 'putOutbox' | 'removeOutbox'>;
  log: (entry: { event: 'reply-queued'; messageId: string } | { event: 'reply-sent'; messageId: string; duplicate?: boolean }) => void;
  /** The family as verified now (loaded when there is none yet). */
  family: () => Promise<ToyFamily>;
  /** The family verified again (the server says it moved to another epoch). */
  refresh: () => Promise<ToyFamily>;
  /** The server answered an upload. */
  reached: () => void;
}

/** Seals a reply from the toy into its child's conversation, under that conversation's key at the head. */
export async function sealToyReply(
  family: ToyFamily,
  device: ToyDevice,
  input: { audio: Uint8Array; audioType: string; durationMs: number; messageId: Uint8Array; createdAt: number },
): Promise<{ envelope: Uint8Array; epoch: number }> {
  const sealed = await sealMessage({
    familyId: family.familyId,
    epoch: family.roster.epoch,
    rosterHead: family.roster.headHash,
    scope: family.childId,
    key: family.headKey,
    sender: { toyId: device.toyId, identity: device.identity },
    recipients: [family.childId],
    audio: input.audio,
    audioType: input.audioType,
    durationMs: input.durationMs,
    messageId: input.messageId,
    createdAt: input.createdAt,
  });
  return { envelope: sealed.bytes, epoch: family.roster.epoch };
}

/**
 * Seals a reply now (a fresh message id, created at `now`) and puts it at the end of the queue;
 * returns its id. The audio must be Opus in Ogg or 16-bit PCM WAV ('client/audio-format').
 */
export async function queueReply(ctx: OutboxContext, family: ToyFamily, input: { audio: Uint8Array; audioType: string; durationMs: number }, now: number): Promise<string> {
  assertSendableAudio(input.audioType, input.audio);
  const outbox = await ctx.storage.loadOutbox();
  const seq = outbox.reduce((max, item) => Math.max(max, item.seq), 0) + 1;
  const messageId = randomBytes(MESSAGE_ID_LENGTH);
  const sealed = await sealToyReply(family, ctx.device, { ...input, messageId, createdAt: now });
  const id = toBase64Url(messageId);
  await ctx.storage.putOutbox({ seq, messageId: id, createdAt: now, audioType: input.audioType, durationMs: input.durationMs, audio: input.audio, epoch: sealed.epoch, envelope: sealed.envelope });
  ctx.log({ event: 'reply-queued', messageId: id });
  return id;
}

/**
 * Sends queued replies in order, each once, removing each the server took. Stops at the first that
 * cannot be sent because the server is out of reach (`offline`): it and the rest stay queued (`left`).
 */
export async function sendQueued(ctx: OutboxContext, isOffline: (error: unknown) => boolean): Promise<{ left: string[]; offline: boolean }> {
  const outbox = await ctx.storage.loadOutbox();
  for (let i = 0; i < outbox.length; i++) {
    const item = outbox[i]!;
    try {
      await send(ctx, item);
    } catch (error) {
      if (isOffline(error)) return { left: outbox.slice(i).map((o) => o.messageId), offline: true };
      throw error;
    }
    await ctx.storage.removeOutbox(item.messageId);
  }
  return { left: [], offline: false };
}

async function send(ctx: OutboxContext, item: OutboxItem): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const family = attempt === 0 ? await ctx.family() : await ctx.refresh();
    if (item.envelope === undefined || item.epoch !== family.roster.epoch) {
      // Sealed again under the current epoch with the same message id: if an earlier upload did
      // arrive, the server answers conflict and this one counts as sent.
      const sealed = await sealToyReply(family, ctx.device, { audio: item.audio, audioType: item.audioType, durationMs: item.durationMs, messageId: fromBase64Url(item.messageId), createdAt: item.createdAt });
      item.envelope = sealed.envelope;
      item.epoch = sealed.epoch;
      await ctx.storage.putOutbox(item);
    }
    try {
      await uploadEnvelope(ctx, { familyId: family.familyId, envelope: item.envelope, messageId: item.messageId });
      ctx.reached();
      ctx.log({ event: 'reply-sent', messageId: item.messageId });
      return;
    } catch (error) {
      if (error instanceof ApiError && error.code === 'burrow/conflict') {
        // The id exists: an earlier attempt whose answer was lost got through.
        ctx.reached();
        ctx.log({ event: 'reply-sent', messageId: item.messageId, duplicate: true });
        return;
      }
      if (error instanceof ApiError && error.code === 'burrow/stale-epoch') continue;
      throw error;
    }
  }
  throw new ClientError('client/roster-busy', 'the family kept changing epochs; the reply stays queued');
}
