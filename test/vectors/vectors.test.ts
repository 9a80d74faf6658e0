/**
 * The published known-answer vectors (docs/vectors) are what the code produces today: each file is
 * regenerated in memory and compared byte for byte. A difference with the same version bytes means
 * a format changed without a version bump; a difference with new version bytes means the files are
 * stale (`npm run vectors`). Each file is also checked from the documented layout alone.
 * BURROW_WRITE_VECTORS=1 (what `npm run vectors` sets) writes the files instead of comparing.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONSTRUCTIONS, serialise } from './generate.js';
import type { VectorFile } from './support.js';

const DIR = fileURLToPath(new URL('../../docs/vectors/', import.meta.url));
const WRITE = process.env.BURROW_WRITE_VECTORS === '1';

function committed(name: string): VectorFile | undefined {
  const path = `${DIR}${name}.json`;
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as VectorFile) : undefined;
}

describe('published known-answer vectors', () => {
  for (const construction of CONSTRUCTIONS) {
    it(`${construction.name}.json is what the code produces`, async () => {
      const fresh = await construction.generate();
      const text = serialise(fresh);
      if (WRITE) {
        writeFileSync(`${DIR}${construction.name}.json`, text);
        return;
      }
      const old = committed(construction.name);
      if (old === undefined) throw new Error(`docs/vectors/${construction.name}.json is missing: run \`npm run vectors\` and commit it`);
      if (text === serialise(old)) return;
      if (JSON.stringify(old.version) !== JSON.stringify(fresh.version)) {
        throw new Error(`${construction.name}: version ${JSON.stringify(old.version)} → ${JSON.stringify(fresh.version)}; the committed vectors are stale: regenerate them with \`npm run vectors\` and commit docs/vectors`);
      }
      // Same version, other bytes: show the first field that differs.
      expect(fresh, `${construction.name}: format changed without a version bump (bump the construction's version byte, or undo the change)`).toEqual(old);
    });

    it(`${construction.name}.json checks out against the documented layout`, async () => {
      const file = committed(construction.name) ?? (await construction.generate());
      await construction.checkIndependently?.(file);
      for (const refusal of file.refusals) expect(refusal.expected, `${construction.name}/${refusal.name} must be refused`).not.toBe('accepted');
    });
  }
});
