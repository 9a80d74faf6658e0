import { playwright } from '@vitest/browser-playwright';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import { CHROMIUM_FLAGS, chromiumPath, hasChromium } from './test/support/chromium.js';
import { scratchDir } from './test/support/scratch.js';

/**
 * The crypto core runs unchanged in browsers: the same suite again, inside headless Chromium
 * (BURROW_CHROMIUM, else Debian's /usr/bin/chromium; no browser is ever downloaded). Left out when
 * there is no browser: test/support/global-setup.ts says so in one line (and fails the run in CI).
 */
const cryptoInChromium: TestProjectInlineConfiguration = {
  extends: true,
  test: {
    name: 'crypto-browser',
    include: ['test/crypto/**/*.test.ts'],
    setupFiles: ['test/browser/in-chromium.setup.ts'],
    // The browser's API server listens on loopback only.
    api: { host: '127.0.0.1' },
    browser: {
      enabled: true,
      headless: true,
      screenshotFailures: false,
      provider: playwright({ launchOptions: { executablePath: chromiumPath(), args: CHROMIUM_FLAGS } }),
      instances: [{ browser: 'chromium' }],
    },
  },
};

/** The test files that drive Chromium through Playwright. */
const BROWSER_FILES = ['test/web/**/*.test.ts', 'test/adversarial/web-*.test.ts'];

export default defineConfig({
  test: {
    // Three test files at a time, also on two cores: most files wait on servers, child processes,
    // PostgreSQL and browsers rather than compute (Vitest's default is one fewer than the cores,
    // here 1). Measured on this 2-core machine (load 2–8): two at a time 410 s, three 329 s; four
    // took 380 s at a load of 10–18 and runs more browsers at once, so three it is.
    maxWorkers: 3,
    // Limits that catch a hung test, not a slow machine: on two cores shared with other work, 30 s
    // tests timed out (route fuzzing, the lint-rule check, the vault's byte flips, live resumes).
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // expect.poll waits for something the test expects to happen (a screen that settles, a focus
    // the app moves after a render): Vitest's default of 1 s failed browser tests at a load of 8
    // on two cores (a child's name field not yet cleared while the app still signed the roster).
    // A passing poll ends as soon as it holds; only a failing one waits this long.
    expect: { poll: { timeout: 60_000 } },
    globalSetup: ['test/support/global-setup.ts'],
    // The files of a project run one after another in each of the two worker processes, which keep
    // their loaded modules (isolate: false, in the projects below): loading the server, Kysely,
    // TypeBox and Playwright again for each of ~230 files took a fifth of the run. So a test file
    // leaves nothing behind: it closes what it starts (servers, browsers, databases) in its hooks,
    // restores what it changes (environment, timers) and keeps its state in its own module.
    // test/architecture.test.ts checks that no test file assigns to process.env.
    // Every test process makes its temporary files in the run's scratch folder (in memory where the
    // machine has /dev/shm): test/support/scratch.ts.
    env: { TMPDIR: scratchDir() },
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
          exclude: BROWSER_FILES,
          pool: 'forks',
          isolate: false,
        },
      },
      {
        // The browser tests share their worker processes too, as the node tests do: each file
        // launches and closes its own server and Chromium (test/support/browser.ts), and a fresh
        // process per file loaded Playwright, the client library and the test helpers again 28
        // times on a machine whose two cores the whole run keeps busy.
        extends: true,
        test: {
          name: 'browser',
          include: BROWSER_FILES,
          pool: 'forks',
          isolate: false,
        },
      },
      {
        // The server integration suite again on the scale-out set: PostgreSQL (a fresh database
        // per server), s3rver on loopback and the LISTEN/NOTIFY bus (test/support/backends.ts).
        extends: true,
        test: {
          name: 'scale-out',
          include: ['test/server/**/*.test.ts', 'test/adversarial/authorization-matrix.test.ts', 'test/e2e/family-story.test.ts', 'test/client/live.test.ts', 'test/client/live-receipts.test.ts'],
          exclude: [
            // Ages files in the blob directory by hand; sweeping on S3 is in the blob contract suite.
            'test/server/messages/sweeper.test.ts',
            // No storage involved: configuration parsing, the secrets file, the embedded serve process.
            'test/server/config.test.ts',
            'test/server/secrets.test.ts',
            'test/server/serve-command.test.ts',
            // Builds its own SQLite store and blob directory, as `burrow serve` does, to see their timings.
            'test/server/metrics.test.ts',
            // Open their own PostgreSQL database whatever the project: here they would run twice, unchanged.
            'test/server/families/postgres.test.ts',
            'test/server/messages/postgres.test.ts',
            // HTTP in front of the services, decided before any store is asked (schemas, headers, the
            // OpenAPI document, client addresses, cookies, the live handshake); the shared SQL limits
            // these requests pass through on PostgreSQL are tested by every other file here and by
            // test/scale/shared-limits.test.ts.
            'test/server/bad-input.test.ts',
            'test/server/http-conventions.test.ts',
            'test/server/api-description.test.ts',
            'test/server/trusted-proxies.test.ts',
            'test/server/secure-transport.test.ts',
            'test/server/messages/message-config.test.ts',
            'test/server/live/subprotocol.test.ts',
          ],
          env: { BURROW_TEST_BACKEND: 'postgres-s3' },
          pool: 'forks',
          isolate: false,
        },
      },
      ...(hasChromium() ? [cryptoInChromium] : []),
    ],
  },
});
