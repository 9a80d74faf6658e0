/**
 * Signed profiles in the browser: headless Chromium talks to a real `burrow serve` through a proxy
 * that rewrites answers as a compromised server would. The virtual toy and the family app show the
 * child's name a guardian sealed and signed; when the server serves a child profile a relative
 * sealed (with the real family key, signed with the relative's real key) neither shows that name.
 * The members act through the client library in Node, straight to the server.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadFamily } from '../../src/client/families.js';
import { toBase64Url } from '../../src/crypto/bytes.js';
import { profileScope, sealProfile } from '../../src/crypto/profile.js';
import { type TestMember } from '../e2e/family-harness.js';
import { familyWithGran } from '../support/members.js';
import { waitForToy } from '../web/support/app-steps.js';
import { signInInBrowser, useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { pairVirtualToy } from '../support/toys.js';

const web = useBrowserApp({ name: 'web-signed-profiles', hostileProxy: true });
let mum: TestMember;
let gran: TestMember;
let familyId: string;
let mia: string;

beforeAll(async () => {
  ({ mum, gran, familyId, mia } = await familyWithGran(web.server.url, 'Signed Family'));
}, 180_000);

function signIn(page: Page, member: TestMember): Promise<void> {
  return signInInBrowser(page, member, familyId);
}

describe.skipIf(!hasChromium())('signed profiles in the virtual toy and the family app', { timeout: 180_000 }, () => {
  it('show the guardian-signed name, and not a name a relative sealed and signed', async () => {
    const toyContext = await web.browser.newContext({ baseURL: web.proxy.url });
    const appContext = await web.browser.newContext({ baseURL: web.proxy.url });
    const toy = await toyContext.newPage();
    const app = await appContext.newPage();

    await pairVirtualToy(toy, mum, { familyId, childId: mia });
    await toy.getByText('Mia’s toy').waitFor({ timeout: 30_000 });
    await signIn(app, mum);
    await app.goto(`/family/${familyId}/people`);
    await app.locator('.list li', { hasText: 'Mia' }).first().waitFor({ timeout: 30_000 });

    // Gran holds Mia's key (the one Mia's profile is sealed under) and signs with her real key; she is a relative, not a guardian.
    const granView = await loadFamily(gran, familyId);
    const forged = await sealProfile({ familyId, epoch: granView.roster.epoch, key: granView.headKeyOf(profileScope(granView.roster.head, 'child', mia))!, kind: 'child', objectId: mia, data: { name: 'Grizelda', emoji: '👹' }, signer: gran.me.identity });
    web.proxy.rewrites.push(({ method, path, body }) => {
      if (method !== 'GET' || path !== `/v1/families/${familyId}`) return undefined;
      const view = JSON.parse(new TextDecoder().decode(body)) as { children: Array<{ childId: string; sealedProfile: string }> };
      view.children = view.children.map((c) => (c.childId === mia ? { ...c, sealedProfile: toBase64Url(forged) } : c));
      return new TextEncoder().encode(JSON.stringify(view));
    });

    // Switched off and on again, the toy opens its child's profile afresh.
    await toy.reload();
    await toy.getByRole('button', { name: 'Switch the toy on' }).click();
    await waitForToy(toy, 'phase', 'paired');
    await toy.getByText('Paired with a family').waitFor({ timeout: 30_000 });
    expect(await toy.getByText('Grizelda').count()).toBe(0);
    expect(await toy.getByText('👹').count()).toBe(0);

    await app.reload();
    await app.locator('.list li', { hasText: 'A child (the name does not open)' }).first().waitFor({ timeout: 30_000 });
    expect(await app.getByText('Grizelda').count()).toBe(0);
    expect(await app.getByText('👹').count()).toBe(0);
  });
});
