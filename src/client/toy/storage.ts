/**
 * What a toy keeps (its trust, the inbox of messages it handled, their envelopes, the outbox of
 * replies), and where: a `ToyStorage` the shell provides (the reference toy's state directory,
 * the virtual toy's IndexedDB), or `MemoryToyStorage`. Everything in it is secret.
 */
import type { MessageViewT } from '../messages.js';
import type { ToyTrust } from './trust.js';

/** What the toy remembers of one message. */
export interface InboxRecord {
  messageId: string;
  /** As the server listed it: for the log only. */
  senderId: string;
  /** As the server listed it: the order messages are tried in, nothing more. */
  receivedAt: number;
  /** When this toy first saw the message listed, by its own clock. */
  seenAt: number;
  /** The signed creation time, once the envelope verified: retention counts from it. */
  createdAt?: number;
  /** The envelope was deleted because the signed retention passed; the id is still remembered. */
  envelopeDeleted?: true;
  /** played: done; refused: never plays (reason); waiting: quiet hours or approval, tried again later. */
  status: 'played' | 'refused' | 'waiting' | 'own';
  reason?: string;
  /** For `waiting` in quiet hours: not before this time. */
  notBefore?: number;
  /** As the server described it: what the relayed approvals and declines are checked against (they sign it). */
  ciphertextHash: string;
  approvals: MessageViewT['approvals'];
  /** Guardians' signed declines as relayed: a valid one refuses the message ('envelope/declined'). */
  declines?: MessageViewT['approvals'];
  delivered?: boolean;
  playedReceipt?: boolean;
  /** A wait the family was told of (reported to the security log once, best effort). */
  reported?: boolean;
}

/** A reply waiting to be sent, in order. The message id is fixed at recording, so a retry is deduplicated. */
export interface OutboxItem {
  seq: number;
  messageId: string;
  createdAt: number;
  audioType: string;
  durationMs: number;
  audio: Uint8Array;
  /** The envelope sealed for `epoch`; sealed again (same id) if the family moved on. */
  epoch?: number;
  envelope?: Uint8Array;
}

/** Writes one envelope as it arrives, piece by piece; nothing is stored until `commit`. */
export interface EnvelopeWriter {
  write(piece: Uint8Array): Promise<void>;
  /** Stores what was written as the message's envelope (replacing any before). */
  commit(): Promise<void>;
  /** Drops what was written. */
  discard(): Promise<void>;
}

/** Where a toy keeps its state. Everything in it is secret (keys, envelopes, audio). */
export interface ToyStorage {
  loadTrust(): Promise<ToyTrust | undefined>;
  saveTrust(trust: ToyTrust): Promise<void>;
  loadInbox(): Promise<Record<string, InboxRecord>>;
  saveInbox(inbox: Record<string, InboxRecord>): Promise<void>;
  saveEnvelope(messageId: string, envelope: Uint8Array): Promise<void>;
  loadEnvelope(messageId: string): Promise<Uint8Array | undefined>;
  deleteEnvelope(messageId: string): Promise<void>;
  /**
   * Writes an envelope piece by piece as it downloads, for a device that must not hold one whole
   * (the reference toy's state directory). Without it, the runtime joins the pieces and calls
   * `saveEnvelope` once they are all there.
   */
  envelopeWriter?(messageId: string): Promise<EnvelopeWriter>;
  /** The stored envelope piece by piece, or undefined when none is stored. Without it, `loadEnvelope`'s bytes in one piece. */
  readEnvelope?(messageId: string): Promise<AsyncIterable<Uint8Array> | undefined>;
  /** Queued replies, oldest (lowest seq) first. */
  loadOutbox(): Promise<OutboxItem[]>;
  putOutbox(item: OutboxItem): Promise<void>;
  removeOutbox(messageId: string): Promise<void>;
}

/** `storage`'s envelope writer, or one that joins the pieces and saves them whole on `commit`. */
export async function envelopeWriterOf(storage: ToyStorage, messageId: string): Promise<EnvelopeWriter> {
  if (storage.envelopeWriter !== undefined) return storage.envelopeWriter(messageId);
  let pieces: Uint8Array[] = [];
  return {
    write(piece) {
      pieces.push(piece.slice());
      return Promise.resolve();
    },
    async commit() {
      const whole = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const piece of pieces) {
        whole.set(piece, at);
        at += piece.length;
      }
      pieces = [];
      await storage.saveEnvelope(messageId, whole);
    },
    discard() {
      pieces = [];
      return Promise.resolve();
    },
  };
}

/** The stored envelope of `messageId` piece by piece (by `storage.readEnvelope`, else whole), or undefined when none is stored. */
export async function envelopeReaderOf(storage: ToyStorage, messageId: string): Promise<AsyncIterable<Uint8Array> | undefined> {
  if (storage.readEnvelope !== undefined) return storage.readEnvelope(messageId);
  const envelope = await storage.loadEnvelope(messageId);
  if (envelope === undefined) return undefined;
  return {
    async *[Symbol.asyncIterator]() {
      yield envelope;
    },
  };
}

/** A new record for a listed message; `seenAt` is the toy's clock, the rest the server's description. */
export function recordOf(view: MessageViewT, seenAt: number): InboxRecord {
  return {
    messageId: view.messageId,
    senderId: view.senderId,
    receivedAt: view.receivedAt,
    seenAt,
    status: 'waiting',
    ciphertextHash: view.ciphertextHash,
    approvals: view.approvals,
    declines: view.declines,
  };
}

/** A `ToyStorage` that lives as long as the page or process (tests; a web toy may persist it itself). */
export class MemoryToyStorage implements ToyStorage {
  #trust: ToyTrust | undefined;
  #inbox: Record<string, InboxRecord> = {};
  readonly #envelopes = new Map<string, Uint8Array>();
  readonly #outbox = new Map<string, OutboxItem>();

  loadTrust(): Promise<ToyTrust | undefined> {
    return Promise.resolve(this.#trust === undefined ? undefined : structuredClone(this.#trust));
  }
  saveTrust(trust: ToyTrust): Promise<void> {
    this.#trust = structuredClone(trust);
    return Promise.resolve();
  }
  loadInbox(): Promise<Record<string, InboxRecord>> {
    return Promise.resolve(structuredClone(this.#inbox));
  }
  saveInbox(inbox: Record<string, InboxRecord>): Promise<void> {
    this.#inbox = structuredClone(inbox);
    return Promise.resolve();
  }
  saveEnvelope(messageId: string, envelope: Uint8Array): Promise<void> {
    this.#envelopes.set(messageId, envelope.slice());
    return Promise.resolve();
  }
  loadEnvelope(messageId: string): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.#envelopes.get(messageId)?.slice());
  }
  deleteEnvelope(messageId: string): Promise<void> {
    this.#envelopes.delete(messageId);
    return Promise.resolve();
  }
  loadOutbox(): Promise<OutboxItem[]> {
    return Promise.resolve([...this.#outbox.values()].map((item) => structuredClone(item)).sort((a, b) => a.seq - b.seq));
  }
  putOutbox(item: OutboxItem): Promise<void> {
    this.#outbox.set(item.messageId, structuredClone(item));
    return Promise.resolve();
  }
  removeOutbox(messageId: string): Promise<void> {
    this.#outbox.delete(messageId);
    return Promise.resolve();
  }
}
