/** The version of Burrow this command came from. */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The `version` of the package's package.json (beside dist/ and src/), read once. */
export function packageVersion(): string {
  if (cached === undefined) {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    cached = typeof manifest.version === 'string' ? manifest.version : 'unknown';
  }
  return cached;
}
