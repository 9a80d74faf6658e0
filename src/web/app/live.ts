/**
 * Live updates for the whole app: one WebSocket to /v1/live (the session cookie authenticates it
 * in the browser), events fanned out to the screens that listen, cursors kept in the key store.
 */
import { connectLive, type LiveConnection, type LiveEvent, type WebSocketConstructor } from '../../client/index.js';
import type { SignedIn } from './session.js';

type Listener = (event: LiveEvent) => void;
const listeners = new Set<Listener>();
let connection: Promise<LiveConnection> | undefined;
let status: 'connecting' | 'online' | 'offline' = 'offline';
const statusListeners = new Set<(s: typeof status) => void>();

function setStatus(next: typeof status): void {
  status = next;
  for (const l of statusListeners) l(next);
}

// The browser knows at once when the network goes; a socket can take a heartbeat to notice.
if (typeof window !== 'undefined') {
  window.addEventListener('offline', () => {
    if (connection !== undefined) setStatus('offline');
  });
  // Back online: a fresh connection (the old socket may be half dead and would only notice at
  // its next heartbeat); it resumes from the stored cursors, so nothing is missed.
  window.addEventListener('online', () => {
    const who = current;
    if (connection === undefined || who === undefined) return;
    void stopLive().then(() => startLive(who));
  });
}

let current: SignedIn | undefined;

export function startLive(who: SignedIn): void {
  if (connection !== undefined) return;
  current = who;
  setStatus('connecting');
  connection = connectLive({
    baseUrl: who.ctx.api.baseUrl,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    store: who.ctx.store,
    onEvent: (event) => {
      for (const l of listeners) l(event);
    },
    onReady: () => setStatus('online'),
    onProblem: (problem) => {
      if (problem.type === 'live/closed' || problem.type === 'live/ended' || problem.type === 'live/socket-error') setStatus('offline');
    },
  });
}

export async function stopLive(): Promise<void> {
  const c = connection;
  connection = undefined;
  current = undefined;
  setStatus('offline');
  await (await c)?.close();
}

/** Subscribes to live events; returns the unsubscribe function. */
export function onLive(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function onLiveStatus(listener: (s: typeof status) => void): () => void {
  statusListeners.add(listener);
  listener(status);
  return () => statusListeners.delete(listener);
}
