/**
 * Accessibility of the family app and the virtual toy, in real headless Chromium against a real
 * `burrow serve`: axe-core finds no WCAG 2.x A/AA violation on any screen and state the family's
 * journey visits (sign-up, the recovery code, home, each family tab, a conversation before and
 * after a message, the recording preview, the join page, account, sign-in, and the toy off,
 * showing its code and paired); each screen has its own document title; and the main journey —
 * sign up, create a family, add a child, pair the toy, record and send a message that the toy
 * plays — works from the keyboard alone.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { toyState, waitForToy } from './support/app-steps.js';
import { axeViolations } from './support/axe.js';
import { useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { fakeVoice } from './support/fake-mic.js';

const STEP = 30_000;

const app = useBrowserApp({ name: 'a11y', browsers: [{ voice: fakeVoice({ pitchHz: 220, syllablesPerSecond: 4, peak: 0.5 }) }] });

/** Every screen checked, with what axe found there (a failing test lists them all at once). */
const found: Record<string, string[]> = {};
const titles: Record<string, string> = {};

async function check(page: Page, screen: string): Promise<void> {
  // Let the screen settle (data loaded, focus moved) before judging it.
  await page.waitForLoadState('load');
  await page.waitForTimeout(300);
  found[screen] = (await axeViolations(page)).map((v) => `${v.id} (${v.impact ?? '?'}): ${v.help} — ${v.targets.slice(0, 3).join(', ')}`);
  titles[screen] = await page.title();
}

/** Presses Tab until the focused element matches `name` (its accessible text), then returns. */
async function tabTo(page: Page, name: RegExp, max = 60): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const label = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (el === null) return '';
      const labelled = el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent ?? '' : '';
      return `${el.getAttribute('aria-label') ?? ''} ${labelled} ${el.textContent ?? ''}`.trim();
    });
    if (name.test(label)) return;
  }
  throw new Error(`Tab never reached ${String(name)}`);
}

describe.skipIf(!hasChromium())('accessibility', () => {
  it('the main journey from the keyboard alone, with no axe violation on any screen it visits', async () => {
    const phone = await app.newContext();
    const toyContext = await app.newContext();
    const page = await phone.newPage();
    const toy = await toyContext.newPage();

    // Sign up: fields and buttons reached and used with Tab, typing and Enter only.
    await page.goto('/');
    await page.getByRole('heading', { name: 'Create your account' }).waitFor({ timeout: STEP });
    await check(page, 'sign-up');
    await tabTo(page, /^Email/);
    await page.keyboard.type('lee@example.org');
    await tabTo(page, /^Password/);
    await page.keyboard.type('otter kettle orchard seventeen');
    await expect.poll(() => page.getByRole('button', { name: 'Create account' }).isEnabled(), { timeout: STEP }).toBe(true);
    await tabTo(page, /^Create account$/);
    await page.keyboard.press('Enter');
    await page.getByTestId('recovery-code').waitFor({ timeout: STEP });
    await check(page, 'recovery code');
    await tabTo(page, /I have saved my recovery code/);
    await page.keyboard.press('Space');
    await tabTo(page, /^Continue$/);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Your families' }).waitFor({ timeout: STEP });
    await check(page, 'home, no family');

    // A family, a child.
    await tabTo(page, /^Family name/);
    await page.keyboard.type('The Hollow');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/family\/[A-Za-z0-9_-]{22}\/people$/, { timeout: STEP });
    await check(page, 'family: people');
    await tabTo(page, /^Child's name/);
    await page.keyboard.type('Mia');
    await tabTo(page, /Picture 🦊/);
    await page.keyboard.press('Enter');
    await tabTo(page, /^Add the child$/);
    await page.keyboard.press('Enter');
    await page.locator('.card li', { hasText: 'Mia' }).first().waitFor({ timeout: STEP });

    // The toy, off and showing its code.
    await toy.goto('/toy');
    await toy.getByRole('button', { name: 'Switch the toy on' }).waitFor({ timeout: STEP });
    await check(toy, 'toy: off');
    await toy.getByRole('button', { name: 'Switch the toy on' }).focus();
    await toy.keyboard.press('Enter');
    const code = (await toy.locator('[data-code]').getAttribute('data-code', { timeout: STEP }))!;
    await check(toy, 'toy: pairing code');

    // Pairing from the keyboard; the focus lands on the result.
    await tabTo(page, /^Toys$/);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/toys$/, { timeout: STEP });
    await check(page, 'family: toys');
    await tabTo(page, /The code the toy shows/);
    await page.keyboard.type(code);
    await tabTo(page, /^Pair the toy$/);
    await page.keyboard.press('Enter');
    await page.getByText('The toy is paired with').waitFor({ timeout: STEP });
    // Focus moves in the effect after the render that shows the text: looked for until it has.
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent ?? '')).toContain('The toy is paired with');
    await waitForToy(toy, 'phase', 'paired');
    await check(toy, 'toy: paired');
    await check(page, 'family: toys, paired');

    // Settings.
    await page.getByRole('navigation', { name: 'Family' }).getByRole('link', { name: 'Settings' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/settings$/, { timeout: STEP });
    await check(page, 'family: settings');

    // A conversation; recording with Space (tap to start, tap to stop), sending with Enter.
    await page.getByRole('navigation', { name: 'Family' }).getByRole('link', { name: 'Messages' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/messages$|\/family\/[A-Za-z0-9_-]{22}$/, { timeout: STEP });
    await check(page, 'family: messages');
    await page.getByRole('link', { name: 'Mia', exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/talk\//, { timeout: STEP });
    await check(page, 'conversation, empty');
    const record = page.getByRole('button', { name: /^Record a message for Mia/ });
    await record.focus();
    await page.keyboard.press('Space');
    await page.getByRole('button', { name: /^Stop recording/ }).waitFor({ timeout: STEP });
    await page.waitForTimeout(1_500);
    await page.keyboard.press('Space');
    await page.getByTestId('preview').waitFor({ timeout: STEP });
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent ?? '')).toContain('Listen before sending');
    await check(page, 'conversation, preview');
    await tabTo(page, /^Send$/);
    await page.keyboard.press('Enter');
    await page.getByText('Sent, encrypted.').waitFor({ timeout: STEP });
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent ?? '')).toContain('Sent, encrypted.');
    await waitForToy(toy, 'played', (v) => Number(v) >= 1, 60_000);
    expect(Number(await toyState(toy, 'played'))).toBe(1);
    await page.locator('.conversation li.bubble').first().waitFor({ timeout: STEP });
    await check(page, 'conversation, one message');
    // A play button says whose message it plays, and when.
    const play = page.locator('.conversation li.bubble').first().getByRole('button', { name: /^Play the message from / });
    expect(await play.getAttribute('aria-label')).toMatch(/^Play the message from You, \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}$/);

    // Account, the join page, sign-in.
    await page.goto('/account');
    await page.getByRole('heading', { name: 'Your account' }).or(page.getByRole('heading', { name: 'Account' })).first().waitFor({ timeout: STEP });
    await check(page, 'account');
    await page.goto('/join');
    await page.getByRole('heading', { name: 'Join a family' }).waitFor({ timeout: STEP });
    await check(page, 'join');
    await page.goto('/account');
    await page.getByRole('button', { name: 'Sign out', exact: true }).last().click();
    await page.waitForURL(/\/sign-in$/, { timeout: STEP });
    await check(page, 'sign-in');

    // The engine really judges these pages: an image without a text alternative is caught.
    await page.evaluate(() => {
      const img = document.createElement('img');
      img.src = '/icons/icon-192.png';
      document.querySelector('main')?.append(img);
    });
    expect((await axeViolations(page)).map((v) => v.id)).toContain('image-alt');

    const failing = Object.fromEntries(Object.entries(found).filter(([, list]) => list.length > 0));
    expect(failing).toEqual({});
    // Each screen names itself in the title (the same title twice is the same screen).
    for (const [screen, title] of Object.entries(titles)) expect(title, screen).toMatch(/\S.* · Burrow$|^Burrow virtual toy$/);
    expect(titles['family: people']).toBe('People · The Hollow · Burrow');
    expect(titles['family: settings']).toBe('Settings · The Hollow · Burrow');
    expect(new Set(Object.values(titles)).size).toBeGreaterThanOrEqual(11);
  }, 300_000);
});
