/**
 * The family app in real headless Chromium against a real `burrow serve` (fake microphone from a
 * generated WAV): a guardian signs up (the recovery code is shown once and must be acknowledged),
 * creates a family and two children, makes an invite link for one child; a relative in a second
 * browser context opens it, signs up and accepts; the guardian lets them in; the relative sees only
 * their child, records and sends a message that needs approval: the guardian listens to it in the
 * queue and approves it, receives it live and plays it (receipts flow back); the guardian changes settings, exports a zip, deletes the family; the relative signs out
 * everywhere, signs in again, deletes the account. Along the way: a reload keeps the guardian
 * signed in, no page breaks its CSP, nothing lands in Web Storage, IndexedDB holds only sealed
 * secrets, and the invite's secret never goes over the wire.
 */
import { describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { strFromU8, unzipSync } from 'fflate';
import { readFile } from 'node:fs/promises';
import { fakeVoice } from './support/fake-mic.js';
import { useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';

/** Records CSP violations (the DOM event and the console report) and page errors. */
const VIOLATION_PROBE = `(() => {
  const seen = [];
  Object.defineProperty(window, '__cspViolations', { value: seen });
  document.addEventListener('securitypolicyviolation', (event) => seen.push(event.violatedDirective + ' ' + event.blockedURI));
})();`;

const app = useBrowserApp({ name: 'app-flow', browsers: [{ voice: fakeVoice({ pitchHz: 220, syllablesPerSecond: 4, peak: 0.5 }) }] });
const problems: string[] = [];

async function phone(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await app.browser.newContext({ baseURL: app.server.url, viewport: { width: 390, height: 844 }, hasTouch: true });
  await context.grantPermissions(['microphone'], { origin: app.server.url });
  await context.addInitScript({ content: VIOLATION_PROBE });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (/content security policy|refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  return { context, page };
}

async function signUp(page: Page, email: string): Promise<void> {
  await page.goto('/');
  await page.getByRole('tab', { name: 'Create account' }).click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill('correct horse battery staple lamp');
  await expect.poll(() => page.locator('[data-score]').getAttribute('data-score'), { timeout: 60_000 }).toMatch(/[34]/);
  await page.getByRole('button', { name: 'Create account' }).click();
  const code = await page.getByTestId('recovery-code').textContent({ timeout: 60_000 });
  expect(code?.trim()).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){7}$|^[0-9A-Z ]{39}$|^[0-9A-Z-]{32,40}$/);
  const proceed = page.getByRole('button', { name: 'Continue' });
  expect(await proceed.isDisabled()).toBe(true);
  await page.getByLabel('I have saved my recovery code somewhere safe').check();
  await proceed.click();
}

async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations.slice());
}

describe.skipIf(!hasChromium())('the family app', () => {
  it('ships pages with no inline script or style', async () => {
    for (const path of ['/', '/toy', '/join']) {
      const response = await fetch(app.server.url + path);
      const html = await response.text();
      expect(response.headers.get('content-security-policy'), path).toContain("script-src 'self' 'wasm-unsafe-eval'");
      expect(response.headers.get('content-security-policy'), path).not.toContain('unsafe-inline');
      for (const tag of html.match(/<script\b[^>]*>/g) ?? []) expect(tag, path).toMatch(/\bsrc="\/assets\//);
      expect(html, path).not.toMatch(/<script\b[^>]*>[^<\s]/);
      expect(html, path).not.toMatch(/<style\b|\sstyle="/);
      expect(html, path).not.toMatch(/\son[a-z]+="/);
    }
  });

  it('a guardian and a relative, from sign-up to deleting the family and the account', async () => {
    const guardian = await phone();
    const g = guardian.page;
    await signUp(g, `guardian-${Date.now()}@example.org`);

    // A reload keeps the guardian signed in (the session resumes from IndexedDB and the cookie).
    await g.reload();
    await g.getByRole('heading', { name: 'Your families' }).waitFor({ timeout: 60_000 });
    await g.getByText('You are not in a family yet').waitFor();

    await g.getByLabel('Family name').fill('The Rabbits');
    await g.getByRole('button', { name: 'Create the family' }).click();
    await g.getByRole('heading', { name: 'The Rabbits' }).waitFor({ timeout: 60_000 });
    for (const name of ['Mia', 'Leo']) {
      await g.getByLabel("Child's name").fill(name);
      await g.getByRole('button', { name: 'Add the child' }).click();
      await g.locator('.list li', { hasText: name }).first().waitFor({ timeout: 60_000 });
      // Listed from the child's live event; the field empties once the new roster is signed too.
      await expect.poll(() => g.getByLabel("Child's name").inputValue()).toBe('');
    }

    // Invite a relative for Mia only.
    await g.getByRole('radio', { name: /^Relative/ }).check();
    await g.getByRole('checkbox', { name: /Leo/ }).uncheck();
    await g.getByLabel('A guardian approves their messages before the toy plays them').check();
    await g.getByRole('button', { name: 'Create an invite link' }).click();
    const link = (await g.getByTestId('invite-link').textContent({ timeout: 60_000 }))!.trim();
    expect(link).toMatch(new RegExp(`^${app.server.url}/join#[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{22}$`));

    // The relative opens the link in their own browser, signs up, and accepts.
    const relative = await phone();
    const r = relative.page;
    const requested: string[] = [];
    r.on('request', (request) => requested.push(request.url()));
    await r.goto(link);
    // The fragment leaves the address bar at once and never goes to the server.
    await expect.poll(() => r.url()).toBe(`${app.server.url}/join`);
    await r.getByText('You opened an invite to a family').waitFor();
    await r.getByRole('tab', { name: 'Create account' }).click();
    const grandma = `grandma-${Date.now()}@example.org`;
    await r.getByLabel('Email').fill(grandma);
    await r.getByLabel('Password', { exact: true }).fill('marmalade teapot harbour violin');
    await expect.poll(() => r.locator('[data-score]').getAttribute('data-score'), { timeout: 60_000 }).toMatch(/[34]/);
    await r.getByRole('button', { name: 'Create account' }).click();
    await r.getByLabel('I have saved my recovery code somewhere safe').check({ timeout: 60_000 });
    await r.getByRole('button', { name: 'Continue' }).click();
    await r.getByText('You are invited to join a family as a relative').waitFor({ timeout: 60_000 });
    await r.getByRole('button', { name: 'Join the family' }).click();
    await r.getByText('The guardian who invited you must now let you in').waitFor({ timeout: 60_000 });

    // The People tab counts the join request this device can verify; letting them in clears it.
    await expect.poll(() => g.getByTestId('badge-people').textContent(), { timeout: 60_000 }).toBe('1');
    // The guardian's device (which holds the invite's secret) lets them in.
    await g.getByRole('button', { name: 'Let them in' }).click({ timeout: 60_000 });
    await g.getByText('Let in. Later, if you like, verify them').waitFor({ timeout: 60_000 });
    await g.getByText('A relative').waitFor({ timeout: 60_000 });

    // The relative's page moves on by itself, and shows only Mia.
    await r.getByRole('heading', { name: 'The Rabbits' }).waitFor({ timeout: 60_000 });
    await r.getByRole('link', { name: 'Mia' }).waitFor();
    expect(await r.getByRole('link', { name: 'Leo' }).count()).toBe(0);

    // The relative records a message for Mia (started from the keyboard, stopped with a tap), listens to it, sends it.
    await r.getByRole('link', { name: 'Mia' }).click();
    const record = r.getByRole('button', { name: 'Record a message for Mia' });
    await record.focus();
    await r.keyboard.press('Enter');
    await r.getByRole('button', { name: 'Stop recording' }).waitFor({ timeout: 60_000 });
    await expect.poll(async () => Number(await r.getByRole('meter', { name: 'Microphone level' }).getAttribute('value')), { timeout: 60_000 }).toBeGreaterThan(0.05);
    await r.waitForTimeout(1500);
    await r.getByRole('button', { name: 'Stop recording' }).click();
    await r.getByTestId('preview').waitFor({ timeout: 60_000 });
    await r.getByRole('button', { name: 'Send', exact: true }).click();
    await r.getByText('Sent, encrypted.').waitFor({ timeout: 60_000 });
    await r.getByText('A guardian approves your messages before the toy plays them.').waitFor();
    // Mia has no toy yet: the composer says so, and the message waits for one.
    await r.getByTestId('no-toy').waitFor();
    await r.getByTestId('receipt').filter({ hasText: 'Waiting for a toy' }).waitFor();

    // The guardian, already in Mia's conversation, sees it arrive without a reload, and plays it.
    // It needs approval: the guardian's approval queue shows it (and the Messages tab's badge); the guardian listens, then approves it.
    await expect.poll(() => g.getByTestId('badge-people').count(), { timeout: 60_000 }).toBe(0);
    await expect.poll(() => g.getByTestId('badge-messages').textContent(), { timeout: 60_000 }).toBe('1');
    await g.getByRole('link', { name: 'Messages' }).click();
    const queue = g.locator('section', { has: g.getByRole('heading', { name: 'Waiting for your approval' }) });
    await queue.getByRole('button', { name: 'Play the message' }).click({ timeout: 60_000 });
    await expect.poll(() => queue.locator('audio').getAttribute('src'), { timeout: 60_000 }).toMatch(/^blob:/);
    await queue.getByRole('button', { name: 'Approve' }).click();
    await queue.getByText('Approved. The toy plays it now.').waitFor({ timeout: 60_000 });
    await expect.poll(() => g.getByTestId('badge-messages').count(), { timeout: 60_000 }).toBe(0);
    await g.getByRole('link', { name: 'Mia' }).click();
    await g.getByRole('heading', { name: /Mia/ }).waitFor({ timeout: 60_000 });
    const incoming = g.locator('li[data-message]');
    await incoming.first().waitFor({ timeout: 60_000 });
    await incoming.first().getByRole('button', { name: 'Play the message' }).click();
    const audio = g.getByTestId('message-audio');
    await audio.waitFor({ timeout: 60_000 });
    expect(await audio.getAttribute('src')).toMatch(/^blob:/);
    await expect.poll(() => audio.evaluate((el) => (el as HTMLAudioElement).duration), { timeout: 60_000 }).toBeGreaterThan(0.5);

    // A guardian listening is not the toy playing it: the relative's page never says "Played" (issue #21).
    await expect.poll(async () => (await r.reload(), await r.getByTestId('receipt').innerText({ timeout: 60_000 })), { timeout: 30_000 }).toBe('Waiting for a toy');

    // What IndexedDB holds: a non-extractable device key, and the identity secret only sealed under it.
    const stored = await g.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open('burrow');
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      const read = (key: string) => new Promise<unknown>((resolve) => {
        const request = db.transaction('records').objectStore('records').get(key);
        request.onsuccess = () => resolve(request.result);
      });
      const key = (await read('device-key')) as CryptoKey;
      const session = (await read('session')) as Record<string, unknown> & { secret: { iv: unknown; ciphertext: unknown } };
      return {
        deviceKey: { isKey: key instanceof CryptoKey, extractable: key.extractable, algorithm: key.algorithm.name },
        sessionFields: Object.keys(session).sort(),
        sealed: session.secret.ciphertext instanceof ArrayBuffer && session.secret.iv instanceof Uint8Array,
      };
    });
    expect(stored).toEqual({ deviceKey: { isKey: true, extractable: false, algorithm: 'AES-GCM' }, sessionFields: ['accountId', 'identity', 'secret', 'serverUrl', 'sessionId'], sealed: true });

    // Nothing secret in Web Storage; the invite secret never went over the wire.
    for (const page of [g, r]) {
      const storage = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length }));
      expect(storage).toEqual({ local: 0, session: 0 });
    }
    const secret = link.split('.').pop()!;
    expect(requested.some((url) => url.includes(secret))).toBe(false);

    // Settings: the guardian changes retention and quiet hours (a new signed roster entry).
    await g.getByRole('link', { name: /The Rabbits/ }).first().click();
    await g.getByRole('link', { name: 'Settings' }).click();
    await g.getByLabel('Keep messages for (days)').fill('14');
    await g.getByLabel('Quiet hours: toys stay silent').check();
    await g.getByRole('button', { name: 'Save the settings' }).click();
    await g.getByText('Saved.').waitFor({ timeout: 60_000 });

    // Export: a zip of the decrypted audio and an index, made in the browser.
    const [download] = await Promise.all([g.waitForEvent('download', { timeout: 30_000 }), g.getByRole('button', { name: 'Download everything' }).click()]);
    const zip = unzipSync(new Uint8Array(await readFile((await download.path())!)));
    const index = JSON.parse(strFromU8(zip['index.json']!)) as { messages: Array<{ file: string; durationMs: number; status: string }> };
    expect(index.messages).toHaveLength(1);
    expect(index.messages[0]).toMatchObject({ status: 'ok' });
    expect(index.messages[0]!.durationMs).toBeGreaterThan(1000);
    expect(zip[index.messages[0]!.file]!.length).toBeGreaterThan(1000);
    expect(strFromU8(zip['index.csv']!)).toContain(index.messages[0]!.file);

    // The relative signs out everywhere, signs in again (this device forgot everything: the family
    // comes back from the account vault and the keys wrapped to them), then deletes the account.
    const relativeEmail = grandma;
    await r.getByRole('link', { name: 'Account' }).click();
    await r.getByText('this device', { exact: true }).waitFor({ timeout: 60_000 });
    await r.getByRole('button', { name: 'Sign out everywhere' }).click();
    await r.getByRole('tab', { name: 'Sign in' }).click({ timeout: 60_000 });
    await r.getByLabel('Email').fill(relativeEmail);
    await r.getByLabel('Password', { exact: true }).fill('marmalade teapot harbour violin');
    await r.getByRole('button', { name: 'Sign in' }).click();
    await r.getByRole('link', { name: 'The Rabbits' }).click({ timeout: 60_000 });
    await r.getByRole('link', { name: 'Mia' }).waitFor({ timeout: 60_000 });
    await r.getByRole('link', { name: 'Account' }).click();
    await r.getByLabel('Type "delete my account" to confirm').fill('delete my account');
    await r.getByRole('button', { name: 'Delete my account' }).click();
    await r.getByRole('tab', { name: 'Sign in' }).click({ timeout: 60_000 });
    await r.getByLabel('Email').fill(relativeEmail);
    await r.getByLabel('Password', { exact: true }).fill('marmalade teapot harbour violin');
    await r.getByRole('button', { name: 'Sign in' }).click();
    await r.getByText('The email or password is wrong.').waitFor({ timeout: 60_000 });

    // The guardian deletes the family, after typing its name.
    await g.getByLabel(/Type the family's name/).fill('The Rabbits');
    await g.getByRole('button', { name: 'Delete the family' }).click();
    await g.getByText('You are not in a family yet').waitFor({ timeout: 60_000 });

    expect(await cspViolations(g)).toEqual([]);
    expect(await cspViolations(r)).toEqual([]);
    expect(problems).toEqual([]);
    await guardian.context.close();
    await relative.context.close();
  }, 150_000);
});
