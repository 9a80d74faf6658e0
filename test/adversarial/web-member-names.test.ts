/**
 * Members' names in the browser against a lying server: headless Chromium talks to a real
 * `burrow serve` through a proxy that rewrites answers as a compromised server would. Mum's family
 * app names Rose and Bob from their own signed profiles; when the server serves Bob's profile as
 * Rose's, the app does not call Rose "Bob" (and says her name did not verify); when it serves
 * Rose's name from before her rename, the app does not go back to it (and says it is older than
 * one it has seen). The other members act through the client library in Node.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, loadFamily, setMyProfile } from '../../src/client/families.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { registerMember, registerSignInMember, type TestMember } from '../support/members.js';
import { signInInBrowser, useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';

const STEP = 30_000;

const web = useBrowserApp({ name: 'web-member-names', hostileProxy: true });
let mum: TestMember;
let rose: TestMember;
let bob: TestMember;
let familyId: string;

type Profile = { accountId: string; sealedProfile: string };

async function storedProfile(accountId: string): Promise<string> {
  const answer = await fetch(`${web.server.url}/v1/families/${familyId}`, { headers: { authorization: `Bearer ${mum.token}` } });
  return ((await answer.json()) as { memberProfiles: Profile[] }).memberProfiles.find((p) => p.accountId === accountId)!.sealedProfile;
}

/** From now on, the family view serves `sealed` as `accountId`'s profile. */
function serveAs(accountId: string, sealed: string): void {
  web.proxy.rewrites.push(({ method, path, body }) => {
    if (method !== 'GET' || path !== `/v1/families/${familyId}`) return undefined;
    const view = JSON.parse(new TextDecoder().decode(body)) as { memberProfiles: Profile[] };
    view.memberProfiles = view.memberProfiles.map((p) => (p.accountId === accountId ? { ...p, sealedProfile: sealed } : p));
    return new TextEncoder().encode(JSON.stringify(view));
  });
}

beforeAll(async () => {
  [mum, rose, bob] = await Promise.all([registerSignInMember(web.server.url, 'mum'), registerMember(web.server.url, 'rose'), registerMember(web.server.url, 'bob')]);
  familyId = (await createFamily(mum, { name: 'Named Family', myName: 'Mum' })).familyId;
  const mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  for (const [member, name] of [[rose, 'Rose'], [bob, 'Bob']] as const) {
    const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false } });
    await acceptInvite(member, link, { name });
    await admitJoiners(mum, { familyId });
  }
  // Each seals their chosen name under the head's key on their first load after being let in.
  await loadFamily(rose, familyId);
  await loadFamily(bob, familyId);
}, 180_000);

function signIn(page: Page, member: TestMember): Promise<void> {
  return signInInBrowser(page, member, familyId, STEP);
}

describe.skipIf(!hasChromium())("members' names in the family app", { timeout: 180_000 }, () => {
  it("show each member's own signed name, and neither another member's nor an older one the server serves", async () => {
    const context = await web.browser.newContext({ baseURL: web.proxy.url });
    const app = await context.newPage();
    await signIn(app, mum);
    await app.goto(`/family/${familyId}/people`);
    const names = () => app.getByTestId('member-name').allInnerTexts();
    await expect.poll(names, { timeout: STEP }).toEqual(['Mum', 'Rose', 'Bob']);
    const roseRow = app.locator(`li[data-member="${rose.me.accountId}"]`);

    // Rose renames herself; the app follows.
    const before = await storedProfile(rose.me.accountId);
    await setMyProfile(rose, { familyId, name: 'Grandma Rose' });
    await app.reload();
    await expect.poll(names, { timeout: STEP }).toEqual(['Mum', 'Grandma Rose', 'Bob']);

    // The server serves Bob's profile as Rose's: signed by Bob, not by Rose. Refused.
    serveAs(rose.me.accountId, await storedProfile(bob.me.accountId));
    await app.reload();
    await expect.poll(names, { timeout: STEP }).toEqual(['Mum', 'A relative', 'Bob']);
    await roseRow.getByText("This member's name did not verify").waitFor({ timeout: STEP });

    // The server serves Rose's own, genuine profile from before her rename. Refused as stale.
    web.proxy.rewrites.length = 0;
    serveAs(rose.me.accountId, before);
    await app.reload();
    await expect.poll(names, { timeout: STEP }).toEqual(['Mum', 'A relative', 'Bob']);
    await roseRow.getByText('The server sent an older name for this member than this device has seen').waitFor({ timeout: STEP });
    expect(await app.getByText('Rose', { exact: true }).count()).toBe(0);
  });
});
