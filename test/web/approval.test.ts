/**
 * Waiting for approval, in real headless Chromium against a real `burrow serve` (issue #21, item 1):
 * a guardian pairs the virtual toy with Mia and invites a relative whose messages need approval;
 * the relative records two messages for Mia. The relative and the guardian both see them as
 * waiting for approval — a state of its own in neutral words, never "did not pass its checks" —
 * and both can listen to them before any decision. In the approval queue each message is one card
 * with Play, Approve and Decline: the guardian plays one, declines it and approves the other. The
 * virtual toy plays the approved one only, and the relative sees "Declined by" the guardian; the
 * guardian's export keeps both, the declined one marked as such.
 */
import { strFromU8, unzipSync } from 'fflate';
import { readFile } from 'node:fs/promises';
import type { Locator, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { addChild, createFamily, openConversation, openTab, pairToy, recordAndSend, showToyCode, signUp, toyState, waitForToy } from './support/app-steps.js';
import { forgetHeard, heardAudio } from './support/browser.js';
import { useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { fakeVoice } from './support/fake-mic.js';
import { shoot } from './support/screenshots.js';
import { axeViolations } from './support/axe.js';

const STEP = 30_000;
const voice = fakeVoice({ pitchHz: 180, syllablesPerSecond: 4, peak: 0.45 });
const FAILED_CHECKS = 'did not pass its checks';

const app = useBrowserApp({ name: 'approval', browsers: [{ voice }] });

async function newPage(): Promise<Page> {
  const context = await app.newContext();
  return context.newPage();
}

/** The approval state a message's card shows, by its `data-state`, and its words. */
async function approvalState(item: Locator): Promise<{ state: string | null; words: string }> {
  const pill = item.getByTestId('approval-state');
  await pill.waitFor({ timeout: STEP });
  return { state: await pill.getAttribute('data-state'), words: (await pill.innerText()).trim() };
}

/** Plays a message from its card and waits until the page decoded a sound of the voice's loudness. */
async function playAndHear(page: Page, item: Locator): Promise<void> {
  await forgetHeard(page);
  await item.getByRole('button', { name: 'Play the message' }).click({ timeout: STEP });
  await item.getByTestId('message-audio').waitFor({ timeout: STEP });
  await expect.poll(async () => (await heardAudio(page)).length, { timeout: STEP }).toBeGreaterThan(0);
  const [heard] = await heardAudio(page);
  expect(heard!.durationMs).toBeGreaterThan(800);
  expect(heard!.rms).toBeGreaterThan(voice.rms * 0.8);
}

describe.skipIf(!hasChromium())('a message waiting for approval, in the browser', { timeout: 300_000 }, () => {
  it('the sender and the guardian see it waiting and can listen; the guardian declines one and approves another; the toy plays the approved one only', async () => {
    const guardian = await newPage();
    const toy = await newPage();

    // A family with Mia, and the virtual toy paired with her.
    await guardian.goto('/');
    await signUp(guardian, { email: 'robin@example.org', password: 'walnut meadow lantern ninety' });
    await createFamily(guardian, 'The Warren');
    await addChild(guardian, 'Mia', '🦊');
    const code = await showToyCode(toy);
    await pairToy(guardian, toy, { code, childLabel: '🦊 Mia' });

    // A relative for Mia whose messages a guardian approves first.
    await openTab(guardian, 'People');
    await guardian.getByRole('radio', { name: /^Relative/ }).check();
    await guardian.getByLabel('A guardian approves their messages before the toy plays them').check();
    await guardian.getByRole('button', { name: 'Create an invite link' }).click();
    const link = (await guardian.getByTestId('invite-link').innerText({ timeout: STEP })).trim();
    const relative = await newPage();
    await relative.goto(link);
    await signUp(relative, { email: 'nan@example.org', password: 'pebble orchard violin kettle' });
    await relative.getByRole('button', { name: 'Join the family' }).click({ timeout: STEP });
    await guardian.getByRole('button', { name: 'Let them in' }).click({ timeout: STEP });
    await relative.waitForURL(/\/family\/[A-Za-z0-9_-]{22}$/, { timeout: STEP });

    // The relative sends two messages to Mia.
    await openConversation(relative, 'Mia');
    await recordAndSend(relative, { childName: 'Mia', holdMs: 1_500 });
    await expect.poll(() => relative.locator('li[data-message]').count(), { timeout: STEP }).toBe(1);
    await recordAndSend(relative, { childName: 'Mia', holdMs: 1_500 });
    await expect.poll(() => relative.locator('li[data-message]').count(), { timeout: STEP }).toBe(2);
    const [first, second] = (await relative.locator('li[data-message]').evaluateAll((items) => items.map((li) => li.getAttribute('data-message')))) as [string, string];

    // The sender sees both waiting, in neutral words, and can listen to her own message.
    for (const id of [first, second]) {
      expect(await approvalState(relative.locator(`li[data-message="${id}"]`))).toEqual({ state: 'waiting', words: 'Waiting for approval' });
    }
    await playAndHear(relative, relative.locator(`li[data-message="${first}"]`));
    expect(await relative.getByText(FAILED_CHECKS).count()).toBe(0);
    expect(await relative.getByRole('alert').count()).toBe(0);

    // The guardian sees them waiting in Mia's conversation too, and the toy plays neither.
    await openConversation(guardian, 'Mia');
    for (const id of [first, second]) {
      const item = guardian.locator(`li[data-message="${id}"]`);
      expect(await approvalState(item)).toEqual({ state: 'waiting', words: 'Waiting for approval' });
    }
    await playAndHear(guardian, guardian.locator(`li[data-message="${second}"]`));
    expect(await guardian.getByText(FAILED_CHECKS).count()).toBe(0);
    await waitForToy(toy, 'waiting', '2');
    expect(await toyState(toy, 'played')).toBe('0');

    // The approval queue: one card per message with Play, Approve and Decline. The guardian
    // plays the first, declines it, and approves the second.
    await openTab(guardian, 'Messages');
    const queue = guardian.locator('section', { has: guardian.getByRole('heading', { name: 'Waiting for your approval' }) });
    const declinedCard = queue.locator(`li[data-message="${first}"]`);
    const approvedCard = queue.locator(`li[data-message="${second}"]`);
    for (const card of [declinedCard, approvedCard]) {
      await card.waitFor({ timeout: STEP });
      expect(await approvalState(card)).toEqual({ state: 'waiting', words: 'Waiting for approval' });
      for (const name of ['Play the message', 'Approve', 'Decline']) expect(await card.getByRole('button', { name }).count()).toBe(1);
    }
    await queue.scrollIntoViewIfNeeded();
    await shoot(guardian, 'approval-card');
    // The approval cards break no accessibility rule (axe-core, WCAG 2.x A/AA).
    expect(await axeViolations(guardian)).toEqual([]);
    await playAndHear(guardian, declinedCard);
    await declinedCard.getByRole('button', { name: 'Decline' }).click();
    await queue.getByText('Declined. The toy will not play it').waitFor({ timeout: STEP });
    await expect.poll(() => declinedCard.count(), { timeout: STEP }).toBe(0);
    await approvedCard.getByRole('button', { name: 'Approve' }).click();
    await queue.getByText('Approved. The toy plays it now.').waitFor({ timeout: STEP });
    await expect.poll(() => approvedCard.count(), { timeout: STEP }).toBe(0);

    // The toy plays the approved message, and only that one.
    expect(await waitForToy(toy, 'last-played-id', second)).toBe(second);
    expect(Number(await toyState(toy, 'last-played-duration-ms'))).toBeGreaterThan(1_000);
    expect(Number(await toyState(toy, 'last-played-rms'))).toBeGreaterThan(voice.rms * 0.8);
    // A few of its polls later it still has played that one alone, and waits for nothing.
    await waitForToy(toy, 'waiting', '0');
    await toy.waitForTimeout(4_000);
    expect(await toyState(toy, 'played')).toBe('1');
    expect(await toyState(toy, 'last-played-id')).toBe(second);

    // The sender sees who declined the one and who approved the other, in neutral words.
    const declinedForSender = relative.locator(`li[data-message="${first}"]`);
    await expect.poll(async () => (await approvalState(declinedForSender)).state, { timeout: STEP }).toBe('declined');
    expect((await approvalState(declinedForSender)).words).toBe('Declined by a guardian');
    await expect.poll(async () => (await approvalState(relative.locator(`li[data-message="${second}"]`))).words, { timeout: STEP }).toMatch(/^Approved by a guardian/);
    expect(await relative.getByText(FAILED_CHECKS).count()).toBe(0);
    // And the guardian, in the conversation, sees "Declined by you".
    await openConversation(guardian, 'Mia');
    expect(await approvalState(guardian.locator(`li[data-message="${first}"]`))).toEqual({ state: 'declined', words: 'Declined by you' });
    expect(await guardian.getByText(FAILED_CHECKS).count()).toBe(0);

    // The guardian's export keeps both recordings, the declined one marked as such.
    await openTab(guardian, 'Settings');
    const [download] = await Promise.all([guardian.waitForEvent('download', { timeout: STEP }), guardian.getByRole('button', { name: 'Download everything' }).click()]);
    const zip = unzipSync(new Uint8Array(await readFile((await download.path())!)));
    const index = JSON.parse(strFromU8(zip['index.json']!)) as { messages: Array<{ messageId: string; status: string; file: string | null }> };
    expect(Object.fromEntries(index.messages.map((m) => [m.messageId, m.status]))).toEqual({ [first]: 'declined', [second]: 'ok' });
    for (const m of index.messages) expect(zip[m.file!]!.length).toBeGreaterThan(1000);
  });
});
