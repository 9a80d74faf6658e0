/**
 * A message sent before the toy is paired (issue #21, item 3), in real headless Chromium against a
 * real `burrow serve` (behind a proxy that passes everything through unless a test makes it lie),
 * with fake but audible microphones.
 *
 * A guardian records a message for Mia, who has no toy yet: the composer says so, and the message
 * shows "Waiting for a toy". Then the guardian pairs the virtual toy: the guardian's browser wraps
 * the key of that message's epoch to the toy, the toy plays the earlier message — the same audio
 * the guardian's phone recorded — and the sender sees "Played" once the toy's signed receipt
 * verifies.
 *
 * Then a server that withholds that wrapped key. Under per-child keys the message must be sealed
 * under an earlier generation of Mia's key than the one the new toy's pairing gives it, so the app
 * stages a rotation: Mia's first toy is paired and switched off, the guardian sends, removes that
 * toy (Mia's key moves on) and pairs a new one. The proxy drops from the new toy's view every wrap
 * of Mia's key older than the newest there: the toy keeps its current key and its family, waits on
 * the message, never plays it, and the guardian reads why in plain words on the message and in the
 * security log.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { addChild, createFamily, openConversation, openTab, pairToy, recordAndSend, removeToy, showToyCode, signUp, toyState, waitForToy } from './support/app-steps.js';
import { forgetHeard, heardAudio } from './support/browser.js';
import { useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { fakeVoice } from './support/fake-mic.js';

const voice = fakeVoice({ pitchHz: 150, syllablesPerSecond: 3, peak: 0.4 });

const app = useBrowserApp({ name: 'early-message', browsers: [{ voice }, { voice }], hostileProxy: true });

/**
 * When set (a child's id), the proxy drops from what a toy reads of its family every wrap of that
 * child's key with a generation older than the newest one the view holds: the earlier generations a
 * guardian wrapped to the toy at its pairing, never its current key.
 */
let withholdEarlierKeysOf: string | undefined;
/** How many wraps the proxy dropped so far. */
let withheld = 0;

beforeAll(async () => {
  app.proxy.rewrites.push(({ method, path, status, body }) => {
    const scope = withholdEarlierKeysOf;
    if (scope === undefined || method !== 'GET' || status !== 200 || !/^\/v1\/families\/[A-Za-z0-9_-]{22}$/.test(path)) return undefined;
    const view = JSON.parse(new TextDecoder().decode(body)) as { role: string; wrappedKeys: Array<{ scope: string; generation: number }> };
    if (view.role !== 'toy') return undefined;
    const newest = Math.max(...view.wrappedKeys.filter((k) => k.scope === scope).map((k) => k.generation));
    const kept = view.wrappedKeys.filter((k) => k.scope !== scope || k.generation === newest);
    withheld += view.wrappedKeys.length - kept.length;
    view.wrappedKeys = kept;
    return new TextEncoder().encode(JSON.stringify(view));
  });
}, 180_000);

/** A guardian with a family and a child Mia (no toy), and a virtual toy switched on, showing its code. */
async function guardianAndToy(email: string): Promise<{ guardian: Page; toy: Page }> {
  const guardianContext = await app.newContext();
  const toyContext = await app.newContext({ browser: app.browsers[1] });
  const guardian = await guardianContext.newPage();
  const toy = await toyContext.newPage();
  await guardian.goto('/');
  await signUp(guardian, { email, password: 'otter kettle orchard seventeen' });
  await createFamily(guardian, 'The Early Burrow');
  await addChild(guardian, 'Mia', '🦊');
  return { guardian, toy };
}

/**
 * Pairs Mia's first toy on a device of its own, then switches it off (closes its context) so it can
 * play nothing sent from now on.
 */
async function pairAndSwitchOffFirstToy(guardian: Page): Promise<void> {
  const context = await app.newContext({ browser: app.browsers[1] });
  const firstToy = await context.newPage();
  await pairToy(guardian, firstToy, { code: await showToyCode(firstToy), childLabel: '🦊 Mia' });
  await context.close();
}

/** Records and sends a message for Mia, whose toy is switched off. Returns its id and Mia's child id. */
async function sendWhileToyIsOff(guardian: Page): Promise<{ messageId: string; miaId: string }> {
  await openConversation(guardian, 'Mia');
  const miaId = /\/talk\/([A-Za-z0-9_-]{22})$/.exec(guardian.url())![1]!;
  await recordAndSend(guardian, { childName: 'Mia', holdMs: 1_500 });
  const message = guardian.locator('li[data-message]');
  await expect.poll(() => message.count(), { timeout: 60_000 }).toBe(1);
  return { messageId: (await message.getAttribute('data-message'))!, miaId };
}

/** Records and sends a message for Mia, who has no toy: the composer says so first. Returns its id. */
async function sendBeforeAnyToy(guardian: Page): Promise<string> {
  await openConversation(guardian, 'Mia');
  await expect.poll(() => guardian.getByTestId('no-toy').innerText(), { timeout: 60_000 }).toBe('Mia has no toy yet — the message will wait and play once a toy is paired.');
  await recordAndSend(guardian, { childName: 'Mia', holdMs: 1_500 });
  await guardian.getByText('It waits until Mia has a toy').waitFor({ timeout: 60_000 });
  const message = guardian.locator('li[data-message]');
  await expect.poll(() => message.count(), { timeout: 60_000 }).toBe(1);
  await expect.poll(() => message.getByTestId('receipt').innerText(), { timeout: 60_000 }).toBe('Waiting for a toy');
  return (await message.getAttribute('data-message'))!;
}

describe.skipIf(!hasChromium())('a message sent before the toy is paired, in the browser', { timeout: 300_000 }, () => {
  it('waits with the composer saying so, plays on the toy paired later, and shows Played only from the toy’s receipt', async () => {
    const { guardian, toy } = await guardianAndToy('early@example.org');
    await forgetHeard(guardian);
    const messageId = await sendBeforeAnyToy(guardian);
    await expect.poll(async () => (await heardAudio(guardian)).length, { timeout: 60_000 }).toBe(1);
    const recorded = (await heardAudio(guardian))[0]!;

    const code = await showToyCode(toy);
    await pairToy(guardian, toy, { code, childLabel: '🦊 Mia' });
    // The earlier message plays on the toy: the very audio the guardian's phone recorded.
    expect(await waitForToy(toy, 'last-played-id', (v) => v !== '')).toBe(messageId);
    expect(Math.abs(Number(await toyState(toy, 'last-played-duration-ms')) - recorded.durationMs)).toBeLessThan(60);
    expect(Number(await toyState(toy, 'last-played-rms'))).toBeCloseTo(recorded.rms, 3);

    // The sender sees "Played" once the toy's signed receipt verifies on the guardian's phone.
    await openConversation(guardian, 'Mia');
    expect(await guardian.getByTestId('no-toy').count()).toBe(0);
    const message = guardian.locator(`li[data-message="${messageId}"]`);
    await expect.poll(() => message.getByTestId('receipt').innerText(), { timeout: 30_000 }).toMatch(/^Played on Mia.s toy$/);
    expect(await message.getByTestId('refusal').count()).toBe(0);
  });

  it('behind a server that withholds the wrapped key the toy waits, the message is never Played, and the guardian reads why in plain words', async () => {
    const { guardian, toy } = await guardianAndToy('withheld@example.org');
    await pairAndSwitchOffFirstToy(guardian);
    const { messageId, miaId } = await sendWhileToyIsOff(guardian);
    // Removing the first toy starts a new generation of Mia's key: the message stays under the one before.
    expect(await removeToy(guardian, '🦊 Mia')).toContain('keys are changed');
    withholdEarlierKeysOf = miaId;
    try {
      const code = await showToyCode(toy);
      await pairToy(guardian, toy, { code, childLabel: '🦊 Mia' });
      await waitForToy(toy, 'last-waiting', 'envelope/no-key');
      // The toy kept its family (its current key reached it) and read a view with the earlier key dropped.
      expect(await toyState(toy, 'phase')).toBe('paired');
      expect(withheld).toBeGreaterThan(0);
      await expect.poll(() => toy.getByText('waiting for their key (sent before the toy was paired)').count(), { timeout: 60_000 }).toBe(1);
      expect(await toyState(toy, 'played')).toBe('0');

      // On the message, in the guardian's conversation: why, in words, and no "Played".
      await openConversation(guardian, 'Mia');
      const message = guardian.locator(`li[data-message="${messageId}"]`);
      const refusal = message.getByTestId('refusal');
      // The conversation reads the security log when it opens: look again until the toy's report is in.
      await expect.poll(async () => {
        await guardian.reload();
        await message.getByTestId('receipt').waitFor({ timeout: 60_000 });
        return refusal.count();
      }, { timeout: 60_000, interval: 1_000 }).toBe(1);
      const words = await refusal.innerText();
      expect(words).toContain('Mia\'s toy could not open this message yet: it was sent before the toy was paired');
      expect(words).not.toMatch(/envelope|no-key|\//);
      expect(await message.getByTestId('receipt').innerText()).toBe('Sent');

      // And in the family's security log, verified on the phone, in the same words.
      await openTab(guardian, 'Settings');
      const log = guardian.getByTestId('security-log');
      await log.waitFor({ timeout: 60_000 });
      const entry = log.locator('li[data-kind="client-refusal"]').first();
      expect(await entry.innerText()).toContain('Mia\'s toy could not open this message yet');
      expect(await log.innerText()).not.toContain('envelope/');
      expect(Number(await toyState(toy, 'played'))).toBe(0);
    } finally {
      withholdEarlierKeysOf = undefined;
    }
  });
});
