/**
 * The family's toy settings as a guardian uses them, in real headless Chromium against a real
 * `burrow serve`, with the virtual toy in a second browser: the volume limit is a slider (moved with
 * the keyboard) and the toy chimes once at the new limit; quiet hours are time pickers with the
 * family's time zone; a wrong value is marked on its own field (aria-invalid, focus moves there)
 * and nothing is saved; while quiet hours hold, the composer says the message will wait.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { addChild, createFamily, openConversation, openTab, pairToy, showToyCode, signUp, waitForToy } from './support/app-steps.js';
import { useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { fakeVoice } from './support/fake-mic.js';

const app = useBrowserApp({ name: 'settings', browsers: [{ voice: fakeVoice({ pitchHz: 220, syllablesPerSecond: 4, peak: 0.5 }) }] });

/** "HH:MM" in Atlantic/Reykjavik (UTC all year, no daylight saving), `offsetMinutes` from now. */
function reykjavikTime(offsetMinutes: number): string {
  return new Date(Date.now() + offsetMinutes * 60_000).toISOString().slice(11, 16);
}

describe.skipIf(!hasChromium())('toy settings in the family app', () => {
  it('a volume slider the toy chimes at, quiet hours with time pickers and a time zone, errors on their field', async () => {
    const guardianContext = await app.newContext();
    const toyContext = await app.newContext();
    const guardian: Page = await guardianContext.newPage();
    const toy: Page = await toyContext.newPage();

    await guardian.goto('/');
    await signUp(guardian, { email: 'sam@example.org', password: 'otter kettle orchard seventeen' });
    await createFamily(guardian, 'The Burrow');
    await addChild(guardian, 'Mia', '🦊');
    const code = await showToyCode(toy);
    await pairToy(guardian, toy, { code, childLabel: '🦊 Mia' });
    await expect.poll(() => toy.getByRole('status').filter({ hasText: 'volume limit' }).innerText(), { timeout: 60_000 }).toContain('volume limit 80 %');
    expect(await toy.locator('#virtual-toy').getAttribute('data-last-chime-volume')).toBe('');

    // The volume limit is a slider a keyboard moves (steps of 5) and a screen reader reads out.
    await openTab(guardian, 'Settings');
    const slider = guardian.getByRole('slider', { name: /Toy volume limit/ });
    expect(await slider.inputValue()).toBe('80');
    await slider.focus();
    for (let i = 0; i < 4; i++) await guardian.keyboard.press('ArrowLeft');
    expect(await slider.inputValue()).toBe('60');
    expect(await slider.getAttribute('aria-valuetext')).toBe('60 of 100');

    // A wrong retention is marked on its own field; the focus moves there and nothing is saved.
    const retention = guardian.getByLabel('Keep messages for (days)');
    await retention.fill('0');
    await guardian.getByRole('button', { name: 'Save the settings' }).click();
    await expect.poll(() => retention.getAttribute('aria-invalid')).toBe('true');
    // The focus moves in the effect after the render that marks the field: looked for until it has.
    await expect.poll(() => retention.evaluate((element) => element === document.activeElement)).toBe(true);
    const describedBy = (await retention.getAttribute('aria-describedby')) ?? '';
    const errorText = await guardian.locator(`[id="${describedBy.split(' ').find((id) => id.endsWith('-error'))}"]`).innerText();
    expect(errorText).toContain('from 1 to 365');
    expect(await guardian.getByText('Saved.').count()).toBe(0);

    // Fixed, saved: a new signed roster entry; the toy verifies it and chimes once at 60.
    await retention.fill('30');
    await guardian.getByRole('button', { name: 'Save the settings' }).click();
    await guardian.getByText('Saved.').waitFor({ timeout: 30_000 });
    expect(await retention.getAttribute('aria-invalid')).toBeNull();
    await waitForToy(toy, 'last-chime-volume', '60');
    await expect.poll(() => toy.getByRole('status').filter({ hasText: 'volume limit' }).innerText()).toContain('volume limit 60 %');

    // Quiet hours: time pickers and the time zone they are in; the end must differ from the start.
    await guardian.getByLabel('Quiet hours: toys stay silent').check();
    const from = guardian.getByLabel('From');
    const until = guardian.getByLabel('Until');
    expect(await from.getAttribute('type')).toBe('time');
    expect(await until.getAttribute('type')).toBe('time');
    await from.fill('08:00');
    await until.fill('08:00');
    await guardian.getByRole('button', { name: 'Save the settings' }).click();
    await expect.poll(() => until.getAttribute('aria-invalid')).toBe('true');
    expect(await guardian.getByText('The end must differ from the start.').count()).toBe(1);

    // Quiet from an hour ago to an hour from now, in Reykjavik time, with the volume lowered again.
    await from.fill(reykjavikTime(-60));
    await until.fill(reykjavikTime(60));
    await guardian.getByLabel('Time zone of the quiet hours').selectOption('Atlantic/Reykjavik');
    await slider.focus();
    await guardian.keyboard.press('ArrowLeft');
    await guardian.getByRole('button', { name: 'Save the settings' }).click();
    await guardian.getByText('Saved.').waitFor({ timeout: 30_000 });
    expect(await until.getAttribute('aria-invalid')).toBeNull();

    // In quiet time the toy takes the new limit without a sound (the child may be asleep).
    await expect.poll(() => toy.getByRole('status').filter({ hasText: 'volume limit' }).innerText(), { timeout: 30_000 }).toContain('volume limit 55 %');
    expect(await toy.locator('#virtual-toy').getAttribute('data-last-chime-volume')).toBe('60');

    // The composer says a message sent now waits for the end of quiet time.
    await openConversation(guardian, 'Mia');
    const notice = guardian.getByTestId('quiet-notice');
    await notice.waitFor({ timeout: 60_000 });
    expect(await notice.innerText()).toMatch(/quiet time for Mia.s toys until \d{1,2}[:.]\d{2}/);
    expect(await notice.innerText()).not.toMatch(/\d{1,2}[:.]\d{2}[:.]\d{2}/);
  }, 180_000);
});
