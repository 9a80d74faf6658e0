/**
 * Secret files on a device's disk: written whole through a 0600 temporary file and a rename, read
 * back when present. The toy's state directory keeps its keys, token and messages this way; the
 * CLI's profile directory (src/cli/profile.ts) uses the same helpers.
 */
import { chmod, open, readFile, rename } from 'node:fs/promises';
import { randomBytes, toHex } from '../crypto/index.js';

/** Writes `data` to `path` through a 0600 temporary file and a rename, so a crash leaves old or new, never half. */
export async function writePrivateFile(path: string, data: string): Promise<void> {
  const temporary = `${path}.${toHex(randomBytes(6))}.tmp`;
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(data, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

/** The text of `path`, or undefined when there is no such file. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
