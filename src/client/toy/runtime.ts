/**
 * The toy's runtime: one family, one inbox, one outbox, and what to do on each event. The
 * reference toy (`burrow toy`, src/cli/toy-commands.ts) and the web virtual toy
 * (src/web/toy/virtual-toy.ts) are shells around it: they give it storage, a speaker and a log,
 * and hand it the events they hear (live events, or a poll).
 *
 *   const runtime = new ToyRuntime({ api, device, storage, play, log, chime });
 *   await runtime.start();                      // verify the family (online, else from the stored chain)
 *   runtime.useLive(await connectLive({ … }));  // receipts over the live channel while it is ready
 *   await runtime.handle({ event: 'message' }); // a live event: play due, new and waiting messages
 *   await runtime.reply({ audio, audioType, durationMs });  // seal, queue, send in order
 *   await runtime.flush();                      // send queued replies (after a reconnect)
 *
 * Trust is src/client/toy/trust.ts, the decision on each message src/client/toy/decide.ts, the
 * replies src/client/toy/outbox.ts; this file orchestrates them over the inbox.
 *
 * Replay: the toy remembers every message id it handled until the signed createdAt (or, for one that
 * never verified, when the toy first saw it) plus the longest signed retention in its chain has
 * passed by its own clock, and refuses any message older than the head's retention, so a message
 * it forgot can never play again. No server-sent field (expiry, list order, hash, recipients)
 * decides what plays or when the toy forgets.
 *
 * Head commitments: before anything plays, a message or approval signed at a newer roster head than
 * the toy's makes it fetch the roster, and while that head stays out of reach nothing plays
 * ('envelope/roster-behind'); a message committing to another entry than the toy holds is refused
 * 'envelope/roster-fork' and reported to the family security log. Receipts are signed by the toy.
 */
import type { LiveEventType } from '../../protocol/live.js';
import { ApiError, NetworkError, type BurrowApi } from '../api.js';
import { ClientError } from '../client-error.js';
import type { LiveConnection } from '../live.js';
import { getMessage, listMessages, type MessageViewT } from '../messages.js';
import { quietLabel, quietUntil } from '../quiet-hours.js';
import { sendReceipt } from '../receipts.js';
import { reportRefusal } from '../refusal-report.js';
import { reportable } from './decide.js';
import { EnvelopeRead } from './envelope-read.js';
import { queueReply, sendQueued, type OutboxContext } from './outbox.js';
import { recordOf, type InboxRecord, type ToyStorage } from './storage.js';
import { openToyStream, type StreamedMessage, type ToyStreamDecision } from './stream-play.js';
import { KeyRefusedError, loadToyFamily, loadToyFamilyOffline, type ToyDevice, type ToyFamily, type ToyTrust } from './trust.js';

const DAY = 24 * 3600_000;

/** Waiting reasons whose messages are read again from the server on every sync. */
const REREAD = new Set(['envelope/needs-approval', 'envelope/roster-behind', 'envelope/no-key']);

/** One line for the toy's log: ids, epochs and codes; never content, keys or tokens. */
export type ToyLogEntry =
  | { event: 'family'; epoch: number; volumeLimit: number; quietHours: string | null; offline?: boolean }
  | { event: 'chime'; volume: number }
  | { event: 'roster-refused'; reason: string }
  | { event: 'key-refused'; epoch: number; reason: string }
  | { event: 'played'; messageId: string; senderId: string; volume: number; durationMs: number; heldBytes: number }
  | { event: 'refused'; messageId: string; senderId: string; reason: string }
  | { event: 'waiting'; messageId: string; reason: string; notBefore?: number }
  | { event: 'reply-queued'; messageId: string }
  | { event: 'reply-sent'; messageId: string; duplicate?: boolean }
  | { event: 'offline'; detail: string };

/** What a shell hands the runtime: a live event's type, or `poll` (a shell without the live channel asking for news). */
export interface ToyEvent {
  event: LiveEventType | 'poll';
}

/** What came of an event: how many messages played, and whether the toy must stop (its family was deleted). */
export interface ToyEventResult {
  played: number;
  ended?: 'family-deleted';
}

/** True for failures that mean "the server is not reachable right now" (retry later). */
export function isOffline(error: unknown): boolean {
  return error instanceof NetworkError || (error instanceof ApiError && (error.status >= 500 || error.status === 429));
}

/** True when the device token stopped working: the toy was removed or reset. */
export function isTokenDead(error: unknown): boolean {
  return error instanceof ApiError && error.status === 401;
}

/** True when the toy must stop until paired again: its token is dead, or its signed roster no longer holds it. */
export function isToyGone(error: unknown): boolean {
  return isTokenDead(error) || (error instanceof ClientError && error.code === 'client/toy-removed');
}

/** Thrown by `PlayingMessage.audio` when a chunk fails after playing began: stop at once; the message does not count as played. */
export class AudioStreamBroken extends Error {
  constructor(readonly code: string) {
    super(`the message stopped verifying part-way (${code})`);
    this.name = 'AudioStreamBroken';
  }
}

/** A verified message as the player gets it: its metadata, and its audio as each piece verifies. */
export interface PlayingMessage extends StreamedMessage {
  /**
   * The audio, read once, piece by piece (at most one chunk, 64 KiB, each): a piece is released
   * only once its chunk's committed hash and tag passed, so a player that writes each piece out as
   * it comes plays while the message downloads. It throws `AudioStreamBroken` when a later chunk
   * fails (the player stops; the toy refuses the message) and the download's error when the
   * connection breaks (the message is tried again later). A player that needs a whole file collects
   * it, on disk or in memory (see docs/protocol.md, "Playing while downloading").
   */
  audio: AsyncIterable<Uint8Array>;
}

export interface ToyRuntimeOptions {
  api: BurrowApi;
  device: ToyDevice;
  storage: ToyStorage;
  /**
   * Plays one message, called once it verified and before its first audio byte; resolves when the
   * player is done. A player that stops reading early still has the rest verified and stored.
   */
  play: (message: PlayingMessage, options: { volume: number; messageId: string; receivedAt: number }) => Promise<void>;
  log?: (entry: ToyLogEntry) => void;
  /**
   * Plays the toy's chime at `volume`: when a guardian changed the signed volume limit (not at
   * start-up) and it is not quiet time, so the family hears how loud the toy now is.
   */
  chime?: (volume: number) => void;
  now?: () => number;
}

/** A toy's runtime: one family, one inbox, one outbox. Calls are serialised internally. */
export class ToyRuntime {
  readonly #api: BurrowApi;
  readonly #device: ToyDevice;
  readonly #storage: ToyStorage;
  readonly #play: ToyRuntimeOptions['play'];
  readonly #log: (entry: ToyLogEntry) => void;
  readonly #chime: (volume: number) => void;
  readonly #now: () => number;
  readonly #outbox: OutboxContext;
  #family: ToyFamily | undefined;
  #online = false;
  #live: Pick<LiveConnection, 'sendReceipt'> | undefined;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(options: ToyRuntimeOptions) {
    this.#api = options.api;
    this.#device = options.device;
    this.#storage = options.storage;
    this.#play = options.play;
    this.#log = options.log ?? (() => undefined);
    this.#chime = options.chime ?? (() => undefined);
    this.#now = options.now ?? Date.now;
    this.#outbox = {
      api: this.#api,
      device: this.#device,
      storage: this.#storage,
      log: (entry) => this.#log(entry),
      family: async () => this.#family ?? (await this.#refresh()),
      refresh: () => this.#refresh(),
      reached: () => {
        this.#online = true;
      },
    };
  }

  /** The family as last verified, if any. */
  get family(): ToyFamily | undefined {
    return this.#family;
  }

  /** Whether the last call reached the server. */
  get online(): boolean {
    return this.#online;
  }

  /**
   * The live connection the shell holds for this toy: its receipts go over it while it is open and
   * ready, over HTTP otherwise (`sendReceipt`). `undefined` when the shell lets it go.
   */
  useLive(live: Pick<LiveConnection, 'sendReceipt'> | undefined): void {
    this.#live = live;
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(task, task);
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /** Verifies the family: online if the server answers, else from the stored chain. Throws `client/toy-removed` when removed. */
  start(): Promise<ToyFamily> {
    return this.#serial(async () => {
      try {
        return await this.#refresh();
      } catch (error) {
        if (!isOffline(error)) throw error;
        this.#online = false;
        this.#log({ event: 'offline', detail: 'the server cannot be reached; using the stored roster' });
        const trust = await this.#trust();
        this.#family = await loadToyFamilyOffline(this.#device, trust);
        this.#log({ event: 'family', epoch: this.#family.roster.epoch, volumeLimit: this.#family.settings.volumeLimit, quietHours: quietLabel(this.#family.settings), offline: true });
        return this.#family;
      }
    });
  }

  /**
   * What the toy does on an event: a `roster` event reloads and verifies the roster first (a
   * failure other than the toy being gone leaves the family it had); then, for a roster, message
   * or approval event or a poll, it plays the messages kept for quiet hours whose time has come,
   * fetches, verifies and plays (or refuses, or keeps) new and waiting messages, and applies the
   * signed retention. `family-deleted` tells the shell to stop. Other events change nothing here.
   * Throws what the shell must act on: offline (retry later), or `isToyGone` (stop).
   */
  async handle(event: ToyEvent): Promise<ToyEventResult> {
    switch (event.event) {
      case 'family-deleted':
        return { played: 0, ended: 'family-deleted' };
      case 'roster':
        try {
          await this.refresh();
        } catch (error) {
          if (isToyGone(error)) throw error;
        }
        break;
      case 'message':
      case 'approval':
      case 'poll':
        break;
      default:
        return { played: 0 };
    }
    const played = (await this.playWaiting()) + (await this.sync());
    await this.expire();
    return { played };
  }

  /** Reloads the roster from the server (after a `roster` event). A roster that does not verify is logged and the old one kept. */
  refresh(): Promise<ToyFamily> {
    return this.#serial(() => this.#refresh());
  }

  async #trust(): Promise<ToyTrust> {
    const trust = await this.#storage.loadTrust();
    if (trust === undefined) throw new ClientError('client/no-anchor', 'this toy is not paired: run pairing first');
    return trust;
  }

  async #refresh(): Promise<ToyFamily> {
    const trust = await this.#trust();
    let family: ToyFamily;
    try {
      family = await loadToyFamily(this.#api, this.#device, trust);
      this.#online = true;
    } catch (error) {
      if (isOffline(error)) this.#online = false;
      if (error instanceof ClientError && error.code === 'client/roster-untrusted') {
        this.#log({ event: 'roster-refused', reason: error.message });
        if (this.#family !== undefined) return this.#family;
        return (this.#family = await loadToyFamilyOffline(this.#device, trust));
      }
      // A head key the roster does not commit to: keep the family (and keys) verified before; never use that key.
      if (error instanceof KeyRefusedError) {
        this.#log({ event: 'key-refused', epoch: error.epoch, reason: 'scope-key/commitment-mismatch' });
        if (this.#family !== undefined) return this.#family;
      }
      throw error;
    }
    await this.#storage.saveTrust(family.trust);
    const before = this.#family;
    this.#family = family;
    if (before === undefined || before.roster.epoch !== family.roster.epoch) {
      this.#log({ event: 'family', epoch: family.roster.epoch, volumeLimit: family.settings.volumeLimit, quietHours: quietLabel(family.settings) });
    }
    // A guardian changed the volume limit: one chime at the new limit, unless it is quiet time.
    const volume = family.settings.volumeLimit;
    if (before !== undefined && before.settings.volumeLimit !== volume && quietUntil(family.settings, this.#now()) === undefined) {
      this.#log({ event: 'chime', volume });
      this.#chime(volume);
    }
    return family;
  }

  /**
   * Catches up: lists the messages the toy may see, and for each new one downloads, verifies and
   * plays it (or refuses it, or keeps it for later), acknowledging delivery and play. Messages
   * kept for later (quiet hours, approval) are tried again. Returns how many played.
   */
  sync(): Promise<number> {
    return this.#serial(async () => {
      let family = this.#family ?? (await this.#refresh());
      const inbox = await this.#storage.loadInbox();
      let played = 0;
      const views = await this.#listNew(family.familyId, inbox);
      this.#online = true;
      // A message of an epoch newer than the roster this toy holds: the family moved on since it
      // last looked (a toy that polls, or a roster event still on its way). Verify the new roster
      // first, or the message would be refused for an unknown epoch.
      if (views.some((v) => v.epoch > family.roster.epoch)) family = await this.#refresh();
      // A message waits for the key of an epoch before this toy was paired: read the family again,
      // which brings any key a guardian's device has wrapped to the toy since.
      else if (Object.values(inbox).some((r) => r.status === 'waiting' && r.reason === 'envelope/no-key')) family = await this.#refresh();
      // Older messages waiting for an approval: read each again (an approval may have arrived).
      const listed = new Set(views.map((v) => v.messageId));
      for (const record of Object.values(inbox)) {
        if (record.status !== 'waiting' || !REREAD.has(record.reason ?? '') || listed.has(record.messageId)) continue;
        try {
          views.push(await getMessage({ api: this.#api }, { familyId: family.familyId, messageId: record.messageId }));
        } catch (error) {
          if (!(error instanceof ApiError && error.status === 404)) throw error;
          // Deleted before a guardian approved it. The id stays remembered (until its retention
          // passes, like every other), so the message cannot come back later and play.
          inbox[record.messageId] = { ...record, status: 'refused', reason: 'toy/withdrawn' };
          await this.#storage.deleteEnvelope(record.messageId);
          this.#log({ event: 'refused', messageId: record.messageId, senderId: record.senderId, reason: 'toy/withdrawn' });
        }
      }
      views.sort(inOrderSent);
      const caughtUp = await this.#catchUpHead(family, inbox, views);
      if (caughtUp === undefined) {
        await this.#storage.saveInbox(inbox);
        return 0;
      }
      family = caughtUp;
      for (const view of views) {
        const record = inbox[view.messageId];
        if (record !== undefined && record.status !== 'waiting') continue;
        if (view.senderId === this.#device.toyId) {
          inbox[view.messageId] = { ...recordOf(view, this.#now()), status: 'own' };
          continue;
        }
        if (await this.#handleMessage(family, inbox, view)) played += 1;
        await this.#storage.saveInbox(inbox);
      }
      await this.#storage.saveInbox(inbox);
      return played;
    });
  }

  /** Plays messages kept for quiet hours whose time has come, from the stored envelopes (works offline). */
  playWaiting(): Promise<number> {
    return this.#serial(async () => {
      const family = this.#family;
      if (family === undefined) return 0;
      const inbox = await this.#storage.loadInbox();
      let played = 0;
      // Held back by a newer head the toy could not fetch: nothing from the older view plays.
      if (Object.values(inbox).some((r) => r.status === 'waiting' && r.reason === 'envelope/roster-behind')) return 0;
      for (const record of Object.values(inbox).sort((a, b) => a.receivedAt - b.receivedAt)) {
        if (record.status !== 'waiting' || record.reason !== 'toy/quiet-hours' || (record.notBefore ?? 0) > this.#now()) continue;
        if (await this.#handleMessage(family, inbox, undefined, record)) played += 1;
      }
      await this.#storage.saveInbox(inbox);
      return played;
    });
  }

  /** When the next message kept for quiet hours may play, if any. */
  async nextWaitingAt(): Promise<number | undefined> {
    return nextWaitingAt(Object.values(await this.#storage.loadInbox()));
  }

  /** What is pending, for a shell to show: replies queued, messages waiting, and when the next kept for quiet hours may play. */
  async pending(): Promise<{ queued: number; waiting: number; nextWaitingAt?: number }> {
    const inbox = Object.values(await this.#storage.loadInbox());
    const next = nextWaitingAt(inbox);
    return { queued: (await this.#storage.loadOutbox()).length, waiting: inbox.filter((r) => r.status === 'waiting').length, ...(next === undefined ? {} : { nextWaitingAt: next }) };
  }

  /**
   * Applies the signed retention by the toy's own clock, never by the server's expiry: once a
   * message's signed createdAt plus the head's retention has passed, its envelope is deleted (a
   * message still waiting is refused as expired); once the longest retention in the verified chain
   * has passed too, its id is forgotten. A message that old is refused if it comes again, even
   * after the retention was raised. Records of messages that never verified count from when the
   * toy first saw them. Returns how many ids were forgotten.
   */
  expire(): Promise<number> {
    return this.#serial(async () => {
      const family = this.#family;
      if (family === undefined) return 0;
      const now = this.#now();
      const keepMs = family.settings.retentionDays * DAY;
      const rememberMs = Math.max(...family.roster.entries.map((e) => e.settings.retentionDays)) * DAY;
      const inbox = await this.#storage.loadInbox();
      let removed = 0;
      let changed = false;
      for (const record of Object.values(inbox)) {
        const from = record.createdAt ?? record.seenAt;
        if (now >= from + rememberMs) {
          await this.#storage.deleteEnvelope(record.messageId);
          delete inbox[record.messageId];
          removed += 1;
          continue;
        }
        if (now < from + keepMs || record.envelopeDeleted) continue;
        await this.#storage.deleteEnvelope(record.messageId);
        record.envelopeDeleted = true;
        if (record.status === 'waiting') {
          record.status = 'refused';
          record.reason = 'envelope/expired';
          delete record.notBefore;
        }
        changed = true;
      }
      if (removed > 0 || changed) await this.#storage.saveInbox(inbox);
      return removed;
    });
  }

  /** Messages newest first, page by page, until a page holds only messages the toy is done with; returned oldest first. */
  async #listNew(familyId: string, inbox: Record<string, InboxRecord>): Promise<MessageViewT[]> {
    const out: MessageViewT[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await listMessages({ api: this.#api }, { familyId, limit: 100, ...(before === undefined ? {} : { before }) });
      out.push(...page.messages);
      const allDone = page.messages.every((m) => inbox[m.messageId] !== undefined && inbox[m.messageId]!.status !== 'waiting');
      if (page.nextCursor === undefined || page.messages.length === 0 || allDone) break;
      before = page.nextCursor;
    }
    // Oldest first: a toy plays in the order messages were sent.
    return out.sort(inOrderSent);
  }

  /**
   * Before anything plays: a message (or an approval) signed at a newer roster head than the toy's
   * means the server may be withholding an entry — the one that removed a relative, say. The toy
   * fetches the roster; while it still does not hold that head it plays nothing (every pending
   * message waits as 'envelope/roster-behind', tried again on the next sync) and returns undefined.
   * The epochs peeked here are unauthenticated and only ever cause a fetch; holding back needs
   * `openAndVerifyMessage`'s verdict, which rests on the signature of someone the toy knows.
   */
  async #catchUpHead(family: ToyFamily, inbox: Record<string, InboxRecord>, views: MessageViewT[]): Promise<ToyFamily | undefined> {
    const pending = views.filter((v) => (inbox[v.messageId]?.status ?? 'waiting') === 'waiting' && v.senderId !== this.#device.toyId);
    const newer: MessageViewT[] = [];
    for (const view of pending) {
      // Only the header's first bytes are read (from storage, or the start of a download cancelled after it).
      let epoch = 0;
      try {
        epoch = (await this.#withEnvelope(family, view.messageId, { store: false }, (read) => read.header()))?.epoch ?? 0;
      } catch (error) {
        if (isOffline(error) || isTokenDead(error)) throw error;
        continue;
      }
      const claimed = Math.max(epoch, ...[...view.approvals, ...(view.declines ?? [])].map((a) => a.rosterEpoch));
      if (claimed > family.roster.epoch) newer.push(view);
    }
    if (newer.length === 0) return family;
    const fresh = await this.#refresh();
    let held: MessageViewT | undefined;
    for (const view of newer) {
      let decision: ToyStreamDecision;
      try {
        decision = await this.#withEnvelope(fresh, view.messageId, { store: false }, (read) => openToyStream(fresh, { source: read, view, now: this.#now() }));
      } catch (error) {
        if (isOffline(error) || isTokenDead(error)) throw error;
        continue;
      }
      if (decision.action === 'wait' && decision.reason === 'envelope/roster-behind') held = view;
    }
    if (held === undefined) return fresh;
    for (const view of pending) {
      inbox[view.messageId] = { ...(inbox[view.messageId] ?? recordOf(view, this.#now())), approvals: view.approvals, declines: view.declines, ciphertextHash: view.ciphertextHash, status: 'waiting', reason: 'envelope/roster-behind' };
    }
    this.#log({ event: 'waiting', messageId: held.messageId, reason: 'envelope/roster-behind' });
    return undefined;
  }

  /** Runs `task` over one reading of the envelope of `messageId` (stored, else downloaded), then ends the reading. */
  async #withEnvelope<T>(family: ToyFamily, messageId: string, options: { store: boolean }, task: (read: EnvelopeRead) => Promise<T>): Promise<T> {
    const read = await EnvelopeRead.open({ api: this.#api, storage: this.#storage, family }, messageId, options);
    try {
      return await task(read);
    } finally {
      await read.close();
    }
  }

  /**
   * Processes one message (listed now, or a stored record); true when it played. The envelope is
   * read once, piece by piece (from storage, or downloaded and written to storage as it comes): the
   * decision is taken on its header, commitment and first chunk, then the audio goes to the player
   * as each chunk verifies. Nothing is acknowledged until the whole envelope verified: a chunk that
   * fails part-way stops the player, and the message is refused and reported, never played.
   */
  async #handleMessage(family: ToyFamily, inbox: Record<string, InboxRecord>, view: MessageViewT | undefined, stored?: InboxRecord): Promise<boolean> {
    const base: InboxRecord = view !== undefined ? { ...(inbox[view.messageId] ?? recordOf(view, this.#now())), approvals: view.approvals, declines: view.declines, ciphertextHash: view.ciphertextHash } : stored!;
    const messageId = base.messageId;
    let read: EnvelopeRead;
    try {
      read = await EnvelopeRead.open({ api: this.#api, storage: this.#storage, family }, messageId, { store: true });
    } catch (error) {
      if (isOffline(error) || isTokenDead(error)) throw error;
      inbox[messageId] = { ...base, status: 'refused', reason: 'toy/download-failed' };
      this.#log({ event: 'refused', messageId, senderId: base.senderId, reason: 'toy/download-failed' });
      return false;
    }
    try {
      return await this.#decideAndPlay(family, inbox, base, read);
    } finally {
      await read.close();
    }
  }

  async #decideAndPlay(family: ToyFamily, inbox: Record<string, InboxRecord>, base: InboxRecord, read: EnvelopeRead): Promise<boolean> {
    const messageId = base.messageId;
    const decision = await openToyStream(family, { source: read, view: base, now: this.#now() });
    if (decision.action === 'refuse') return this.#refuse(family, inbox, base, read, decision.reason, decision.header?.epoch);
    if (decision.action === 'wait' && decision.reason === 'toy/quiet-hours') {
      // Kept for later: read (and so verify) every chunk now, as opening it whole would have.
      for (;;) {
        const piece = await decision.next();
        if (!piece.ok) return this.#refuse(family, inbox, base, read, piece.code, decision.header.epoch);
        if (piece.value === undefined) break;
      }
    } else if (decision.action === 'wait') {
      // Not opened yet (an approval, the roster or a key to come): kept as it came, for later.
      await read.drain();
    }
    if (decision.action === 'wait') {
      await read.keep();
      if (decision.reason === 'toy/quiet-hours') base.createdAt = decision.createdAt;
      const unopened = decision.reason === 'envelope/roster-behind' || decision.reason === 'envelope/no-key';
      if (!base.delivered && !unopened) base.delivered = await this.#receipt(family, messageId, 'delivered');
      if (decision.reason === 'envelope/no-key' && base.reported !== true) {
        // The family hears once that this message cannot play yet (the guardians' security log, and
        // so the message in their conversation). Best effort and tried once: a server that drops the
        // report gains nothing by making the toy repeat it.
        await this.#report(family, decision.reason, messageId, decision.header?.epoch);
        base.reported = true;
      }
      const record: InboxRecord = { ...base, status: 'waiting', reason: decision.reason };
      if (decision.reason === 'toy/quiet-hours') record.notBefore = decision.notBefore;
      inbox[messageId] = record;
      this.#log({ event: 'waiting', messageId, reason: decision.reason, ...(record.notBefore === undefined ? {} : { notBefore: record.notBefore }) });
      return false;
    }

    let broken: string | undefined;
    let finished = false;
    const pieces = async function* (): AsyncGenerator<Uint8Array> {
      for (;;) {
        const piece = await decision.next();
        if (!piece.ok) {
          broken = piece.code;
          throw new AudioStreamBroken(piece.code);
        }
        if (piece.value === undefined) {
          finished = true;
          return;
        }
        yield piece.value;
      }
    };
    let playerError: unknown;
    try {
      await this.#play({ ...decision.message, audio: pieces() }, { volume: decision.volume, messageId, receivedAt: base.receivedAt });
    } catch (error) {
      if (broken === undefined) playerError = error;
    }
    // A player that stopped early: the rest is still read, so the whole message verifies and is stored.
    while (broken === undefined && !finished) {
      const piece = await decision.next();
      if (!piece.ok) broken = piece.code;
      else if (piece.value === undefined) finished = true;
    }
    if (broken !== undefined) return this.#refuse(family, inbox, base, read, broken, decision.header.epoch);
    // Verified whole: keep the envelope so it stays on the device until retention ends.
    await read.keep();
    base.createdAt = decision.message.header.createdAt;
    // The player failed (not the message): it stays stored and is tried again on the next sync.
    if (playerError !== undefined) throw playerError;
    if (!base.delivered) base.delivered = await this.#receipt(family, messageId, 'delivered');
    this.#log({ event: 'played', messageId, senderId: base.senderId, volume: decision.volume, durationMs: decision.message.durationMs, heldBytes: decision.maxBufferedBytes });
    const record: InboxRecord = { ...base, status: 'played' };
    delete record.reason;
    delete record.notBefore;
    record.playedReceipt = await this.#receipt(family, messageId, 'played');
    inbox[messageId] = record;
    return true;
  }

  /** Refuses a message for good: its envelope is dropped, the refusal logged, and (unless it is the toy's own or a failed download) reported. */
  async #refuse(family: ToyFamily, inbox: Record<string, InboxRecord>, base: InboxRecord, read: EnvelopeRead, reason: string, epoch: number | undefined): Promise<false> {
    const messageId = base.messageId;
    await read.close();
    await this.#storage.deleteEnvelope(messageId);
    inbox[messageId] = { ...base, status: 'refused', reason };
    this.#log({ event: 'refused', messageId, senderId: base.senderId, reason });
    // Each id is refused once (the inbox remembers it), so each attempt is reported once; a fork
    // (this toy and the sender were shown different chains) is reported with its epoch.
    if (reportable(reason)) await this.#report(family, reason, messageId, reason === 'envelope/roster-fork' ? epoch : undefined);
    return false;
  }

  /** Reports a refusal (or a wait) to the family security log, with the envelope's epoch when given. */
  async #report(family: ToyFamily, code: string, messageId: string, epoch?: number): Promise<void> {
    await reportRefusal(this.#api, { familyId: family.familyId, code, ...(epoch === undefined ? {} : { epoch }), messageId });
  }

  async #receipt(family: ToyFamily, messageId: string, kind: 'delivered' | 'played'): Promise<boolean> {
    try {
      await sendReceipt(this.#api, { signer: { id: this.#device.toyId, identity: this.#device.identity }, roster: family.roster, messageId, kind, at: this.#now(), live: this.#live });
      return true;
    } catch (error) {
      if (isTokenDead(error)) throw error;
      return false;
    }
  }

  /**
   * Queues a reply (sealed now under the newest epoch the toy verified, with a message id fixed
   * from here on) and tries to send the queue. Works offline: the reply waits in the outbox.
   */
  reply(input: { audio: Uint8Array; audioType: string; durationMs: number }): Promise<{ messageId: string; sent: boolean }> {
    return this.#serial(async () => {
      const family: ToyFamily = this.#family ?? (await this.#trust().then((t) => loadToyFamilyOffline(this.#device, t)));
      this.#family = family;
      const id = await queueReply(this.#outbox, family, input, this.#now());
      const left = await this.#flush();
      return { messageId: id, sent: !left.includes(id) };
    });
  }

  /** Sends queued replies in order, each once; stops at the first that cannot be sent now. Returns the ids still queued. */
  flush(): Promise<string[]> {
    return this.#serial(() => this.#flush());
  }

  async #flush(): Promise<string[]> {
    const { left, offline } = await sendQueued(this.#outbox, isOffline);
    if (offline) {
      this.#online = false;
      this.#log({ event: 'offline', detail: 'replies stay queued until the server answers' });
    }
    return left;
  }
}

/** The earliest time a message kept for quiet hours may play, if any. */
function nextWaitingAt(records: readonly InboxRecord[]): number | undefined {
  const times = records.flatMap((r) => (r.status === 'waiting' && r.notBefore !== undefined ? [r.notBefore] : []));
  return times.length === 0 ? undefined : Math.min(...times);
}

/** The order messages were sent in, as the server lists it (only the order of trying; nothing rests on it). */
function inOrderSent(a: MessageViewT, b: MessageViewT): number {
  return a.receivedAt - b.receivedAt || (a.messageId < b.messageId ? -1 : 1);
}
