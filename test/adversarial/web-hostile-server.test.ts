/**
 * The web client and the virtual toy behind a lying server (issue #9 item 7): headless Chromium
 * talks to a real `burrow serve` through a proxy that rewrites answers as a compromised server
 * would. It serves another message's envelope under a new message's id (a swapped blob), then
 * appends a roster entry in which a stranger makes themself a guardian and turns the volume up
 * (signed by no guardian), with a message from that stranger. The family app shows each as an
 * error in plain words and plays nothing; the virtual toy refuses them, plays nothing and keeps
 * its signed settings. The guardian acts through the client library in Node, straight to the
 * server; only the browsers are lied to.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { createFamily } from '../../src/client/families.js';
import { downloadEnvelope, sendMessage } from '../../src/client/messages.js';
import { setToySettings } from '../../src/client/toys.js';
import { fromBase64Url, toBase64Url } from '../../src/crypto/bytes.js';
import { sealMessage } from '../../src/crypto/envelope.js';
import { freshScopeKeys, keyOf } from './forged-keys.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { decodeRosterEntry, encodeRosterEntry, hashRosterEntry, signRosterEntry } from '../../src/crypto/roster.js';
import { FamilyView } from '../../src/protocol/families.js';
import { registerSignInMember, type TestMember } from '../support/members.js';
import { toyState, waitForToy } from '../web/support/app-steps.js';
import { forgetHeard, heardAudio } from '../web/support/browser.js';
import { signInInBrowser, useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { pairVirtualToy } from '../support/toys.js';
import { fakeVoice } from '../web/support/fake-mic.js';

const voice = fakeVoice({ pitchHz: 220, syllablesPerSecond: 4, peak: 0.4 });

const web = useBrowserApp({ name: 'web-hostile', browsers: [{ voice }], hostileProxy: true });
let mum: TestMember;
let familyId: string;
let mia: string;

/** One second of the voice as a WAV file, which both the app and the toy decode. */
function wavSecond(): Uint8Array {
  return voice.wav;
}

const json = (bytes: Uint8Array): Record<string, unknown> => JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
const bytesOf = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

beforeAll(async () => {
  mum = await registerSignInMember(web.server.url, 'mum');
  familyId = (await createFamily(mum, { name: 'Wary Family' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
}, 180_000);

function signIn(page: Page): Promise<void> {
  return signInInBrowser(page, mum, familyId);
}

describe.skipIf(!hasChromium())('the web app and the virtual toy behind a lying server', { timeout: 180_000 }, () => {
  it('refuse a swapped blob and a forged roster entry: an error in plain words, nothing played, settings kept', async () => {
    const appContext = await web.newContext();
    const toyContext = await web.newContext();
    const app = await appContext.newPage();
    const toy = await toyContext.newPage();

    // Honest first: the toy pairs and plays a message; the app plays it too.
    await pairVirtualToy(toy, mum, { familyId, childId: mia });
    // The guardian turns the toy down (a signed roster entry); the toy takes it from the roster event.
    await setToySettings(mum, { familyId, volumeLimit: 30 });
    await expect.poll(() => toy.getByRole('status').filter({ hasText: 'volume limit' }).innerText(), { timeout: 60_000 }).toContain('volume limit 30 %');
    const first = await sendMessage(mum, { familyId, to: mia, audio: wavSecond(), audioType: 'audio/wav', durationMs: 1000 });
    await waitForToy(toy, 'last-played-id', first.messageId);
    expect(Number(await toyState(toy, 'last-played-rms'))).toBeCloseTo(voice.rms, 2);
    expect(await toyState(toy, 'last-played-volume')).toBe('30');
    await signIn(app);
    await app.goto(`/family/${familyId}/talk/${mia}`);
    const firstItem = app.locator(`li[data-message="${first.messageId}"]`);
    await firstItem.getByRole('button', { name: 'Play the message' }).click({ timeout: 30_000 });
    await expect.poll(async () => (await heardAudio(app)).length, { timeout: 60_000 }).toBe(1);

    // 1. A swapped blob: the server answers the new message's envelope with the first one's bytes.
    const firstEnvelope = await downloadEnvelope(mum, { familyId, messageId: first.messageId });
    const envelopePath = /^\/v1\/families\/[^/]+\/messages\/([A-Za-z0-9_-]{22})\/envelope$/;
    web.proxy.rewrites.push(({ path }) => {
      const id = envelopePath.exec(path)?.[1];
      return id !== undefined && id !== first.messageId ? firstEnvelope : undefined;
    });
    const swappedId = (await sendMessage(mum, { familyId, to: mia, audio: wavSecond(), audioType: 'audio/wav', durationMs: 1000 })).messageId;
    await waitForToy(toy, 'last-refusal', 'envelope/id-mismatch');
    expect(await toyState(toy, 'played')).toBe('1');
    expect(await toyState(toy, 'last-played-id')).toBe(first.messageId);

    await forgetHeard(app);
    const swappedItem = app.locator(`li[data-message="${swappedId}"]`);
    await swappedItem.getByRole('button', { name: 'Play the message' }).click({ timeout: 30_000 });
    await swappedItem.getByRole('alert').getByText('This message did not pass its checks').waitFor({ timeout: 60_000 });
    expect(await swappedItem.locator('audio').count()).toBe(0);
    expect(await heardAudio(app)).toEqual([]);

    // 2. A forged roster entry: a stranger "adds" themself as a guardian and turns the volume up;
    //    a message from them, sealed under a key of that invented epoch, joins the list.
    const stranger = await generateIdentity();
    const strangerId = 'stranger-account-id-0001';
    const headWire = await mum.api.call('GET', `/v1/families/${familyId}`, FamilyView);
    const head = decodeRosterEntry(fromBase64Url(headWire.roster.at(-1)!));
    if (!head.ok) throw new Error('the real roster must decode');
    const forgedMembers = [...head.value.members, { accountId: strangerId, role: 'guardian' as const, keys: stranger.publicKeys }];
    const forgedKeys = freshScopeKeys({ members: forgedMembers, toys: head.value.toys }, head.value.epoch + 1);
    const forged = await signRosterEntry(
      {
        familyId,
        epoch: head.value.epoch + 1,
        previousHash: await hashRosterEntry(head.value),
        members: forgedMembers,
        toys: head.value.toys,
        settings: { volumeLimit: 100, retentionDays: head.value.settings.retentionDays },
        signerId: strangerId,
        scopeKeys: forgedKeys,
      },
      stranger,
    );
    const sealed = await sealMessage({ familyId, epoch: head.value.epoch + 1, rosterHead: await hashRosterEntry(forged), scope: mia, key: keyOf(forgedKeys, mia), sender: { accountId: strangerId, identity: stranger }, recipients: [mia], audio: wavSecond(), audioType: 'audio/wav', durationMs: 1000, createdAt: Date.now() });
    const forgedId = toBase64Url(sealed.header.messageId);
    const forgedView = {
      messageId: forgedId, familyId, senderId: strangerId, senderKind: 'member', recipients: [mia], epoch: head.value.epoch + 1, size: sealed.bytes.length,
      ciphertextHash: toBase64Url(sealed.ciphertextHash), receivedAt: Date.now(), expiresAt: Date.now() + 86_400_000, saved: false, needsApproval: false, approvals: [], receipts: [],
    };
    web.proxy.rewrites.push(({ method, path, body, status }) => {
      if (method !== 'GET') return undefined;
      if (path === `/v1/families/${familyId}/messages/${forgedId}`) return { status: 200, contentType: 'application/json; charset=utf-8', body: bytesOf(forgedView) };
      if (path === `/v1/families/${familyId}/messages/${forgedId}/envelope`) return { status: 200, contentType: 'application/octet-stream', body: sealed.bytes };
      if (status !== 200) return undefined;
      if (path === `/v1/families/${familyId}`) {
        const view = json(body);
        return bytesOf({ ...view, roster: [...(view.roster as string[]), toBase64Url(encodeRosterEntry(forged))], epoch: head.value.epoch + 1 });
      }
      if (path === `/v1/families/${familyId}/messages`) {
        const list = json(body);
        return bytesOf({ ...list, messages: [forgedView, ...(list.messages as unknown[])] });
      }
      return undefined;
    });
    // No live event announces what only the proxy serves: it cuts the toy's live WebSocket (as a
    // server may at will), and the toy, reconnecting, catches up — the forged roster and list.
    web.proxy.dropLive();

    await waitForToy(toy, 'roster-refused', 'true');
    await waitForToy(toy, 'last-refusal', (reason) => reason !== 'envelope/id-mismatch');
    expect(['envelope/unknown-epoch', 'envelope/sender-not-member', 'envelope/no-key']).toContain(await toyState(toy, 'last-refusal'));
    expect(await toyState(toy, 'played')).toBe('1');
    expect(await toyState(toy, 'last-played-id')).toBe(first.messageId);
    await expect.poll(() => toy.getByRole('status').filter({ hasText: 'volume limit' }).innerText()).toContain('volume limit 30 %');

    await app.goto(`/family/${familyId}`);
    await app.getByRole('alert').getByText('The family list from the server does not check out').waitFor({ timeout: 60_000 });
    expect(await app.getByRole('link', { name: 'Mia' }).count()).toBe(0);
    await forgetHeard(app);
    await app.goto(`/family/${familyId}/talk/${mia}`);
    await app.getByRole('alert').first().waitFor({ timeout: 60_000 });
    expect(await app.locator('audio').count()).toBe(0);
    expect(await heardAudio(app)).toEqual([]);
  });
});
