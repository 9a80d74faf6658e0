/**
 * The server chooses the scope keys (issue #15 item 1, issue #16), against the virtual toy and the
 * web app in headless Chromium: a real `burrow serve` behind a proxy that, once the toy is paired
 * and working, replaces every scope key wrapped to it with a key the proxy chose, wrapped with HPKE
 * to the toy's real public keys from the roster. A guardian removes the relative allowed the child,
 * so the child's key starts a new generation: the toy refuses the server's key of it
 * (data-key-refused), plays nothing of that epoch, and every reply the server receives from it is
 * sealed under the key the guardian committed to, never under the server's. Then the same lie to
 * the guardian's web app signing in on a new device, for the family-wide key and the child's: an
 * error in plain words, nothing opened. Both refusals appear in the family security log as
 * `scope-key/commitment-mismatch`. The guardian's own client (Node, straight to the server) is not
 * lied to.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, loadFamily, removeMember } from '../../src/client/families.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { wrapToWire } from '../../src/client/key-ring.js';
import { readFamilyLog } from '../../src/client/family-log.js';
import { sendMessage } from '../../src/client/messages.js';
import { fromBase64Url } from '../../src/crypto/bytes.js';
import { openAndVerifyMessage } from '../../src/crypto/envelope.js';
import { FAMILY_SCOPE } from '../../src/crypto/key-scopes.js';
import { generateScopeKey, wrapScopeKey } from '../../src/crypto/scope-key.js';
import { decodeRosterEntry } from '../../src/crypto/roster.js';
import type { WrappedKeyWire } from '../../src/protocol/families.js';
import { registerMember, registerSignInMember, type TestMember } from '../support/members.js';
import { toyState, waitForToy } from '../web/support/app-steps.js';
import { heardAudio } from '../web/support/browser.js';
import { signInInBrowser, useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { pairVirtualToy } from '../support/toys.js';
import { fakeVoice } from '../web/support/fake-mic.js';

const voice = fakeVoice({ pitchHz: 220, syllablesPerSecond: 4, peak: 0.4 });

const web = useBrowserApp({ name: 'web-key-commitment', browsers: [{ voice }], hostileProxy: true });
let mum: TestMember;
let gran: TestMember;
let familyId: string;
let mia: string;

/** The key the lying server wraps to its victims; the envelopes the browsers upload through it. */
const serverKey = generateScopeKey();
const victims = new Set<string>();
const received: Uint8Array[] = [];

const decoder = new TextDecoder();

beforeAll(async () => {
  mum = await registerSignInMember(web.server.url, 'mum');
  familyId = (await createFamily(mum, { name: 'Committed Family' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  // Gran is allowed Mia: removing her later starts a new generation of Mia's key and the family-wide one.
  gran = await registerMember(web.server.url, 'gran');
  const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false } });
  await acceptInvite(gran, link);
  await admitJoiners(mum, { familyId });
  web.proxy.rewrites.push(async ({ method, path, status, body, request }) => {
    if (method === 'POST' && path === `/v1/families/${familyId}/messages`) received.push(new Uint8Array(request));
    if (method !== 'GET' || path !== `/v1/families/${familyId}` || status !== 200 || victims.size === 0) return undefined;
    const view = JSON.parse(decoder.decode(body)) as { roster: string[]; wrappedKeys: WrappedKeyWire[] };
    const entries = view.roster.map((wire) => {
      const decoded = decodeRosterEntry(fromBase64Url(wire));
      if (!decoded.ok) throw new Error(decoded.code);
      return decoded.value;
    });
    view.wrappedKeys = await Promise.all(
      view.wrappedKeys.map(async (wire) => {
        if (!victims.has(wire.recipientId)) return wire;
        // The victim's public keys as the newest entry listing them has them (a wrap names no epoch).
        const keys = entries.flatMap((e) => [...e.members.map((m) => ({ id: m.accountId, keys: m.keys })), ...e.toys.map((t) => ({ id: t.toyId, keys: t.keys }))]).findLast((h) => h.id === wire.recipientId)!.keys;
        return wrapToWire(await wrapScopeKey({ familyId, scope: wire.scope, generation: wire.generation, key: serverKey, recipient: { id: wire.recipientId, ...keys } }));
      }),
    );
    return new TextEncoder().encode(JSON.stringify(view));
  });
}, 180_000);

async function refusalsInLog(): Promise<Array<{ actorId: string; code: unknown; epoch: unknown }>> {
  const log = await readFamilyLog(mum, familyId);
  if (!log.ok) throw new Error(`the family log does not verify: ${log.code}`);
  return log.events.filter((e) => e.kind === 'client-refusal').map((e) => ({ actorId: e.actorId, code: e.details.code, epoch: e.details.epoch }));
}

function signIn(page: Page): Promise<void> {
  return signInInBrowser(page, mum, familyId);
}

describe.skipIf(!hasChromium())('the virtual toy and the web app offered a key the server chose', { timeout: 240_000 }, () => {
  it('refuse it: nothing of that epoch plays or opens, no reply is sealed under it, and the family log shows it', async () => {
    const toyContext = await web.newContext();
    const toy = await toyContext.newPage();

    // Honest first: the toy pairs and plays a message.
    const toyId = await pairVirtualToy(toy, mum, { familyId, childId: mia });
    const first = await sendMessage(mum, { familyId, to: mia, audio: voice.wav, audioType: 'audio/wav', durationMs: 1000 });
    await waitForToy(toy, 'last-played-id', first.messageId);
    expect(await toyState(toy, 'key-refused')).toBe('false');

    // From now on every key wrapped to the toy is the server's. The guardian removes gran, which
    // starts a new generation of Mia's key, and talks in the new epoch.
    victims.add(toyId);
    const next = await removeMember(mum, { familyId, accountId: gran.me.accountId });
    expect(next.roster.head.scopeKeys.find((k) => k.scope === mia)?.generation).toBe(next.roster.epoch);
    expect(next.roster.head.scopeKeys.find((k) => k.scope === FAMILY_SCOPE)?.generation).toBe(next.roster.epoch);
    const second = await sendMessage(mum, { familyId, to: mia, audio: voice.wav, audioType: 'audio/wav', durationMs: 1000 });
    await waitForToy(toy, 'key-refused', 'true');
    // Its message commits to a head the toy does not hold (it kept the roster whose key it trusts): it waits.
    await waitForToy(toy, 'last-waiting', 'envelope/roster-behind');
    expect(await toyState(toy, 'played')).toBe('1');
    expect(await toyState(toy, 'last-played-id')).toBe(first.messageId);
    expect(second.messageId).not.toBe(first.messageId);

    // The child answers: the toy seals under the epoch it trusts (the server refuses it as stale), never under the server's key.
    await toy.getByRole('button', { name: 'Hold to talk' }).click();
    await waitForToy(toy, 'recording', 'latched');
    await waitForToy(toy, 'mic', 'open');
    await toy.waitForTimeout(1200);
    await toy.getByRole('button', { name: /tap to send/ }).click();
    await expect.poll(() => received.length, { timeout: 30_000 }).toBeGreaterThan(0);
    await waitForToy(toy, 'queued', '1');
    expect(await toyState(toy, 'sent')).toBe('0');
    for (const envelope of received) {
      expect((await openAndVerifyMessage(envelope, { roster: next.roster, keyFor: () => serverKey })).ok).toBe(false);
      // Not vacuous: it opens under the key the guardian committed to for its epoch.
      expect((await openAndVerifyMessage(envelope, { roster: next.roster, keyFor: next.keyFor })).ok).toBe(true);
    }
    // The epoch reported is the refused generation: Mia's, started at the removal.
    await expect.poll(refusalsInLog, { timeout: 60_000 }).toContainEqual({ actorId: toyId, code: 'scope-key/commitment-mismatch', epoch: next.roster.epoch });

    // The guardian signs in on a new device (the web app) while the server wraps its keys to her too:
    // the family-wide key and Mia's, every generation.
    victims.add(mum.me.accountId);
    const appContext = await web.newContext();
    const app = await appContext.newPage();
    await signIn(app);
    await app.goto(`/family/${familyId}`);
    await app.getByRole('alert').getByText("The server offered this device a family key that the family's guardians did not sign").waitFor({ timeout: 30_000 });
    expect(await app.getByRole('link', { name: 'Mia' }).count()).toBe(0);
    expect(await app.locator('audio').count()).toBe(0);
    expect(await heardAudio(app)).toEqual([]);
    await expect.poll(refusalsInLog, { timeout: 60_000 }).toContainEqual({ actorId: mum.me.accountId, code: 'scope-key/commitment-mismatch', epoch: (await loadFamily(mum, familyId)).roster.epoch });
  });
});
