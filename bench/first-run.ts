/**
 * From a fresh account to a first message playing on the virtual toy (`npm run bench:first-run`,
 * issue #21 item 7): real headless Chromium against a real `burrow serve` (the built dist/), a
 * guardian's phone and a virtual toy in a second browser. Two paths through the same build, run
 * alternately so both see the same machine:
 *
 * - `tabs`: the way before the first-run checklist — the Toys tab, then the Messages tab and the
 *   child's conversation;
 * - `checklist`: the checklist's "Pair a toy", then "Record for <child> now" right after pairing.
 *
 * An action is what a person does on the phone: one click, one field typed, one box ticked, one
 * press-and-hold of the record button. Switching the toy on happens on the toy (not counted). The
 * time runs from the app's first screen to the toy having played the message, and is reported as
 * a ratio to the `tabs` path of the same run (the machine is shared: absolute seconds move).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium, newPhoneContext } from '../test/web/support/browser.js';
import { fakeVoice, writeFakeVoice } from '../test/web/support/fake-mic.js';

type Path = 'tabs' | 'checklist';

interface Run {
  path: Path;
  actions: string[];
  seconds: number;
}

const ROUNDS = Number(process.env.BURROW_BENCH_ROUNDS ?? 2);
const STEP_MS = 60_000;

async function until(what: string, check: () => Promise<boolean>, timeoutMs = STEP_MS): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startServe(root: string): Promise<{ url: string; stop(): Promise<void> }> {
  const cli = join(root, 'dist/cli/main.js');
  if (!existsSync(cli) || !existsSync(join(root, 'dist/web/index.html'))) throw new Error('run `npm run build` first');
  const parent = await mkdtemp(join(tmpdir(), 'burrow-first-run-'));
  const child: ChildProcess = spawn(process.execPath, [cli, 'serve', '--data', join(parent, 'data'), '--port', '0'], {
    cwd: parent,
    env: { PATH: process.env.PATH ?? '', HOME: parent, BURROW_LOG_LEVEL: 'warn', BURROW_RATE_ANONYMOUS_PER_MINUTE: '1000', BURROW_RATE_ACCOUNT_PER_MINUTE: '1000', BURROW_RATE_GLOBAL_PER_MINUTE: '100000', BURROW_RATE_PAIRINGS_PER_10_MINUTES: '1000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolveUrl, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /Burrow is listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match?.[1] !== undefined) resolveUrl(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`burrow serve exited with ${code}`)));
  });
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await rm(parent, { recursive: true, force: true });
    },
  };
}

/** One person's way from the sign-up screen to the toy playing their first message. */
async function firstRun(path: Path, phones: Browser, toys: Browser, url: string, n: number): Promise<Run> {
  const phoneContext = await newPhoneContext(phones, url);
  const toyContext = await newPhoneContext(toys, url);
  try {
    const g = await phoneContext.newPage();
    const toy = await toyContext.newPage();
    const toyState = async (name: string) => (await toy.locator('#virtual-toy').getAttribute(`data-${name}`)) ?? '';
    const actions: string[] = [];
    const act = async (label: string, action: () => Promise<unknown>) => {
      actions.push(label);
      await action();
    };
    // The toy is switched on and shows its code (on the toy, not the phone).
    await toy.goto('/toy');
    await toy.getByRole('button', { name: 'Switch the toy on' }).click();
    const code = (await toy.locator('[data-code]').getAttribute('data-code', { timeout: STEP_MS }))!;

    await g.goto('/');
    await g.getByLabel('Email').waitFor({ timeout: STEP_MS });
    const started = performance.now();
    await act('type the email', () => g.getByLabel('Email').fill(`first-run-${path}-${n}@example.org`));
    await act('type a password', () => g.getByLabel('Password', { exact: true }).fill('otter kettle orchard seventeen'));
    const create = g.getByRole('button', { name: 'Create account' });
    await until('the password to be judged', () => create.isEnabled());
    await act('create the account', () => create.click());
    await act('tick "I have saved my recovery code"', () => g.getByLabel('I have saved my recovery code somewhere safe').check({ timeout: STEP_MS }));
    await act('continue', () => g.getByRole('button', { name: 'Continue' }).click());
    await act('type the family name', () => g.getByLabel('Family name').fill('The Hollow', { timeout: STEP_MS }));
    await act('create the family', () => g.getByRole('button', { name: 'Create the family' }).click());
    await act('type the child\'s name', () => g.getByLabel("Child's name").fill('Mia', { timeout: STEP_MS }));
    await act('pick a picture', () => g.getByRole('radio', { name: 'Picture 🦊' }).click());
    await act('add the child', () => g.getByRole('button', { name: 'Add the child' }).click());
    await g.locator('.card li', { hasText: 'Mia' }).first().waitFor({ timeout: STEP_MS });
    if (path === 'tabs') await act('open the Toys tab', () => g.getByRole('navigation', { name: 'Family' }).getByRole('link', { name: 'Toys' }).click());
    else await act('checklist: pair a toy', () => g.getByTestId('first-run-next').click({ timeout: STEP_MS }));
    await act('type the toy\'s code', () => g.getByLabel('The code the toy shows').fill(code, { timeout: STEP_MS }));
    await act('pair the toy', () => g.getByRole('button', { name: 'Pair the toy' }).click());
    await g.getByText('The toy is paired with').waitFor({ timeout: STEP_MS });
    await until('the toy to be paired', async () => (await toyState('phase')) === 'paired');
    if (path === 'tabs') {
      await act('open the Messages tab', () => g.getByRole('navigation', { name: 'Family' }).getByRole('link', { name: 'Messages' }).click());
      await act('open Mia\'s conversation', () => g.getByRole('link', { name: 'Mia', exact: true }).click({ timeout: STEP_MS }));
    } else {
      await act('Record for Mia now', () => g.getByRole('link', { name: 'Record for Mia now' }).click());
    }
    const recorder = g.locator('.recorder').first();
    const record = g.getByRole('button', { name: 'Record a message for Mia' });
    await record.waitFor({ timeout: STEP_MS });
    await act('hold the record button', async () => {
      const box = (await record.boundingBox())!;
      await g.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await g.mouse.down();
      await until('the microphone to open', async () => (await recorder.getAttribute('data-state')) === 'recording');
      await g.waitForTimeout(1_500);
      await g.mouse.up();
    });
    await g.getByTestId('preview').waitFor({ timeout: STEP_MS });
    await act('send', () => g.getByRole('button', { name: 'Send', exact: true }).click());
    await until('the toy to play the message', async () => (await toyState('last-played-id')) !== '');
    return { path, actions, seconds: (performance.now() - started) / 1000 };
  } finally {
    await phoneContext.close();
    await toyContext.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const root = resolve(process.cwd());
  const dir = await mkdtemp(join(tmpdir(), 'burrow-first-run-mic-'));
  const mic = await writeFakeVoice(fakeVoice({ pitchHz: 150, syllablesPerSecond: 3, peak: 0.4 }), join(dir, 'voice.wav'));
  const serve = await startServe(root);
  const [phones, toys] = await Promise.all([launchChromium({ micWav: mic }), launchChromium({ micWav: mic })]);
  const runs: Run[] = [];
  try {
    for (let n = 0; n < ROUNDS; n++) {
      for (const path of ['tabs', 'checklist'] as const) {
        const run = await firstRun(path, phones, toys, serve.url, n);
        runs.push(run);
        console.error(`${path} #${n + 1}: ${run.actions.length} actions, ${run.seconds.toFixed(1)} s`);
      }
    }
  } finally {
    await phones.close();
    await toys.close();
    await serve.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const of = (path: Path) => runs.filter((r) => r.path === path);
  const base = median(of('tabs').map((r) => r.seconds));
  console.log(`| path | actions | median seconds (${ROUNDS} runs) | time vs tabs |`);
  console.log('|---|---|---|---|');
  for (const path of ['tabs', 'checklist'] as const) {
    const seconds = median(of(path).map((r) => r.seconds));
    console.log(`| ${path} | ${of(path)[0]!.actions.length} | ${seconds.toFixed(1)} | ${(seconds / base).toFixed(2)} |`);
  }
  for (const path of ['tabs', 'checklist'] as const) console.log(`\n${path}: ${of(path)[0]!.actions.map((a, i) => `${i + 1}. ${a}`).join('; ')}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
