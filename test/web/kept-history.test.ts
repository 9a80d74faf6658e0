/**
 * Issue #21 item 2 in the browser: real headless Chromium, a real `burrow serve`, the virtual toy
 * recording from a fake microphone. The child's toy replies; the guardian removes the toy in the
 * app (the dialog says what happens); the reply stays playable in the conversation, labelled
 * "Mia's toy Bunny, removed <date>" — and so it is on a freshly signed-in second browser context
 * (a new device with nothing stored). The removed toy itself stops.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { addChild, createFamily, openConversation, openTab, pairToy, showToyCode, signUp, toyReplyByTaps, waitForToy } from './support/app-steps.js';
import { forgetHeard, heardAudio, type HeardAudio } from './support/browser.js';
import { useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { fakeVoice } from './support/fake-mic.js';

const STEP = 30_000;
const EMAIL = 'sam@example.org';
const PASSWORD = 'lantern meadow copper fifteen';
const childVoice = fakeVoice({ pitchHz: 320, syllablesPerSecond: 5, peak: 0.35 });

const app = useBrowserApp({ name: 'kept-history', browsers: [{ voice: fakeVoice({ pitchHz: 180, syllablesPerSecond: 4, peak: 0.4 }) }, { voice: childVoice }] });

/** The one sound `page` heard since `forgetHeard`, waiting until it did. */
async function onlySound(page: Page): Promise<HeardAudio> {
  await expect.poll(async () => (await heardAudio(page)).length, { timeout: 60_000 }).toBeGreaterThan(0);
  const heard = await heardAudio(page);
  expect(heard).toHaveLength(1);
  return heard[0]!;
}

/** Plays the toy's reply in the open conversation and checks it is the child's voice, with no error shown. */
async function playReply(page: Page): Promise<void> {
  const reply = page.locator('li[data-sender="toy"]');
  await reply.waitFor({ timeout: STEP });
  await forgetHeard(page);
  await reply.getByRole('button', { name: 'Play the message' }).click();
  const heard = await onlySound(page);
  expect(heard.durationMs).toBeGreaterThan(1_300);
  expect(heard.rms).toBeGreaterThan(childVoice.rms * 0.8);
  expect(heard.rms).toBeLessThan(childVoice.rms * 1.25);
  expect(await reply.getByRole('alert').count()).toBe(0);
}

describe.skipIf(!hasChromium())('a removed toy’s replies stay in the family’s history', { timeout: 240_000 }, () => {
  it('the reply stays playable and labelled after the toy is removed, also on a new device', async () => {
    const guardianContext = await app.newContext();
    const toyContext = await app.newContext({ browser: app.browsers[1] });
    const guardian = await guardianContext.newPage();
    const toy = await toyContext.newPage();

    await guardian.goto('/');
    await signUp(guardian, { email: EMAIL, password: PASSWORD });
    await createFamily(guardian, 'The Warren');
    await addChild(guardian, 'Mia', '🦊');
    const code = await showToyCode(toy);
    await pairToy(guardian, toy, { code, childLabel: '🦊 Mia', beforeSubmit: () => guardian.getByLabel('Name (optional)').fill('Bunny') });

    // The child answers on the toy; the guardian hears it, from "Mia's toy Bunny".
    await openConversation(guardian, 'Mia');
    await toyReplyByTaps(toy, 1_500);
    const sender = guardian.locator('li[data-sender="toy"]').getByTestId('sender');
    await expect.poll(() => sender.innerText(), { timeout: STEP }).toBe("Mia's toy Bunny");
    await playReply(guardian);

    // The guardian removes the toy; the dialog says what happens before anything is done.
    await openTab(guardian, 'Toys');
    let dialog = '';
    guardian.once('dialog', (d) => {
      dialog = d.message();
      void d.accept();
    });
    await guardian.locator('li[data-toy]').getByRole('button', { name: 'Remove' }).click();
    await guardian.getByText('No toy yet.').waitFor({ timeout: STEP });
    expect(dialog).toContain('past replies stay in your conversations');
    expect(dialog).toContain('stops receiving and playing messages');
    expect(dialog).toContain('keys are changed');
    // The removed toy stops (its roster no longer lists it).
    await waitForToy(toy, 'phase', 'removed');

    // The reply is still there, labelled with the signed removal date in the reader's locale, and plays.
    const today = new Date().toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'Europe/London' });
    await openConversation(guardian, 'Mia');
    await expect.poll(() => sender.innerText(), { timeout: STEP }).toBe(`Mia's toy Bunny, removed ${today}`);
    expect(await guardian.getByText('Someone no longer in the family').count()).toBe(0);
    await playReply(guardian);

    // A new device: a fresh browser context, signed in with the password, nothing stored.
    const newDevice = await app.newContext();
    const phone = await newDevice.newPage();
    await phone.goto('/');
    await phone.getByRole('tab', { name: 'Sign in' }).click();
    await phone.getByLabel('Email').fill(EMAIL);
    await phone.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await phone.getByRole('button', { name: 'Sign in', exact: true }).click();
    await phone.getByRole('link', { name: /The Warren/ }).click();
    await openConversation(phone, 'Mia');
    const onPhone = phone.locator('li[data-sender="toy"]').getByTestId('sender');
    await expect.poll(() => onPhone.innerText(), { timeout: STEP }).toBe(`Mia's toy Bunny, removed ${today}`);
    await playReply(phone);
  });
});
