/**
 * The production build of the web app (dist/web, from `npm run build`): the JavaScript stays under
 * its budget, the pages carry no inline script or style, the service worker caches the app
 * shell only and knows each file's SHA-256, and the build manifest lists every file with its hash.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { measureWebBundle, WEB_JS_BUDGET_BYTES } from '../../bench/web-size.js';

const dist = new URL('../../dist/web/', import.meta.url).pathname;

describe.runIf(existsSync(join(dist, 'index.html')))('the built web app', () => {
  it(`keeps its JavaScript under ${WEB_JS_BUDGET_BYTES / 1000} KB gzipped (OPAQUE's WASM and the password dictionary apart, and lazy)`, () => {
    const report = measureWebBundle(dist);
    expect(report.jsGzip).toBeGreaterThan(10_000);
    expect(report.jsGzip).toBeLessThan(WEB_JS_BUDGET_BYTES);
    expect(report.initialJsGzip).toBeLessThanOrEqual(report.jsGzip);
    // OPAQUE is present, in its own chunk, and not loaded by every page view.
    const wasm = report.files.filter((f) => f.kind === 'wasm');
    expect(wasm).toHaveLength(1);
    expect(wasm[0]!.initial).toBe(false);
    // The dictionary is data, loaded by the password screens only.
    expect(report.dataGzip).toBeGreaterThan(100_000);
    expect(report.files.filter((f) => f.kind === 'data').every((f) => !f.initial)).toBe(true);
  });

  it('emits pages with no inline script, style or event handler', () => {
    for (const page of ['index.html', 'toy/index.html']) {
      const html = readFileSync(join(dist, page), 'utf8');
      const scripts = html.match(/<script\b[^>]*>/g) ?? [];
      expect(scripts.length, page).toBeGreaterThan(0);
      for (const tag of scripts) expect(tag, page).toMatch(/\bsrc="\/assets\/[\w.-]+\.js"/);
      expect(html, page).not.toMatch(/<script\b[^>]*>[^<\s]/);
      expect(html, page).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
    }
  });

  it('has a manifest and a service worker that caches the build and leaves the API alone', () => {
    const manifest = JSON.parse(readFileSync(join(dist, 'manifest.webmanifest'), 'utf8')) as { start_url: string; display: string; icons: Array<{ src: string }> };
    expect(manifest).toMatchObject({ start_url: '/', display: 'standalone' });
    for (const icon of manifest.icons) expect(existsSync(join(dist, icon.src)), icon.src).toBe(true);
    const sw = readFileSync(join(dist, 'sw.js'), 'utf8');
    expect(sw).not.toContain('__BURROW_SHELL__');
    const hashes = JSON.parse(/(\{"\/[^}]*\})/.exec(sw)![1]!) as Record<string, string>;
    const shell = Object.keys(hashes);
    // Each shell file's SHA-256 is the built file's: the worker refuses any other body.
    const sha256 = (path: string) => createHash('sha256').update(readFileSync(join(dist, path))).digest('base64url');
    for (const path of shell) expect(hashes[path], path).toBe(sha256(path === '/' ? 'index.html' : path === '/toy' ? 'toy/index.html' : path.slice(1)));
    expect(shell).toContain('/');
    expect(shell).toContain('/toy');
    expect(shell.some((path) => path.startsWith('/v1'))).toBe(false);
    // The big pieces only signing up or in needs are left to the HTTP cache, not precached.
    expect(shell.some((path) => /opaque-wasm|password-dictionary/.test(path))).toBe(false);
    expect(sw).toContain('/v1/');
  });

  it('lists every file it consists of, with its SHA-256, in the build manifest the server serves from', () => {
    const built = JSON.parse(readFileSync(join(dist, '.burrow-build.json'), 'utf8')) as { version: number; files: Record<string, string> };
    expect(built.version).toBe(1);
    for (const page of ['/index.html', '/toy/index.html', '/sw.js', '/manifest.webmanifest']) expect(Object.keys(built.files)).toContain(page);
    for (const [path, hash] of Object.entries(built.files)) expect(hash, path).toBe(createHash('sha256').update(readFileSync(join(dist, path.slice(1)))).digest('base64url'));
  });
});
