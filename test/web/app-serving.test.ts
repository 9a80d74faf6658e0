/**
 * How `burrow serve` serves the web app (src/server/http/web-app.ts), on a small fake build: content
 * types, caching, the SPA fallback, the page CSP, /v1 staying JSON problems, a clear answer
 * when the app is not built, and only the files of the build's manifest (issue #22 item 7).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/server/app.js';
import { loadConfig } from '../../src/server/config.js';
import { pageContentSecurityPolicy } from '../../src/server/http/security-headers.js';
import { BUILD_MANIFEST, installWebApp, loadWebBuild } from '../../src/server/http/web-app.js';
import type { BurrowApp } from '../../src/server/http/types.js';
import { startTestServer, type TestServer } from '../server/helpers.js';

let base: TestServer;
const apps: BurrowApp[] = [];

const BUILT = ['index.html', 'toy/index.html', 'assets/app-abc123.js', 'assets/kit-abc123.css', 'sw.js', 'manifest.webmanifest', 'icons/icon.svg'];

/** Writes the build manifest as vite.config.ts does: each listed file's SHA-256, base64url. */
function writeManifest(dir: string, names: string[]): void {
  const files: Record<string, string> = {};
  for (const name of names) files[`/${name}`] = createHash('sha256').update(readFileSync(join(dir, name))).digest('base64url');
  writeFileSync(join(dir, BUILD_MANIFEST), JSON.stringify({ version: 1, files }));
}

function fakeBuild(): string {
  const dir = mkdtempSync(join(tmpdir(), 'burrow-web-build-'));
  mkdirSync(join(dir, 'assets'));
  mkdirSync(join(dir, 'toy'));
  mkdirSync(join(dir, 'icons'));
  writeFileSync(join(dir, 'index.html'), `<!doctype html><title>app</title><script type="module" src="/assets/app-abc123.js"></script>${'<!-- padding -->'.repeat(20)}`);
  writeFileSync(join(dir, 'toy', 'index.html'), '<!doctype html><title>toy</title>');
  writeFileSync(join(dir, 'assets', 'app-abc123.js'), 'console.log(1);');
  writeFileSync(join(dir, 'assets', 'kit-abc123.css'), 'body{}');
  writeFileSync(join(dir, 'sw.js'), 'self.addEventListener("fetch", () => {});');
  writeFileSync(join(dir, 'manifest.webmanifest'), '{"name":"Burrow"}');
  writeFileSync(join(dir, 'icons', 'icon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeManifest(dir, BUILT);
  // Dropped into the web folder after the build: an HTML page and a script that would run on the
  // app's origin (and read its IndexedDB) if they were served, and a file of no known type.
  writeFileSync(join(dir, 'secret.env'), 'NOT=served');
  writeFileSync(join(dir, 'planted.html'), '<script>steal()</script>');
  writeFileSync(join(dir, 'assets', 'planted-abc123.js'), 'steal();');
  writeFileSync(join(dir, 'icons', 'planted.svg'), '<svg xmlns="http://www.w3.org/2000/svg" onload="steal()"/>');
  return dir;
}

async function appWith(dir: string): Promise<BurrowApp> {
  const config = loadConfig({ env: {}, flags: { data: join(mkdtempSync(join(tmpdir(), 'burrow-web-data-')), 'data') } });
  const app = createServer({ config, store: base.store, secrets: base.secrets, blobs: base.backends.blobs, bus: base.backends.bus, log: false });
  installWebApp(app, { dir });
  await app.ready();
  apps.push(app);
  return app;
}

beforeAll(async () => {
  base = await startTestServer();
});
afterAll(async () => {
  for (const app of apps) await app.close();
  await base.close();
});

describe('the built web app', () => {
  let app: BurrowApp;
  beforeAll(async () => {
    app = await appWith(fakeBuild());
  });

  it('serves the app at / with the page CSP and no-cache', async () => {
    const answer = await app.inject({ method: 'GET', url: '/' });
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(answer.headers['content-security-policy']).toBe(pageContentSecurityPolicy);
    expect(pageContentSecurityPolicy).not.toContain('unsafe-inline');
    expect(answer.headers['cache-control']).toBe('no-cache');
    expect(answer.body).toContain('<title>app</title>');
  });

  it('answers every other page path with the app (SPA fallback), and /toy with the toy page', async () => {
    for (const url of ['/join', '/family/abc/people', '/account?x=1']) {
      const answer = await app.inject({ method: 'GET', url });
      expect(answer.statusCode, url).toBe(200);
      expect(answer.body, url).toContain('<title>app</title>');
    }
    for (const url of ['/toy', '/toy/', '/toy/anything']) {
      const answer = await app.inject({ method: 'GET', url });
      expect(answer.statusCode, url).toBe(200);
      expect(answer.body, url).toContain('<title>toy</title>');
    }
  });

  it('serves hashed assets for a year with their content type, and small files no-cache', async () => {
    const js = await app.inject({ method: 'GET', url: '/assets/app-abc123.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const css = await app.inject({ method: 'GET', url: '/assets/kit-abc123.css' });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const sw = await app.inject({ method: 'GET', url: '/sw.js' });
    expect(sw.headers['cache-control']).toBe('no-cache');
    // A service worker takes the CSP of its own script: it must be allowed to fetch its shell.
    expect(sw.headers['content-security-policy']).toBe(pageContentSecurityPolicy);
    const manifest = await app.inject({ method: 'GET', url: '/manifest.webmanifest' });
    expect(manifest.headers['content-type']).toBe('application/manifest+json; charset=utf-8');
    expect((await app.inject({ method: 'GET', url: '/icons/icon.svg' })).headers['content-type']).toBe('image/svg+xml');
  });

  it('sends text gzipped to clients that accept it', async () => {
    const plain = await app.inject({ method: 'GET', url: '/' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    const zipped = await app.inject({ method: 'GET', url: '/', headers: { 'accept-encoding': 'gzip, deflate, br' } });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toContain('accept-encoding');
    expect(gunzipSync(zipped.rawPayload).toString()).toBe(plain.body);
  });

  it('revalidates with an ETag', async () => {
    const first = await app.inject({ method: 'GET', url: '/sw.js' });
    const again = await app.inject({ method: 'GET', url: '/sw.js', headers: { 'if-none-match': String(first.headers.etag) } });
    expect(again.statusCode).toBe(304);
  });

  it('answers HEAD without a body', async () => {
    const answer = await app.inject({ method: 'HEAD', url: '/' });
    expect(answer.statusCode).toBe(200);
    expect(answer.body).toBe('');
  });

  it('keeps unknown API paths JSON problems, and a missing asset a 404, and serves no file of an unknown type', async () => {
    for (const url of ['/v1/nothing-here', '/v1', '/assets/app-old.js', '/icons/none.png']) {
      const answer = await app.inject({ method: 'GET', url });
      expect(answer.statusCode, url).toBe(404);
      expect(answer.headers['content-type'], url).toMatch(/^application\/problem\+json/);
    }
    const secret = await app.inject({ method: 'GET', url: '/secret.env' });
    expect(secret.body).not.toContain('NOT=served');
    const traversal = await app.inject({ method: 'GET', url: '/assets/..%2F..%2Fetc%2Fpasswd' });
    expect(traversal.statusCode).toBe(404);
  });

  it('serves only the files the build manifest lists: a file planted in the web folder is never served', async () => {
    for (const url of ['/assets/planted-abc123.js', '/icons/planted.svg']) {
      const answer = await app.inject({ method: 'GET', url });
      expect(answer.statusCode, url).toBe(404);
      expect(answer.body, url).not.toContain('steal');
    }
    // A file name not in the manifest is a 404 problem, never the planted file (nor the app's page).
    for (const url of ['/planted.html', `/${BUILD_MANIFEST}`]) {
      const answer = await app.inject({ method: 'GET', url });
      expect(answer.statusCode, url).toBe(404);
      expect(answer.headers['content-type'], url).toMatch(/^application\/problem\+json/);
      expect(answer.body, url).not.toContain('steal');
    }
  });

  it('answers what scanners and password managers probe with a real 404 over HTTP, while app pages stay the app', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const probes = [
      '/.well-known/change-password',
      '/.well-known/resource-that-should-not-exist-whose-status-code-should-not-be-200',
      '/.well-known/openid-configuration',
      '/.well-known',
      '/.env',
      '/.git/config',
      '/wp-login.php',
      '/backup.zip',
      '/family/x/debug.log',
      '/toy/config.json',
      '/%2Eenv',
    ];
    for (const path of probes) {
      for (const method of ['GET', 'HEAD'] as const) {
        const answer = await fetch(`${origin}${path}`, { method, redirect: 'manual' });
        expect(answer.status, `${method} ${path}`).toBe(404);
        expect(answer.headers.get('content-type'), path).toMatch(/^application\/problem\+json/);
        if (method === 'GET') expect(await answer.text(), path).not.toContain('<title>');
      }
    }
    for (const [path, title] of [['/', 'app'], ['/join', 'app'], ['/family/abc', 'app'], ['/index.html', 'app'], ['/toy', 'toy'], ['/toy/index.html', 'toy']] as const) {
      const answer = await fetch(`${origin}${path}`);
      expect(answer.status, path).toBe(200);
      expect(await answer.text(), path).toContain(`<title>${title}</title>`);
    }
    // The build's own files keep being served, and security.txt is the route's (404 until configured here).
    expect((await fetch(`${origin}/manifest.webmanifest`)).status).toBe(200);
    expect((await fetch(`${origin}/.well-known/security.txt`)).headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('refuses to start on a build changed after it was built, and treats a build without its manifest as none', () => {
    const changed = fakeBuild();
    writeFileSync(join(changed, 'assets', 'app-abc123.js'), 'steal();');
    expect(() => loadWebBuild(changed)).toThrow(/changed after it was built/);
    const missing = fakeBuild();
    writeFileSync(join(missing, 'assets', 'gone-abc123.js'), 'gone();');
    writeManifest(missing, [...BUILT, 'assets/gone-abc123.js']);
    rmSync(join(missing, 'assets', 'gone-abc123.js'));
    expect(() => loadWebBuild(missing)).toThrow(/lacks \/assets\/gone-abc123\.js/);
    const unlisted = fakeBuild();
    writeFileSync(join(unlisted, BUILD_MANIFEST), JSON.stringify({ version: 1, files: { '/index.html': 'x', '/../secret.env': 'y' } }));
    expect(loadWebBuild(unlisted)).toBeUndefined();
  });

  it('leaves other methods and the API alone', async () => {
    expect((await app.inject({ method: 'POST', url: '/join', payload: {} })).statusCode).toBe(404);
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    expect(health.json()).toEqual({ status: 'ok' });
  });
});

describe('without a build', () => {
  it('answers pages with a 503 page that says to run npm run build, and the API as usual', async () => {
    const app = await appWith(mkdtempSync(join(tmpdir(), 'burrow-web-empty-')));
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(503);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('npm run build');
    expect((await app.inject({ method: 'GET', url: '/v1/nothing' })).statusCode).toBe(404);
  });
});
