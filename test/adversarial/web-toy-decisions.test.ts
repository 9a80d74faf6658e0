/**
 * Issue #15 items 4 and 5 in Chromium: the virtual toy behind a colluding server (a proxy in front
 * of a real `burrow serve` that rewrites what the toy gets), with real members' keys in Node.
 *
 * (a) a relative set to need approval at epoch N seals under the epoch N−1 key; (b) a relative
 * narrowed from two children to one, and (c) a guardian demoted to a relative, send under the old
 * key to the child they lost, and a removed relative sends too; the demoted guardian's approval
 * does not count, a guardian of the head's does. (d) The server says every message expires 1 ms
 * from now and keeps listing a played one, also after the toy's page is reloaded. (e) A message
 * older than its signed retention, (f) one dated an hour ahead. The toy plays none of them (the
 * approved one once), and its refusals are in the family security log the guardian reads.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { changeRoster, loadFamily, type OpenedFamily } from '../../src/client/families.js';
import { readFamilyLog } from '../../src/client/family-log.js';
import { sendMessage } from '../../src/client/messages.js';
import { sealMessage } from '../../src/crypto/envelope.js';
import { headSealing } from './forged-keys.js';
import type { Identity } from '../../src/crypto/identity.js';
import { MessageAccepted } from '../../src/protocol/messages.js';
import { type TestMember } from '../e2e/family-harness.js';
import { toyState, waitForToy } from '../web/support/app-steps.js';
import { useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { pairVirtualToy } from '../support/toys.js';
import { decidedFamily, injectApproval, sealedUnderOldKey, type Injected } from './toy-decision-fixtures.js';
import { fakeVoice } from '../web/support/fake-mic.js';

const DAY = 24 * 3600_000;
const voice = fakeVoice({ pitchHz: 220, syllablesPerSecond: 4, peak: 0.4 });

const web = useBrowserApp({ name: 'web-toy-decisions', browsers: [{ voice }], hostileProxy: true });
let context: BrowserContext;
let toy: Page;
let mum: TestMember;
let gran: TestMember;
let aunt: TestMember;
let uncle: TestMember;
let cousin: TestMember;
let familyId: string;
let mia: string;
let leo: string;
let toyId: string;
const before = new Map<string, OpenedFamily>();

/** What the colluding proxy does. */
const attack = {
  injected: new Map<string, Injected>(),
  expiresAtOnce: false,
  /** How many message lists the toy has fetched: a poll each. */
  lists: 0,
};

const json = (bytes: Uint8Array): Record<string, unknown> => JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
const bytesOf = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

/**
 * Makes the toy fetch its message list `count` more times, so it has seen what the proxy serves:
 * the toy holds the live channel and lists on events and on every reconnection, so the colluding
 * proxy cuts its WebSocket (as a server may at will) and waits for the catch-up's list each time.
 */
async function polls(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const target = attack.lists + 1;
    web.proxy.dropLive();
    await expect.poll(() => attack.lists, { timeout: 30_000, interval: 100 }).toBeGreaterThanOrEqual(target);
  }
}

/** Seals, as `member`, a message to Mia under the epoch key they held before the change, and has the proxy list it. */
async function sealUnderOldKey(member: TestMember): Promise<string> {
  const injected = await sealedUnderOldKey(before.get(member.label)!, member, { familyId, to: mia, audio: voice.wav, durationMs: 1000 });
  attack.injected.set(injected.messageId, injected);
  return injected.messageId;
}

/** Adds a guardian-style approval signed by `who`, at the family's current head, to an injected message's view. */
async function approveInjected(messageId: string, who: { accountId: string; identity: Identity }): Promise<void> {
  await injectApproval(attack.injected.get(messageId)!, who, (await loadFamily(mum, familyId)).roster);
}

async function toyRefusalsInFamilyLog(): Promise<Record<string, string>> {
  const log = await readFamilyLog(mum, familyId);
  if (!log.ok) throw new Error(`the family log must verify (${log.code})`);
  return Object.fromEntries(log.events.filter((e) => e.kind === 'client-refusal' && e.actorId === toyId).map((e) => [String(e.details.messageId), String(e.details.code)]));
}


beforeAll(async () => {
  web.proxy.rewrites.push(({ method, path, body, status }) => {
    if (method !== 'GET' || familyId === undefined) return undefined;
    const one = /^\/v1\/families\/[^/]+\/messages\/([A-Za-z0-9_-]{22})(\/envelope)?$/.exec(path);
    const injected = one === null ? undefined : attack.injected.get(one[1]!);
    if (injected !== undefined) {
      return one![2] === '/envelope'
        ? { status: 200, contentType: 'application/octet-stream', body: injected.envelope }
        : { status: 200, contentType: 'application/json; charset=utf-8', body: bytesOf(injected.view) };
    }
    if (path !== `/v1/families/${familyId}/messages` || status !== 200) return undefined;
    attack.lists += 1;
    const list = json(body) as { messages: Array<Record<string, unknown>> };
    list.messages = [...list.messages, ...[...attack.injected.values()].map((i) => i.view)];
    if (attack.expiresAtOnce) for (const m of list.messages) m.expiresAt = Date.now() + 1;
    return bytesOf(list);
  });
  ({ mum, gran, aunt, uncle, cousin, familyId, mia, leo } = await decidedFamily(web.server.url));
}, 180_000);

describe.skipIf(!hasChromium())('the virtual toy behind a colluding server: the head decides, and played ids outlive any server-sent expiry', { timeout: 240_000 }, () => {
  it('(a–c) plays nothing sealed under an old key by a relative since set to need approval, narrowed, demoted or removed; only a guardian of the head approves', async () => {
    context = await web.newContext();
    toy = await context.newPage();
    toyId = await pairVirtualToy(toy, mum, { familyId, childId: mia });
    for (const member of [gran, aunt, uncle, cousin]) before.set(member.label, await loadFamily(member, familyId));

    await changeRoster(mum, familyId, (family) => ({
      members: family.roster.members
        .filter((m) => m.accountId !== cousin.me.accountId)
        .map((m) => {
          if (m.accountId === aunt.me.accountId) return { ...m, needsApproval: true };
          if (m.accountId === gran.me.accountId) return { ...m, children: [leo] };
          if (m.accountId === uncle.me.accountId) return { accountId: m.accountId, role: 'relative' as const, keys: m.keys, children: [leo] };
          return m;
        }),
      toys: [...family.roster.toys],
      // Also a new volume limit, so the page shows when the toy has verified this head.
      settings: { ...family.roster.settings, volumeLimit: 55 },
    }));
    await expect.poll(() => toy.getByRole('status').filter({ hasText: 'volume limit' }).innerText(), { timeout: 60_000 }).toContain('volume limit 55 %');
    const fromAunt = await sealUnderOldKey(aunt);
    const fromGran = await sealUnderOldKey(gran);
    const fromUncle = await sealUnderOldKey(uncle);
    const fromCousin = await sealUnderOldKey(cousin);
    // Injected into the lists only, without a live event: the toy sees them when it catches up.
    await polls(1);

    await waitForToy(toy, 'refused', '3');
    await expect.poll(toyRefusalsInFamilyLog, { timeout: 60_000 }).toEqual({ [fromGran]: 'envelope/recipient-not-allowed', [fromUncle]: 'envelope/recipient-not-allowed', [fromCousin]: 'envelope/sender-removed' });
    await polls(2);
    expect(await toyState(toy, 'played')).toBe('0');

    await approveInjected(fromAunt, uncle.me);
    await polls(3);
    expect(await toyState(toy, 'played')).toBe('0');
    await approveInjected(fromAunt, mum.me);
    await polls(1);
    await waitForToy(toy, 'last-played-id', fromAunt);
    expect(await toyState(toy, 'played')).toBe('1');
    expect(await toyState(toy, 'refused')).toBe('3');
    attack.injected.clear();
  });

  it('(d) a played message listed again with expiresAt = now + 1 ms does not play again, not even after the page reloads', async () => {
    // From the first time the toy sees it, the server says it expires at once.
    attack.expiresAtOnce = true;
    const sent = await sendMessage(mum, { familyId, to: mia, audio: voice.wav, audioType: 'audio/wav', durationMs: 1000 });
    await waitForToy(toy, 'last-played-id', sent.messageId);
    const played = await toyState(toy, 'played');
    await polls(4);
    expect(await toyState(toy, 'played')).toBe(played);

    await toy.reload();
    await toy.getByRole('button', { name: 'Switch the toy on' }).click();
    await waitForToy(toy, 'phase', 'paired');
    await polls(4);
    expect(await toyState(toy, 'played')).toBe('0');
    expect(await toyState(toy, 'refused')).toBe('0');
    attack.expiresAtOnce = false;
  });

  it('(e, f) a message past its signed retention and one dated an hour ahead are refused and reported', async () => {
    const family = await loadFamily(mum, familyId);
    const seal = (createdAt: number) => sealMessage({ familyId, epoch: family.roster.epoch, rosterHead: family.roster.headHash, ...headSealing(family, mum.me.accountId, [mia]), sender: mum.me, recipients: [mia], audio: voice.wav, audioType: 'audio/wav', durationMs: 1000, createdAt });
    // Recorded 31 days ago (retention 30): what a server that withheld it until now would release.
    const old = await mum.api.upload(`/v1/families/${familyId}/messages`, (await seal(Date.now() - (family.roster.settings.retentionDays + 1) * DAY)).bytes, MessageAccepted);
    await waitForToy(toy, 'last-refusal', 'envelope/expired');
    const future = await mum.api.upload(`/v1/families/${familyId}/messages`, (await seal(Date.now() + 3600_000)).bytes, MessageAccepted);
    await waitForToy(toy, 'last-refusal', 'envelope/from-the-future');
    expect(await toyState(toy, 'played')).toBe('0');
    await expect.poll(toyRefusalsInFamilyLog, { timeout: 60_000 }).toMatchObject({ [old.messageId]: 'envelope/expired', [future.messageId]: 'envelope/from-the-future' });
  });
});
