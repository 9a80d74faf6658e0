/**
 * Messages recorded while offline: kept on this device (sealed under the device key, like every
 * other record) and sent when the connection returns. A queued recording is sealed and signed only
 * when it is sent, against the family's roster as it is then (a head that changed meanwhile — a
 * member removed, a new epoch — is the one the message is sealed for), and with the time it was
 * sent, so a toy's freshness check sees a fresh message.
 */
import { NetworkError, sendMessage } from '../../client/index.js';
import { fromBase64Url, toBase64Url } from '../../crypto/index.js';
import { deleteRecord, getSealedRecord, putSealedRecord, recordNames } from '../lib/browser-stores.js';
import { isOnline, onConnectivity } from '../lib/offline.js';
import type { SignedIn } from './session.js';

const PREFIX = 'outbox:';

/** A recording waiting to be sent. */
export interface QueuedMessage {
  id: string;
  familyId: string;
  to: string;
  audioType: string;
  durationMs: number;
  recordedAt: number;
  /** Set when the server refused it (not a network failure): it stays until the person throws it away. */
  failed?: string;
}

interface Stored extends QueuedMessage {
  audio: string;
}

type Listener = () => void;
const listeners = new Set<Listener>();
function changed(): void {
  for (const listener of listeners) listener();
}

/** Hears the outbox change (queued, sent, failed); returns the unsubscribe function. */
export function onOutbox(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Keeps a recording to send later. */
export async function queueMessage(message: { familyId: string; to: string; audio: Uint8Array; audioType: string; durationMs: number }): Promise<QueuedMessage> {
  const id = toBase64Url(crypto.getRandomValues(new Uint8Array(12)));
  const queued: QueuedMessage = { id, familyId: message.familyId, to: message.to, audioType: message.audioType, durationMs: message.durationMs, recordedAt: Date.now() };
  await putSealedRecord(PREFIX + id, { ...queued, audio: toBase64Url(message.audio) } satisfies Stored);
  changed();
  return queued;
}

/** The recordings waiting, oldest first (without their audio). */
export async function queuedMessages(filter?: { familyId: string; to: string }): Promise<QueuedMessage[]> {
  const out: QueuedMessage[] = [];
  for (const name of await recordNames(PREFIX)) {
    const stored = await getSealedRecord<Stored>(name);
    if (stored === undefined) continue;
    if (filter !== undefined && (stored.familyId !== filter.familyId || stored.to !== filter.to)) continue;
    const { audio: _audio, ...queued } = stored;
    out.push(queued);
  }
  return out.sort((a, b) => a.recordedAt - b.recordedAt);
}

/** Throws a waiting recording away. */
export async function discardQueued(id: string): Promise<void> {
  await deleteRecord(PREFIX + id);
  changed();
}

let flushing: Promise<number> | undefined;

/**
 * Sends what waits, oldest first; stops at the first network failure (still offline). A refusal by
 * the server marks that recording failed and goes on. Resolves with how many were sent.
 */
export function flushOutbox(who: SignedIn): Promise<number> {
  flushing ??= (async () => {
    let sent = 0;
    try {
      for (const name of await recordNames(PREFIX)) {
        const stored = await getSealedRecord<Stored>(name);
        if (stored === undefined || stored.failed !== undefined) continue;
        try {
          await sendMessage(who.ctx, { familyId: stored.familyId, to: stored.to, audio: fromBase64Url(stored.audio), audioType: stored.audioType, durationMs: stored.durationMs });
          await deleteRecord(name);
          sent++;
        } catch (error) {
          if (error instanceof NetworkError) break;
          await putSealedRecord(name, { ...stored, failed: error instanceof Error ? error.message : 'refused' } satisfies Stored);
        }
        changed();
      }
    } finally {
      flushing = undefined;
    }
    return sent;
  })();
  return flushing;
}

/**
 * Sends the outbox now and whenever the connection comes back (and every 30 s while something
 * waits, for a network that returns without telling). Returns the stop function.
 */
export function keepFlushing(who: SignedIn): () => void {
  const flush = (): void => {
    if (isOnline()) void flushOutbox(who).catch(() => undefined);
  };
  const stop = onConnectivity((online) => {
    if (online) flush();
  });
  const timer = setInterval(() => {
    void queuedMessages()
      .then((waiting) => {
        if (waiting.some((m) => m.failed === undefined)) void flushOutbox(who).catch(() => undefined);
      })
      .catch(() => undefined);
  }, 30_000);
  return () => {
    stop();
    clearInterval(timer);
  };
}
