/**
 * The virtual toy and the web app against equivocation, a frozen roster and fake receipts (issue
 * #15 items 3 and 6): headless Chromium talks to a real `burrow serve` through a proxy that
 * rewrites answers as a compromised server would; the family acts through the client library in
 * Node, straight to the server, with real keys.
 *
 * - Fake receipts: the server claims the toy played a message it never received; the app shows
 *   "Unverified receipt", never "Played"; a message the toy really played shows "Played".
 * - Fork: a guardian removed at epoch N signs N′ on top of N−1 (the only guardian, volume 100) and
 *   the server serves it to the toy; a real guardian's message committing to N is refused
 *   `envelope/roster-fork`, and the toy's refusal is in the family security log.
 * - Frozen roster: the server withholds the entry that removes a relative and delivers that
 *   relative's message; a guardian's message at the newer head holds the toy back (nothing plays)
 *   until it gets the entry; then the relative's message is refused.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, loadFamily, removeMember, type OpenedFamily } from '../../src/client/families.js';
import { readFamilyLog } from '../../src/client/family-log.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { sendMessage } from '../../src/client/messages.js';
import { fromBase64Url, randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { sealMessage } from '../../src/crypto/envelope.js';
import { generateScopeKey } from '../../src/crypto/scope-key.js';
import { freshScopeKeys, headSealing, wrapsToAllHolders } from './forged-keys.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { signReceipt } from '../../src/crypto/receipt.js';
import { appendRosterEntry, encodeRosterEntry, type Member } from '../../src/crypto/roster.js';
import { registerMember, registerSignInMember, type TestMember } from '../support/members.js';
import { toyState, waitForToy } from '../web/support/app-steps.js';
import { useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { pairVirtualToy } from '../support/toys.js';
import { fakeVoice } from '../web/support/fake-mic.js';
import { type Rewrite } from '../web/support/hostile-proxy.js';

const voice = fakeVoice({ pitchHz: 220, syllablesPerSecond: 4, peak: 0.4 });

const web = useBrowserApp({ name: 'web-roster-fork', browsers: [{ voice }], hostileProxy: true });

type Json = Record<string, unknown>;
const json = (bytes: Uint8Array): Json => JSON.parse(new TextDecoder().decode(bytes)) as Json;
const bytesOf = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

/** A family with a guardian, its child, and a virtual toy paired in Chromium that has played one honest message. */
async function familyWithToy(name: string): Promise<{ mum: TestMember; familyId: string; mia: string; toy: Page; toyId: string }> {
  const mum = await registerSignInMember(web.server.url, 'mum');
  const familyId = (await createFamily(mum, { name })).familyId;
  const mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  const context = await web.newContext();
  const toy = await context.newPage();
  await pairVirtualToy(toy, mum, { familyId, childId: mia });
  const first = await sendMessage(mum, { familyId, to: mia, audio: voice.wav, audioType: 'audio/wav', durationMs: 1000 });
  await waitForToy(toy, 'last-played-id', first.messageId);
  const toyId = (await loadFamily(mum, familyId)).roster.toys[0]!.toyId;
  return { mum, familyId, mia, toy, toyId };
}

async function invite(mum: TestMember, member: TestMember, familyId: string, terms: { role: 'guardian' | 'relative'; children: string[] }): Promise<void> {
  const { link } = await createInvite(mum, { familyId, terms: { ...terms, needsApproval: false } });
  await acceptInvite(member, link);
  await admitJoiners(mum, { familyId });
}

/** Adds a rewrite for the rest of one test; returns a function that removes it. */
function rewrite(r: Rewrite): () => void {
  web.proxy.rewrites.push(r);
  return () => {
    const at = web.proxy.rewrites.indexOf(r);
    if (at >= 0) web.proxy.rewrites.splice(at, 1);
  };
}

describe.skipIf(!hasChromium())('the web app and the virtual toy against forks, frozen rosters and fake receipts', { timeout: 240_000 }, () => {
  it("the app shows a receipt the server made up as unverified, never 'Played'", async () => {
    const { mum, familyId, mia, toyId } = await familyWithToy('Receipt Family');
    const family = await loadFamily(mum, familyId);
    // A message to a child with no toy: nothing could have played it, yet the server says the toy did.
    // (Gran is allowed Ben, which gives Ben a conversation key: a child nobody but guardians talks
    // with has none, and no message can be sealed to them.)
    const ben = (await addChild(mum, { familyId, name: 'Ben', emoji: '🐻' })).childId;
    await invite(mum, await registerMember(web.server.url, 'gran'), familyId, { role: 'relative', children: [ben] });
    const hidden = await sendMessage(mum, { familyId, to: ben, audio: voice.wav, audioType: 'audio/wav', durationMs: 1000 });
    const stranger = await generateIdentity();
    const fake = await signReceipt(stranger, { familyId, messageId: fromBase64Url(hidden.messageId), kind: 'played', signerId: toyId, rosterEpoch: family.roster.epoch, rosterHead: family.roster.headHash, at: Date.now() });
    const fakeWire = { by: toyId, kind: 'played', at: Date.now(), signedAt: fake.at, rosterEpoch: fake.rosterEpoch, rosterHead: toBase64Url(fake.rosterHead), signature: toBase64Url(fake.signature) };
    const forge = rewrite(({ method, path, body, status }) => {
      if (method !== 'GET' || status !== 200 || !path.startsWith(`/v1/families/${familyId}/messages`) || path.endsWith('/envelope')) return undefined;
      const withFake = (m: Json): Json => (m.messageId === hidden.messageId ? { ...m, receipts: [fakeWire] } : m);
      const answer = json(body);
      return bytesOf(Array.isArray(answer.messages) ? { ...answer, messages: (answer.messages as Json[]).map(withFake) } : withFake(answer));
    });
    // A message the toy really plays, for comparison.
    const real = await sendMessage(mum, { familyId, to: mia, audio: voice.wav, audioType: 'audio/wav', durationMs: 1000 });

    const context = await web.newContext();
    const app = await context.newPage();
    await app.goto('/');
    await app.getByRole('tab', { name: 'Sign in' }).click();
    await app.getByLabel('Email').fill(mum.email);
    await app.getByLabel('Password', { exact: true }).fill(mum.password);
    await app.getByRole('button', { name: 'Sign in', exact: true }).click();
    await app.locator(`a[href="/family/${familyId}"]`).waitFor({ timeout: 30_000 });
    await app.goto(`/family/${familyId}/talk/${ben}`);
    const hiddenReceipt = app.locator(`li[data-message="${hidden.messageId}"]`).getByTestId('receipt');
    await hiddenReceipt.waitFor({ timeout: 30_000 });
    expect(await hiddenReceipt.innerText()).toBe('Unverified receipt');
    expect(await hiddenReceipt.getAttribute('data-verified')).toBe('false');
    // The toy's own signed receipt: Played (reload until the toy's receipt is in).
    await expect.poll(async () => {
      await app.goto(`/family/${familyId}/talk/${mia}`);
      const line = app.locator(`li[data-message="${real.messageId}"]`).getByTestId('receipt');
      await line.waitFor({ timeout: 30_000 });
      return line.innerText();
    }, { timeout: 60_000, interval: 500 }).toBe("Played on Mia's toy");
    forge();
  });

  it('the virtual toy refuses a real message committing to N when the server serves a removed guardian’s N′, and the family log shows it', async () => {
    const { mum, familyId, mia, toy, toyId } = await familyWithToy('Forked Family');
    const dad = await registerMember(web.server.url, 'dad');
    await invite(mum, dad, familyId, { role: 'guardian', children: [] });
    await expect.poll(async () => Number(await toyState(toy, 'played')), { timeout: 60_000 }).toBeGreaterThanOrEqual(1);
    const before: OpenedFamily = await loadFamily(mum, familyId);
    // The toy verifies N−1 (it follows roster events).
    const ping = await sendMessage(mum, { familyId, to: mia, audio: voice.wav, audioType: 'audio/wav', durationMs: 1000 });
    await waitForToy(toy, 'last-played-id', ping.messageId);
    const playedBefore = await toyState(toy, 'played');

    // The forgery is in place before the real removal: the toy hears of the removal at once on the
    // live channel (whose frames the proxy cannot rewrite), and must meet only the forged N′.
    const removedAt = before.roster.epoch + 1;
    const forkMembers: Member[] = [{ accountId: dad.me.accountId, role: 'guardian', keys: dad.me.identity.publicKeys }];
    const forkKeys = freshScopeKeys({ members: forkMembers, toys: before.roster.toys }, removedAt, before.roster.head);
    const forged = await appendRosterEntry(before.roster.entries, {
      scopeKeys: forkKeys,
      signer: dad.me,
      members: forkMembers,
      toys: [...before.roster.toys],
      settings: { ...before.roster.settings, volumeLimit: 100 },
    });
    const forgedKeys = await wrapsToAllHolders(forged, forkKeys);
    rewrite(({ method, path, body, status }) => {
      if (method !== 'GET' || status !== 200 || path !== `/v1/families/${familyId}`) return undefined;
      const view = json(body);
      return bytesOf({
        ...view,
        epoch: removedAt,
        roster: [...(view.roster as string[]).slice(0, removedAt), toBase64Url(encodeRosterEntry(forged))],
        wrappedKeys: [...(view.wrappedKeys as Array<{ generation: number }>).filter((k) => k.generation < removedAt), ...forgedKeys],
      });
    });
    expect((await removeMember(mum, { familyId, accountId: dad.me.accountId })).roster.epoch).toBe(removedAt);

    const real = await sendMessage(mum, { familyId, to: mia, audio: voice.wav, audioType: 'audio/wav', durationMs: 1000 });
    expect(real.epoch).toBe(removedAt);
    await waitForToy(toy, 'last-refusal', 'envelope/roster-fork');
    expect(await toyState(toy, 'played')).toBe(playedBefore);
    expect(await toyState(toy, 'last-played-id')).toBe(ping.messageId);

    await expect.poll(async () => {
      const log = await readFamilyLog(mum, familyId);
      return log.ok && log.events.some((e) => e.kind === 'client-refusal' && e.actorId === toyId && e.details.code === 'envelope/roster-fork' && e.details.messageId === real.messageId);
    }, { timeout: 60_000 }).toBe(true);
  });

  it('the virtual toy plays nothing while the server withholds the entry removing a relative, then refuses that relative', async () => {
    const { mum, familyId, mia, toy } = await familyWithToy('Frozen Family');
    const uncle = await registerMember(web.server.url, 'uncle');
    await invite(mum, uncle, familyId, { role: 'relative', children: [mia] });
    const ping = await sendMessage(mum, { familyId, to: mia, audio: voice.wav, audioType: 'audio/wav', durationMs: 1000 });
    await waitForToy(toy, 'last-played-id', ping.messageId);
    const playedBefore = await toyState(toy, 'played');
    const uncleView = await loadFamily(uncle, familyId);
    // Withheld from before the removal: the toy hears of it at once on the live channel.
    const withheldFrom = uncleView.roster.epoch + 1;

    // The uncle's message, which the server delivers although he is gone.
    const sealed = await sealMessage({
      familyId, epoch: uncleView.roster.epoch, rosterHead: uncleView.roster.headHash, ...headSealing(uncleView, uncle.me.accountId, [mia]), sender: uncle.me,
      recipients: [mia], audio: voice.wav, audioType: 'audio/wav', durationMs: 1000, createdAt: Date.now(),
    });
    const fromUncle = toBase64Url(sealed.header.messageId);
    const now = Date.now();
    const uncleWire = {
      messageId: fromUncle, familyId, senderId: uncle.me.accountId, senderKind: 'member', recipients: [mia], epoch: uncleView.roster.epoch, size: sealed.bytes.length,
      ciphertextHash: toBase64Url(sealed.ciphertextHash), receivedAt: now - 60_000, expiresAt: now + 86_400_000, saved: false, needsApproval: false, approvals: [], receipts: [],
    };
    let withholding = true;
    // The uncle's message is listed only once the toy has seen evidence of a newer head (mum's
    // message below): before any such evidence a toy cannot tell a frozen roster from a current one,
    // and on the live channel it lists at once on the removal's roster event.
    let offerUncle = false;
    rewrite(({ method, path, body, status }) => {
      if (path === `/v1/families/${familyId}/messages/${fromUncle}/envelope`) return { status: 200, contentType: 'application/octet-stream', body: sealed.bytes };
      if (path === `/v1/families/${familyId}/messages/${fromUncle}/receipts`) return { status: 204, contentType: '', body: new Uint8Array(0) };
      if (method !== 'GET' || status !== 200) return undefined;
      if (path === `/v1/families/${familyId}/messages/${fromUncle}`) return bytesOf(uncleWire);
      if (path === `/v1/families/${familyId}/messages` && offerUncle) {
        const list = json(body);
        return bytesOf({ ...list, messages: [...(list.messages as Json[]), uncleWire] });
      }
      if (path === `/v1/families/${familyId}` && withholding) {
        const view = json(body);
        return bytesOf({
          ...view,
          epoch: withheldFrom - 1,
          roster: (view.roster as string[]).slice(0, withheldFrom),
          wrappedKeys: (view.wrappedKeys as Array<{ generation: number }>).filter((k) => k.generation < withheldFrom),
        });
      }
      return undefined;
    });
    expect((await removeMember(mum, { familyId, accountId: uncle.me.accountId })).roster.epoch).toBe(withheldFrom);
    const fromMum = await sendMessage(mum, { familyId, to: mia, audio: voice.wav, audioType: 'audio/wav', durationMs: 1000 });
    expect(fromMum.epoch).toBe(withheldFrom);

    await waitForToy(toy, 'last-waiting', 'envelope/roster-behind');
    // The server now offers the removed uncle's message too, and another message from mum nudges
    // another sync: still nothing plays.
    offerUncle = true;
    await sendMessage(mum, { familyId, to: mia, audio: voice.wav, audioType: 'audio/wav', durationMs: 1000 });
    await waitForToy(toy, 'waiting', (n) => Number(n) >= 3);
    expect(await toyState(toy, 'played')).toBe(playedBefore);
    expect(await toyState(toy, 'last-played-id')).toBe(ping.messageId);

    withholding = false;
    await sendMessage(mum, { familyId, to: mia, audio: voice.wav, audioType: 'audio/wav', durationMs: 1000 });
    await waitForToy(toy, 'last-refusal', 'envelope/sender-removed');
    await waitForToy(toy, 'played', (n) => Number(n) === Number(playedBefore) + 3);
    expect(await toyState(toy, 'last-played-id')).not.toBe(fromUncle);
  });

  it('a stranger cannot fake a fork alarm: a made-up head under a bad signature is just a bad signature', async () => {
    const { mum, familyId, mia, toy } = await familyWithToy('Calm Family');
    const stranger = await generateIdentity();
    const sealed = await sealMessage({
      familyId, epoch: 0, rosterHead: randomBytes(32), scope: mia, key: generateScopeKey(), sender: { accountId: 'someone', identity: stranger },
      recipients: [mia], audio: voice.wav, audioType: 'audio/wav', durationMs: 1000, createdAt: Date.now(),
    });
    const id = toBase64Url(sealed.header.messageId);
    const wire = {
      messageId: id, familyId, senderId: 'someone', senderKind: 'member', recipients: [mia], epoch: 0, size: sealed.bytes.length,
      ciphertextHash: toBase64Url(sealed.ciphertextHash), receivedAt: Date.now(), expiresAt: Date.now() + 86_400_000, saved: false, needsApproval: false, approvals: [], receipts: [],
    };
    rewrite(({ method, path, body, status }) => {
      if (path === `/v1/families/${familyId}/messages/${id}/envelope`) return { status: 200, contentType: 'application/octet-stream', body: sealed.bytes };
      if (method !== 'GET' || status !== 200 || path !== `/v1/families/${familyId}/messages`) return undefined;
      const list = json(body);
      return bytesOf({ ...list, messages: [...(list.messages as Json[]), wire] });
    });
    await sendMessage(mum, { familyId, to: mia, audio: voice.wav, audioType: 'audio/wav', durationMs: 1000 });
    await waitForToy(toy, 'last-refusal', (r) => r !== '');
    expect(await toyState(toy, 'last-refusal')).toBe('envelope/sender-not-member');
  });
});
