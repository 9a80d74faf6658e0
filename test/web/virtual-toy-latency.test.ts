/**
 * How soon the virtual toy plays a message, in real headless Chromium against a real
 * `burrow serve`: a guardian (the client library in Node) sends short messages to the child whose
 * virtual toy is switched on in the browser; each counts from the moment the server acknowledged
 * the upload to the moment the toy starts playing it (its `data-playing` attribute names the
 * message). The numbers are printed for docs/benchmarks.md, never judged: the test fails only
 * when a message does not play at all.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { createFamily } from '../../src/client/families.js';
import { sendMessage } from '../../src/client/messages.js';
import { addToy } from '../../src/client/toys.js';
import { utf8 } from '../../src/crypto/bytes.js';
import { registerMember, wavWith, type TestMember } from '../e2e/family-harness.js';
import { showToyCode, waitForToy } from './support/app-steps.js';
import { useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';

/** Enough messages for a median and a rough 99th percentile (the largest of them). */
const MESSAGES = 24;

let mum: TestMember;
let familyId: string;
let mia: string;

const app = useBrowserApp({ name: 'virtual-toy-latency' });

beforeAll(async () => {
  if (!hasChromium()) return;
  mum = await registerMember(app.server.url, 'mum');
  familyId = (await createFamily(mum, { name: 'Latency Family' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
}, 90_000);

/** Records, inside the page, when `data-playing` first names each message (the page's clock is the machine's). */
async function watchPlays(toy: Page): Promise<void> {
  await toy.evaluate(() => {
    const plays: Record<string, number> = {};
    Object.defineProperty(window, '__burrowPlays', { value: plays });
    const element = document.getElementById('virtual-toy');
    if (element === null) throw new Error('no virtual toy on the page');
    new MutationObserver(() => {
      const id = element.getAttribute('data-playing') ?? '';
      if (id !== '' && plays[id] === undefined) plays[id] = Date.now();
    }).observe(element, { attributes: true, attributeFilter: ['data-playing'] });
  });
}

async function playedAt(toy: Page, messageId: string): Promise<number | undefined> {
  return toy.evaluate((id) => (window as unknown as { __burrowPlays: Record<string, number> }).__burrowPlays[id], messageId);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

describe.skipIf(!hasChromium())('virtual toy delivery latency', { timeout: 240_000 }, () => {
  it('plays every message; prints acknowledged → playing, p50 and p99', async () => {
    const context = await app.newContext();
    const toy = await context.newPage();
    const code = await showToyCode(toy);
    await addToy(mum, { familyId, code, childId: mia, pollMs: 100 });
    await waitForToy(toy, 'phase', 'paired');
    await watchPlays(toy);

    const latencies: number[] = [];
    for (let i = 0; i < MESSAGES; i++) {
      // A random pause, so the sends do not fall into step with anything periodic on the toy's side.
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 400));
      const sent = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8(`latency ${i}`), 1600), audioType: 'audio/wav', durationMs: 100 });
      const acknowledged = Date.now();
      await expect.poll(() => playedAt(toy, sent.messageId), { timeout: 20_000, interval: 50 }).toBeDefined();
      latencies.push((await playedAt(toy, sent.messageId))! - acknowledged);
      await waitForToy(toy, 'playing', '');
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    console.log(`virtual toy: ${MESSAGES} messages, acknowledged → playing: p50 ${percentile(sorted, 50)} ms, p99 ${percentile(sorted, 99)} ms (min ${sorted[0]}, max ${sorted.at(-1)})`);
    expect(latencies).toHaveLength(MESSAGES);
  });
});
