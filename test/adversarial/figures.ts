/**
 * The adversarial suite's figures: each test records what it measured (requests sent, attempts that
 * got through, faults injected, hits found) under a name, and the figures are written as JSON to
 * `test-results/adversarial/<name>.json` (one file per name, so parallel test files never race).
 * docs/security-testing.md quotes them from a run (`cat test-results/adversarial/*.json`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const FIGURES_DIR = join(new URL('../..', import.meta.url).pathname, 'test-results', 'adversarial');

export function recordFigures(name: string, figures: Record<string, unknown>): void {
  mkdirSync(FIGURES_DIR, { recursive: true });
  writeFileSync(join(FIGURES_DIR, `${name}.json`), `${JSON.stringify({ name, at: new Date().toISOString(), ...figures }, null, 2)}\n`);
}
