/**
 * One live connection: follows the bus topics of the principal's families, replays what the
 * client missed after its resume cursors, then streams live events, filtered to what the
 * principal may see. The resume and follow loop is the node's `TopicFanout` (one bus subscription
 * per topic, shared by every connection that follows it): a connection joins a topic before its
 * backlog is read and is handed only events past the last one it was handed, so nothing falls
 * between the backlog and the live stream and nothing comes twice.
 *
 * A node holds tens of thousands of these, mostly idle, so each is one plain record (a class
 * instance whose methods live on the prototype), not a nest of closures and timers: its socket's
 * listeners are shared functions that find the record on the socket, and its heartbeat and
 * authorisation backstop are the hub's one sweep over all connections (src/server/live/hub.ts).
 */
import type { WebSocket } from 'ws';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { BurrowError, type ErrorCode } from '../../protocol/errors.js';
import { ClientFrame, type ServerFrame } from '../../protocol/live.js';
import type { Clock } from '../deps.js';
import type { FamilyAccess, FamilyMembership } from '../families/access.js';
import type { BusEvent } from '../../storage/bus/event-bus.js';
import type { TopicFanout, TopicSink } from '../../storage/bus/topic-fanout.js';
import type { PrincipalKind } from '../principal.js';
import { accountTopic, familyTopic } from './family-events.js';

const clientFrame = TypeCompiler.Compile(ClientFrame);
/** A client that does not read its events is dropped rather than buffered without end. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const MESSAGE_EVENTS = new Set(['message', 'message-deleted', 'receipt', 'approval']);
const FAMILY_EVENTS = new Set(['message', 'message-deleted', 'receipt', 'approval', 'decline', 'roster', 'child', 'family-deleted']);

export interface LiveLimits {
  heartbeatMs: number;
  maxFramesPerMinute: number;
  resumeWaitMs: number;
}

/** What every connection of a node shares: one object, not a copy per connection. */
export interface LiveShared {
  access: FamilyAccess;
  /** The node's one subscription per topic, shared by every connection that follows it. */
  topics: TopicFanout;
  clock: Clock;
  limits: LiveLimits;
  /** Whether the session (or device token) behind `connection` is still valid. */
  stillAuthorised(connection: LiveConnection): Promise<boolean>;
  warn(message: string, error: unknown, connection: LiveConnection): void;
  /** Called once when `connection` has closed, for whatever reason. */
  closed(connection: LiveConnection): void;
}

/** Who is connected, and with what: kept from the upgrade request, which is not kept itself. */
export interface LiveIdentity {
  principalId: string;
  /** A toy's connection ends when it leaves its family (it follows no other). */
  kind: PrincipalKind;
  /** The token presented on the upgrade, re-checked by `stillAuthorised`. */
  token: string;
  /** The member's session id (undefined for a toy). */
  sessionId: string | undefined;
  requestId: string;
}

/** A cursor of the bus's form (src/storage/bus/event-bus.ts); anything else from a client is ignored. */
const CURSOR_PATTERN = /^(0|[1-9][0-9]{0,15})$/;

/** Whether a principal with `membership` may see an event about their family. */
export function mayReceive(membership: FamilyMembership, type: string, data: unknown): boolean {
  if (!FAMILY_EVENTS.has(type)) return false;
  if (membership.conversations === 'all') return true;
  if (type === 'roster' || type === 'family-deleted') return true;
  const conversations = membership.conversations;
  const d = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
  if (type === 'child') return typeof d.childId === 'string' && conversations.has(d.childId);
  // A declined message is hidden from the child's toys and other relatives: only its sender hears.
  if (type === 'decline') return d.senderId === membership.principalId;
  if (MESSAGE_EVENTS.has(type)) {
    if (d.senderId === membership.principalId) return true;
    return Array.isArray(d.recipients) && d.recipients.some((r) => typeof r === 'string' && conversations.has(r));
  }
  return false;
}

function problemFrame(code: ErrorCode, detail: string): ServerFrame {
  const p = new BurrowError(code, detail).toProblem();
  return { type: 'error', problem: { type: p.type, title: p.title, status: p.status, detail: p.detail } };
}

/** The socket's listeners are these shared functions; each finds its connection here. */
const CONNECTION = Symbol('live connection');
type LiveSocket = WebSocket & { [CONNECTION]?: LiveConnection };

function onSocketMessage(this: LiveSocket, raw: unknown, isBinary: boolean): void {
  this[CONNECTION]?.onFrame(raw, isBinary);
}
function onSocketPong(this: LiveSocket): void {
  const connection = this[CONNECTION];
  if (connection !== undefined) connection.alive = true;
}
function onSocketClose(this: LiveSocket): void {
  this[CONNECTION]?.onClosed();
}
function onSocketError(this: LiveSocket, error: Error): void {
  const connection = this[CONNECTION];
  if (connection !== undefined) connection.onError(error);
  else this.terminate();
}
function onResumeWaitOver(connection: LiveConnection): void {
  connection.decideResume(undefined);
}

/** One live connection: started by the constructor, run until its socket closes. */
export class LiveConnection implements TopicSink {
  readonly socket: LiveSocket;
  readonly identity: LiveIdentity;
  readonly #shared: LiveShared;
  /** The principal's families (usually one, a few for a guardian): an array, lighter than a Map. */
  #memberships: FamilyMembership[] = [];
  /** Events that came while the connection started, handled before 'ready'; undefined after. */
  #backlog: BusEvent[] | undefined = [];
  #closed = false;
  /** Whether the socket answered the last heartbeat's ping (the hub's sweep reads and resets it). */
  alive = true;
  /** Which of the hub's sweeps re-checks this connection as a backstop (src/server/live/hub.ts). */
  backstopSlot = 0;
  /** Whether a re-check of the session and families is queued or running: one at a time. */
  #checking = false;
  /** Serialises the work that sends events, so frames leave in cursor order; undefined while idle. */
  #queue: Promise<void> | undefined;
  // The first frame decides how the connection starts: a resume frame's cursors, or (after a ping
  // first, or no frame within resumeWaitMs) live events only. A later resume frame is refused.
  #resumeDecided = false;
  #resumeTimer: NodeJS.Timeout | undefined;
  #settleResume: ((cursors: Record<string, string> | undefined) => void) | undefined;
  // The frame budget: frames counted per minute.
  #windowStart: number;
  #frames = 0;

  constructor(socket: WebSocket, identity: LiveIdentity, shared: LiveShared) {
    this.socket = socket as LiveSocket;
    this.identity = identity;
    this.#shared = shared;
    this.#windowStart = shared.clock.now();
    const cursors = new Promise<Record<string, string> | undefined>((resolve) => (this.#settleResume = resolve));
    this.#resumeTimer = setTimeout(onResumeWaitOver, shared.limits.resumeWaitMs, this);
    this.socket[CONNECTION] = this;
    this.socket.on('pong', onSocketPong);
    this.socket.on('message', onSocketMessage);
    this.socket.on('close', onSocketClose);
    // @fastify/websocket's own 'error' listener closes over the upgrade request and its reply
    // (headers, logger, raw messages: about 2 KB) for as long as the socket lives; this one does
    // what it does (log, cut the socket) from the record alone.
    this.socket.removeAllListeners('error');
    this.socket.on('error', onSocketError);
    this.#enqueue(() => this.#start(cursors));
  }

  get closed(): boolean {
    return this.#closed;
  }

  decideResume(cursors: Record<string, string> | undefined): void {
    if (this.#resumeTimer !== undefined) clearTimeout(this.#resumeTimer);
    this.#resumeTimer = undefined;
    if (this.#resumeDecided) return;
    this.#resumeDecided = true;
    const settle = this.#settleResume;
    this.#settleResume = undefined;
    settle?.(cursors);
  }

  /** One heartbeat, from the hub's sweep: a socket that did not answer the last ping is cut. */
  heartbeat(): void {
    if (this.#closed) return;
    if (!this.alive) {
      this.#closed = true;
      this.#cleanup();
      this.socket.terminate();
      return;
    }
    this.alive = false;
    try {
      this.socket.ping();
    } catch {
      // A socket that cannot take a ping is closing already.
    }
  }

  /**
   * Re-checks the session (or device token) and the families: when the bus says something about
   * the principal changed, and now and then from the hub's backstop sweep. One at a time: on a slow
   * database they would otherwise pile up ahead of the events.
   */
  recheck(): void {
    if (this.#checking || this.#closed) return;
    this.#checking = true;
    this.#enqueue(async () => {
      try {
        await this.#recheckNow();
      } finally {
        this.#checking = false;
      }
    });
  }

  async #recheckNow(): Promise<void> {
    if (!(await this.#shared.stillAuthorised(this))) {
      this.close(1008, 'the session ended');
      return;
    }
    await this.#refreshFamilies(undefined);
  }

  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cleanup();
    try {
      this.socket.close(code, reason);
    } catch {
      this.socket.terminate();
    }
  }

  onError(error: Error): void {
    this.#shared.warn('a live socket failed', error, this);
    this.socket.terminate();
  }

  onClosed(): void {
    this.#closed = true;
    this.#cleanup();
    this.socket[CONNECTION] = undefined;
    this.#shared.closed(this);
  }

  /** An event of a followed topic (the principal's own or a family's), in cursor order per topic. */
  receiveTopicEvent(event: BusEvent): void {
    if (this.#closed) return;
    if (this.#backlog === undefined) this.#enqueue(() => this.#handle(event));
    else this.#backlog.push(event);
  }

  #cleanup(): void {
    const topics = this.#shared.topics;
    topics.unfollow(accountTopic(this.identity.principalId), this);
    for (const { familyId } of this.#memberships) topics.unfollow(familyTopic(familyId), this);
    this.decideResume(undefined);
  }

  #send(frame: ServerFrame): void {
    const socket = this.socket;
    if (this.#closed || socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.close(1013, 'the client does not read its events');
      return;
    }
    socket.send(JSON.stringify(frame));
  }

  #enqueue(task: () => Promise<void>): void {
    const next: Promise<void> = (this.#queue ?? Promise.resolve())
      .then(task)
      .catch((error: unknown) => {
        this.#shared.warn('a live connection failed', error, this);
        this.close(1011, 'server error');
      })
      .then(() => {
        if (this.#queue === next) this.#queue = undefined;
      });
    this.#queue = next;
  }

  #deliver(familyId: string, event: BusEvent): void {
    const membership = this.#membershipOf(familyId);
    if (membership === undefined || !mayReceive(membership, event.type, event.data)) return;
    this.#send({ type: 'event', familyId, cursor: event.cursor, event: event.type as never, data: event.data as never, at: event.at });
  }

  async #handle(event: BusEvent): Promise<void> {
    if (this.#closed) return;
    const { principalId, kind } = this.identity;
    if (event.topic === accountTopic(principalId)) {
      // Something about the principal changed (a family joined or left, a toy reset, a session
      // ended): re-check at once, not at the backstop sweep.
      await this.#recheckNow();
      return;
    }
    const familyId = event.topic.slice('family:'.length);
    if (this.#membershipOf(familyId) === undefined) return;
    if (event.type === 'roster') {
      // A removed member stops here; the others see the change, with their possibly new rights.
      const membership = await this.#shared.access.membership(familyId, principalId);
      if (membership === undefined) {
        this.#deliver(familyId, event);
        this.#dropFamily(familyId);
        if (kind === 'toy') this.close(1008, 'the toy is no longer in its family');
        return;
      }
      this.#memberships = this.#memberships.map((m) => (m.familyId === familyId ? membership : m));
    }
    this.#deliver(familyId, event);
    if (event.type === 'family-deleted') {
      this.#dropFamily(familyId);
      if (kind === 'toy') this.close(1008, 'the toy is no longer in its family');
    }
  }

  #membershipOf(familyId: string): FamilyMembership | undefined {
    return this.#memberships.find((m) => m.familyId === familyId);
  }

  #dropFamily(familyId: string): void {
    this.#memberships = this.#memberships.filter((m) => m.familyId !== familyId);
    this.#shared.topics.unfollow(familyTopic(familyId), this);
  }

  /**
   * Follows the families the principal is in now and drops those they left. At the start, each is
   * resumed from the client's cursor (from its oldest kept event when the resume frame leaves it
   * out; live only without a resume frame); a family joined later is replayed from its oldest kept
   * event (what the protocol says of a family the client did not name in its resume frame).
   */
  async #refreshFamilies(resume: { cursors: Record<string, string> | undefined } | undefined): Promise<void> {
    const { principalId, kind } = this.identity;
    const access = this.#shared.access;
    const now = new Set(await access.familiesOf(principalId));
    for (const { familyId } of this.#memberships) if (!now.has(familyId)) this.#dropFamily(familyId);
    if (kind === 'toy' && now.size === 0) {
      this.close(1008, 'the toy is no longer in its family');
      return;
    }
    for (const familyId of now) {
      if (this.#membershipOf(familyId) !== undefined) continue;
      const membership = await access.membership(familyId, principalId);
      if (membership === undefined || this.#closed) continue;
      this.#memberships = [...this.#memberships, membership];
      const cursor = resume?.cursors?.[familyId];
      const from = resume === undefined ? undefined : resume.cursors === undefined ? 'live' : cursor !== undefined && CURSOR_PATTERN.test(cursor) ? cursor : undefined;
      await this.#shared.topics.follow(familyTopic(familyId), this, from);
    }
  }

  async #start(resume: Promise<Record<string, string> | undefined>): Promise<void> {
    const cursors = await resume;
    if (this.#closed) return;
    await this.#shared.topics.follow(accountTopic(this.identity.principalId), this, 'live');
    await this.#refreshFamilies({ cursors });
    const events = this.#backlog ?? [];
    this.#backlog = undefined;
    for (const event of events) await this.#handle(event);
    this.#send({ type: 'ready' });
  }

  #withinBudget(): boolean {
    const now = this.#shared.clock.now();
    if (now - this.#windowStart >= 60_000) {
      this.#windowStart = now;
      this.#frames = 0;
    }
    return ++this.#frames <= this.#shared.limits.maxFramesPerMinute;
  }

  onFrame(raw: unknown, isBinary: boolean): void {
    if (this.#closed) return;
    if (!this.#withinBudget()) {
      this.close(1008, 'too many frames');
      return;
    }
    if (isBinary) return this.#send(problemFrame('burrow/bad-request', 'Frames are JSON text'));
    let frame: unknown;
    try {
      frame = JSON.parse(String(raw));
    } catch {
      return this.#send(problemFrame('burrow/bad-request', 'The frame is not JSON'));
    }
    if (!clientFrame.Check(frame)) return this.#send(problemFrame('burrow/bad-request', 'The frame is not a resume or ping frame'));
    if (frame.type === 'ping') {
      this.decideResume(undefined);
      return this.#send({ type: 'pong' });
    }
    if (this.#resumeDecided) return this.#send(problemFrame('burrow/conflict', 'A resume frame must be the first frame, sent right after connecting'));
    this.decideResume(frame.cursors);
  }
}
