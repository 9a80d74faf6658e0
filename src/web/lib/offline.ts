/**
 * The app offline: what this device last read from the server, kept so a signed-in person who
 * opens the app without a network sees their families and history (read-only), and whether the
 * app is online right now.
 *
 * Every successful GET of the API (families, rosters, message lists, the sealed envelopes that
 * were opened) is copied into IndexedDB, sealed under the device key like every other record
 * (src/web/lib/browser-stores.ts), up to `MAX_BYTES` (oldest dropped first). When a request cannot
 * reach the server, a GET is answered from that copy and the app says it is offline. Nothing here
 * is trusted more than the server's answer it copies: the client library verifies a copied roster,
 * envelope or profile exactly as it verifies a fresh one (and refuses a roster older than its
 * anchor), so the copy can only show what the device already accepted. Signing out deletes it
 * with the rest of the database. The service worker never sees it (src/web/sw.ts leaves the API
 * to the network).
 */
import { deleteRecord, getSealedBytes, getSealedRecord, putSealedBytes, putSealedRecord } from './browser-stores.js';

/** Most bytes the offline copy keeps (audio envelopes are most of it). */
const MAX_BYTES = 64 * 1024 * 1024;
const INDEX = 'offline-index';
const PREFIX = 'offline:';

interface IndexEntry {
  bytes: number;
  at: number;
  status: number;
  contentType: string;
}
type Index = Record<string, IndexEntry>;

type Listener = (online: boolean) => void;
const listeners = new Set<Listener>();
let online = typeof navigator === 'undefined' ? true : navigator.onLine;

function setOnline(next: boolean): void {
  if (next === online) return;
  online = next;
  for (const listener of listeners) listener(next);
}

/** Whether the last request reached the server (and the browser says it has a network). */
export function isOnline(): boolean {
  return online;
}

/** Hears the app go offline and come back; called at once with the current state. Returns the unsubscribe function. */
export function onConnectivity(listener: Listener): () => void {
  listeners.add(listener);
  listener(online);
  return () => listeners.delete(listener);
}

if (typeof window !== 'undefined') {
  window.addEventListener('offline', () => setOnline(false));
  // The browser has a network again; the next request that reaches the server confirms it.
  window.addEventListener('online', () => setOnline(true));
}

// Writes to the copy one at a time, so the index is never written by two at once.
let writing: Promise<void> = Promise.resolve();

async function keep(key: string, response: Response): Promise<void> {
  const body = new Uint8Array(await response.arrayBuffer());
  if (body.byteLength > MAX_BYTES / 4) return;
  writing = writing.then(async () => {
    const index = (await getSealedRecord<Index>(INDEX)) ?? {};
    await putSealedBytes(PREFIX + key, body);
    index[key] = { bytes: body.byteLength, at: Date.now(), status: response.status, contentType: response.headers.get('content-type') ?? 'application/octet-stream' };
    let total = Object.values(index).reduce((sum, entry) => sum + entry.bytes, 0);
    for (const [old] of Object.entries(index).sort((a, b) => a[1].at - b[1].at)) {
      if (total <= MAX_BYTES) break;
      total -= index[old]!.bytes;
      delete index[old];
      await deleteRecord(PREFIX + old);
    }
    await putSealedRecord(INDEX, index);
  });
  await writing.catch(() => undefined);
}

async function kept(key: string): Promise<Response | undefined> {
  const index = await getSealedRecord<Index>(INDEX);
  const entry = index?.[key];
  if (entry === undefined) return undefined;
  const body = await getSealedBytes(PREFIX + key);
  if (body === undefined) return undefined;
  return new Response(body as Uint8Array<ArrayBuffer>, { status: entry.status, headers: { 'content-type': entry.contentType, 'x-burrow-offline-copy': '1' } });
}

function urlOf(input: RequestInfo | URL): URL {
  return new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url, location.origin);
}

/** A copy worth keeping: an API GET of this origin, not a session or pairing secret. */
function copyable(url: URL, method: string): boolean {
  return method === 'GET' && url.origin === location.origin && url.pathname.startsWith('/v1/') && !url.pathname.startsWith('/v1/live') && !url.pathname.startsWith('/v1/sessions');
}

/**
 * Wraps a `fetch`: successful API GETs are copied for offline use; when the network fails, a GET
 * is answered from the copy (and the app is marked offline), anything else fails as before.
 */
export function withOfflineCopy(inner: typeof fetch): typeof fetch {
  return async (input, init) => {
    const url = urlOf(input);
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const key = url.pathname + url.search;
    let response: Response;
    try {
      response = await inner(input, init);
    } catch (error) {
      setOnline(false);
      if (copyable(url, method)) {
        const copy = await kept(key).catch(() => undefined);
        if (copy !== undefined) return copy;
      }
      throw error;
    }
    setOnline(true);
    if (copyable(url, method) && response.status === 200) void keep(key, response.clone()).catch(() => undefined);
    return response;
  };
}
