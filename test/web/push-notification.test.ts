/**
 * The service worker's side of Web Push, in real headless Chromium against a real `burrow serve`:
 * a push is delivered to the app's registered worker through the DevTools protocol
 * (`ServiceWorker.deliverPushMessage`, as the browser's push service would hand it over), with
 * the notification permission granted to the page's origin, and the notification the worker shows
 * is read back with `registration.getNotifications()`. What is proven: each kind of push shows its
 * generic words and points the app at the right place; nothing a push carries beyond the kind and
 * ids (a name slipped in by a hostile push path) is ever shown; anything that is not a Burrow
 * payload shows only the most generic notification.
 */
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { PHONE } from './support/browser.js';
import { useBrowserApp } from '../support/browser.js';
import { waitUntil } from '../support/wait.js';
import { hasChromium } from '../support/chromium.js';

interface Shown {
  title: string;
  body: string;
  tag: string;
  data: { path?: string } | null;
}

const app = useBrowserApp({ name: 'push-notification' });
let context: BrowserContext;
let page: Page;
let cdp: CDPSession;
let registrationId: string;

const id = (): string => toBase64Url(randomBytes(16));

/** Hands `data` to the app's service worker as a push, and returns the notification it then shows. */
async function push(data: string): Promise<Shown> {
  // Close what an earlier push showed, and wait until it is gone: a close still in flight would
  // otherwise take the next notification with it (the generic ones share a tag, so one replaces another).
  await expect.poll(async () => page.evaluate(async () => {
    const open = await (await navigator.serviceWorker.ready).getNotifications();
    for (const n of open) n.close();
    return open.length;
  }), { timeout: 60_000, interval: 100 }).toBe(0);
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: new URL(app.server.url).origin, registrationId, data });
  let shown: Shown[] = [];
  await expect.poll(async () => {
    shown = await page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data as { path?: string } | null })));
    return shown.length;
  }, { timeout: 60_000, interval: 100 }).toBe(1);
  return shown[0]!;
}

beforeAll(async () => {
  context = app.track(await app.browser.newContext({ ...PHONE, baseURL: app.server.url, locale: 'en-GB' }));
  await context.grantPermissions(['notifications'], { origin: app.server.url });
  page = await context.newPage();
  cdp = await context.newCDPSession(page);
  const registrations: Array<{ registrationId: string; scopeURL: string; isDeleted: boolean }> = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', (event) => registrations.push(...event.registrations));
  await cdp.send('ServiceWorker.enable');
  await page.goto('/');
  expect(await page.evaluate(async () => (await navigator.serviceWorker.ready).active?.scriptURL)).toBe(`${new URL(app.server.url).origin}/sw.js`);
  const scope = `${new URL(app.server.url).origin}/`;
  const registered = await waitUntil(() => registrations.some((r) => !r.isDeleted && r.scopeURL === scope), { intervalMs: 100 });
  if (!registered) throw new Error('DevTools never reported the app\'s service worker registration');
  registrationId = registrations.find((r) => !r.isDeleted && r.scopeURL === scope)!.registrationId;
  expect(await page.evaluate(() => Notification.permission)).toBe('granted');
}, 180_000);

describe.skipIf(!hasChromium())('a push reaching the app\'s service worker', { timeout: 60_000 }, () => {
  it('shows a toy\'s reply as a generic notification that opens the message in the app', async () => {
    const [familyId, messageId] = [id(), id()];
    const shown = await push(JSON.stringify({ v: 1, kind: 'message', familyId, messageId }));
    expect(shown).toEqual({ title: 'Burrow', body: 'New message from your family\'s toy', tag: `message:${familyId}`, data: { path: `/family/${familyId}/message/${messageId}` } });
  });

  it('shows a join request and a message to approve in their words, pointing at People and Messages', async () => {
    const familyId = id();
    const join = await push(JSON.stringify({ v: 1, kind: 'join-request', familyId }));
    expect([join.body, join.data?.path]).toEqual(['Someone asked to join', `/family/${familyId}/people`]);
    const approval = await push(JSON.stringify({ v: 1, kind: 'approval', familyId, messageId: id() }));
    expect([approval.body, approval.data?.path]).toEqual(['A message waits for your approval', `/family/${familyId}/messages`]);
  });

  it('never shows what a push carries beyond kind and ids: a name or text slipped in gets only the generic notification', async () => {
    const familyId = id();
    for (const data of [
      JSON.stringify({ v: 1, kind: 'message', familyId, messageId: id(), from: 'Mia' }),
      JSON.stringify({ v: 1, kind: 'message', familyId: 'Mia says hello to Granny', messageId: id() }),
      JSON.stringify({ v: 2, kind: 'join-request', familyId }),
      JSON.stringify({ v: 1, kind: 'message', familyId, messageId: '../../evil.example/x' }),
      'Mia is home alone',
      '',
    ]) {
      const shown = await push(data);
      expect(shown, data).toEqual({ title: 'Burrow', body: 'Something new in your family', tag: 'burrow', data: { path: '/' } });
      expect(JSON.stringify(shown)).not.toMatch(/Mia|Granny|evil/);
    }
  });
});
