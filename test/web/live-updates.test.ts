/**
 * The family app acts on what a live event says, in real headless Chromium against a real
 * `burrow serve`: with a conversation open, a new message is fetched by its id alone, a receipt
 * re-fetches only the message it names, and a deletion removes the message without listing
 * anything — the family and the conversation's list are not loaded again. The other members act
 * through the client library in Node, straight to the server.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { deleteMessage, markReceipt, sendMessage } from '../../src/client/messages.js';
import { utf8 } from '../../src/crypto/bytes.js';
import { wavWith, type TestMember } from '../e2e/family-harness.js';
import { familyWithGran } from '../support/members.js';
import { signInInBrowser, useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';

const web = useBrowserApp({ name: 'live-updates' });
let mum: TestMember;
let gran: TestMember;
let familyId: string;
let mia: string;

beforeAll(async () => {
  ({ mum, gran, familyId, mia } = await familyWithGran(web.server.url, 'Live Family'));
}, 180_000);

function signIn(page: Page, member: TestMember): Promise<void> {
  return signInInBrowser(page, member, familyId);
}

describe.skipIf(!hasChromium())('live updates in the family app', { timeout: 180_000 }, () => {
  it('a new message, a receipt and a deletion each touch only the message the event names', async () => {
    const context = await web.browser.newContext({ baseURL: web.server.url });
    const app = await context.newPage();
    await signIn(app, mum);
    await app.goto(`/family/${familyId}/talk/${mia}`);
    await app.getByText('No messages yet').waitFor({ timeout: 30_000 });
    const gets: string[] = [];
    app.on('request', (request) => {
      if (request.method() === 'GET') gets.push(new URL(request.url()).pathname);
    });
    const family = `/v1/families/${familyId}`;
    const reloadedEverything = () => gets.filter((path) => path === family || path === `${family}/messages`);

    const sent = await sendMessage(gran, { familyId, to: mia, audio: wavWith(utf8('for mia'), 64), audioType: 'audio/wav', durationMs: 4 });
    const item = app.locator(`li[data-message="${sent.messageId}"]`);
    await item.waitFor({ timeout: 30_000 });
    expect(await item.getByTestId('sender').innerText()).not.toBe('You');
    // Fetched by its id for the message event, and again for the receipt this device then sent.
    await expect.poll(() => gets.filter((path) => path === `${family}/messages/${sent.messageId}`).length, { timeout: 30_000 }).toBe(2);

    const mine = await sendMessage(mum, { familyId, to: mia, audio: wavWith(utf8('from mum'), 64), audioType: 'audio/wav', durationMs: 4 });
    await app.locator(`li[data-message="${mine.messageId}"]`).waitFor({ timeout: 30_000 });
    gets.length = 0;
    await markReceipt(gran, { familyId, messageId: mine.messageId, kind: 'played' });
    await expect.poll(() => gets.filter((path) => path === `${family}/messages/${mine.messageId}`).length, { timeout: 30_000 }).toBeGreaterThan(0);
    expect(gets.filter((path) => path === `${family}/messages/${sent.messageId}`)).toEqual([]);

    await deleteMessage(gran, { familyId, messageId: sent.messageId });
    await expect.poll(() => item.count(), { timeout: 30_000 }).toBe(0);
    await expect.poll(() => app.locator('li[data-message]').count()).toBe(1);
    expect(reloadedEverything()).toEqual([]);
  });
});
