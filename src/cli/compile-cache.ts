/**
 * Node's on-disk compile cache (`module.enableCompileCache`) for the `burrow` executable: V8 keeps
 * the code it compiled for each module, so the next start skips parsing and compiling the server's
 * ~1,200 modules again (a fifth of `burrow serve`'s start-up CPU). Node checks each entry against
 * the module's source and its own version, so a rebuilt or upgraded install only misses.
 *
 * Where: `$XDG_CACHE_HOME/burrow/node-compile-cache`, else `~/.cache/burrow/…` — a directory of the
 * user the server runs as. Cached code is run as it stands, so it must be a directory nobody else
 * can write: it is created 0700 and used only when it is ours and not group- or world-writable
 * (never the shared temporary directory Node picks by default). Anything else, or no home
 * directory, and Burrow runs without the cache. `NODE_DISABLE_COMPILE_CACHE=1` turns it off;
 * `NODE_COMPILE_CACHE=dir` (Node's own setting) chooses another directory.
 */
import { lstatSync, mkdirSync } from 'node:fs';
import { constants, enableCompileCache, flushCompileCache } from 'node:module';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** The cache directory for `env`, or undefined when there is no usable home or cache directory. */
export function compileCacheDir(env: NodeJS.ProcessEnv): string | undefined {
  const xdg = env.XDG_CACHE_HOME;
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, 'burrow', 'node-compile-cache');
  let home = env.HOME;
  if (home === undefined || home === '') {
    try {
      home = homedir();
    } catch {
      return undefined;
    }
  }
  return isAbsolute(home) ? join(home, '.cache', 'burrow', 'node-compile-cache') : undefined;
}

/** Whether `dir` is a real directory (no symlink) owned by this user that only this user can write. */
function isPrivateDirectory(dir: string): boolean {
  const stats = lstatSync(dir);
  const uid = process.getuid?.();
  return stats.isDirectory() && (uid === undefined || stats.uid === uid) && (stats.mode & 0o022) === 0;
}

/** Turns the compile cache on for the modules loaded from now on; false when it stays off. */
export function startCompileCache(env: NodeJS.ProcessEnv): boolean {
  const dir = compileCacheDir(env);
  if (dir === undefined) return false;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!isPrivateDirectory(dir)) return false;
    const { status } = enableCompileCache(dir);
    return status === constants.compileCacheStatus.ENABLED || status === constants.compileCacheStatus.ALREADY_ENABLED;
  } catch {
    return false;
  }
}

/**
 * Writes what was compiled so far now, not only at exit: a server stopped by SIGKILL (or a crash)
 * still leaves the cache for its next start. Call once the process has loaded what it needs.
 */
export function saveCompileCache(): void {
  try {
    flushCompileCache();
  } catch {
    // A cache that cannot be written costs the next start time, nothing else.
  }
}
