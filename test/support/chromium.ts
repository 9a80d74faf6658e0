/**
 * Which Chromium the tests drive: `BURROW_CHROMIUM` (any Chrome or Chromium executable), else
 * Debian's `/usr/bin/chromium`. No browser is ever downloaded. Without one, the browser tests are
 * skipped with one line saying how to get one (test/support/global-setup.ts), and under `CI` the
 * run fails. Read by vitest.config.ts too, so it imports nothing but Node.
 */
import { accessSync, constants } from 'node:fs';

/** Flags of every browser the tests start (no network beyond loopback, no first-run work). */
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** The executable the tests launch. */
export function chromiumPath(): string {
  const chosen = process.env.BURROW_CHROMIUM;
  return chosen === undefined || chosen === '' ? '/usr/bin/chromium' : chosen;
}

/** Whether `chromiumPath()` is an executable file. */
export function hasChromium(): boolean {
  try {
    accessSync(chromiumPath(), constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The one line said when there is no browser: the browser tests are skipped, or (in CI) the run fails. */
export function missingChromiumLine(options: { failing: boolean }): string {
  const outcome = options.failing ? 'CI is set, so the run fails' : 'the browser tests are skipped';
  return `No Chromium at ${chromiumPath()}: ${outcome}. Install it (Debian/Ubuntu: apt-get install chromium) or set BURROW_CHROMIUM to any Chrome or Chromium executable.`;
}
