/**
 * A message sent before the toy is paired (issue #21, item 3), in real headless Chromium against a
 * real `burrow serve` (behind a proxy that passes everything through unless a test makes it lie),
 * with fake but audible microphones.
 *
 * A guardian records a message for Mia, who has no toy yet: the composer says so, and the message
 * shows "Waiting for a toy". Then the guardian pairs the virtual toy: the guardian's browser wraps
 * the key of that message's epoch to the toy, the toy plays the earlier message — the same audio
 * the guardian's phone recorded — and the sender sees "Played" once the toy's signed receipt
 * verifies. Then a server that withholds that wrapped key: the toy waits, the message never shows
 * "Played", and the guardian reads why in plain words on the message and in the security log.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { addChild, createFamily, openConversation, openTab, pairToy, recordAndSend, showToyCode, signUp, toyState, waitForToy } from './support/app-steps.js';
import { forgetHeard, heardAudio } from './support/browser.js';
import { useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { fakeVoice } from './support/fake-mic.js';

const voice = fakeVoice({ pitchHz: 150, syllablesPerSecond: 3, peak: 0.4 });

const app = useBrowserApp({ name: 'early-message', browsers: [{ voice }, { voice }], hostileProxy: true });

/** The proxy drops, from what a toy reads of its family, every wrapped key of a generation before the head. */
let withholdEarlierKeys = false;

beforeAll(async () => {
  app.proxy.rewrites.push(({ method, path, status, body }) => {
    if (!withholdEarlierKeys || method !== 'GET' || status !== 200 || !/^\/v1\/families\/[A-Za-z0-9_-]{22}$/.test(path)) return undefined;
    const view = JSON.parse(new TextDecoder().decode(body)) as { role: string; epoch: number; wrappedKeys: Array<{ generation: number }> };
    if (view.role !== 'toy') return undefined;
    view.wrappedKeys = view.wrappedKeys.filter((k) => k.generation >= view.epoch);
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

  // With per-child keys the message waits under Mia's current key, which the new toy gets with the
  // roster change itself: a key withheld here is the toy's head key, so the toy refuses its family
  // rather than waiting on one message. The withheld *earlier* generation (Mia's key rotated between
  // the message and the pairing) is staged for the reference toy in test/toy/earlier-keys.test.ts;
  // staging that rotation through the app's screens is still to do.
  it.skip('behind a server that withholds the wrapped key the toy waits, the message is never Played, and the guardian reads why in plain words', async () => {
    const { guardian, toy } = await guardianAndToy('withheld@example.org');
    const messageId = await sendBeforeAnyToy(guardian);
    withholdEarlierKeys = true;
    try {
      const code = await showToyCode(toy);
      await pairToy(guardian, toy, { code, childLabel: '🦊 Mia' });
      await waitForToy(toy, 'last-waiting', 'envelope/no-key');
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
      withholdEarlierKeys = false;
    }
  });
});
