/**
 * The service worker: makes the app installable and opens its shell offline. It caches ONLY the
 * files of the build it came with (the list is written in at build time) and answers navigations
 * with the cached page when the network is down. API answers (/v1/*), the live channel and audio
 * never pass through a cache: they are left to the network untouched.
 *
 * Every shell file's SHA-256 is written in at build time too, and every body the worker hands out
 * from its cache, or puts into it, is checked against it. Script running on this origin (one
 * moment of it, from whatever hole) can rewrite Cache Storage but not this worker, whose script
 * the browser fetches from the server itself: a rewritten app bundle in the cache is thrown away
 * and fetched again, and a body from the network that does not match is never cached.
 *
 * Web Push: a push carries only a kind and ids (src/client/push-notice.ts). The worker shows a
 * generic notification that names nobody; a click opens the app where the push points, and the
 * app fetches and decrypts what is there.
 */
/// <reference lib="webworker" />
// The service worker is its own small bundle: it takes only the push-notice module, not the whole
// client library (whose modules expect a page: window, IndexedDB, WebSocket).
import { parsePushNotice, pushNoticePath, pushNoticeText } from '../client/push-notice.js';

declare const self: ServiceWorkerGlobalScope;

// Replaced at build time (vite.config.ts, serviceWorkerShell): path → SHA-256 (base64url) of the file.
const SHELL = '__BURROW_SHELL__' as unknown as Record<string, string>;
const VERSION = '__BURROW_VERSION__';
const CACHE = `burrow-shell-${VERSION}`;

function isApi(url: URL): boolean {
  return url.pathname === '/v1' || url.pathname.startsWith('/v1/') || url.pathname === '/healthz' || url.pathname === '/readyz';
}

function base64Url(bytes: ArrayBuffer): string {
  let binary = '';
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Whether `response` is a complete 200 whose body hashes to the build's hash for `path`. */
async function matchesBuild(path: string, response: Response): Promise<boolean> {
  const expected = Object.hasOwn(SHELL, path) ? SHELL[path] : undefined;
  if (expected === undefined || response.status !== 200 || response.type === 'opaque') return false;
  return base64Url(await crypto.subtle.digest('SHA-256', await response.clone().arrayBuffer())) === expected;
}

/** The shell file at `path` from the network, cached only when it is the build's. */
async function fetchVerified(path: string): Promise<Response | undefined> {
  const response = await fetch(new Request(path, { cache: 'reload', credentials: 'same-origin' }));
  if (!(await matchesBuild(path, response))) return undefined;
  const cache = await caches.open(CACHE);
  await cache.put(path, response.clone());
  return response;
}

/** The cached shell file at `path` when it is the build's; a cached body that is not is deleted. */
async function cachedVerified(path: string): Promise<Response | undefined> {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(path);
  if (cached === undefined) return undefined;
  if (await matchesBuild(path, cached)) return cached;
  await cache.delete(path);
  return undefined;
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      for (const path of Object.keys(SHELL)) {
        // A file that does not come back as the build's is left out (fetched again when asked for).
        await fetchVerified(path).catch(() => undefined);
      }
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      // Every other cache of this origin is dropped, not only older shells: the worker uses one.
      for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || isApi(url)) return;
  if (request.mode === 'navigate') {
    // Pages: the network first (a new build shows at once), the cached shell when offline.
    const shellPath = url.pathname === '/toy' || url.pathname.startsWith('/toy/') ? '/toy' : '/';
    event.respondWith(fetch(request).catch(async () => (await cachedVerified(shellPath)) ?? Response.error()));
    return;
  }
  if (!Object.hasOwn(SHELL, url.pathname)) return;
  // Hashed build files never change under their name: the cache first, if it still holds the
  // build's bytes; else the network, if it gives the build's bytes; else nothing at all.
  event.respondWith(
    (async () => (await cachedVerified(url.pathname)) ?? (await fetchVerified(url.pathname).catch(() => undefined)) ?? Response.error())(),
  );
});

self.addEventListener('push', (event) => {
  let text = '';
  try {
    text = event.data?.text() ?? '';
  } catch {
    // Not text: shown as the generic notification.
  }
  const notice = parsePushNotice(text);
  const { title, body } = pushNoticeText(notice);
  // Browsers require a notification for every push; one per kind and family replaces the last.
  const tag = notice === undefined ? 'burrow' : `${notice.kind}:${notice.familyId}`;
  event.waitUntil(self.registration.showNotification(title, { body, tag, icon: '/icons/icon-192.png', data: { path: pushNoticePath(notice) } }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const data = event.notification.data as { path?: unknown } | null;
  // Only a path of this origin is ever opened.
  const path = typeof data?.path === 'string' && /^\/(?!\/)/.test(data.path) ? data.path : '/';
  const url = new URL(path, self.location.origin).href;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows.find((client) => new URL(client.url).origin === self.location.origin);
      if (open === undefined) {
        await self.clients.openWindow(url);
        return;
      }
      await open.focus();
      await open.navigate(url).catch(() => undefined);
    })(),
  );
});
