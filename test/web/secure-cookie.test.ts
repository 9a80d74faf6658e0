/**
 * The web app behind a TLS proxy, in real headless Chromium against a real `burrow serve`: the
 * proxy is listed in BURROW_TRUST_PROXY and says `X-Forwarded-Proto: https` on every request, so
 * the server hands out `__Host-burrow_session` (Secure, host-only, Path=/) and HSTS. The app in
 * cookie mode signs up, survives a reload, creates a family and adds a child (cookie-authenticated
 * writes, the name sealed, signed and opened again) with that cookie only.
 */
import { describe, expect, it } from 'vitest';
import { useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';

const app = useBrowserApp({ name: 'secure-cookie', serve: { env: { BURROW_TRUST_PROXY: '127.0.0.1' } } });

describe.skipIf(!hasChromium())('the web app behind a TLS proxy', () => {
  it('signs in with the __Host- cookie, stays signed in across a reload and works with it', async () => {
    // localhost is a secure context for Chromium, so it keeps a Secure, __Host- cookie from it.
    const baseURL = app.server.url.replace('127.0.0.1', 'localhost');
    const context = await app.browser.newContext({ baseURL, extraHTTPHeaders: { 'x-forwarded-proto': 'https' } });
    const page = await context.newPage();
    const first = await page.goto('/');
    expect(first?.headers()['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');

    await page.getByRole('tab', { name: 'Create account' }).click();
    await page.getByLabel('Email').fill(`behind-proxy-${Date.now()}@example.org`);
    await page.getByLabel('Password', { exact: true }).fill('correct horse battery staple lamp');
    await expect.poll(() => page.locator('[data-score]').getAttribute('data-score'), { timeout: 60_000 }).toMatch(/[34]/);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByTestId('recovery-code').waitFor({ timeout: 60_000 });
    await page.getByLabel('I have saved my recovery code somewhere safe').check();
    await page.getByRole('button', { name: 'Continue' }).click();

    const cookies = await context.cookies();
    expect(cookies.map((c) => c.name)).toEqual(['__Host-burrow_session']);
    expect(cookies[0]).toMatchObject({ path: '/', secure: true, httpOnly: true, sameSite: 'Strict', domain: 'localhost' });

    await page.reload();
    await page.getByRole('heading', { name: 'Your families' }).waitFor({ timeout: 60_000 });
    await page.getByLabel('Family name').fill('The Proxied');
    await page.getByRole('button', { name: 'Create the family' }).click();
    await page.getByRole('heading', { name: 'The Proxied' }).waitFor({ timeout: 60_000 });
    await page.getByLabel("Child's name").fill('Mia');
    await page.getByRole('button', { name: 'Add the child' }).click();
    await page.locator('.list li', { hasText: 'Mia' }).first().waitFor({ timeout: 60_000 });
    await page.reload();
    await page.locator('.list li', { hasText: 'Mia' }).first().waitFor({ timeout: 60_000 });
    await context.close();
  }, 120_000);
});
