/**
 * The family app without a network, in real headless Chromium against a real `burrow serve`, with
 * the virtual toy in another browser context: a signed-in guardian who reloads the app offline
 * sees their family and the conversation's history (read-only, under an "Offline" banner; the
 * Live pill says Offline) instead of the sign-up screen; a message recorded offline is kept on the
 * device and sent when the network returns, and the toy plays it; the pill says Live again.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { addChild, createFamily, holdButton, openConversation, pairToy, recordAndSend, showToyCode, signUp, waitForToy } from './support/app-steps.js';
import { useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { fakeVoice } from './support/fake-mic.js';
import { shoot } from './support/screenshots.js';
import { axeViolations } from './support/axe.js';

const app = useBrowserApp({ name: 'offline', browsers: [{ voice: fakeVoice({ pitchHz: 220, syllablesPerSecond: 4, peak: 0.5 }) }] });

async function pill(page: Page): Promise<string> {
  return (await page.locator('.topbar .pill').getAttribute('data-live')) ?? '';
}

describe.skipIf(!hasChromium())('the family app offline', () => {
  it('shows the family and history read-only offline, queues a recording and sends it when back online', async () => {
    const guardianContext = await app.newContext();
    const toyContext = await app.newContext();
    const guardian = await guardianContext.newPage();
    const toy = await toyContext.newPage();

    await guardian.goto('/');
    await signUp(guardian, { email: 'ana@example.org', password: 'otter kettle orchard seventeen' });
    await createFamily(guardian, 'The Hollow');
    await addChild(guardian, 'Mia', '🦊');
    const code = await showToyCode(toy);
    await pairToy(guardian, toy, { code, childLabel: '🦊 Mia' });
    await openConversation(guardian, 'Mia');
    await recordAndSend(guardian, { childName: 'Mia', holdMs: 1_500 });
    await waitForToy(toy, 'played', '1');

    // Online once more through the screens to be seen offline (the device keeps what it read),
    // with the service worker in control of the page (it holds the app's shell).
    await guardian.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    await guardian.goto('/');
    await guardian.getByRole('link', { name: /The Hollow/ }).first().click();
    await openConversation(guardian, 'Mia');
    await guardian.locator('.conversation li.bubble').first().waitFor({ timeout: 30_000 });
    const conversationUrl = guardian.url();
    await expect.poll(() => pill(guardian), { timeout: 30_000 }).toBe('online');

    // Offline, the app opens signed in on what this device kept, read-only, and says so.
    await guardianContext.setOffline(true);
    await expect.poll(() => pill(guardian), { timeout: 60_000 }).toBe('offline');
    await guardian.reload();
    await guardian.getByTestId('offline-banner').waitFor({ timeout: 30_000 });
    expect(await guardian.getByRole('button', { name: 'Create account' }).count()).toBe(0);
    await guardian.locator('.conversation li.bubble').first().waitFor({ timeout: 30_000 });
    expect(await pill(guardian)).toBe('offline');
    await guardian.goto('/').catch(() => undefined);
    await guardian.getByRole('link', { name: /The Hollow/ }).first().waitFor({ timeout: 30_000 });
    await shoot(guardian, 'offline');
    // Nor does the offline view (axe-core, WCAG 2.x A/AA).
    expect(await axeViolations(guardian)).toEqual([]);
    await guardian.goto(conversationUrl).catch(() => undefined);
    await guardian.locator('.conversation li.bubble').first().waitFor({ timeout: 30_000 });

    // A message recorded offline is kept on the device.
    const recorder = guardian.locator('.recorder').first();
    await holdButton(guardian, { name: 'Record a message for Mia', holdMs: 1_500, recording: async () => (await recorder.getAttribute('data-state')) === 'recording' });
    await guardian.getByTestId('preview').waitFor({ timeout: 30_000 });
    await guardian.getByRole('button', { name: 'Send', exact: true }).click();
    await guardian.getByText('You are offline. The message is kept on this device').waitFor({ timeout: 30_000 });
    await guardian.locator('[data-queued]').first().waitFor({ timeout: 60_000 });
    expect(await toy.locator('#virtual-toy').getAttribute('data-played')).toBe('1');

    // Back online: it is sealed, sent and played; the queue empties; the pill says Live again.
    await guardianContext.setOffline(false);
    await waitForToy(toy, 'played', '2', 60_000);
    await expect.poll(() => guardian.locator('[data-queued]').count(), { timeout: 30_000 }).toBe(0);
    await expect.poll(() => guardian.getByTestId('offline-banner').count(), { timeout: 30_000 }).toBe(0);
    await expect.poll(() => pill(guardian), { timeout: 30_000 }).toBe('online');
  }, 240_000);
});
