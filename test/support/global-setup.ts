/**
 * Once per `vitest run`: without a browser (test/support/chromium.ts) one line says how to get
 * one, and the browser tests skip themselves; under `CI` a missing browser fails the run instead
 * (.ci/run installs Chromium), so CI never passes without its browser tests.
 */
import { hasChromium, missingChromiumLine } from './chromium.js';

export default function setup(): void {
  if (hasChromium()) return;
  const ci = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
  if (ci) throw new Error(missingChromiumLine({ failing: true }));
  process.stderr.write(`${missingChromiumLine({ failing: false })}\n`);
}
