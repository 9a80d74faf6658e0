/**
 * The `burrow` executable's compile cache (src/cli/compile-cache.ts): where it lives, that the
 * built CLI fills it, and that a directory someone else could write (cached code is run as it
 * stands) or a symlink planted in its place is never used.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compileCacheDir, startCompileCache } from '../../src/cli/compile-cache.js';

const cli = new URL('../../dist/cli/main.js', import.meta.url).pathname;

let home: string;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'burrow-compile-cache-'));
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

/** Runs `burrow --version` with `home` as HOME; the cache is written when the process exits. */
function burrowVersion(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cli, '--version'], { env: { PATH: process.env.PATH ?? '', HOME: home }, timeout: 60_000 }, (error) => (error === null ? resolve() : reject(error)));
  });
}

/** Every file under `dir`. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => entry.name);
}

describe('compile cache', () => {
  it('lives in the user cache directory: XDG_CACHE_HOME when absolute, else ~/.cache', () => {
    expect(compileCacheDir({ XDG_CACHE_HOME: '/var/cache/someone', HOME: '/home/someone' })).toBe('/var/cache/someone/burrow/node-compile-cache');
    expect(compileCacheDir({ XDG_CACHE_HOME: 'relative/cache', HOME: '/home/someone' })).toBe('/home/someone/.cache/burrow/node-compile-cache');
    expect(compileCacheDir({ HOME: '/home/someone' })).toBe('/home/someone/.cache/burrow/node-compile-cache');
    expect(compileCacheDir({ HOME: 'not/absolute' })).toBeUndefined();
  });

  it.skipIf(!existsSync(cli))('is filled by the built CLI, in a directory only its user can enter', async () => {
    await burrowVersion();
    const dir = join(home, '.cache', 'burrow', 'node-compile-cache');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(filesUnder(dir).length).toBeGreaterThan(0);
  });

  it.skipIf(!existsSync(cli))('is not used when others could write its directory', async () => {
    const dir = join(home, '.cache', 'burrow', 'node-compile-cache');
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    expect(startCompileCache({ HOME: home })).toBe(false);
    await burrowVersion();
    expect(filesUnder(dir)).toEqual([]);
  });

  it('is not used through a symlink planted in its place', async () => {
    const elsewhere = join(home, 'elsewhere');
    mkdirSync(elsewhere, { mode: 0o700 });
    mkdirSync(join(home, '.cache', 'burrow'), { recursive: true });
    symlinkSync(elsewhere, join(home, '.cache', 'burrow', 'node-compile-cache'));
    expect(startCompileCache({ HOME: home })).toBe(false);
    expect(filesUnder(elsewhere)).toEqual([]);
  });
});
