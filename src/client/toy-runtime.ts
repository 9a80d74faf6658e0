/**
 * The toy's brain: what a toy (the Node reference toy in src/toy/, or the web virtual toy) does
 * with what the server sends it, deciding everything from its own verified roster.
 *
 * Isomorphic (global `fetch`, WebCrypto; no `node:` imports). Storage and sound are the caller's:
 *
 *   const runtime = new ToyRuntime({ api, device, storage, play, log });
 *   await runtime.start();          // verify the family (online, else from the stored chain)
 *   await runtime.sync();           // fetch, verify and play (or refuse, or defer) new messages
 *   await runtime.reply({ audio, audioType, durationMs });  // seal, queue, send in order
 *   await runtime.flush();          // send queued replies (after a reconnect)
 *
 * - `api`: a `BurrowApi` with the device token (`toy.…`) as bearer.
 * - `device`: `{ toyId, familyId, identity }` from pairing (src/client/toys.ts `PairedToy`).
 * - `storage`: a `ToyStorage` (the trust state, the inbox of envelopes, the outbox); all of it secret.
 * - `play(message, { volume })`: plays opened audio; `volume` is the signed roster's volume limit.
 * - `log(entry)`: events with ids and reason codes only — never audio, captions, keys or tokens.
 *
 * Trust: pairing stores the chain verified from the guardian's roster head the PAKE authenticated;
 * every later load verifies from the stored chain's head, so the server can never roll the toy back
 * nor move it to a chain that does not extend what it holds (a fork). The
 * toy must be in the head with its own keys, else it was removed and stops (`client/toy-removed`).
 * A roster that does not verify is refused and the toy keeps the one (and the settings) it had.
 *
 * A message plays only if `openAndVerifyMessage` accepts it against the head (sender in the
 * message's epoch and in the head, judged by the head entry: role, children, approval by a guardian
 * of the head and no decline by one (a signed decline refuses it, whatever the server relays); signature; signed createdAt neither past the head's signed retention nor beyond the
 * clock skew ahead, by the toy's own clock; decryption), it is addressed to this toy's child or to
 * this toy, under the id the server listed, and it is not quiet time (then it waits). Every refusal
 * carries a reason code.
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
import type { Static } from '@sinclair/typebox';
import { bytesEqual, fromBase64Url, randomBytes, toBase64Url } from '../crypto/bytes.js';
import { MAX_AUDIO_BYTES, MESSAGE_ID_LENGTH, openAndVerifyMessage, parseEnvelopeHeader, sealMessage, type Approval, type OpenedMessage } from '../crypto/envelope.js';
import { unwrapAndCheckFamilyKey, type WrappedKey } from '../crypto/family-key.js';
import type { Identity } from '../crypto/identity.js';
import { decodeRosterEntry, encodeRosterEntry, verifyRoster, type FamilySettings, type RosterAnchor, type Toy, type VerifiedRoster } from '../crypto/roster.js';
import { FamilyView } from '../protocol/families.js';
import { MessageAccepted, MessageList, MessageView } from '../protocol/messages.js';
import { ApiError, NetworkError, type BurrowApi } from './api.js';
import { ClientError } from './client-error.js';
import { reportRefusal } from './refusal-report.js';
import { signedReceiptBody } from './receipts.js';
import { decodeRosterChain } from './toys.js';
import { quietLabel, quietUntil } from './quiet-hours.js';

type MessageViewT = Static<typeof MessageView>;
type WireApproval = MessageViewT['approvals'][number];

/** Largest envelope a toy downloads. */
const MAX_ENVELOPE_BYTES = MAX_AUDIO_BYTES + 64 * 1024;
const DAY = 24 * 3600_000;

/** Who the toy is. */
export interface ToyDevice {
  toyId: string;
  familyId: string;
  identity: Identity;
}

/** What the toy trusts: its anchor, the chain it verified, the family keys it unwrapped. Secret. */
export interface ToyTrust {
  /** The roster head hash the pairing authenticated: the stored chain must always hold it. */
  anchorHash: Uint8Array;
  /** The verified chain (encodeRosterEntry bytes), oldest first; absent before the first verification. */
  chain?: Uint8Array[];
  keys: Record<number, Uint8Array>;
}

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
  approvals: WireApproval[];
  /** Guardians' signed declines as relayed: a valid one refuses the message ('envelope/declined'). */
  declines?: WireApproval[];
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

/** Where a toy keeps its state. Everything in it is secret (keys, envelopes, audio). */
export interface ToyStorage {
  loadTrust(): Promise<ToyTrust | undefined>;
  saveTrust(trust: ToyTrust): Promise<void>;
  loadInbox(): Promise<Record<string, InboxRecord>>;
  saveInbox(inbox: Record<string, InboxRecord>): Promise<void>;
  saveEnvelope(messageId: string, envelope: Uint8Array): Promise<void>;
  loadEnvelope(messageId: string): Promise<Uint8Array | undefined>;
  deleteEnvelope(messageId: string): Promise<void>;
  /** Queued replies, oldest (lowest seq) first. */
  loadOutbox(): Promise<OutboxItem[]>;
  putOutbox(item: OutboxItem): Promise<void>;
  removeOutbox(messageId: string): Promise<void>;
}

/** A family as the toy verified it. */
export interface ToyFamily {
  familyId: string;
  toyId: string;
  childId: string;
  roster: VerifiedRoster;
  self: Toy;
  settings: FamilySettings;
  keyForEpoch(epoch: number): Uint8Array | undefined;
  headKey: Uint8Array;
  /** The trust to store (the verified chain and keys). */
  trust: ToyTrust;
}

/** Why a toy did not play a message. Envelope codes come from `openAndVerifyMessage`. */
export type ToyRefusalCode =
  | 'toy/not-for-this-toy'
  | 'toy/own-message'
  | 'toy/withdrawn'
  | 'toy/download-failed'
  | 'toy/toy-to-toy-off'
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

/** One line for the toy's log: ids, epochs and codes; never content, keys or tokens. */
export type ToyLogEntry =
  | { event: 'family'; epoch: number; volumeLimit: number; quietHours: string | null; offline?: boolean }
  | { event: 'roster-refused'; reason: string }
  | { event: 'key-refused'; epoch: number; reason: string }
  | { event: 'played'; messageId: string; senderId: string; volume: number; durationMs: number }
  | { event: 'refused'; messageId: string; senderId: string; reason: string }
  | { event: 'waiting'; messageId: string; reason: string; notBefore?: number }
  | { event: 'reply-queued'; messageId: string }
  | { event: 'reply-sent'; messageId: string; duplicate?: boolean }
  | { event: 'offline'; detail: string };

function wrappedKeyFromWire(wire: Static<typeof FamilyView>['wrappedKeys'][number]): WrappedKey {
  return { suite: wire.suite as WrappedKey['suite'], recipientId: wire.recipientId, epoch: wire.epoch, enc: fromBase64Url(wire.enc), ciphertext: fromBase64Url(wire.ciphertext) };
}

function isSelf(toy: Toy | undefined, device: ToyDevice): toy is Toy {
  return toy !== undefined && bytesEqual(toy.keys.signingKey, device.identity.publicKeys.signingKey) && bytesEqual(toy.keys.agreementKey, device.identity.publicKeys.agreementKey);
}

function familyOf(roster: VerifiedRoster, device: ToyDevice, keys: Record<number, Uint8Array>, anchorHash: Uint8Array): ToyFamily {
  if (roster.familyId !== device.familyId) throw new ClientError('client/roster-untrusted', 'the roster belongs to another family');
  const self = roster.toyAt(roster.epoch, device.toyId);
  if (!isSelf(self, device)) throw new ClientError('client/toy-removed', 'this toy is no longer in its family (a guardian removed it): pair it again');
  const headKey = keys[roster.epoch];
  if (headKey === undefined) throw new ClientError('client/no-key', `no family key for epoch ${roster.epoch} was wrapped to this toy`);
  return {
    familyId: roster.familyId,
    toyId: device.toyId,
    childId: self.childId,
    roster,
    self,
    settings: roster.settings,
    keyForEpoch: (epoch) => keys[epoch],
    headKey,
    trust: { anchorHash, chain: roster.entries.map(encodeRosterEntry), keys },
  };
}

function anchorOf(trust: ToyTrust): RosterAnchor {
  const last = trust.chain?.at(-1);
  if (last === undefined) return { headHash: trust.anchorHash };
  const decoded = decodeRosterEntry(last);
  if (!decoded.ok) throw new ClientError('client/no-anchor', "the toy's stored roster is damaged");
  return { trustedEntry: decoded.value };
}

/**
 * Loads the family from the server as the toy and verifies it from `trust` (the stored head; the
 * paired head hash only if no chain was ever stored). Unwraps the family keys wrapped to the toy for epochs it is in.
 */
export async function loadToyFamily(api: BurrowApi, device: ToyDevice, trust: ToyTrust): Promise<ToyFamily> {
  const view = await api.call('GET', `/v1/families/${device.familyId}`, FamilyView);
  if (view.familyId !== device.familyId) throw new ClientError('client/roster-untrusted', 'the server answered for another family');
  const chain = decodeRosterChain(view.roster);
  const verified = await verifyRoster(chain, anchorOf(trust));
  if (!verified.ok) {
    // Best effort: guardians see the refusal in the security log; a hostile server can drop it, the
    // toy's refusal stands. Once per refused head and session, as the toy reloads its roster often.
    const epoch = chain.at(-1)?.epoch;
    const key = `${verified.code} ${epoch ?? ''}`;
    if (reportedRefusals.get(api) !== key) {
      reportedRefusals.set(api, key);
      await reportRefusal(api, { familyId: device.familyId, code: verified.code, ...(epoch === undefined ? {} : { epoch }) });
    }
    throw new ClientError('client/roster-untrusted', `the family's roster does not verify from this toy's anchor (${verified.code})`);
  }
  const roster = verified.value;
  // Entries before the stored head were verified when they were new; keep the whole chain for offline use.
  const stored = trust.chain ?? [];
  const fullRoster = roster.entries[0]!.epoch === 0 || stored.length === 0 ? roster : await mergeChains(stored, roster, trust.anchorHash);
  const keys: Record<number, Uint8Array> = { ...trust.keys };
  // The first epoch this toy is in: keys of epochs before it come only from a guardian's device,
  // wrapped at pairing for the messages that waited for the toy's child (src/client/toys.ts).
  const pairedAt = fullRoster.entries.find((e) => isSelf(e.toys.find((t) => t.toyId === device.toyId), device))?.epoch;
  for (const wire of view.wrappedKeys) {
    if (wire.recipientId !== device.toyId || keys[wire.epoch] !== undefined) continue;
    const earlier = pairedAt !== undefined && wire.epoch < pairedAt;
    if (!earlier && !isSelf(fullRoster.toyAt(wire.epoch, device.toyId), device)) continue;
    // Only a key the signed entry commits to is kept: the toy never opens or seals under one the server chose.
    const unwrapped = await unwrapAndCheckFamilyKey({ wrap: wrappedKeyFromWire(wire), recipientId: device.toyId, identity: device.identity, roster: fullRoster });
    if (unwrapped.ok) keys[wire.epoch] = unwrapped.value;
    else if (unwrapped.code === 'family-key/commitment-mismatch') {
      await reportKeyRefusal(api, device, wire.epoch);
      if (wire.epoch === fullRoster.epoch) throw new KeyRefusedError(wire.epoch);
    }
  }
  return familyOf(fullRoster, device, keys, trust.anchorHash);
}

/** The toy was offered a head-epoch key its signed roster does not commit to. */
class KeyRefusedError extends ClientError {
  readonly epoch: number;
  constructor(epoch: number) {
    super('client/key-refused', `the family key the server offered for epoch ${epoch} is not the one the roster commits to: refused`);
    this.epoch = epoch;
  }
}

// Each refused (toy, epoch) is reported once per running toy, not on every refresh.
const reportedKeyRefusals = new Set<string>();

/** Records a refused key in the family security log (best effort: a hostile server can drop it; the refusal is what protects). */
async function reportKeyRefusal(api: BurrowApi, device: ToyDevice, epoch: number): Promise<void> {
  const id = `${device.familyId}/${device.toyId}/${epoch}`;
  if (reportedKeyRefusals.has(id)) return;
  if (await reportRefusal(api, { familyId: device.familyId, code: 'family-key/commitment-mismatch', epoch })) reportedKeyRefusals.add(id);
}

const reportedRefusals = new WeakMap<BurrowApi, string>();

async function mergeChains(stored: Uint8Array[], roster: VerifiedRoster, anchorHash: Uint8Array): Promise<VerifiedRoster> {
  const older = stored.map((bytes) => {
    const d = decodeRosterEntry(bytes);
    if (!d.ok) throw new ClientError('client/no-anchor', "the toy's stored roster is damaged");
    return d.value;
  });
  const first = roster.entries[0]!.epoch;
  const chain = [...older.filter((e) => e.epoch < first), ...roster.entries];
  const verified = await verifyRoster(chain, { headHash: anchorHash });
  if (!verified.ok) throw new ClientError('client/roster-untrusted', `the family's roster does not verify (${verified.code})`);
  return verified.value;
}

/** The family from the toy's stored chain alone (offline): verified again from the paired head hash. */
export async function loadToyFamilyOffline(device: ToyDevice, trust: ToyTrust): Promise<ToyFamily> {
  if (trust.chain === undefined || trust.chain.length === 0) throw new ClientError('client/no-anchor', 'the toy has never verified its family: connect it once');
  const entries = trust.chain.map((bytes) => {
    const d = decodeRosterEntry(bytes);
    if (!d.ok) throw new ClientError('client/no-anchor', "the toy's stored roster is damaged");
    return d.value;
  });
  const verified = await verifyRoster(entries, { headHash: trust.anchorHash });
  if (!verified.ok) throw new ClientError('client/no-anchor', `the toy's stored roster does not verify (${verified.code})`);
  return familyOf(verified.value, device, { ...trust.keys }, trust.anchorHash);
}

/** Relayed approvals or declines over the id and hash the server describes (they must verify over the envelope's real hash). */
function decisionsOf(view: { messageId: string; ciphertextHash: string }, wire: readonly WireApproval[] | undefined): Approval[] {
  const messageId = fromBase64Url(view.messageId);
  const ciphertextHash = fromBase64Url(view.ciphertextHash);
  return (wire ?? []).map((a) => ({ guardianId: a.guardianId, messageId, ciphertextHash, rosterEpoch: a.rosterEpoch, rosterHead: fromBase64Url(a.rosterHead), signature: fromBase64Url(a.signature) }));
}

/**
 * Decides whether the toy plays an envelope listed under `view.messageId`: verified against the
 * head of the toy's roster with the toy's clock `now` (signed retention, clock skew), addressed to
 * its child or itself and not by itself, not in quiet hours. Of `view`, only the id (which the
 * envelope must carry) and the approvals and declines (which must verify) count: a message a
 * guardian of the head declined is refused ('envelope/declined') whatever approval comes with it.
 * Never throws on a bad envelope.
 */
export async function decideMessage(
  family: ToyFamily,
  input: { envelope: Uint8Array; view: { messageId: string; ciphertextHash: string; approvals: readonly WireApproval[]; declines?: readonly WireApproval[] }; now: number },
): Promise<ToyDecision> {
  const { view } = input;
  let messageId: Uint8Array;
  try {
    messageId = fromBase64Url(view.messageId);
  } catch {
    return { action: 'refuse', reason: 'envelope/id-mismatch' };
  }
  if (messageId.length !== MESSAGE_ID_LENGTH) return { action: 'refuse', reason: 'envelope/id-mismatch' };
  const opened = await openAndVerifyMessage(input.envelope, {
    roster: family.roster,
    familyKeyForEpoch: family.keyForEpoch,
    approvals: decisionsOf(view, view.approvals),
    declines: decisionsOf(view, view.declines),
    expected: { familyId: family.familyId, messageId },
    age: { now: input.now, retentionDays: family.settings.retentionDays },
  });
  if (!opened.ok) {
    if (opened.code === 'envelope/needs-approval') return { action: 'wait', reason: 'envelope/needs-approval' };
    // Signed by someone who holds a newer roster head: nothing plays until the toy holds it too.
    if (opened.code === 'envelope/roster-behind') return { action: 'wait', reason: 'envelope/roster-behind' };
    // Signed by a member the toy knows, in an epoch whose key the toy was not (yet) given — one from
    // before it was paired, whose key a guardian's device wraps to it: it waits for the key.
    if (opened.code === 'envelope/no-key') {
      // The header's signature verified before the key was needed, so its recipients are the sender's.
      const header = parseEnvelopeHeader(input.envelope);
      if (!header.ok || !header.value.recipients.some((r) => r === family.childId || r === family.toyId)) return { action: 'refuse', reason: 'toy/not-for-this-toy' };
      return { action: 'wait', reason: 'envelope/no-key' };
    }
    return { action: 'refuse', reason: opened.code };
  }
  const message = opened.value;
  if (!message.header.recipients.some((r) => r === family.childId || r === family.toyId)) return { action: 'refuse', reason: 'toy/not-for-this-toy' };
  // The toy's own reply, listed under another sender's name: never played back to the child.
  if (message.sender.kind === 'toy' && message.sender.id === family.toyId) return { action: 'refuse', reason: 'toy/own-message' };
  // A sibling toy's reply (to the child it shares) plays only where the signed settings allow toy-to-toy.
  if (message.sender.kind === 'toy' && message.sender.id !== family.toyId && family.roster.settings.toyToToy !== true) return { action: 'refuse', reason: 'toy/toy-to-toy-off' };
  const until = quietUntil(family.settings, input.now);
  if (until !== undefined) return { action: 'wait', reason: 'toy/quiet-hours', notBefore: until, createdAt: message.header.createdAt };
  return { action: 'play', message, volume: family.settings.volumeLimit };
}

/** Seals a reply from the toy into its child's conversation, under the head epoch's key. */
export async function sealToyReply(
  family: ToyFamily,
  device: ToyDevice,
  input: { audio: Uint8Array; audioType: string; durationMs: number; messageId: Uint8Array; createdAt: number },
): Promise<{ envelope: Uint8Array; epoch: number }> {
  const sealed = await sealMessage({
    familyId: family.familyId,
    epoch: family.roster.epoch,
    rosterHead: family.roster.headHash,
    familyKey: family.headKey,
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

/** True for failures that mean "the server is not reachable right now" (retry later). */
export function isOffline(error: unknown): boolean {
  return error instanceof NetworkError || (error instanceof ApiError && (error.status >= 500 || error.status === 429));
}

/** True when the device token stopped working: the toy was removed or reset. */
export function isTokenDead(error: unknown): boolean {
  return error instanceof ApiError && error.status === 401;
}

export interface ToyRuntimeOptions {
  api: BurrowApi;
  device: ToyDevice;
  storage: ToyStorage;
  play: (message: OpenedMessage, options: { volume: number; messageId: string; receivedAt: number }) => Promise<void>;
  log?: (entry: ToyLogEntry) => void;
  now?: () => number;
}

/** A toy's runtime: one family, one inbox, one outbox. Calls are serialised internally. */
export class ToyRuntime {
  readonly #api: BurrowApi;
  readonly #device: ToyDevice;
  readonly #storage: ToyStorage;
  readonly #play: ToyRuntimeOptions['play'];
  readonly #log: (entry: ToyLogEntry) => void;
  readonly #now: () => number;
  #family: ToyFamily | undefined;
  #online = false;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(options: ToyRuntimeOptions) {
    this.#api = options.api;
    this.#device = options.device;
    this.#storage = options.storage;
    this.#play = options.play;
    this.#log = options.log ?? (() => undefined);
    this.#now = options.now ?? Date.now;
  }

  /** The family as last verified, if any. */
  get family(): ToyFamily | undefined {
    return this.#family;
  }

  /** Whether the last call reached the server. */
  get online(): boolean {
    return this.#online;
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
        this.#log({ event: 'key-refused', epoch: error.epoch, reason: 'family-key/commitment-mismatch' });
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
          views.push(await this.#api.call('GET', `/v1/families/${family.familyId}/messages/${record.messageId}`, MessageView));
        } catch (error) {
          if (!(error instanceof ApiError && error.status === 404)) throw error;
          // Deleted before a guardian approved it. The id stays remembered (until its retention
          // passes, like every other), so the message cannot come back later and play.
          inbox[record.messageId] = { ...record, status: 'refused', reason: 'toy/withdrawn' };
          await this.#storage.deleteEnvelope(record.messageId);
          this.#log({ event: 'refused', messageId: record.messageId, senderId: record.senderId, reason: 'toy/withdrawn' });
        }
      }
      views.sort((a, b) => a.receivedAt - b.receivedAt || (a.messageId < b.messageId ? -1 : 1));
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
        if (await this.#handle(family, inbox, view)) played += 1;
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
        if (await this.#handle(family, inbox, undefined, record)) played += 1;
      }
      await this.#storage.saveInbox(inbox);
      return played;
    });
  }

  /** When the next message kept for quiet hours may play, if any. */
  async nextWaitingAt(): Promise<number | undefined> {
    const inbox = await this.#storage.loadInbox();
    const times = Object.values(inbox).filter((r) => r.status === 'waiting' && r.notBefore !== undefined).map((r) => r.notBefore!);
    return times.length === 0 ? undefined : Math.min(...times);
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

  /** Messages newest first, page by page, until a page holds only messages the toy is done with. */
  async #listNew(familyId: string, inbox: Record<string, InboxRecord>): Promise<MessageViewT[]> {
    const out: MessageViewT[] = [];
    let before: string | undefined;
    for (;;) {
      const query = new URLSearchParams({ limit: '100' });
      if (before !== undefined) query.set('before', before);
      const page = await this.#api.call('GET', `/v1/families/${familyId}/messages?${query.toString()}`, MessageList);
      out.push(...page.messages);
      const allDone = page.messages.every((m) => inbox[m.messageId] !== undefined && inbox[m.messageId]!.status !== 'waiting');
      if (page.nextCursor === undefined || page.messages.length === 0 || allDone) break;
      before = page.nextCursor;
    }
    // Oldest first: a toy plays in the order messages were sent.
    return out.sort((a, b) => a.receivedAt - b.receivedAt || (a.messageId < b.messageId ? -1 : 1));
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
    const newer: Array<{ view: MessageViewT; envelope: Uint8Array }> = [];
    for (const view of pending) {
      const envelope = await this.#envelopeOf(family, view.messageId);
      if (envelope === undefined) continue;
      const header = parseEnvelopeHeader(envelope);
      const claimed = Math.max(header.ok ? header.value.epoch : 0, ...[...view.approvals, ...(view.declines ?? [])].map((a) => a.rosterEpoch));
      if (claimed > family.roster.epoch) newer.push({ view, envelope });
    }
    if (newer.length === 0) return family;
    const fresh = await this.#refresh();
    let held: MessageViewT | undefined;
    for (const { view, envelope } of newer) {
      const decision = await decideMessage(fresh, { envelope, view, now: this.#now() });
      if (decision.action === 'wait' && decision.reason === 'envelope/roster-behind') held = view;
    }
    if (held === undefined) return fresh;
    for (const view of pending) {
      inbox[view.messageId] = { ...(inbox[view.messageId] ?? recordOf(view, this.#now())), approvals: view.approvals, declines: view.declines, ciphertextHash: view.ciphertextHash, status: 'waiting', reason: 'envelope/roster-behind' };
    }
    this.#log({ event: 'waiting', messageId: held.messageId, reason: 'envelope/roster-behind' });
    return undefined;
  }

  /** A message's envelope: the stored copy, or downloaded now and kept (undefined when the server will not give it). */
  async #envelopeOf(family: ToyFamily, messageId: string): Promise<Uint8Array | undefined> {
    const stored = await this.#storage.loadEnvelope(messageId);
    if (stored !== undefined) return stored;
    try {
      const envelope = await this.#api.download(`/v1/families/${family.familyId}/messages/${messageId}/envelope`, MAX_ENVELOPE_BYTES);
      await this.#storage.saveEnvelope(messageId, envelope);
      return envelope;
    } catch (error) {
      if (isOffline(error) || isTokenDead(error)) throw error;
      return undefined;
    }
  }

  /** Processes one message; true when it played. */
  async #handle(family: ToyFamily, inbox: Record<string, InboxRecord>, view: MessageViewT | undefined, stored?: InboxRecord): Promise<boolean> {
    const base: InboxRecord = view !== undefined ? { ...(inbox[view.messageId] ?? recordOf(view, this.#now())), approvals: view.approvals, declines: view.declines, ciphertextHash: view.ciphertextHash } : stored!;
    const messageId = base.messageId;
    let envelope = await this.#storage.loadEnvelope(messageId);
    if (envelope === undefined) {
      try {
        envelope = await this.#api.download(`/v1/families/${family.familyId}/messages/${messageId}/envelope`, MAX_ENVELOPE_BYTES);
      } catch (error) {
        if (isOffline(error) || isTokenDead(error)) throw error;
        inbox[messageId] = { ...base, status: 'refused', reason: 'toy/download-failed' };
        this.#log({ event: 'refused', messageId, senderId: base.senderId, reason: 'toy/download-failed' });
        return false;
      }
    }
    const decision = await decideMessage(family, { envelope, view: base, now: this.#now() });
    if (decision.action === 'refuse') {
      await this.#storage.deleteEnvelope(messageId);
      inbox[messageId] = { ...base, status: 'refused', reason: decision.reason };
      this.#log({ event: 'refused', messageId, senderId: base.senderId, reason: decision.reason });
      // Each id is refused once (the inbox remembers it), so each attempt is reported once; a fork
      // (this toy and the sender were shown different chains) is reported with its epoch.
      if (reportable(decision.reason)) {
        const header = decision.reason === 'envelope/roster-fork' ? parseEnvelopeHeader(envelope) : undefined;
        await reportRefusal(this.#api, { familyId: family.familyId, code: decision.reason, ...(header?.ok === true ? { epoch: header.value.epoch } : {}), messageId });
      }
      return false;
    }
    // Verified: keep the envelope so it stays playable offline until retention ends.
    await this.#storage.saveEnvelope(messageId, envelope);
    if (decision.action === 'play') base.createdAt = decision.message.header.createdAt;
    else if (decision.reason === 'toy/quiet-hours') base.createdAt = decision.createdAt;
    const unopened = decision.action === 'wait' && (decision.reason === 'envelope/roster-behind' || decision.reason === 'envelope/no-key');
    if (!base.delivered && !unopened) {
      base.delivered = await this.#receipt(family, messageId, 'delivered');
    }
    if (decision.action === 'wait' && decision.reason === 'envelope/no-key' && base.reported !== true) {
      // The family hears once that this message cannot play yet (the guardians' security log, and
      // so the message in their conversation). Best effort and tried once: a server that drops the
      // report gains nothing by making the toy repeat it.
      const header = parseEnvelopeHeader(envelope);
      await reportRefusal(this.#api, { familyId: family.familyId, code: decision.reason, ...(header.ok ? { epoch: header.value.epoch } : {}), messageId });
      base.reported = true;
    }
    if (decision.action === 'wait') {
      const record: InboxRecord = { ...base, status: 'waiting', reason: decision.reason };
      if (decision.reason === 'toy/quiet-hours') record.notBefore = decision.notBefore;
      inbox[messageId] = record;
      this.#log({ event: 'waiting', messageId, reason: decision.reason, ...(record.notBefore === undefined ? {} : { notBefore: record.notBefore }) });
      return false;
    }
    await this.#play(decision.message, { volume: decision.volume, messageId, receivedAt: base.receivedAt });
    this.#log({ event: 'played', messageId, senderId: base.senderId, volume: decision.volume, durationMs: decision.message.durationMs });
    const record: InboxRecord = { ...base, status: 'played' };
    delete record.reason;
    delete record.notBefore;
    record.playedReceipt = await this.#receipt(family, messageId, 'played');
    inbox[messageId] = record;
    return true;
  }

  async #receipt(family: ToyFamily, messageId: string, kind: 'delivered' | 'played'): Promise<boolean> {
    try {
      const body = await signedReceiptBody({ signer: { id: this.#device.toyId, identity: this.#device.identity }, roster: family.roster, messageId, kind, at: this.#now() });
      await this.#api.call('POST', `/v1/families/${family.familyId}/messages/${messageId}/receipts`, undefined, body);
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
      const outbox = await this.#storage.loadOutbox();
      const seq = outbox.reduce((max, item) => Math.max(max, item.seq), 0) + 1;
      const messageId = randomBytes(MESSAGE_ID_LENGTH);
      const createdAt = this.#now();
      const sealed = await sealToyReply(family, this.#device, { ...input, messageId, createdAt });
      const id = toBase64Url(messageId);
      await this.#storage.putOutbox({ seq, messageId: id, createdAt, audioType: input.audioType, durationMs: input.durationMs, audio: input.audio, epoch: sealed.epoch, envelope: sealed.envelope });
      this.#log({ event: 'reply-queued', messageId: id });
      const left = await this.#flush();
      return { messageId: id, sent: !left.includes(id) };
    });
  }

  /** Sends queued replies in order, each once; stops at the first that cannot be sent now. Returns the ids still queued. */
  flush(): Promise<string[]> {
    return this.#serial(() => this.#flush());
  }

  async #flush(): Promise<string[]> {
    const outbox = await this.#storage.loadOutbox();
    for (let i = 0; i < outbox.length; i++) {
      const item = outbox[i]!;
      try {
        await this.#send(item);
      } catch (error) {
        if (isOffline(error)) {
          this.#online = false;
          this.#log({ event: 'offline', detail: 'replies stay queued until the server answers' });
          return outbox.slice(i).map((o) => o.messageId);
        }
        throw error;
      }
      await this.#storage.removeOutbox(item.messageId);
    }
    return [];
  }

  async #send(item: OutboxItem): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      let family = this.#family ?? (await this.#refresh());
      if (item.envelope === undefined || item.epoch !== family.roster.epoch) {
        // Sealed again under the current epoch with the same message id: if an earlier upload did
        // arrive, the server answers conflict and this one counts as sent.
        const sealed = await sealToyReply(family, this.#device, { audio: item.audio, audioType: item.audioType, durationMs: item.durationMs, messageId: fromBase64Url(item.messageId), createdAt: item.createdAt });
        item.envelope = sealed.envelope;
        item.epoch = sealed.epoch;
        await this.#storage.putOutbox(item);
      }
      try {
        const accepted = await this.#api.upload(`/v1/families/${family.familyId}/messages`, item.envelope, MessageAccepted);
        this.#online = true;
        if (accepted.messageId !== item.messageId) throw new ClientError('client/message-refused', 'the server acknowledged another message id');
        this.#log({ event: 'reply-sent', messageId: item.messageId });
        return;
      } catch (error) {
        if (error instanceof ApiError && error.code === 'burrow/conflict') {
          // The id exists: an earlier attempt whose answer was lost got through.
          this.#online = true;
          this.#log({ event: 'reply-sent', messageId: item.messageId, duplicate: true });
          return;
        }
        if (error instanceof ApiError && error.code === 'burrow/stale-epoch') {
          family = await this.#refresh();
          continue;
        }
        throw error;
      }
    }
    throw new ClientError('client/roster-busy', 'the family kept changing epochs; the reply stays queued');
  }
}

/** Waiting reasons whose messages are read again from the server on every sync. */
const REREAD = new Set(['envelope/needs-approval', 'envelope/roster-behind', 'envelope/no-key']);

/**
 * Whether a refusal goes to the family security log: everything the server delivered that the toy
 * must not play, but not its own reply, a message a guardian deleted, or a failed download.
 */
function reportable(reason: string): boolean {
  return reason !== 'toy/own-message' && reason !== 'toy/withdrawn' && reason !== 'toy/download-failed';
}

/** A new record for a listed message; `seenAt` is the toy's clock, the rest the server's description. */
function recordOf(view: MessageViewT, seenAt: number): InboxRecord {
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
