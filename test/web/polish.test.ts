/**
 * The family app's small courtesies, in real headless Chromium against a real `burrow serve`, on a
 * 320 px phone with text at 200 %: a disabled button says why; the family's tabs all fit and work;
 * the role choice of an invite reads in full; dates are in the reader's locale without seconds; a
 * password typed to sign in is not carried into the recovery form; an invite opened on a device
 * survives closing the tab before it is used; signing out lands on sign-in.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { addChild, createFamily, openTab, signUp } from './support/app-steps.js';
import { useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { fakeVoice } from './support/fake-mic.js';

const app = useBrowserApp({ name: 'polish', browsers: [{ voice: fakeVoice({ pitchHz: 220, syllablesPerSecond: 4, peak: 0.5 }) }] });

/** Text at 200 % (as a reader's browser setting would make it): the root font size doubled. */
async function doubleText(page: Page): Promise<void> {
  await page.evaluate(() => {
    document.documentElement.style.fontSize = '200%';
  });
}

/** True when the page scrolls sideways (something does not fit 320 px). */
async function overflowsSideways(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth + 1);
}

describe.skipIf(!hasChromium())('the family app at 320 px and 200 % text', () => {
  it('says why a button is disabled, fits its tabs, reads options in full, shows dates without seconds, keeps passwords apart, signs out to sign-in', async () => {
    const context = app.track(await app.browser.newContext({ baseURL: app.url, viewport: { width: 320, height: 640 }, locale: 'en-GB', timezoneId: 'Europe/London', hasTouch: true }));
    const page = await context.newPage();
    await page.goto('/');
    await signUp(page, { email: 'kim@example.org', password: 'otter kettle orchard seventeen' });

    // A disabled button says why, tied to it for screen readers.
    const create = page.getByRole('button', { name: 'Create the family' });
    expect(await create.isDisabled()).toBe(true);
    const why = await create.getAttribute('aria-describedby');
    expect(why).toBeTruthy();
    expect(await page.locator(`[id="${why}"]`).innerText()).toBe('Type a name for the family first.');

    await createFamily(page, 'The Hollow');
    await addChild(page, 'Mia', '🦊');
    await doubleText(page);

    // Every tab of the family fits (or scrolls inside its own bar) and opens its screen.
    expect(await overflowsSideways(page)).toBe(false);
    for (const tab of ['Messages', 'People', 'Toys', 'Settings'] as const) {
      await openTab(page, tab);
      await doubleText(page);
      expect(await overflowsSideways(page), tab).toBe(false);
    }

    // The invite's role choice reads in full (no option cut off), and an open invite's expiry is a
    // date and time in the reader's locale, without seconds.
    await openTab(page, 'People');
    await doubleText(page);
    for (const name of [/^Relative: talks with the children you choose$/, /^Guardian: manages the family, like you$/]) {
      const radio = page.getByRole('radio', { name });
      expect(await radio.count()).toBe(1);
      const label = page.locator(`label[for="${await radio.getAttribute('id')}"]`);
      expect(await label.evaluate((element) => element.scrollWidth <= element.clientWidth + 1)).toBe(true);
    }
    await page.getByRole('checkbox', { name: /Mia/ }).check();
    await page.getByRole('button', { name: 'Create an invite link' }).click();
    await page.getByTestId('invite-link').waitFor({ timeout: 30_000 });
    const expiry = await page.getByText(/expires/).first().innerText();
    expect(expiry).toMatch(/expires \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}$/);
    expect(expiry).not.toMatch(/\d{2}:\d{2}:\d{2}/);

    // An invite in progress survives closing the tab: the invitee opens the link, closes the tab
    // before creating an account, opens Burrow again, and the invite is still there.
    const link = (await page.getByTestId('invite-link').innerText()).trim();
    const invitee = await app.browser.newContext({ baseURL: app.url, viewport: { width: 320, height: 640 }, locale: 'en-GB', timezoneId: 'Europe/London' });
    try {
      const first = await invitee.newPage();
      await first.goto(link);
      await first.getByText('You opened an invite to a family.').waitFor({ timeout: 30_000 });
      await first.close();
      const again = await invitee.newPage();
      await again.goto('/');
      await again.getByText('You opened an invite to a family.').waitFor({ timeout: 30_000 });
      await signUp(again, { email: 'rose@example.org', password: 'lantern meadow pebble ninety' });
      await again.waitForURL(/\/join$/, { timeout: 30_000 });
      await again.getByText('The Hollow').first().waitFor({ timeout: 30_000 });
      // Nothing of it in Web Storage.
      expect(await again.evaluate(() => localStorage.length + sessionStorage.length)).toBe(0);
    } finally {
      await invitee.close();
    }

    // Signing out lands on sign-in (not on creating an account).
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(/\/sign-in$/, { timeout: 30_000 });
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.getByRole('tab', { name: 'Sign in' }).getAttribute('aria-selected')).toBe('true');

    // A password typed to sign in does not follow into the recovery form.
    await page.getByLabel('Password', { exact: true }).fill('something I typed to sign in');
    await page.getByRole('tab', { name: 'Forgot password' }).click();
    expect(await page.getByLabel('New password').inputValue()).toBe('');
    await page.getByRole('tab', { name: 'Sign in' }).click();
    expect(await page.getByLabel('Password', { exact: true }).inputValue()).toBe('');
  }, 180_000);
});
