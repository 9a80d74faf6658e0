/**
 * The published known-answer vectors (docs/vectors) are what the code produces today: each file is
 * regenerated in memory and compared byte for byte. Constructions build on each other (an approval
 * names a roster head, a receipt too), so versions are judged together: a difference while no
 * construction's version bytes changed means a format changed without a version bump; a difference
 * while some did means the files are stale (`npm run vectors`). Each file is also checked from the
 * documented layout alone.
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

/** The constructions whose version bytes differ from the committed files', with both versions. */
async function changedVersions(): Promise<string[]> {
  const changed: string[] = [];
  for (const construction of CONSTRUCTIONS) {
    const old = committed(construction.name);
    const fresh = await construction.generate();
    if (old !== undefined && JSON.stringify(old.version) !== JSON.stringify(fresh.version)) {
      changed.push(`${construction.name} ${JSON.stringify(old.version)} → ${JSON.stringify(fresh.version)}`);
    }
  }
  return changed;
}

describe('published known-answer vectors', () => {
  let bumped: Promise<string[]> | undefined;
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
      bumped ??= changedVersions();
      const changed = await bumped;
      if (changed.length > 0) {
        throw new Error(`${construction.name}: the committed vectors are stale (new version bytes: ${changed.join('; ')}): regenerate them with \`npm run vectors\` and commit docs/vectors`);
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
