/**
 * One live connection: follows the bus topics of the principal's families, replays what the
 * client missed after its resume cursors, then streams live events, filtered to what the
 * principal may see. Subscribing happens before the backlog is read, and events already sent are
 * skipped by cursor, so nothing falls between the backlog and the live stream (at-least-once;
 * clients dedupe by cursor and message id).
 */
import type { WebSocket } from 'ws';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { BurrowError, type ErrorCode } from '../../protocol/errors.js';
import { ClientFrame, type ServerFrame } from '../../protocol/live.js';
import type { Clock } from '../deps.js';
import type { FamilyAccess, FamilyMembership } from '../families/access.js';
import type { PrincipalKind } from '../principal.js';
import { compareCursors, type BusEvent, type EventBus } from '../../storage/bus/event-bus.js';
import { accountTopic, familyTopic } from './family-events.js';

const clientFrame = TypeCompiler.Compile(ClientFrame);
const BACKLOG_PAGE = 500;
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

/** Runs a connection until it closes. */
export function runLiveConnection(deps: LiveConnectionDeps): void {
  const { socket, principalId, access, bus, clock, limits } = deps;
  const memberships = new Map<string, FamilyMembership>();
  /** The last cursor sent per family; events at or before it are not sent again. */
  const sent = new Map<string, string>();
  const unsubscribes = new Map<string, () => void>();
  let pending: BusEvent[] | undefined = [];
  let closed = false;
  let alive = true;
  let windowStart = clock.now();
  let framesInWindow = 0;
  let resumed = false;
  let settleResume: (cursors: Record<string, string> | undefined) => void = () => undefined;
  /** The first frame's cursors; undefined when the first frame is a ping, or none comes in time. */
  let decided = false;
  const resumeDecided = new Promise<Record<string, string> | undefined>((resolve) => {
    settleResume = (cursors) => {
      decided = true;
      resolve(cursors);
    };
  });
  const resumeTimer = setTimeout(() => settleResume(undefined), limits.resumeWaitMs);
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
    for (const unsubscribe of unsubscribes.values()) unsubscribe();
    unsubscribes.clear();
    clearTimeout(resumeTimer);
    settleResume(undefined);
  }

  /** Serialises the work that sends events, so frames leave in cursor order. */
  function enqueue(task: () => Promise<void>): void {
    queue = queue.then(task).catch((error: unknown) => {
      deps.warn('a live connection failed', error);
      close(1011, 'server error');
    });
  }

  function deliver(event: BusEvent): void {
    const familyId = event.topic.slice('family:'.length);
    const membership = memberships.get(familyId);
    if (membership === undefined) return;
    const last = sent.get(familyId);
    if (last !== undefined && compareCursors(event.cursor, last) <= 0) return;
    sent.set(familyId, event.cursor);
    if (!mayReceive(membership, event.type, event.data)) return;
    send({ type: 'event', familyId, cursor: event.cursor, event: event.type as never, data: event.data as Record<string, unknown>, at: event.at });
  }

  function onBusEvent(event: BusEvent): void {
    if (closed) return;
    if (pending !== undefined) {
      pending.push(event);
      return;
    }
    enqueue(() => handle(event));
  }

  async function handle(event: BusEvent): Promise<void> {
    if (closed) return;
    if (event.topic === accountTopic(principalId)) {
      // Something about the principal changed (a family joined or left, a toy reset): re-check first.
      if (!(await deps.stillAuthorised())) {
        close(1008, 'the session ended');
        return;
      }
      await refreshFamilies(true);
      return;
    }
    const familyId = event.topic.slice('family:'.length);
    if (!memberships.has(familyId)) return;
    if (event.type === 'roster') {
      // A removed member stops here; the others see the change, with their possibly new rights.
      const membership = await access.membership(familyId, principalId);
      if (membership === undefined) {
        deliver(event);
        dropFamily(familyId);
        if (deps.kind === 'toy') close(1008, 'the toy is no longer in its family');
        return;
      }
      memberships.set(familyId, membership);
    }
    deliver(event);
    if (event.type === 'family-deleted') {
      dropFamily(familyId);
      if (deps.kind === 'toy') close(1008, 'the toy is no longer in its family');
    }
  }

  async function follow(familyId: string, membership: FamilyMembership): Promise<void> {
    memberships.set(familyId, membership);
    if (unsubscribes.has(familyId)) return;
    const subscription = bus.subscribe([familyTopic(familyId)], onBusEvent);
    unsubscribes.set(familyId, subscription);
    await subscription.ready;
  }

  function dropFamily(familyId: string): void {
    memberships.delete(familyId);
    sent.delete(familyId);
    unsubscribes.get(familyId)?.();
    unsubscribes.delete(familyId);
  }

  /** Catches up one family after `cursor` (from its oldest kept event when undefined). */
  async function replay(familyId: string, cursor: string | undefined): Promise<void> {
    // The client has everything up to its cursor: nothing at or before it is sent again.
    if (cursor !== undefined && !sent.has(familyId)) sent.set(familyId, cursor);
    let after = cursor;
    for (;;) {
      const events = await bus.readSince(familyTopic(familyId), after, BACKLOG_PAGE);
      for (const event of events) {
        if (closed || !memberships.has(familyId)) return;
        deliver(event);
      }
      const last = events.at(-1);
      if (last === undefined || events.length < BACKLOG_PAGE) return;
      after = last.cursor;
    }
  }

  /** Follows families the principal joined since and drops those they left. */
  async function refreshFamilies(replayNew: boolean): Promise<void> {
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
      await follow(familyId, membership);
      // A family joined while connected is replayed from its oldest kept event (what the protocol
      // says of a family the client did not name in its resume frame).
      if (replayNew) await replay(familyId, undefined);
    }
  }

  async function start(): Promise<void> {
    const own = bus.subscribe([accountTopic(principalId)], onBusEvent);
    unsubscribes.set('account', own);
    await own.ready;
    await refreshFamilies(false);
    const cursors = await resumeDecided;
    clearTimeout(resumeTimer);
    if (closed) return;
    // With a resume frame, every family is replayed (from its cursor, or from its oldest kept
    // event when left out); without one, the client gets live events only.
    if (cursors !== undefined) {
      for (const familyId of [...memberships.keys()]) {
        const cursor = cursors[familyId];
        await replay(familyId, cursor !== undefined && CURSOR_PATTERN.test(cursor) ? cursor : undefined);
      }
    }
    const buffered = pending ?? [];
    pending = undefined;
    send({ type: 'ready' });
    for (const event of buffered) await handle(event);
  }

  function onFrame(raw: unknown, isBinary: boolean): void {
    if (closed) return;
    const now = clock.now();
    if (now - windowStart >= 60_000) {
      windowStart = now;
      framesInWindow = 0;
    }
    if (++framesInWindow > limits.maxFramesPerMinute) {
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
      resumed = true;
      settleResume(undefined);
      return send({ type: 'pong' });
    }
    if (resumed || decided) return send(problemFrame('burrow/conflict', 'A resume frame must be the first frame, sent right after connecting'));
    resumed = true;
    settleResume(frame.cursors);
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
    enqueue(async () => {
      if (!(await deps.stillAuthorised())) {
        close(1008, 'the session ended');
        return;
      }
      await refreshFamilies(true);
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
