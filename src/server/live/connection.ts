/**
 * One live connection: follows the bus topics of the principal's families, replays what the
 * client missed after its resume cursors, then streams live events, filtered to what the
 * principal may see. The resume and follow loop is the bus's `createTopicFollower`: it subscribes
 * before reading the backlog and skips by cursor what was already handed over, so nothing falls
 * between the backlog and the live stream (at-least-once; clients dedupe by cursor and message id).
 */
import type { WebSocket } from 'ws';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { BurrowError, type ErrorCode } from '../../protocol/errors.js';
import { ClientFrame, type ServerFrame } from '../../protocol/live.js';
import type { Clock } from '../deps.js';
import type { FamilyAccess, FamilyMembership } from '../families/access.js';
import { createTopicFollower, type BusEvent, type EventBus } from '../../storage/bus/event-bus.js';
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

export interface LiveConnectionDeps {
  socket: WebSocket;
  principalId: string;
  /** A toy's connection ends when it leaves its family (it follows no other). Default 'member'. */
  kind?: PrincipalKind;
  access: FamilyAccess;
  bus: EventBus;
  clock: Clock;
  limits: LiveLimits;
  /** Whether the session (or device token) behind the connection is still valid. */
  stillAuthorised(): Promise<boolean>;
  warn(message: string, error: unknown): void;
  onClose(): void;
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

/** The client's first frame decides how the connection starts; a later resume frame is refused. */
interface ResumeDecision {
  /** The resume frame's cursors; undefined after a ping first, or when no frame came in time. */
  readonly cursors: Promise<Record<string, string> | undefined>;
  /** Whether the first frame came (or the wait ran out). */
  decided(): boolean;
  decide(cursors: Record<string, string> | undefined): void;
}

function awaitResume(waitMs: number): ResumeDecision {
  let settle: (cursors: Record<string, string> | undefined) => void = () => undefined;
  let decided = false;
  const cursors = new Promise<Record<string, string> | undefined>((resolve) => (settle = resolve));
  const decide = (value: Record<string, string> | undefined): void => {
    clearTimeout(timer);
    if (decided) return;
    decided = true;
    settle(value);
  };
  const timer = setTimeout(() => decide(undefined), waitMs);
  return { cursors, decided: () => decided, decide };
}

/** Counts a connection's frames per minute; false once it is over `perMinute`. */
function frameBudget(clock: Clock, perMinute: number): () => boolean {
  let windowStart = clock.now();
  let frames = 0;
  return () => {
    const now = clock.now();
    if (now - windowStart >= 60_000) {
      windowStart = now;
      frames = 0;
    }
    return ++frames <= perMinute;
  };
}

/** Runs a connection until it closes. */
export function runLiveConnection(deps: LiveConnectionDeps): void {
  const { socket, principalId, access, bus, clock, limits } = deps;
  const memberships = new Map<string, FamilyMembership>();
  // Every topic (the principal's own and each family's) is resumed and followed by one
  // TopicFollower, which drops what was already sent by cursor; its events are handled in order.
  // While the connection starts they are collected, to be handled before 'ready'.
  let backlog: BusEvent[] | undefined = [];
  const topics = createTopicFollower(bus, (event) => {
    if (backlog === undefined) enqueue(() => handle(event));
    else backlog.push(event);
  });
  const resume = awaitResume(limits.resumeWaitMs);
  const withinBudget = frameBudget(clock, limits.maxFramesPerMinute);
  let closed = false;
  let alive = true;
  /** Whether a heartbeat's re-check of the session and families is queued or running. */
  let checking = false;
  let queue: Promise<void> = Promise.resolve();

  function send(frame: ServerFrame): void {
    if (closed || socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      close(1013, 'the client does not read its events');
      return;
    }
    socket.send(JSON.stringify(frame));
  }

  function close(code: number, reason: string): void {
    if (closed) return;
    closed = true;
    cleanup();
    try {
      socket.close(code, reason);
    } catch {
      socket.terminate();
    }
  }

  function cleanup(): void {
    clearInterval(heartbeat);
    topics.stop();
    resume.decide(undefined);
  }

  /** Serialises the work that sends events, so frames leave in cursor order. */
  function enqueue(task: () => Promise<void>): void {
    queue = queue.then(task).catch((error: unknown) => {
      deps.warn('a live connection failed', error);
      close(1011, 'server error');
    });
  }

  function deliver(familyId: string, event: BusEvent): void {
    const membership = memberships.get(familyId);
    if (membership === undefined || !mayReceive(membership, event.type, event.data)) return;
    send({ type: 'event', familyId, cursor: event.cursor, event: event.type as never, data: event.data as never, at: event.at });
  }

  async function handle(event: BusEvent): Promise<void> {
    if (closed) return;
    if (event.topic === accountTopic(principalId)) {
      // Something about the principal changed (a family joined or left, a toy reset): re-check first.
      if (!(await deps.stillAuthorised())) {
        close(1008, 'the session ended');
        return;
      }
      await refreshFamilies(undefined);
      return;
    }
    const familyId = event.topic.slice('family:'.length);
    if (!memberships.has(familyId)) return;
    if (event.type === 'roster') {
      // A removed member stops here; the others see the change, with their possibly new rights.
      const membership = await access.membership(familyId, principalId);
      if (membership === undefined) {
        deliver(familyId, event);
        dropFamily(familyId);
        if (deps.kind === 'toy') close(1008, 'the toy is no longer in its family');
        return;
      }
      memberships.set(familyId, membership);
    }
    deliver(familyId, event);
    if (event.type === 'family-deleted') {
      dropFamily(familyId);
      if (deps.kind === 'toy') close(1008, 'the toy is no longer in its family');
    }
  }

  function dropFamily(familyId: string): void {
    memberships.delete(familyId);
    topics.unfollow(familyTopic(familyId));
  }

  /**
   * Follows the families the principal is in now and drops those they left. At the start, each is
   * resumed from the client's cursor (from its oldest kept event when the resume frame leaves it
   * out; live only without a resume frame); a family joined later is replayed from its oldest kept
   * event (what the protocol says of a family the client did not name in its resume frame).
   */
  async function refreshFamilies(resume: { cursors: Record<string, string> | undefined } | undefined): Promise<void> {
    const now = new Set(await access.familiesOf(principalId));
    for (const familyId of [...memberships.keys()]) if (!now.has(familyId)) dropFamily(familyId);
    if (deps.kind === 'toy' && now.size === 0) {
      close(1008, 'the toy is no longer in its family');
      return;
    }
    for (const familyId of now) {
      if (memberships.has(familyId)) continue;
      const membership = await access.membership(familyId, principalId);
      if (membership === undefined || closed) continue;
      memberships.set(familyId, membership);
      const cursor = resume?.cursors?.[familyId];
      const from = resume === undefined ? undefined : resume.cursors === undefined ? 'live' : cursor !== undefined && CURSOR_PATTERN.test(cursor) ? cursor : undefined;
      await topics.follow(familyTopic(familyId), from);
    }
  }

  async function start(): Promise<void> {
    const cursors = await resume.cursors;
    if (closed) return;
    await topics.follow(accountTopic(principalId), 'live');
    await refreshFamilies({ cursors });
    const events = backlog ?? [];
    backlog = undefined;
    for (const event of events) await handle(event);
    send({ type: 'ready' });
  }

  function onFrame(raw: unknown, isBinary: boolean): void {
    if (closed) return;
    if (!withinBudget()) {
      close(1008, 'too many frames');
      return;
    }
    if (isBinary) return send(problemFrame('burrow/bad-request', 'Frames are JSON text'));
    let frame: unknown;
    try {
      frame = JSON.parse(String(raw));
    } catch {
      return send(problemFrame('burrow/bad-request', 'The frame is not JSON'));
    }
    if (!clientFrame.Check(frame)) return send(problemFrame('burrow/bad-request', 'The frame is not a resume or ping frame'));
    if (frame.type === 'ping') {
      resume.decide(undefined);
      return send({ type: 'pong' });
    }
    if (resume.decided()) return send(problemFrame('burrow/conflict', 'A resume frame must be the first frame, sent right after connecting'));
    resume.decide(frame.cursors);
  }

  const heartbeat = setInterval(() => {
    if (!alive) {
      closed = true;
      cleanup();
      socket.terminate();
      return;
    }
    alive = false;
    try {
      socket.ping();
    } catch {
      // A socket that cannot take a ping is closing already.
    }
    // One re-check at a time: on a slow database they would otherwise pile up ahead of the events.
    if (checking) return;
    checking = true;
    enqueue(async () => {
      try {
        if (!(await deps.stillAuthorised())) {
          close(1008, 'the session ended');
          return;
        }
        await refreshFamilies(undefined);
      } finally {
        checking = false;
      }
    });
  }, limits.heartbeatMs);

  socket.on('pong', () => {
    alive = true;
  });
  socket.on('message', onFrame);
  socket.on('close', () => {
    closed = true;
    cleanup();
    deps.onClose();
  });
  enqueue(start);
}
