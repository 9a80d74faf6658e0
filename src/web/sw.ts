/**
 * The service worker: makes the app installable and opens its shell offline. It caches ONLY the
 * files of the build it came with (the list is written in at build time) and answers navigations
 * with the cached page when the network is down. API answers (/v1/*), the live channel and audio
 * never pass through a cache: they are left to the network untouched.
 */
/// <reference lib="webworker" />
export {};

declare const self: ServiceWorkerGlobalScope;

// Replaced at build time (vite.config.ts, serviceWorkerShell) by the build's file list and its hash.
const SHELL = '__BURROW_SHELL__' as unknown as string[];
const VERSION = '__BURROW_VERSION__';
const CACHE = `burrow-shell-${VERSION}`;

function isApi(url: URL): boolean {
  return url.pathname === '/v1' || url.pathname.startsWith('/v1/') || url.pathname === '/healthz' || url.pathname === '/readyz';
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(SHELL.map((path) => new Request(path, { cache: 'reload' })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith('burrow-shell-') && name !== CACHE) await caches.delete(name);
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
    event.respondWith(
      fetch(request).catch(async () => (await caches.match(shellPath, { cacheName: CACHE })) ?? Response.error()),
    );
    return;
  }
  if (!SHELL.includes(url.pathname)) return;
  // Hashed build files never change under their name: the cache first.
  event.respondWith((async () => (await caches.match(url.pathname, { cacheName: CACHE })) ?? fetch(request))());
});
