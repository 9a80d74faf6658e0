/**
 * The browser tests' one set-up (test/support/browser.ts), checked for what it promises: a server,
 * its browsers and a hostile proxy that work together and all stop on `close`; and a browser that
 * cannot launch leaves no `burrow serve` behind (issue #19: three were left behind before).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { BUILT_CLI } from '../support/serve.js';

/** The `burrow serve` processes this test process started and that still run. */
function ourServers(): string[] {
  const lines = execFileSync('ps', ['-o', 'args=', '--ppid', String(process.pid)], { encoding: 'utf8' }).split('\n');
  return lines.filter((line) => line.includes(BUILT_CLI) && line.includes(' serve '));
}

describe.skipIf(!hasChromium())('the browser tests\' set-up', { timeout: 120_000 }, () => {
  it('runs a server, a browser and a hostile proxy together, and stops them all on close', async () => {
    const app = await startBrowserApp({ name: 'browser-app', hostileProxy: true });
    let rewritten = 0;
    app.proxy.rewrites.push(({ path }) => {
      if (path === '/') rewritten += 1;
      return undefined;
    });
    const page = await app.newPage();
    await page.goto('/');
    await page.getByRole('tab', { name: 'Create account' }).waitFor({ timeout: 60_000 });
    expect(app.url).toBe(app.proxy.url);
    expect(rewritten).toBeGreaterThan(0);
    expect(ourServers()).toHaveLength(1);

    await app.close();
    expect(app.browser.isConnected()).toBe(false);
    expect(app.server.child.exitCode !== null || app.server.child.signalCode !== null).toBe(true);
    expect(ourServers()).toEqual([]);
    await expect(fetch(app.proxy.url)).rejects.toThrow();
  });

  it('closes the server it started when a browser cannot launch', async () => {
    const nowhere = await mkdtemp(join(tmpdir(), 'burrow-no-browser-'));
    try {
      // The server starts (its start settles before the launch's failure is reported: the error
      // below is the browser's, not the server's) and is then stopped again.
      const failed = startBrowserApp({ name: 'browser-app-fails', browsers: [{ executablePath: join(nowhere, 'no-such-chromium') }] });
      await expect(failed).rejects.toThrow(/no-such-chromium|executable/i);
      expect(ourServers()).toEqual([]);
    } finally {
      await rm(nowhere, { recursive: true, force: true });
    }
  });
});
