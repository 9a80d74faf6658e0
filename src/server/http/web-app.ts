/**
 * Serves the built web app (dist/web, from `npm run build`) next to the API: the family app at
 * `/`, the virtual toy at `/toy`, their hashed assets, the manifest, icons and service worker.
 *
 * - Only GET and HEAD of paths no route claims, outside `/v1`, `/healthz` and `/readyz`: an unknown
 *   API path stays a JSON problem.
 * - Only the files the build lists in its manifest (`.burrow-build.json`, written by
 *   src/web/vite.config.ts: path → SHA-256) are served, and each must still hash to its entry, or the
 *   server does not start: a file someone drops into the web folder (an HTML page, a script) is
 *   never served on the app's origin, where it could read the app's IndexedDB.
 * - Files are read once at start-up into memory (the build is about a megabyte); a path outside
 *   that list never touches the file system, so `..` and symlinks lead nowhere. A text file is
 *   gzipped when it is first asked for, on libuv's thread pool, and the result kept (sent to clients
 *   that accept gzip): compressing the whole build at level 9 before listening was one of the
 *   largest parts of start-up (docs/benchmarks.md).
 * - `/assets/*` (content-hashed names) are cached for a year, immutable; pages, the manifest, the
 *   icons and the service worker are `no-cache` (revalidated every time), so a new build shows at once.
 * - Paths that look like files or sit under `/.well-known/` (what scanners and password managers
 *   probe) and that the build does not list are a 404 problem, not the app (`isProbePath`). There is
 *   no password-change screen (a password is changed through recovery, with the recovery code), so
 *   `/.well-known/change-password` is a 404 too, as the W3C "change password URL" note asks of a
 *   site without one.
 * - Any other path is a page of the single-page app (its `index.html`): `/join`, `/family/…`;
 *   `/toy/…` gets the virtual toy's page.
 * - HTML gets the page CSP from security-headers.ts (no inline script or style); the build emits none.
 * - Without a build (or a build without its manifest), pages answer 503 with a short page saying to
 *   run `npm run build`.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Where `npm run build` puts the web app, from this module (dist/server/http or src/server/http). */
export function defaultWebDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../../dist/web');
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

const gzipAsync = promisify(gzipCallback);

interface WebFile {
  body: Buffer;
  /** Whether the type is text-like, worth offering gzipped. */
  compressible: boolean;
  /** The gzip form (undefined: it does not shrink), made on the first request and then kept. */
  gzip?: Promise<Buffer | undefined>;
  type: string;
  etag: string;
  immutable: boolean;
}

const MAX_FILES = 2000;
const MAX_TOTAL_BYTES = 64 * 1024 * 1024;

/** The build's list of the files it consists of, with their SHA-256 (src/web/vite.config.ts). */
export const BUILD_MANIFEST = '.burrow-build.json';

/** The manifest's entries (path → SHA-256 base64url); undefined when it is missing or malformed. */
function readBuildManifest(dir: string): Map<string, string> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(dir, BUILD_MANIFEST), 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || (parsed as { version?: unknown }).version !== 1) return undefined;
  const files = (parsed as { files?: unknown }).files;
  if (typeof files !== 'object' || files === null) return undefined;
  const out = new Map<string, string>();
  for (const [name, hash] of Object.entries(files)) {
    // Plain paths only: no `..`, no empty or dot segments, no backslashes.
    if (typeof hash !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(hash) || !/^(\/[A-Za-z0-9_][A-Za-z0-9._-]*)+$/.test(name) || name.includes('..')) return undefined;
    out.set(name, hash);
  }
  return out;
}

/**
 * Reads the files the build's manifest lists into memory; undefined when there is no build (no
 * index.html or no manifest). Throws when a listed file is missing or no longer hashes to its entry.
 */
export function loadWebBuild(dir: string): Map<string, WebFile> | undefined {
  if (!existsSync(join(dir, 'index.html'))) return undefined;
  const manifest = readBuildManifest(dir);
  if (manifest === undefined || !manifest.has('/index.html')) return undefined;
  const files = new Map<string, WebFile>();
  let total = 0;
  for (const [name, hash] of manifest) {
    const type = contentTypes[extname(name).toLowerCase()];
    if (type === undefined) continue;
    const path = join(dir, ...name.slice(1).split('/'));
    if (relative(dir, path).startsWith('..') || !existsSync(path) || !statSync(path).isFile()) throw new Error(`the web build in ${dir} lacks ${name}, which its manifest lists: run npm run build`);
    total += statSync(path).size;
    if (files.size >= MAX_FILES || total > MAX_TOTAL_BYTES) throw new Error(`the web build in ${dir} is larger than expected`);
    const body = readFileSync(path);
    const digest = createHash('sha256').update(body).digest();
    if (digest.toString('base64url') !== hash) throw new Error(`the web build in ${dir} was changed after it was built (${name}): run npm run build`);
    files.set(name, {
      body,
      compressible: /^(text\/|application\/(json|manifest\+json|wasm)|image\/svg)/.test(type),
      type,
      etag: `"${digest.toString('base64url').slice(0, 22)}"`,
      immutable: name.startsWith('/assets/'),
    });
  }
  return files;
}

function isApiPath(path: string): boolean {
  return path === '/v1' || path.startsWith('/v1/') || path === '/healthz' || path === '/readyz';
}

/**
 * A path no page of the app has: anything under `/.well-known/` (RFC 8615: each name there is a
 * registered resource, and password managers probe `/.well-known/change-password` and a name that
 * must not exist to see whether 404s are real), a dot-segment (`/.env`, `/.git/config`) or a last
 * segment with a file extension (`/wp-login.php`, `/backup.zip`). Scanners probe exactly these; they
 * get a 404 problem, never the app's HTML with a 200.
 */
export function isProbePath(path: string): boolean {
  if (path === '/.well-known' || path.startsWith('/.well-known/')) return true;
  const segments = path.split('/');
  if (segments.some((segment) => segment.startsWith('.'))) return true;
  return /\.[A-Za-z0-9_-]{1,16}$/.test(segments.at(-1) ?? '');
}

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Burrow: web app not built</title></head>
<body><h1>The Burrow web app is not built</h1>
<p>This server runs, and its API answers under <code>/v1</code>, but the web app's files are missing.</p>
<p>Run <code>npm run build</code> (or <code>npm start</code>, which builds first), then restart <code>burrow serve</code>.</p></body></html>
`;

/** The file's gzip form when it shrinks: compressed once, by the first request that needs it. */
function gzipOf(file: WebFile): Promise<Buffer | undefined> {
  file.gzip ??= gzipAsync(file.body, { level: 9 }).then(
    (compressed) => (compressed.length < file.body.length ? compressed : undefined),
    () => undefined,
  );
  return file.gzip;
}

async function send(request: FastifyRequest, reply: FastifyReply, file: WebFile): Promise<FastifyReply> {
  const zipped = file.compressible ? await gzipOf(file) : undefined;
  const gzip = zipped !== undefined && /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
  // Each encoding is its own representation, with its own ETag.
  const etag = gzip ? file.etag.replace(/"$/, '-gz"') : file.etag;
  reply.header('etag', etag);
  reply.header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
  reply.type(file.type);
  if (zipped !== undefined) reply.header('vary', 'accept-encoding');
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  if (gzip) reply.header('content-encoding', 'gzip');
  return reply.code(200).send(request.method === 'HEAD' ? undefined : gzip ? zipped : file.body);
}

/**
 * Installs the web app on `app`: an `onRequest` hook that answers GET/HEAD requests no route
 * matched. `dir` is the build directory; `false` turns the web app off (pure API server).
 */
export function installWebApp(app: FastifyInstance, options: { dir: string }): void {
  const files = loadWebBuild(options.dir);
  app.addHook('onRequest', async (request, reply) => {
    if (!request.is404 || (request.method !== 'GET' && request.method !== 'HEAD')) return;
    const path = (request.url.split('?')[0] ?? '/').split('#')[0] ?? '/';
    if (isApiPath(path)) return;
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return;
    }
    const isPage = decoded === '/index.html' || decoded === '/toy/index.html';
    const file = files?.get(decoded);
    if (file !== undefined && !isPage) return send(request, reply, file);
    if (isProbePath(decoded) && !isPage) return;
    if (files === undefined) {
      reply.header('cache-control', 'no-store');
      return reply.code(503).type('text/html; charset=utf-8').send(request.method === 'HEAD' ? undefined : NOT_BUILT_PAGE);
    }
    // A missing hashed asset is a real 404 (an old page asking for a file of an older build), not the app.
    if (decoded.startsWith('/assets/') || decoded.startsWith('/icons/')) return;
    const page = decoded === '/toy' || decoded.startsWith('/toy/') ? files.get('/toy/index.html') : files.get('/index.html');
    if (page === undefined) return;
    return send(request, reply, page);
  });
}
