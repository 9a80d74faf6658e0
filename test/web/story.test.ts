/**
 * The whole story in real headless Chromium (Debian's), against a real `burrow serve`: a guardian
 * signs up in the family app, creates a family with two children, switches on the virtual toy in
 * a second browser, pairs it by the code it shows, records a message that the toy plays, hears
 * the toy's reply, and invites a relative for one child, who joins by the link in a third context
 * and sees only that child's conversation.
 *
 * Microphones are fake but not silent: each browser's is a generated voice-like signal of known
 * loudness (support/fake-mic.ts), and every check on audio decodes it at the other end and
 * compares its length and loudness with what was said — a silent recording fails.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { addChild, createFamily, openConversation, openTab, pairToy, recordAndSend, showToyCode, signUp, toyReplyByTaps, toyState, waitForToy } from './support/app-steps.js';
import { forgetHeard, heardAudio, type HeardAudio } from './support/browser.js';
import { useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { fakeSilence, fakeVoice } from './support/fake-mic.js';
import { axeViolations } from './support/axe.js';

/**
 * Screenshots go to test-results/screenshots, so `npm test` leaves the tree clean;
 * `npm run screenshots` (BURROW_SCREENSHOTS=docs) writes the ones docs/ and the README show.
 */
const screenshots = new URL(process.env.BURROW_SCREENSHOTS === 'docs' ? '../../docs/screenshots/' : '../../test-results/screenshots/', import.meta.url).pathname;

/**
 * The family's phones hear a lower voice; the toy's microphone a child's, louder and quicker.
 * `BURROW_STORY_SILENT_MIC=1` makes both microphones silent (the expected loudness stays the
 * voices'): the story must then fail, which shows its audio checks can.
 */
const silent = process.env.BURROW_STORY_SILENT_MIC === '1';
const grownUpVoice = fakeVoice({ pitchHz: 150, syllablesPerSecond: 3, peak: 0.4 });
const childVoice = fakeVoice({ pitchHz: 320, syllablesPerSecond: 5, peak: 0.6 });

const app = useBrowserApp({ name: 'story', browsers: [{ voice: silent ? fakeSilence() : grownUpVoice }, { voice: silent ? fakeSilence() : childVoice }] });
let guardian: Page;
let toy: Page;

async function shoot(page: Page, name: string): Promise<void> {
  if (silent) return;
  await page.screenshot({ path: join(screenshots, `${name}.png`), animations: 'disabled', caret: 'hide' });
}

/** The one sound `page` heard since `forgetHeard`, waiting until it did. */
async function onlySound(page: Page): Promise<HeardAudio> {
  await expect.poll(async () => (await heardAudio(page)).length, { timeout: 60_000 }).toBeGreaterThan(0);
  const heard = await heardAudio(page);
  expect(heard).toHaveLength(1);
  return heard[0]!;
}

beforeAll(async () => {
  await mkdir(screenshots, { recursive: true });
});

describe.skipIf(!hasChromium())('the family story, in the browser', { timeout: 240_000 }, () => {
  it('a guardian signs up, pairs the virtual toy, talks with it, and a relative joins for one child', async () => {
    const guardianContext = await app.newContext();
    const toyContext = await app.newContext({ browser: app.browsers[1] });
    guardian = await guardianContext.newPage();
    toy = await toyContext.newPage();

    // 1. The guardian signs up; the recovery code is shown once.
    await guardian.goto('/');
    const recoveryCode = await signUp(guardian, { email: 'alex@example.org', password: 'otter kettle orchard seventeen', beforeSubmit: () => shoot(guardian, 'sign-up') });
    expect(recoveryCode.length).toBeGreaterThan(20);

    // 2. A family with two children.
    await createFamily(guardian, 'The Hollow');
    // The first-run checklist follows the family's real state: nothing done yet.
    const steps = () => guardian.locator('[data-testid="first-run"] li[data-step]').evaluateAll((items) => items.map((i) => `${i.getAttribute('data-step')}:${i.getAttribute('data-done')}`));
    await expect.poll(steps, { timeout: 60_000 }).toEqual(['child:false', 'toy:false', 'message:false']);
    await addChild(guardian, 'Mia', '🦊');
    await addChild(guardian, 'Leo', '🐻');
    await expect.poll(steps, { timeout: 60_000 }).toEqual(['child:true', 'toy:false', 'message:false']);

    // 3. The toy shows its code; the guardian types it for Mia.
    const code = await showToyCode(toy);
    await pairToy(guardian, toy, { code, childLabel: '🦊 Mia', beforeSubmit: () => shoot(guardian, 'pairing') });
    await expect.poll(() => toy.getByText('Mia’s toy').count(), { timeout: 60_000 }).toBe(1);
    await expect.poll(steps, { timeout: 60_000 }).toEqual(['child:true', 'toy:true', 'message:false']);
    await guardian.evaluate(() => window.scrollTo(0, 0));
    await shoot(guardian, 'first-run');
    // The first-run checklist breaks no accessibility rule (axe-core, WCAG 2.x A/AA).
    expect(await axeViolations(guardian)).toEqual([]);

    // 4. Right after pairing: "Record for Mia now". The guardian holds the record button for 2 s, listens to the preview, sends; the toy plays it.
    await guardian.getByRole('link', { name: 'Record for Mia now' }).click();
    await guardian.waitForURL(/\/family\/[A-Za-z0-9_-]{22}\/talk\/[A-Za-z0-9_-]{22}$/, { timeout: 60_000 });
    await forgetHeard(guardian);
    await recordAndSend(guardian, { childName: 'Mia', holdMs: 2_000 });
    const recorded = await onlySound(guardian);
    const playedId = await waitForToy(toy, 'last-played-id', (v) => v !== '');
    const played = { durationMs: Number(await toyState(toy, 'last-played-duration-ms')), rms: Number(await toyState(toy, 'last-played-rms')) };
    // What the toy decoded is what the guardian's phone recorded (the same bytes, end to end)…
    expect(Math.abs(played.durationMs - recorded.durationMs)).toBeLessThan(60);
    expect(played.rms).toBeCloseTo(recorded.rms, 3);
    // …and that is the voice the microphone heard, for as long as the button was held.
    expect(played.durationMs).toBeGreaterThan(1_700);
    expect(played.durationMs).toBeLessThan(2_500);
    expect(played.rms).toBeGreaterThan(grownUpVoice.rms * 0.8);
    expect(played.rms).toBeLessThan(grownUpVoice.rms * 1.25);
    expect(playedId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // At the family's signed volume limit (80 by default).
    expect(await toyState(toy, 'last-played-volume')).toBe('80');
    await shoot(toy, 'virtual-toy');

    // 5. The child answers on the toy (tap to start, tap to stop); the guardian hears it.
    await forgetHeard(guardian);
    await toyReplyByTaps(toy, 1_500);
    const reply = guardian.locator('li[data-sender="toy"]');
    await reply.waitFor({ timeout: 60_000 });
    await reply.getByRole('button', { name: 'Play the message' }).click();
    const heard = await onlySound(guardian);
    expect(heard.durationMs).toBeGreaterThan(1_300);
    expect(heard.durationMs).toBeLessThan(2_400);
    // The toy records without voice processing: its reply is the child's voice at its own level.
    expect(heard.rms).toBeGreaterThan(childVoice.rms * 0.8);
    expect(heard.rms).toBeLessThan(childVoice.rms * 1.25);
    await shoot(guardian, 'conversation');
    // Where a push about this reply opens: the app finds its conversation (Mia's) and goes there.
    const replyId = (await reply.getAttribute('data-message'))!;
    const conversationUrl = guardian.url();
    await guardian.goto(conversationUrl.replace(/\/talk\/[A-Za-z0-9_-]{22}$/, `/message/${replyId}`));
    await guardian.waitForURL(conversationUrl, { timeout: 60_000 });
    await guardian.locator(`li[data-message="${replyId}"]`).waitFor({ timeout: 60_000 });

    // 6. An invite for a relative who may talk to Mia only. The checklist is complete.
    await openTab(guardian, 'People');
    await expect.poll(steps, { timeout: 60_000 }).toEqual(['child:true', 'toy:true', 'message:true']);
    await guardian.getByRole('checkbox', { name: '🐻 Leo' }).uncheck();
    await guardian.getByRole('button', { name: 'Create an invite link' }).click();
    const link = (await guardian.getByTestId('invite-link').innerText()).trim();
    expect(link).toMatch(/\/join#/);

    // 7. The relative opens it in a third context, signs up, and joins; the guardian lets them in.
    const relativeContext = await app.newContext();
    const relative = await relativeContext.newPage();
    await relative.goto(link);
    await signUp(relative, { email: 'gran@example.org', password: 'marmalade lighthouse paper swan' });
    await relative.getByRole('button', { name: 'Join the family' }).click({ timeout: 60_000 });
    await guardian.getByRole('button', { name: 'Let them in' }).click({ timeout: 60_000 });
    await relative.waitForURL(/\/family\/[A-Za-z0-9_-]{22}$/, { timeout: 60_000 });

    // 8. The relative sees Mia's conversation, with the guardian's message and the toy's reply — and nothing of Leo.
    const conversations = relative.locator('section.card', { has: relative.getByRole('heading', { name: 'Conversations' }) });
    await expect.poll(() => conversations.getByRole('link').allInnerTexts(), { timeout: 60_000 }).toEqual(['Mia']);
    expect(await relative.getByText('Leo').count()).toBe(0);
    await openConversation(relative, 'Mia');
    await expect.poll(() => relative.locator('li[data-message]').count(), { timeout: 60_000 }).toBe(2);
    expect(await relative.locator('li[data-sender="toy"]').count()).toBe(1);
    expect(await relative.getByText('Leo').count()).toBe(0);

    // 9. The toy keeps itself across a reload (its keys in IndexedDB); reset forgets it and the server revokes it.
    await toy.reload();
    await toy.getByRole('button', { name: 'Switch the toy on' }).click();
    await waitForToy(toy, 'phase', 'paired');
    await expect.poll(() => toy.getByText('Mia’s toy').count(), { timeout: 60_000 }).toBe(1);
    // A poll or two later it has played nothing again: it remembers what it played.
    await toy.waitForTimeout(2_000);
    expect(await toyState(toy, 'played')).toBe('0');
    expect(await toyState(toy, 'online')).toBe('true');
    await toy.getByRole('button', { name: 'Reset the toy' }).click();
    await toy.getByRole('button', { name: 'Yes, reset it' }).click();
    await waitForToy(toy, 'phase', 'pairing');
    expect(await toy.locator('[data-code]').getAttribute('data-code')).not.toBe(code);
  });
});
