/**
 * Where the tests' temporary files go: data directories, blob stores, browser profiles, CLI homes —
 * everything made under `os.tmpdir()`. On a machine with a memory file system at /dev/shm, one
 * folder there for the whole run (`TMPDIR` of every test process), so SQLite's and the blob store's
 * fsyncs cost nothing and a loaded disk slows no test; elsewhere the system's temporary folder.
 * What the tests check of durability survives that: a SIGKILLed server's files stay in the page
 * cache, and nothing here can cut the power. The folder is made by test/support/global-setup.ts
 * and removed after the run. Read by vitest.config.ts, so it imports nothing but Node.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SHARED_MEMORY = '/dev/shm';

function usable(dir: string): boolean {
  try {
    if (!statSync(dir).isDirectory()) return false;
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The run's scratch folder (the same path in the config and the global set-up: one process). */
export function scratchDir(): string {
  const base = usable(SHARED_MEMORY) ? SHARED_MEMORY : tmpdir();
  return join(base, `burrow-tests-${process.pid}`);
}
