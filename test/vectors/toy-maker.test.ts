/**
 * The toy maker's check (test/vectors/toy_maker.py): the published vectors verified from
 * docs/protocol.md alone, by an independent implementation in Python. Skipped, with a note, where
 * there is no python3.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('./toy_maker.py', import.meta.url));
const VECTORS = fileURLToPath(new URL('../../docs/vectors/', import.meta.url));
const hasPython = spawnSync('python3', ['--version']).status === 0;

describe('an independent implementation in Python', () => {
  it.skipIf(!hasPython)('verifies the published vectors from the document alone', () => {
    const run = spawnSync('python3', [SCRIPT, VECTORS], { encoding: 'utf8' });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain('all vectors check out');
  });
});
