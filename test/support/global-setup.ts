/**
 * Once per `vitest run`: without a browser (test/support/chromium.ts) one line says how to get
 * one, and the browser tests skip themselves; under `CI` a missing browser fails the run instead
 * (.ci/run installs Chromium), so CI never passes without its browser tests. Makes the run's
 * scratch folder (test/support/scratch.ts) and removes it afterwards.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { hasChromium, missingChromiumLine } from './chromium.js';
import { scratchDir } from './scratch.js';

export default function setup(): () => void {
  const scratch = scratchDir();
  mkdirSync(scratch, { recursive: true, mode: 0o700 });
  const teardown = () => rmSync(scratch, { recursive: true, force: true });
  if (!hasChromium()) {
    const ci = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
    if (ci) {
      teardown();
      throw new Error(missingChromiumLine({ failing: true }));
    }
    process.stderr.write(`${missingChromiumLine({ failing: false })}\n`);
  }
  return teardown;
}
