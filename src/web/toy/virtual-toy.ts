/**
 * The virtual toy's behaviour, without its looks: pairing by code, then the same loop as the
 * reference toy (src/toy/) — verify the family from its own trust anchor, fetch, verify and play
 * new messages, acknowledge them, record and send replies (queued while offline), reset. Every
 * decision (play or refuse, volume, quiet hours, when to chime) and what to do on each event is the
 * client library's ToyRuntime (src/client/toy/); this file only wires it to the page: IndexedDB,
 * Web Audio, the button, and the live channel whose events it hands to `runtime.handle`.
 *
 * Like every toy it holds `/v1/live` (the client library's `connectLive`: resume cursors,
 * reconnection with backoff and full jitter). A page cannot set an Authorization header on a
 * WebSocket and a device token is never a cookie, so the token travels as a WebSocket subprotocol
 * (src/protocol/live.ts), never in the URL. After every (re)connection the toy catches up as
 * the reference toy does: the roster, then new and waiting messages, then its queued replies.
 */
import { BurrowApi, ClientError, connectLive, isOffline, isTokenDead, isToyGone, ToyRuntime, type LiveConnection, type WebSocketConstructor, type InboxRecord, type OutboxItem, type ToyDevice, type ToyFamily, type ToyLogEntry, type ToyStorage, type ToyTrust, pairToy, type PairedToy } from '../../client/index.js';
import { concatBytes, fromBase64Url, exportIdentitySecret, generateIdentity, importIdentitySecret, type Identity, openProfile, encodeRosterEntry } from '../../crypto/index.js';
import { FamilyView } from '../../protocol/families.js';
import { chimeSound, decodeAudio, playDecoded, startRecording, unlockAudio, type Recording } from './audio.js';
import { openSecret, sealSecret, toyStore, type SealedSecret } from './toy-store.js';
import { checkedEmoji, checkedName } from '../lib/profile-text.js';

/** Backoff of the live channel: a restarted server is not met by every toy at once. */
const LIVE_BACKOFF = { initialMs: 500, maxMs: 30_000, jitter: 'full' } as const;
/** A press shorter than this starts a recording that a second press stops (tap-to-start, tap-to-stop). */
export const HOLD_THRESHOLD_MS = 450;
/** Shorter recordings are dropped ("hold the button while you speak"). */
const MIN_RECORDING_MS = 300;

/** What the toy keeps about itself once paired (IndexedDB; its secrets sealed under the device key). */
interface StoredDevice {
  baseUrl: string;
  toyId: string;
  familyId: string;
  /** The device token (`toy.…`), sealed. */
  token: SealedSecret;
  /** The identity's private keys (exportIdentitySecret), sealed. */
  identity: SealedSecret;
}

/** The paired toy in memory: its identity's keys non-extractable. */
interface Device {
  baseUrl: string;
  toyId: string;
  familyId: string;
  deviceToken: string;
  identity: Identity;
}

/** Everything the page shows; nothing secret (no key, token or audio). */
export interface ToySnapshot {
  phase: 'off' | 'starting' | 'pairing' | 'pairing-ended' | 'paired' | 'removed' | 'failed';
  pairing?: { code: string; expiresAt: number; runsLeft?: number };
  child?: { emoji?: string; name?: string };
  online: boolean;
  /** Replies recorded but not yet accepted by the server. */
  queued: number;
  sent: number;
  played: number;
  refused: number;
  lastRefusal?: string;
  waiting: number;
  /** Why the last message kept for later waits (quiet hours, approval, a newer roster head it must fetch). */
  lastWaiting?: string;
  quietUntil?: number;
  volumeLimit?: number;
  playing?: string;
  /** The last message played: its decoded length and loudness, and the volume (0–100) it played at. */
  lastPlayed?: { messageId: string; durationMs: number; rms: number; volume: number };
  /** The last chime played because a guardian changed the volume limit: the new limit, and the chime's loudness. */
  lastChime?: { volume: number; rms: number };
  recording: 'idle' | 'holding' | 'latched' | 'sending';
  /** True when the last roster the server sent did not verify (the toy kept the one it trusted). */
  rosterRefused: boolean;
  /** True once the server offered a family key the signed roster does not commit to (refused, never used). */
  keyRefused: boolean;
  /** True while the microphone is open and recording (it takes a moment to open after a press). */
  micOpen: boolean;
  /** A plain-words problem to show (an Error or client-library error; never a secret). */
  error?: unknown;
  notice?: string;
}

const INITIAL: ToySnapshot = { phase: 'off', online: false, queued: 0, sent: 0, played: 0, refused: 0, waiting: 0, recording: 'idle', micOpen: false, rosterRefused: false, keyRefused: false };

/** ToyStorage on IndexedDB: trust, inbox, envelopes and outbox of the one toy of this browser. */
function indexedDbStorage(): ToyStorage {
  return {
    loadTrust: () => toyStore.get<ToyTrust>('trust'),
    saveTrust: (trust) => toyStore.put('trust', trust),
    loadInbox: async () => (await toyStore.get<Record<string, InboxRecord>>('inbox')) ?? {},
    saveInbox: (inbox) => toyStore.put('inbox', inbox),
    saveEnvelope: (messageId, envelope) => toyStore.put(`envelope:${messageId}`, envelope),
    loadEnvelope: (messageId) => toyStore.get<Uint8Array>(`envelope:${messageId}`),
    deleteEnvelope: (messageId) => toyStore.delete(`envelope:${messageId}`),
    loadOutbox: async () => ((await toyStore.get<OutboxItem[]>('outbox')) ?? []).sort((a, b) => a.seq - b.seq),
    async putOutbox(item) {
      const outbox = ((await toyStore.get<OutboxItem[]>('outbox')) ?? []).filter((o) => o.messageId !== item.messageId);
      outbox.push(item);
      await toyStore.put('outbox', outbox);
    },
    async removeOutbox(messageId) {
      const outbox = (await toyStore.get<OutboxItem[]>('outbox')) ?? [];
      await toyStore.put('outbox', outbox.filter((o) => o.messageId !== messageId));
    },
  };
}

/** The live channel's resume cursors, sealed in IndexedDB with the toy's other records. */
const cursorStore = {
  loadCursors: async (): Promise<Record<string, string>> => (await toyStore.get<Record<string, string>>('cursors')) ?? {},
  saveCursors: (cursors: Record<string, string>): Promise<void> => toyStore.put('cursors', cursors),
};

/** Opens the stored device: its token and its identity, re-imported with non-extractable keys. */
async function openDevice(stored: StoredDevice): Promise<Device> {
  const token = await openSecret('device-token', stored.token);
  const secret = await openSecret('identity', stored.identity);
  if (token === undefined || secret === undefined) throw new ClientError('client/no-anchor', 'the toy’s stored keys do not open in this browser: reset the toy and pair it again');
  try {
    const identity = await importIdentitySecret(secret, { extractable: false });
    return { baseUrl: stored.baseUrl, toyId: stored.toyId, familyId: stored.familyId, deviceToken: new TextDecoder().decode(token), identity };
  } finally {
    secret.fill(0);
    token.fill(0);
  }
}

/** The virtual toy: one per page. Subscribe to its snapshot; call its actions from the UI. */
export class VirtualToy {
  #snapshot: ToySnapshot = INITIAL;
  readonly #listeners = new Set<(snapshot: ToySnapshot) => void>();
  readonly #baseUrl: string;
  #abort: AbortController | undefined;
  #runtime: ToyRuntime | undefined;
  #device: Device | undefined;
  /** When the next message kept for later (quiet hours) is due. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #live: Promise<LiveConnection> | undefined;
  /** A later connection after the server ended one on purpose and the toy turned out to be still paired. */
  #reconnect: ReturnType<typeof setTimeout> | undefined;
  /** The recording in progress (still starting while the microphone opens). */
  #recording: Promise<Recording> | undefined;
  #level: Recording | undefined;
  #pressStartedAt = 0;
  #rosterRefused = false;
  #generation = 0;

  constructor(baseUrl: string) {
    this.#baseUrl = baseUrl;
  }

  get snapshot(): ToySnapshot {
    return this.#snapshot;
  }

  subscribe(listener: (snapshot: ToySnapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #set(change: Partial<ToySnapshot>): void {
    this.#snapshot = { ...this.#snapshot, ...change };
    for (const listener of this.#listeners) listener(this.#snapshot);
  }

  /** Switches the toy on (a user gesture, so its speaker may play): resumes its pairing or its family. */
  async switchOn(): Promise<void> {
    await unlockAudio().catch(() => undefined);
    this.#set({ phase: 'starting', error: undefined });
    try {
      const stored = await toyStore.get<StoredDevice>('device');
      if (stored === undefined) await this.#pair();
      else await this.#run(await openDevice(stored));
    } catch (error) {
      this.#set({ phase: 'failed', error });
    }
  }

  /** Shows a new code after the last attempt ended. */
  async newCode(): Promise<void> {
    this.#set({ phase: 'starting', error: undefined, notice: undefined });
    try {
      await this.#pair();
    } catch (error) {
      this.#set({ phase: 'failed', error });
    }
  }

  async #pair(): Promise<void> {
    const generation = ++this.#generation;
    this.#abort?.abort();
    const abort = new AbortController();
    this.#abort = abort;
    // Fresh keys for each attempt. Extractable only until paired: then sealed for storage, and used
    // from then on as non-extractable keys. The library shows a new code whenever the toy's own
    // count (3 runs, 10 minutes) ends an attempt; the screen shows what the toy counts.
    let paired: PairedToy;
    try {
      paired = await pairToy({
        baseUrl: this.#baseUrl,
        signal: abort.signal,
        newIdentity: () => generateIdentity({ extractable: true }),
        onCode: ({ code, expiresAt, runsLeft }) => {
          if (generation === this.#generation) this.#set({ phase: 'pairing', pairing: { code, expiresAt, runsLeft }, error: undefined });
        },
        onRun: ({ runsLeft, code }) => {
          if (generation === this.#generation) this.#set({ pairing: { code: code.code, expiresAt: code.expiresAt, runsLeft } });
        },
        onAttemptEnded: (error) => {
          if (generation === this.#generation) this.#set({ notice: error.message.replace(/: start pairing again.*$/, '; here is a new code.') });
        },
      });
    } catch (error) {
      if (abort.signal.aborted || generation !== this.#generation) return;
      if (error instanceof ClientError && error.code === 'client/pairing-ended') {
        this.#set({ phase: 'pairing-ended', pairing: undefined, error: undefined, notice: error.message });
        return;
      }
      throw error;
    }
    const secret = await exportIdentitySecret(paired.identity);
    const stored: StoredDevice = {
      baseUrl: paired.baseUrl,
      toyId: paired.toyId,
      familyId: paired.familyId,
      token: await sealSecret('device-token', new TextEncoder().encode(paired.deviceToken)),
      identity: await sealSecret('identity', secret),
    };
    secret.fill(0);
    // The chain verified from the guardian's head is stored at once: only a chain extending it is accepted later.
    const trust: ToyTrust = { anchorHash: paired.anchorHash, chain: paired.roster.entries.map(encodeRosterEntry), keys: {} };
    await toyStore.put('trust', trust);
    await toyStore.put('device', stored);
    await this.#run(await openDevice(stored));
  }

  async #run(device: Device): Promise<void> {
    this.#device = device;
    const api = new BurrowApi({ baseUrl: device.baseUrl, token: device.deviceToken });
    const toyDevice: ToyDevice = { toyId: device.toyId, familyId: device.familyId, identity: device.identity };
    const runtime = new ToyRuntime({
      api,
      device: toyDevice,
      storage: indexedDbStorage(),
      // Web Audio decodes whole files only: the runtime streams and verifies the download piece by
      // piece, and the page collects the verified pieces to decode them at the end (a browser page
      // is not short of memory; the reference toy plays as they arrive).
      play: async (message, { volume, messageId }) => {
        const pieces: Uint8Array[] = [];
        for await (const piece of message.audio) pieces.push(piece.slice());
        await this.#play(concatBytes(...pieces), volume, messageId);
      },
      log: (entry) => this.#log(entry),
      chime: (volume) => this.#chime(volume),
    });
    this.#runtime = runtime;
    const { queued } = await runtime.pending();
    this.#set({ phase: 'paired', pairing: undefined, queued, notice: undefined });
    try {
      const family = await runtime.start();
      this.#family(family, runtime.online);
      await this.#child(api, family);
    } catch (error) {
      if (this.#ended(error)) return;
      this.#set({ error, ...(error instanceof ClientError && error.code === 'client/key-refused' ? { keyRefused: true } : {}) });
    }
    if (this.#runtime === runtime) this.#connect(device, runtime);
  }

  /** Holds the live channel for `runtime` until the toy stops; each event and each (re)connection becomes a round. */
  #connect(device: Device, runtime: ToyRuntime): void {
    const live = connectLive({
      baseUrl: device.baseUrl,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      token: device.deviceToken,
      tokenIn: 'subprotocol',
      store: cursorStore,
      backoff: LIVE_BACKOFF,
      onEvent: (event) => this.#round(runtime, async () => {
        const { ended } = await runtime.handle({ event: event.event });
        if (ended === 'family-deleted') throw new ClientError('client/toy-removed', 'the family was deleted');
        if (event.event === 'roster') this.#set({ rosterRefused: this.#rosterRefused });
      }),
      // Connected (again): what happened while away is fetched, not only what the events name.
      onReady: () => void this.#round(runtime, async () => {
        this.#rosterRefused = false;
        await runtime.refresh();
        this.#set({ rosterRefused: this.#rosterRefused });
        await runtime.handle({ event: 'poll' });
        await runtime.flush();
      }),
      onProblem: (problem) => {
        if (problem.type === 'live/closed' || problem.type === 'live/socket-error') this.#set({ online: false });
        // Closed on purpose (1008): usually a revoked token or a removed toy, which a read with the
        // token tells (the toy stops). Otherwise (too many connections) it connects again later.
        else if (problem.type === 'live/ended') {
          this.#set({ online: false });
          void this.#round(runtime, () => runtime.refresh().then(() => undefined)).then(() => {
            if (this.#runtime === runtime) this.#reconnect = setTimeout(() => this.#connect(device, runtime), LIVE_BACKOFF.maxMs);
          });
        }
      },
    });
    live.then((connection) => runtime.useLive(connection), () => undefined);
    this.#live = live;
  }

  /**
   * One round of work for `runtime` (an event, a catch-up, a due message), then the counts, the
   * next due message and what the page shows; a removed toy stops. The runtime serialises rounds.
   */
  async #round(runtime: ToyRuntime, work: () => Promise<void>): Promise<void> {
    if (this.#runtime !== runtime || this.#snapshot.phase !== 'paired') return;
    try {
      await work();
      await this.#counts(runtime);
      const family = runtime.family;
      this.#set({ online: runtime.online, error: undefined, ...(family === undefined ? {} : { volumeLimit: family.settings.volumeLimit }) });
    } catch (error) {
      if (this.#ended(error)) return;
      if (isOffline(error)) this.#set({ online: false });
      else this.#set({ error, online: runtime.online, ...(error instanceof ClientError && error.code === 'client/key-refused' ? { keyRefused: true } : {}) });
      await this.#counts(runtime).catch(() => undefined);
    }
    await this.#scheduleWaiting(runtime);
  }

  /** A message kept for later (quiet hours) plays when it is due, without waiting for an event. */
  async #scheduleWaiting(runtime: ToyRuntime): Promise<void> {
    const at = await runtime.nextWaitingAt().catch(() => undefined);
    if (this.#runtime !== runtime) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = at === undefined ? undefined : setTimeout(() => void this.#round(runtime, () => runtime.playWaiting().then(() => undefined)), Math.max(0, at - Date.now()) + 50);
  }

  #family(family: ToyFamily, online: boolean): void {
    this.#set({ online, volumeLimit: family.settings.volumeLimit });
  }

  /** The runtime's call: a guardian changed the volume limit, so the toy chimes once at it. */
  #chime(volume: number): void {
    const chime = chimeSound();
    this.#set({ lastChime: { volume, rms: chime.rms } });
    void playDecoded(chime, volume).catch(() => undefined);
  }

  /** Opens the child's name and emoji (sealed under the family key), to show whose toy this is. */
  async #child(api: BurrowApi, family: ToyFamily): Promise<void> {
    try {
      const view = await api.call('GET', `/v1/families/${family.familyId}`, FamilyView);
      const child = view.children.find((c) => c.childId === family.childId);
      if (child === undefined) return;
      const opened = await openProfile<{ name?: unknown; emoji?: unknown }>({ sealed: fromBase64Url(child.sealedProfile), familyId: family.familyId, kind: 'child', objectId: child.childId, head: family.roster, keyFor: family.keyFor });
      if (!opened.ok) return;
      // Checked as the app checks them (length, no bidi overrides, one emoji): a member sealed them.
      const name = checkedName(opened.value.data.name);
      const emoji = checkedEmoji(opened.value.data.emoji);
      this.#set({ child: { ...(emoji === undefined ? {} : { emoji }), ...(name === undefined ? {} : { name }) } });
    } catch {
      // Only decoration: the toy works without it.
    }
  }

  async #counts(runtime: ToyRuntime): Promise<void> {
    const { queued, waiting, nextWaitingAt } = await runtime.pending();
    this.#set({ queued, waiting, quietUntil: nextWaitingAt });
  }

  /** True (and the toy stops) when the device token died or the roster no longer holds this toy. */
  #ended(error: unknown): boolean {
    if (isToyGone(error)) {
      this.#stop();
      this.#set({ phase: 'removed', online: false, error: undefined });
      return true;
    }
    return false;
  }

  #log(entry: ToyLogEntry): void {
    // Ids and reason codes only (the runtime never passes content, keys or tokens).
    if (entry.event === 'refused') this.#set({ refused: this.#snapshot.refused + 1, lastRefusal: entry.reason });
    else if (entry.event === 'waiting') this.#set({ lastWaiting: entry.reason });
    else if (entry.event === 'reply-sent') this.#set({ sent: this.#snapshot.sent + 1 });
    else if (entry.event === 'offline') this.#set({ online: false });
    else if (entry.event === 'roster-refused') this.#rosterRefused = true;
    else if (entry.event === 'key-refused') this.#set({ keyRefused: true });
  }

  async #play(audio: Uint8Array, volume: number, messageId: string): Promise<void> {
    let decoded;
    try {
      decoded = await decodeAudio(audio);
    } catch {
      // Verified, but not audio this browser can decode: nothing to play.
      this.#set({ refused: this.#snapshot.refused + 1, lastRefusal: 'toy/undecodable-audio' });
      return;
    }
    this.#set({ playing: messageId });
    try {
      await playDecoded(decoded, volume);
    } finally {
      this.#set({ playing: undefined, played: this.#snapshot.played + 1, lastPlayed: { messageId, durationMs: decoded.durationMs, rms: decoded.rms, volume } });
    }
  }

  /** The button went down: start recording (or, when latched by a tap, stop). */
  async press(): Promise<void> {
    if (this.#snapshot.phase !== 'paired') return;
    if (this.#snapshot.recording === 'latched') {
      await this.#finishRecording();
      return;
    }
    if (this.#snapshot.recording !== 'idle') return;
    this.#pressStartedAt = Date.now();
    this.#set({ recording: 'holding', error: undefined, notice: undefined });
    const starting = startRecording({ onAutoStop: () => void this.#finishRecording() });
    this.#recording = starting;
    try {
      this.#level = await starting;
      if (this.#recording === starting) this.#set({ micOpen: true });
    } catch (error) {
      if (this.#recording === starting) this.#recording = undefined;
      this.#set({ recording: 'idle', error });
    }
  }

  /** The button came up: a hold ends the recording; a short tap keeps it going until the next tap. */
  async release(): Promise<void> {
    if (this.#snapshot.recording !== 'holding') return;
    if (Date.now() - this.#pressStartedAt < HOLD_THRESHOLD_MS) {
      this.#set({ recording: 'latched' });
      return;
    }
    await this.#finishRecording();
  }

  /** Keyboard and assistive technology: one activation starts, the next stops. */
  async toggle(): Promise<void> {
    const before = this.#snapshot.recording;
    if (before === 'idle') {
      await this.press();
      if (this.snapshot.recording === 'holding') this.#set({ recording: 'latched' });
    } else if (before === 'latched' || before === 'holding') {
      await this.#finishRecording();
    }
  }

  /** Level of the recording in progress, 0–1 (for the meter). */
  level(): number {
    return this.#level?.level() ?? 0;
  }

  async #finishRecording(): Promise<void> {
    const starting = this.#recording;
    const runtime = this.#runtime;
    this.#recording = undefined;
    this.#level = undefined;
    if (starting === undefined || runtime === undefined) {
      this.#set({ recording: 'idle' });
      return;
    }
    this.#set({ recording: 'sending', micOpen: false });
    try {
      const recording = await starting;
      const recorded = await recording.stop();
      if (recorded.durationMs < MIN_RECORDING_MS) {
        this.#set({ recording: 'idle', notice: 'Hold the button down while you speak.' });
        return;
      }
      // The length the envelope states is the decoded length, not the time the button was down.
      const durationMs = await decodeAudio(recorded.audio).then((d) => d.durationMs, () => recorded.durationMs);
      const { sent } = await runtime.reply({ audio: recorded.audio, audioType: recorded.audioType, durationMs });
      this.#set({ recording: 'idle', notice: sent ? 'Reply sent.' : 'Reply saved. It is sent when the toy is back online.' });
    } catch (error) {
      if (this.#ended(error)) return;
      this.#set({ recording: 'idle', error });
    }
    await this.#counts(runtime).catch(() => undefined);
  }

  #stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#reconnect !== undefined) clearTimeout(this.#reconnect);
    this.#reconnect = undefined;
    void this.#live?.then((live) => live.close(), () => undefined);
    this.#live = undefined;
    this.#runtime = undefined;
    void this.#recording?.then((r) => r.cancel(), () => undefined);
    this.#recording = undefined;
  }

  /**
   * Forgets everything (keys, token, messages, queued replies) after telling the server, which
   * revokes the device token. Then shows a new code.
   */
  async reset(): Promise<void> {
    this.#abort?.abort();
    const stored = this.#device === undefined ? await toyStore.get<StoredDevice>('device') : undefined;
    const device = this.#device ?? (stored === undefined ? undefined : await openDevice(stored).catch(() => undefined));
    this.#stop();
    this.#generation++;
    let notice = 'The toy forgot its family. Here is a new code to pair it again.';
    if (device !== undefined) {
      try {
        await new BurrowApi({ baseUrl: device.baseUrl, token: device.deviceToken }).call('POST', '/v1/toy/reset', undefined, {});
      } catch (error) {
        // Forget locally anyway: the token leaves this browser with everything else; a guardian can remove the toy.
        if (!isTokenDead(error)) notice = 'The toy forgot its family, but the server could not be told: ask a guardian to remove the old toy.';
      }
    }
    await toyStore.clear();
    this.#device = undefined;
    this.#snapshot = { ...INITIAL, phase: 'starting', notice };
    this.#set({});
    try {
      await this.#pair();
    } catch (error) {
      this.#set({ phase: 'failed', error });
    }
  }
}
