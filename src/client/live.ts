/**
 * The live channel from the client's side: a WebSocket to `/v1/live` that resumes from the last
 * cursor processed per family, reconnects with exponential backoff and jitter, and hands each
 * event to the caller once — delivery is at-least-once, so events are deduplicated by
 * (family, cursor) and message events also by message id. Cursors are saved through the key
 * store after the caller has processed an event, so a crash replays rather than loses it.
 *
 * Every frame is checked against the protocol's schema (`ServerFrame`) before anything reads it:
 * an event that does not match its kind's payload is dropped and reported as `live/bad-frame`,
 * its cursor not advanced. Even a well-formed event is only a hint of what to fetch and verify.
 *
 * Isomorphic: the caller passes the WebSocket constructor (the browser's global `WebSocket`, or
 * `ws` in Node, which has none). Every connection offers the `burrow.v1` subprotocol. A token goes
 * in an Authorization header, which `ws` supports; a browser cannot set one, so it sends its
 * token as a second subprotocol (`tokenIn: 'subprotocol'`: the virtual toy's device token), or
 * relies on the session cookie (the family app). Never in the URL.
 */
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { LIVE_LIMITS, LIVE_SUBPROTOCOL, liveSubprotocols, ServerFrame, type EventFrame, type LiveEventPayload, type LiveEventType, type ReceiptFrame } from '../protocol/live.js';
import type { MessageView } from '../protocol/messages.js';
import { ApiError } from './api.js';
import type { KeyStore } from './key-store.js';
import { assertTransportAllowed } from './transport.js';

/** The part of a WebSocket this client uses; both the browser's and `ws` provide it. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** A WebSocket constructor: `(url, protocols)` in browsers; `ws` also takes `{ headers }` after them. */
export type WebSocketConstructor = new (url: string, protocols?: string[], options?: { headers?: Record<string, string> }) => WebSocketLike;

/** One event of kind `K`, as handed to `onEvent`: its payload is what `LiveEventData` says that kind carries. */
export interface LiveEventOf<K extends LiveEventType> {
  familyId: string;
  cursor: string;
  event: K;
  data: LiveEventPayload<K>;
  at: number;
}

/** One event, as handed to `onEvent`: a union discriminated by `event`. */
export type LiveEvent = { [K in LiveEventType]: LiveEventOf<K> }[LiveEventType];

export interface LiveOptions {
  /** The server's base URL (`http(s)://…`, as for the API client). */
  baseUrl: string;
  /** Allow plain ws:// to a host beyond loopback (refused by default, as for the API client). */
  allowInsecureHttp?: boolean;
  WebSocket: WebSocketConstructor;
  /** Bearer token; omit in the family app, where the session cookie authenticates. */
  token?: string;
  /** How the token is presented: an Authorization header (default; Node), or a subprotocol (browsers, which cannot set headers). */
  tokenIn?: 'header' | 'subprotocol';
  /** Where the last processed cursor per family is kept (and read at start). */
  store: Pick<KeyStore, 'loadCursors' | 'saveCursors'>;
  /** Called once per event, in order; the cursor is saved after it resolves. */
  onEvent: (event: LiveEvent) => void | Promise<void>;
  /** Called after each (re)connection once the backlog has been delivered. */
  onReady?: () => void;
  /** Called on refused frames and connection trouble; never with a secret. `live/ended` means the server closed with 1008 and no reconnect follows. */
  onProblem?: (problem: { type: string; detail: string }) => void;
  /**
   * Backoff: first delay and cap, in ms (defaults 500 ms and 30 s), and the jitter: `equal` (the
   * default) waits between half and all of the delay, `full` anywhere from 0 to all of it (toys,
   * so a restarted server is not met by a stampede).
   */
  backoff?: { initialMs?: number; maxMs?: number; jitter?: 'equal' | 'full' };
  /** Silence after which the connection is presumed dead and replaced (default 75 s). */
  idleTimeoutMs?: number;
  /** How often to send an application ping (default 25 s). */
  pingMs?: number;
  /**
   * How long a receipt frame waits for its answer before it is left to HTTP (default 10 s): a
   * server that keeps the connection alive but never answers cannot hold a toy's receipts.
   */
  receiptAnswerMs?: number;
}

/** A receipt to store over the live channel: the message it is for and the body `POST …/receipts` takes. */
export type LiveReceipt = Pick<ReceiptFrame, 'familyId' | 'messageId' | 'receipt'>;

/** A running live connection. */
export interface LiveConnection {
  /** Resolves the first time the backlog has been delivered. */
  readonly ready: Promise<void>;
  /**
   * Stores a signed receipt over the connection while it is open and ready: resolves with the
   * message as the server answered, or `undefined` when the receipt was not sent (not connected,
   * not ready, or `LIVE_LIMITS.receiptFramesPerMinute` sent in the last minute) or got no answer
   * before the connection closed or within `receiptAnswerMs`; then post it over HTTP (a repeated receipt is stored once and
   * answered as the first). Rejects with the `ApiError` of the problem the server answered.
   */
  sendReceipt(receipt: LiveReceipt): Promise<Static<typeof MessageView> | undefined>;
  /** The last processed cursor per family. */
  cursors(): Record<string, string>;
  /** Closes for good (no reconnect). */
  close(): Promise<void>;
}

const SEEN_LIMIT = 50_000;
const OPEN = 1;
/** WebSocket close code 1008 (RFC 6455 §7.4.1): the server refuses this client as it is. */
const POLICY_VIOLATION = 1008;

/** A receipt frame waiting for its answer on `socket`. */
interface PendingReceipt {
  socket: WebSocketLike;
  timer: ReturnType<typeof setTimeout>;
  resolve: (message: Static<typeof MessageView> | undefined) => void;
  reject: (error: ApiError) => void;
}

/** A set that forgets its oldest members beyond a limit. */
class BoundedSet {
  readonly #items = new Set<string>();
  constructor(private readonly limit: number) {}
  has(item: string): boolean {
    return this.#items.has(item);
  }
  add(item: string): void {
    this.#items.add(item);
    if (this.#items.size > this.limit) {
      const oldest = this.#items.values().next().value;
      if (oldest !== undefined) this.#items.delete(oldest);
    }
  }
}

function liveUrl(baseUrl: string): string {
  const url = new URL(baseUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('baseUrl must be an http(s) URL');
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/live`;
  url.search = '';
  url.hash = '';
  return url.toString();
}

/** Whether `frame` is a frame the protocol describes (an event's payload checked against its kind's schema). */
function isServerFrame(frame: unknown): frame is ServerFrame {
  return Value.Check(ServerFrame, frame);
}

function eventOf(frame: EventFrame): LiveEvent {
  return { familyId: frame.familyId, cursor: frame.cursor, event: frame.event, data: frame.data, at: frame.at } as LiveEvent;
}

/** A new socket to `url`, offering `burrow.v1` and presenting the token as `options` say. */
function openSocket(options: LiveOptions, url: string): WebSocketLike {
  if (options.token === undefined) return new options.WebSocket(url, [LIVE_SUBPROTOCOL]);
  if (options.tokenIn === 'subprotocol') return new options.WebSocket(url, liveSubprotocols(options.token));
  return new options.WebSocket(url, [LIVE_SUBPROTOCOL], { headers: { authorization: `Bearer ${options.token}` } });
}

/**
 * Connects to the live channel and keeps it connected until `close()`: resumes from the stored
 * cursors, dedupes, persists cursors after each processed event, reconnects with backoff.
 */
export async function connectLive(options: LiveOptions): Promise<LiveConnection> {
  const url = liveUrl(options.baseUrl);
  assertTransportAllowed(new URL(url), options);
  const cursors: Record<string, string> = { ...(await options.store.loadCursors()) };
  const seenCursors = new BoundedSet(SEEN_LIMIT);
  const seenMessages = new BoundedSet(SEEN_LIMIT);
  const initialMs = options.backoff?.initialMs ?? 500;
  const maxMs = options.backoff?.maxMs ?? 30_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 75_000;
  const pingMs = options.pingMs ?? 25_000;

  let closed = false;
  let attempt = 0;
  let socket: WebSocketLike | undefined;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  let pingTimer: ReturnType<typeof setInterval> | undefined;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  // Events are processed one at a time, in arrival order, across reconnections.
  let queue: Promise<void> = Promise.resolve();
  // The socket whose `ready` frame was handled (receipts go over it), the receipt frames waiting
  // for their answers by ref, and when the last receipt frames went on it (its frame budget).
  let readySocket: WebSocketLike | undefined;
  const pending = new Map<string, PendingReceipt>();
  let receiptTimes: number[] = [];
  let nextRef = 0;
  let resolveReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    resolveReady = resolve;
  });

  const problem = (type: string, detail: string): void => options.onProblem?.({ type, detail });

  const stopTimers = (): void => {
    if (pingTimer !== undefined) clearInterval(pingTimer);
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    pingTimer = undefined;
    idleTimer = undefined;
  };

  const touch = (ws: WebSocketLike): void => {
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      problem('live/idle', 'no frame from the server for too long; reconnecting');
      ws.close(4000, 'idle');
    }, idleTimeoutMs);
  };

  const handleEvent = async (frame: EventFrame): Promise<void> => {
    const key = `${frame.familyId}\u0000${frame.cursor}`;
    if (seenCursors.has(key)) return;
    seenCursors.add(key);
    const messageId = frame.event === 'message' ? frame.data.messageId : undefined;
    if (messageId === undefined || !seenMessages.has(`${frame.familyId}\u0000${messageId}`)) {
      if (messageId !== undefined) seenMessages.add(`${frame.familyId}\u0000${messageId}`);
      try {
        await options.onEvent(eventOf(frame));
      } catch (error) {
        problem('live/handler-failed', error instanceof Error ? error.message : String(error));
      }
    }
    cursors[frame.familyId] = frame.cursor;
    await options.store.saveCursors({ ...cursors });
  };

  const scheduleReconnect = (): void => {
    if (closed) return;
    const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 16));
    // Jitter spreads reconnecting clients apart: between half and the whole delay, or (full) from 0.
    const delay = options.backoff?.jitter === 'full' ? Math.random() * base : base / 2 + Math.random() * (base / 2);
    attempt += 1;
    reconnectTimer = setTimeout(open, delay);
  };

  function open(): void {
    if (closed) return;
    let ws: WebSocketLike;
    try {
      ws = openSocket(options, url);
    } catch (error) {
      problem('live/connect-failed', error instanceof Error ? error.message : String(error));
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.onopen = () => {
      touch(ws);
      ws.send(JSON.stringify({ type: 'resume', cursors: { ...cursors } }));
      pingTimer = setInterval(() => {
        if (ws.readyState === OPEN) ws.send(JSON.stringify({ type: 'ping' }));
      }, pingMs);
    };
    ws.onmessage = (event) => {
      touch(ws);
      let frame: unknown;
      try {
        frame = JSON.parse(typeof event.data === 'string' ? event.data : new TextDecoder().decode(event.data as Uint8Array));
      } catch {
        problem('live/bad-frame', 'the server sent a frame that is not JSON');
        return;
      }
      if (!isServerFrame(frame)) {
        // Never trusted: a malformed or unknown frame (an event whose payload does not match its kind) is dropped.
        problem('live/bad-frame', 'the server sent a frame the protocol does not describe; it was ignored');
        return;
      }
      if (frame.type === 'event') {
        queue = queue.then(() => handleEvent(frame));
        return;
      }
      if (frame.type === 'receipt-stored' || (frame.type === 'error' && frame.ref !== undefined)) {
        // Answered at once, not behind the events: an event's handler may be waiting for it.
        const waiting = pending.get(frame.ref!);
        if (waiting === undefined || waiting.socket !== ws) return;
        pending.delete(frame.ref!);
        clearTimeout(waiting.timer);
        if (frame.type === 'receipt-stored') waiting.resolve(frame.message);
        else waiting.reject(new ApiError(frame.problem));
        return;
      }
      if (frame.type === 'ready') {
        queue = queue.then(() => {
          if (socket === ws) readySocket = ws;
          attempt = 0;
          resolveReady();
          options.onReady?.();
        });
      } else if (frame.type === 'error') {
        problem(frame.problem.type, frame.problem.detail);
      }
    };
    ws.onerror = () => {
      problem('live/socket-error', 'the live connection failed');
    };
    ws.onclose = (event) => {
      stopTimers();
      if (socket === ws) socket = undefined;
      if (readySocket === ws) readySocket = undefined;
      receiptTimes = [];
      // Unanswered receipts may or may not have been stored: the caller posts them again over HTTP.
      for (const [ref, waiting] of pending) {
        if (waiting.socket !== ws) continue;
        pending.delete(ref);
        clearTimeout(waiting.timer);
        waiting.resolve(undefined);
      }
      if (closed) return;
      if (event.code === POLICY_VIOLATION) {
        // The server ended it on purpose (session ended, flood, too many connections): retrying would not help.
        closed = true;
        problem('live/ended', `the server ended the live connection: ${event.reason ?? 'policy'}`);
        return;
      }
      problem('live/closed', `the live connection closed (${event.code}); reconnecting`);
      scheduleReconnect();
    };
  }

  /** Whether one more receipt frame stays within the budget: at most `receiptFramesPerMinute` in any minute. */
  const receiptBudgetLeft = (now: number): boolean => {
    receiptTimes = receiptTimes.filter((t) => now - t < 60_000);
    return receiptTimes.length < LIVE_LIMITS.receiptFramesPerMinute;
  };

  open();
  return {
    ready,
    cursors: () => ({ ...cursors }),
    sendReceipt({ familyId, messageId, receipt }) {
      const ws = readySocket;
      const now = Date.now();
      if (closed || ws === undefined || ws.readyState !== OPEN || !receiptBudgetLeft(now)) return Promise.resolve(undefined);
      const ref = `r${(nextRef++).toString(36)}`;
      receiptTimes.push(now);
      return new Promise((resolve, reject) => {
        // Unanswered in time: left to HTTP (the frame may still have been stored; a repeat is stored once).
        const timer = setTimeout(() => {
          if (pending.delete(ref)) resolve(undefined);
        }, options.receiptAnswerMs ?? 10_000);
        pending.set(ref, { socket: ws, timer, resolve, reject });
        ws.send(JSON.stringify({ type: 'receipt', ref, familyId, messageId, receipt } satisfies ReceiptFrame));
      });
    },
    async close() {
      closed = true;
      if (reconnectTimer !== undefined) clearTimeout(reconnectTimer);
      stopTimers();
      socket?.close(1000, 'bye');
      await queue;
    },
  };
}
