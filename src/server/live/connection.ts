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
import { BurrowError, type ErrorCode, type Problem } from '../../protocol/errors.js';
import { ClientFrame, FrameRef, type ReceiptFrame, type ServerFrame } from '../../protocol/live.js';
import type { MessageViewData } from '../messages/service.js';
import type { Clock } from '../deps.js';
import type { FamilyAccess, FamilyMembership } from '../families/access.js';
import type { BusEvent } from '../../storage/bus/event-bus.js';
import type { TopicFanout, TopicSink } from '../../storage/bus/topic-fanout.js';
import type { PrincipalKind } from '../principal.js';
import { accountTopic, familyTopic } from './family-events.js';

const clientFrame = TypeCompiler.Compile(ClientFrame);
const frameRef = TypeCompiler.Compile(FrameRef);
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
  /**
   * Stores the receipt of `frame` as `POST …/receipts` stores it, as `connection`'s principal and
   * under the route's rate limit; throws what the route would answer.
   */
  storeReceipt(connection: LiveConnection, frame: ReceiptFrame): Promise<MessageViewData>;
  /** The problem a failed `storeReceipt` answers (a server fault logged, and answered with the request id only). */
  problemOf(error: unknown, connection: LiveConnection): Problem;
  warn(message: string, error: unknown, connection: LiveConnection): void;
  /** Called once when `connection` has closed, for whatever reason. */
  closed(connection: LiveConnection): void;
}

/** Who is connected, and with what: kept from the upgrade request, which is not kept itself (the connection copies these onto its record). */
export interface LiveIdentity {
  principalId: string;
  /** A toy's connection ends when it leaves its family (it follows no other). */
  kind: PrincipalKind;
  /** The token presented on the upgrade, re-checked by `stillAuthorised`. */
  token: string;
  /** The member's session id (undefined for a toy). */
  sessionId: string | undefined;
  /** When the member's session expires (ms since 1970; undefined for a toy, whose token does not). */
  sessionExpiresAt: number | undefined;
  requestId: string;
  /** The client's address as the rate limits key it (`clientKeyOf`), for the receipts sent over the connection. */
  clientKey: string;
}

/** A cursor of the bus's form (src/storage/bus/event-bus.ts); anything else from a client is ignored. */
const CURSOR_PATTERN = /^(0|[1-9][0-9]{0,15})$/;

/**
 * What a connection keeps of its principal's membership of one family: the family and the
 * conversations they may see ('all' for a guardian). An array, not the membership's `Set`: a toy's
 * is two ids, a relative's a few, and a node keeps one per connection.
 */
export interface LiveFamily {
  readonly familyId: string;
  readonly conversations: 'all' | readonly string[];
}

/** What `membership` comes down to for a live connection (`principalId`'s own string reused, not copied). */
export function liveFamilyOf(membership: FamilyMembership, principalId: string): LiveFamily {
  const { familyId, conversations } = membership;
  return { familyId, conversations: conversations === 'all' ? 'all' : [...conversations].map((id) => (id === principalId ? principalId : id)) };
}

/** Whether `principalId`, seeing `family`'s conversations, may see an event about that family. */
export function mayReceive(principalId: string, family: LiveFamily, type: string, data: unknown): boolean {
  if (!FAMILY_EVENTS.has(type)) return false;
  const conversations = family.conversations;
  if (conversations === 'all') return true;
  if (type === 'roster' || type === 'family-deleted') return true;
  const d = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
  if (type === 'child') return typeof d.childId === 'string' && conversations.includes(d.childId);
  // A declined message is hidden from the child's toys and other relatives: only its sender hears.
  if (type === 'decline') return d.senderId === principalId;
  if (MESSAGE_EVENTS.has(type)) {
    if (d.senderId === principalId) return true;
    return Array.isArray(d.recipients) && d.recipients.some((r) => typeof r === 'string' && conversations.includes(r));
  }
  return false;
}

/**
 * What one backstop sweep looked up, shared by every connection it re-checks: one token check per
 * principal, token and session and one list of families per principal, however many connections
 * they hold on the node (a guardian's phone and browser, a toy reconnecting). Lives for one sweep;
 * what must be fresh (a re-check the bus asked for) does not use it.
 */
export class RecheckRound {
  readonly #authorised = new Map<string, Promise<boolean>>();
  readonly #families = new Map<string, Promise<string[]>>();

  /** `check(who)`, asked once per round for each principal, session and token. */
  authorised<W extends Pick<LiveIdentity, 'kind' | 'principalId' | 'sessionId' | 'token'>>(who: W, check: (who: W) => Promise<boolean>): Promise<boolean> {
    const key = `${who.kind}\n${who.principalId}\n${who.sessionId ?? ''}\n${who.token}`;
    let answer = this.#authorised.get(key);
    if (answer === undefined) this.#authorised.set(key, (answer = check(who)));
    return answer;
  }

  /** `list(principalId)`, asked once per round for each principal. */
  familiesOf(principalId: string, list: (principalId: string) => Promise<string[]>): Promise<string[]> {
    let answer = this.#families.get(principalId);
    if (answer === undefined) this.#families.set(principalId, (answer = list(principalId)));
    return answer;
  }
}

/** An error frame of `p` (answering the frame `ref`, if any), with only the fields `ErrorFrame` carries. */
function errorFrame(p: Problem, ref?: string): ServerFrame {
  const problem = { type: p.type, title: p.title, status: p.status, detail: p.detail, ...(p.retryAfter === undefined ? {} : { retryAfter: p.retryAfter }), ...(p.requestId === undefined ? {} : { requestId: p.requestId }) };
  return ref === undefined ? { type: 'error', problem } : { type: 'error', ref, problem };
}

function problemFrame(code: ErrorCode, detail: string, ref?: string): ServerFrame {
  return errorFrame(new BurrowError(code, detail).toProblem(), ref);
}

/** The `ref` of a frame that failed its schema, when it has a well-formed one: the error frame names it. */
function refOf(frame: unknown): string | undefined {
  const ref = typeof frame === 'object' && frame !== null ? (frame as { ref?: unknown }).ref : undefined;
  return frameRef.Check(ref) ? ref : undefined;
}

/** The socket's listeners are these shared functions; each finds its connection here. */
const CONNECTION = Symbol('live connection');
// The connection's flags (`LiveConnection.#flags`).
const CLOSED = 1;
const ALIVE = 2;
const CHECKING = 4;
const RESUME_DECIDED = 8;
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
  // Who is connected (a `LiveIdentity`), on the record itself rather than in an object of its own.
  readonly principalId: string;
  /** A toy's connection ends when it leaves its family (it follows no other). */
  readonly kind: PrincipalKind;
  /** The token presented on the upgrade, re-checked by `stillAuthorised`: a copy, not a slice of the upgrade's header. */
  readonly token: string;
  readonly sessionId: string | undefined;
  readonly requestId: string;
  readonly clientKey: string;
  readonly #shared: LiveShared;
  /** The principal's families (usually one, a few for a guardian): an array, lighter than a Map. */
  #families: LiveFamily[] = [];
  /** Events that came while the connection started, handled before 'ready'; undefined after. */
  #backlog: BusEvent[] | undefined = [];
  /** CLOSED, ALIVE, CHECKING, RESUME_DECIDED: one small integer instead of four fields. */
  #flags = ALIVE;
  /** Which of the hub's sweeps re-checks this connection as a backstop (src/server/live/hub.ts). */
  backstopSlot = 0;
  /** Serialises the work that sends events, so frames leave in cursor order; undefined while idle. */
  #queue: Promise<void> | undefined;
  // The first frame decides how the connection starts: a resume frame's cursors, or (after a ping
  // first, or no frame within resumeWaitMs) live events only. A later resume frame is refused.
  #resumeTimer: NodeJS.Timeout | undefined;
  #settleResume: ((cursors: Record<string, string> | undefined) => void) | undefined;
  // The frame budget: frames counted per minute, from a start in whole seconds (a small integer,
  // which V8 keeps in the field itself; milliseconds since 1970 would take a heap number each).
  #windowStart: number;
  #frames = 0;
  // When the session expires, in whole seconds (rounded up; 0 for a toy): each heartbeat compares
  // it with the clock, so an expired session loses its socket within a heartbeat without a query.
  #sessionEndsSecond: number;

  constructor(socket: WebSocket, identity: LiveIdentity, shared: LiveShared) {
    this.socket = socket as LiveSocket;
    this.principalId = identity.principalId;
    this.kind = identity.kind;
    this.token = identity.token;
    this.sessionId = identity.sessionId;
    this.requestId = identity.requestId;
    this.clientKey = identity.clientKey;
    this.#shared = shared;
    this.#windowStart = Math.floor(shared.clock.now() / 1000);
    this.#sessionEndsSecond = identity.sessionExpiresAt === undefined ? 0 : Math.ceil(identity.sessionExpiresAt / 1000);
    const cursors = new Promise<Record<string, string> | undefined>((resolve) => (this.#settleResume = resolve));
    this.#resumeTimer = setTimeout(onResumeWaitOver, shared.limits.resumeWaitMs, this);
    this.socket[CONNECTION] = this;
    // @fastify/websocket's own 'error' listener closes over the upgrade request and its reply
    // (headers, logger, raw messages: about 2 KB) for as long as the socket lives; this one does
    // what it does (log, cut the socket) from the record alone.
    this.socket.removeAllListeners('error');
    this.socket.on('error', onSocketError);
    this.socket.on('pong', onSocketPong);
    this.socket.on('message', onSocketMessage);
    this.socket.on('close', onSocketClose);
    this.#enqueue(() => this.#start(cursors));
  }

  get closed(): boolean {
    return (this.#flags & CLOSED) !== 0;
  }

  /** Whether the socket answered the last heartbeat's ping (the hub's sweep reads and resets it). */
  get alive(): boolean {
    return (this.#flags & ALIVE) !== 0;
  }

  set alive(alive: boolean) {
    this.#flags = alive ? this.#flags | ALIVE : this.#flags & ~ALIVE;
  }

  decideResume(cursors: Record<string, string> | undefined): void {
    if (this.#resumeTimer !== undefined) clearTimeout(this.#resumeTimer);
    this.#resumeTimer = undefined;
    if ((this.#flags & RESUME_DECIDED) !== 0) return;
    this.#flags |= RESUME_DECIDED;
    const settle = this.#settleResume;
    this.#settleResume = undefined;
    settle?.(cursors);
  }

  /**
   * One heartbeat, from the hub's sweep: a socket that did not answer the last ping is cut, and so
   * is one whose session has expired (the backstop sweep would take up to its whole round).
   */
  heartbeat(): void {
    if (this.closed) return;
    if (this.#sessionEndsSecond !== 0 && this.#shared.clock.now() >= this.#sessionEndsSecond * 1000) {
      this.close(1008, 'the session expired');
      return;
    }
    if (!this.alive) {
      this.#flags |= CLOSED;
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
   * the principal changed, and now and then from the hub's backstop sweep, which passes the
   * sweep's `round` so that connections of one principal share its lookups. One at a time: on a
   * slow database they would otherwise pile up ahead of the events.
   */
  recheck(round?: RecheckRound): void {
    if ((this.#flags & (CHECKING | CLOSED)) !== 0) return;
    this.#flags |= CHECKING;
    this.#enqueue(async () => {
      try {
        await this.#recheckNow(round);
      } finally {
        this.#flags &= ~CHECKING;
      }
    });
  }

  async #recheckNow(round: RecheckRound | undefined): Promise<void> {
    const shared = this.#shared;
    if (!(await (round === undefined ? shared.stillAuthorised(this) : round.authorised(this, (c) => shared.stillAuthorised(c))))) {
      this.close(1008, 'the session ended');
      return;
    }
    await this.#refreshFamilies(undefined, round);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.#flags |= CLOSED;
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
    this.#flags |= CLOSED;
    this.#cleanup();
    this.socket[CONNECTION] = undefined;
    this.#shared.closed(this);
  }

  /** An event of a followed topic (the principal's own or a family's), in cursor order per topic. */
  receiveTopicEvent(event: BusEvent): void {
    if (this.closed) return;
    if (this.#backlog === undefined) this.#enqueue(() => this.#handle(event));
    else this.#backlog.push(event);
  }

  #cleanup(): void {
    const topics = this.#shared.topics;
    topics.unfollow(accountTopic(this.principalId), this);
    for (const { familyId } of this.#families) topics.unfollow(familyTopic(familyId), this);
    this.decideResume(undefined);
  }

  #send(frame: ServerFrame): void {
    const socket = this.socket;
    if (this.closed || socket.readyState !== socket.OPEN) return;
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
    const family = this.#familyOf(familyId);
    if (family === undefined || !mayReceive(this.principalId, family, event.type, event.data)) return;
    this.#send({ type: 'event', familyId, cursor: event.cursor, event: event.type as never, data: event.data as never, at: event.at });
  }

  async #handle(event: BusEvent): Promise<void> {
    if (this.closed) return;
    const { principalId, kind } = this;
    if (event.topic === accountTopic(principalId)) {
      // Something about the principal changed (a family joined or left, a toy reset, a session
      // ended): re-check at once, not at the backstop sweep.
      await this.#recheckNow(undefined);
      return;
    }
    const familyId = event.topic.slice('family:'.length);
    if (this.#familyOf(familyId) === undefined) return;
    if (event.type === 'roster') {
      // A removed member stops here; the others see the change, with their possibly new rights.
      const membership = await this.#shared.access.membership(familyId, principalId);
      if (membership === undefined) {
        this.#deliver(familyId, event);
        this.#dropFamily(familyId);
        if (kind === 'toy') this.close(1008, 'the toy is no longer in its family');
        return;
      }
      const family = liveFamilyOf(membership, principalId);
      this.#families = this.#families.map((f) => (f.familyId === familyId ? family : f));
    }
    this.#deliver(familyId, event);
    if (event.type === 'family-deleted') {
      this.#dropFamily(familyId);
      if (kind === 'toy') this.close(1008, 'the toy is no longer in its family');
    }
  }

  #familyOf(familyId: string): LiveFamily | undefined {
    return this.#families.find((f) => f.familyId === familyId);
  }

  #dropFamily(familyId: string): void {
    this.#families = this.#families.filter((f) => f.familyId !== familyId);
    this.#shared.topics.unfollow(familyTopic(familyId), this);
  }

  /**
   * Follows the families the principal is in now and drops those they left. At the start, each is
   * resumed from the client's cursor (from its oldest kept event when the resume frame leaves it
   * out; live only without a resume frame); a family joined later is replayed from its oldest kept
   * event (what the protocol says of a family the client did not name in its resume frame).
   */
  async #refreshFamilies(resume: { cursors: Record<string, string> | undefined } | undefined, round?: RecheckRound): Promise<void> {
    const { principalId, kind } = this;
    const access = this.#shared.access;
    const listed = round === undefined ? await access.familiesOf(principalId) : await round.familiesOf(principalId, (id) => access.familiesOf(id));
    const now = new Set(listed);
    for (const { familyId } of this.#families) if (!now.has(familyId)) this.#dropFamily(familyId);
    if (kind === 'toy' && now.size === 0) {
      this.close(1008, 'the toy is no longer in its family');
      return;
    }
    for (const familyId of now) {
      if (this.#familyOf(familyId) !== undefined) continue;
      const membership = await access.membership(familyId, principalId);
      if (membership === undefined || this.closed) continue;
      this.#families = [...this.#families, liveFamilyOf(membership, principalId)];
      const cursor = resume?.cursors?.[familyId];
      const from = resume === undefined ? undefined : resume.cursors === undefined ? 'live' : cursor !== undefined && CURSOR_PATTERN.test(cursor) ? cursor : undefined;
      await this.#shared.topics.follow(familyTopic(familyId), this, from);
    }
  }

  async #start(resume: Promise<Record<string, string> | undefined>): Promise<void> {
    const cursors = await resume;
    if (this.closed) return;
    await this.#shared.topics.follow(accountTopic(this.principalId), this, 'live');
    await this.#refreshFamilies({ cursors });
    const events = this.#backlog ?? [];
    this.#backlog = undefined;
    for (const event of events) await this.#handle(event);
    this.#send({ type: 'ready' });
  }

  #withinBudget(): boolean {
    const now = Math.floor(this.#shared.clock.now() / 1000);
    if (now - this.#windowStart >= 60) {
      this.#windowStart = now;
      this.#frames = 0;
    }
    return ++this.#frames <= this.#shared.limits.maxFramesPerMinute;
  }

  /**
   * Stores a receipt beside the event queue, not in it: it needs no event order, and events must
   * not wait for its write. Its authorisation is the service's, as over HTTP, at the time it runs.
   */
  #storeReceipt(frame: ReceiptFrame): void {
    const shared = this.#shared;
    shared.storeReceipt(this, frame).then(
      (message) => this.#send({ type: 'receipt-stored', ref: frame.ref, message }),
      (error: unknown) => this.#send(errorFrame(shared.problemOf(error, this), frame.ref)),
    );
  }

  onFrame(raw: unknown, isBinary: boolean): void {
    if (this.closed) return;
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
    if (!clientFrame.Check(frame)) return this.#send(problemFrame('burrow/bad-request', 'The frame is not a resume, ping or receipt frame', refOf(frame)));
    if (frame.type === 'receipt') return this.#storeReceipt(frame);
    if (frame.type === 'ping') {
      this.decideResume(undefined);
      return this.#send({ type: 'pong' });
    }
    if ((this.#flags & RESUME_DECIDED) !== 0) return this.#send(problemFrame('burrow/conflict', 'A resume frame must be the first frame, sent right after connecting'));
    this.decideResume(frame.cursors);
  }
}
