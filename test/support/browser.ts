/**
 * The one set-up of a browser test: a real `burrow serve`, the tests' Chromium (one or more, each
 * with its own fake microphone), optionally a hostile proxy in front of the server, a temporary
 * directory for the files the browsers read, and every browser context a test opens — all started
 * together and all closed after the file's tests. When anything fails to start, what did start is
 * closed before the error is thrown: a browser that cannot launch leaves no `burrow serve` behind.
 *
 * `useBrowserApp` registers the hooks of a test file; `startBrowserApp` is the same without hooks.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import type { TestMember } from './members.js';
import { hasChromium } from './chromium.js';
import { startBurrowServe, type ServeOptions, type ServeProcess } from './serve.js';
import { launchChromium, newPhoneContext, startTogether } from '../web/support/browser.js';
import { writeFakeVoice, type FakeVoice } from '../web/support/fake-mic.js';
import { startHostileProxy, type HostileProxy } from '../web/support/hostile-proxy.js';

/** One browser to launch: what its microphone says, and a camera file (in the app's `dir`) it films. */
export interface BrowserSpec {
  voice?: FakeVoice;
  /** A Y4M file name inside `dir`, written by `prepare` before the browser starts. */
  cameraY4m?: string;
  /** Another executable than the tests' Chromium (a test of this helper gives one that fails). */
  executablePath?: string;
}

export interface BrowserAppOptions {
  /** Names the temporary directory (`burrow-<name>-…`). */
  name: string;
  /** How `burrow serve` starts (environment, arguments). */
  serve?: ServeOptions;
  /** The browsers, in order (default: one without a microphone). */
  browsers?: BrowserSpec[];
  /** A hostile proxy in front of the server: pages then open the proxy's address. */
  hostileProxy?: boolean;
  /** Writes files the browsers need (a camera's video) into `dir` before they start. */
  prepare?: (dir: string) => Promise<void>;
}

/** A running server with its browsers; `close` stops everything it started. */
export interface BrowserApp {
  readonly server: ServeProcess;
  /** The browsers, in the order of `options.browsers`. */
  readonly browsers: Browser[];
  /** The first browser. */
  readonly browser: Browser;
  /** The hostile proxy (only with `hostileProxy: true`). */
  readonly proxy: HostileProxy;
  /** A temporary directory, deleted by `close`. */
  readonly dir: string;
  /** Where pages go: the proxy when there is one, else the server. */
  readonly url: string;
  /** A fresh phone-sized context (a separate person or device) at `url`, closed by `close`. */
  newContext(options?: { browser?: Browser; url?: string }): Promise<BrowserContext>;
  /** A page in a fresh phone-sized context. */
  newPage(options?: { browser?: Browser; url?: string }): Promise<Page>;
  /** Closes `context` with the rest (for contexts made with other options). */
  track(context: BrowserContext): BrowserContext;
  close(): Promise<void>;
}

interface Closable {
  close(): Promise<unknown>;
}

/** Closes each of `things`, on to the next when one fails (a crashed browser still lets the server stop). */
async function closeAll(things: Array<Closable | undefined>): Promise<void> {
  await Promise.allSettled(things.map((thing) => thing?.close()));
}

async function launch(spec: BrowserSpec, dir: string, index: number): Promise<Browser> {
  const micWav = spec.voice === undefined ? undefined : await writeFakeVoice(spec.voice, join(dir, `mic-${index}.wav`));
  return launchChromium({
    ...(micWav === undefined ? {} : { micWav }),
    ...(spec.cameraY4m === undefined ? {} : { cameraY4m: join(dir, spec.cameraY4m) }),
    ...(spec.executablePath === undefined ? {} : { executablePath: spec.executablePath }),
  });
}

/** Starts the server, the browsers and the proxy; on any failure, closes what started and rethrows. */
export async function startBrowserApp(options: BrowserAppOptions): Promise<BrowserApp> {
  const dir = await mkdtemp(join(tmpdir(), `burrow-${options.name}-`));
  const removeDir = { close: () => rm(dir, { recursive: true, force: true }) };
  let started: [ServeProcess, ...Browser[]];
  try {
    await options.prepare?.(dir);
    const specs = options.browsers ?? [{}];
    started = await startTogether<[ServeProcess, ...Browser[]]>([startBurrowServe(options.serve), ...specs.map((spec, index) => launch(spec, dir, index))]);
  } catch (error) {
    await removeDir.close();
    throw error;
  }
  const [server, ...browsers] = started;
  let proxy: HostileProxy | undefined;
  if (options.hostileProxy === true) {
    try {
      proxy = await startHostileProxy(server.url);
    } catch (error) {
      await closeAll([...browsers, server, removeDir]);
      throw error;
    }
  }
  const contexts: BrowserContext[] = [];
  const url = proxy?.url ?? server.url;
  const app: BrowserApp = {
    server,
    browsers,
    browser: browsers[0]!,
    get proxy(): HostileProxy {
      if (proxy === undefined) throw new Error('this browser app has no hostile proxy: start it with hostileProxy: true');
      return proxy;
    },
    dir,
    url,
    async newContext(choice = {}) {
      return app.track(await newPhoneContext(choice.browser ?? browsers[0]!, choice.url ?? url));
    },
    async newPage(choice = {}) {
      return (await app.newContext(choice)).newPage();
    },
    track(context) {
      contexts.push(context);
      return context;
    },
    async close() {
      await closeAll(contexts);
      await closeAll(browsers);
      await closeAll([proxy, server, removeDir]);
    },
  };
  return app;
}

/**
 * The browser app of a test file: started before its tests (skipped without Chromium, as the
 * tests are) and closed after them. The returned object reads through to the running app, so it
 * can be taken at the top of the file.
 */
export function useBrowserApp(options: BrowserAppOptions & { timeoutMs?: number }): BrowserApp {
  let running: BrowserApp | undefined;
  const current = (): BrowserApp => {
    if (running === undefined) throw new Error('the browser app is not running (no Chromium, or its start failed)');
    return running;
  };
  beforeAll(async () => {
    if (!hasChromium()) return;
    running = await startBrowserApp(options);
  }, options.timeoutMs ?? 180_000);
  afterAll(async () => {
    await running?.close();
    running = undefined;
  });
  return {
    get server() { return current().server; },
    get browsers() { return current().browsers; },
    get browser() { return current().browser; },
    get proxy() { return current().proxy; },
    get dir() { return current().dir; },
    get url() { return current().url; },
    newContext: (choice) => current().newContext(choice),
    newPage: (choice) => current().newPage(choice),
    track: (context) => current().track(context),
    close: () => current().close(),
  };
}

/**
 * Signs `member` (registered through the client library) in on the app's sign-in tab, and waits
 * for the home screen to list `familyId` — a family list needs no family key.
 */
export async function signInInBrowser(page: Page, member: Pick<TestMember, 'email' | 'password' | 'stretching'>, familyId: string, timeout = 30_000): Promise<void> {
  // The web app stretches the password as production does; a harness-cheap record would never open.
  if (member.stretching !== 'production') throw new Error(`${member.email} signs in through the web app: register them with registerSignInMember`);
  await page.goto('/');
  await page.getByRole('tab', { name: 'Sign in' }).click();
  await page.getByLabel('Email').fill(member.email);
  await page.getByLabel('Password', { exact: true }).fill(member.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.locator(`a[href="/family/${familyId}"]`).waitFor({ timeout });
}

export { signUp as signUpInBrowser } from '../web/support/app-steps.js';
