/**
 * Names and the safety code in real headless Chromium against a real `burrow serve` (issue #21
 * items 4 and 6). Mum signs up as "Mum", creates a family, pairs the virtual toy for Mia and
 * invites "Grandma Rose". Grandma's phone opens the link: the join page says who invites whom to
 * which family, and offers "Grandma Rose" as her name. Mum's let-in card shows the name Grandma
 * chose and the email of her account. Grandma's message shows as hers in Mum's conversation; the
 * toy plays it and Grandma's receipt says "Played on Mia's toy". Then, as an optional later step,
 * Grandma verifies Mum: her phone's camera (Chromium's fake capture, fed a Y4M file the test writes)
 * first films a code from a device in the middle, which is refused, then Mum's own screen — the QR
 * code Mum's page drew — which verifies. Digits on both screens match a safety code computed here
 * from the verified roster's keys.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { encode } from 'uqr';
import { describe, expect, it } from 'vitest';
import { fromBase64Url } from '../../src/crypto/bytes.js';
import { generateIdentity, safetyCode } from '../../src/crypto/identity.js';
import { decodeRosterEntry } from '../../src/crypto/roster.js';
import { addChild, openConversation, openTab, pairToy, recordAndSend, showToyCode, signUp, waitForToy } from './support/app-steps.js';
import { useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { fakeVoice } from './support/fake-mic.js';
import { axeViolations } from './support/axe.js';

const STEP = 30_000;
const WIDTH = 480;
const HEIGHT = 360;

const voice = fakeVoice({ pitchHz: 200, syllablesPerSecond: 4, peak: 0.5 });
const CAMERA = 'camera.y4m';
/** Mum's browser, and Grandma's, whose camera films what the test writes to CAMERA. */
const app = useBrowserApp({
  name: 'names',
  browsers: [{ voice }, { voice, cameraY4m: CAMERA }],
  // Until a test films something, the camera shows a white page.
  prepare: (dir) => writeFile(join(dir, CAMERA), y4m(new Uint8Array(0), 0)),
});

/**
 * A Y4M video (YUV4MPEG2, 4:2:0) of a few identical frames showing `luma` (one byte per pixel,
 * `size` × `size`) centred on white: what Chromium's fake camera plays in a loop.
 */
function y4m(luma: Uint8Array, size: number): Uint8Array {
  const y = new Uint8Array(WIDTH * HEIGHT).fill(255);
  const left = (WIDTH - size) >> 1;
  const top = (HEIGHT - size) >> 1;
  for (let row = 0; row < size; row++) y.set(luma.subarray(row * size, (row + 1) * size), (top + row) * WIDTH + left);
  const chroma = new Uint8Array((WIDTH / 2) * (HEIGHT / 2) * 2).fill(128);
  const header = new TextEncoder().encode(`YUV4MPEG2 W${WIDTH} H${HEIGHT} F10:1 Ip A1:1 C420jpeg\n`);
  const frame = new TextEncoder().encode('FRAME\n');
  const parts: Uint8Array[] = [header];
  for (let i = 0; i < 5; i++) parts.push(frame, y, chroma);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A QR code of `text` as luma pixels (6 px a module, a four-module quiet zone), made here with uqr. */
function qrPixels(text: string): { luma: Uint8Array; size: number } {
  const { data, size: modules } = encode(text, { border: 0 });
  const scale = 6;
  const size = (modules + 8) * scale;
  const luma = new Uint8Array(size * size).fill(255);
  for (let my = 0; my < modules; my++) {
    for (let mx = 0; mx < modules; mx++) {
      if (!data[my]![mx]) continue;
      for (let dy = 0; dy < scale; dy++) luma.fill(0, ((my + 4) * scale + dy) * size + (mx + 4) * scale, ((my + 4) * scale + dy) * size + (mx + 5) * scale);
    }
  }
  return { luma, size };
}

/** The QR code on `page`'s Verify panel as luma pixels: the SVG the page drew, rendered by the page itself. */
async function filmQrOn(page: Page): Promise<{ luma: Uint8Array; size: number }> {
  const pixels = await page.evaluate(async (side) => {
    const svg = document.querySelector('[data-testid="safety-qr"]')!;
    const image = new Image(side, side);
    image.src = `data:image/svg+xml;base64,${btoa(new XMLSerializer().serializeToString(svg))}`;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = side;
    canvas.height = side;
    const context = canvas.getContext('2d')!;
    context.fillStyle = '#fff';
    context.fillRect(0, 0, side, side);
    context.drawImage(image, 0, 0, side, side);
    const rgba = context.getImageData(0, 0, side, side).data;
    const luma: number[] = [];
    for (let i = 0; i < rgba.length; i += 4) luma.push(rgba[i]!);
    return luma;
  }, 300);
  return { luma: Uint8Array.from(pixels), size: 300 };
}

async function page(browser: Browser, options: { camera?: boolean } = {}): Promise<Page> {
  const context = await app.newContext({ browser });
  if (options.camera === true) await context.grantPermissions(['microphone', 'camera'], { origin: app.url });
  return context.newPage();
}

describe.skipIf(!hasChromium())('names and the safety code, in the browser', { timeout: 300_000 }, () => {
  it('names on the join page, the let-in card, messages and receipts; a verification by scanning', async () => {
    // Mum signs up as "Mum": the name is offered again when she creates the family.
    const mum = await page(app.browsers[0]!);
    await mum.goto('/');
    await mum.getByLabel('Your name').fill('Mum');
    await signUp(mum, { email: 'mum-names@example.org', password: 'marmalade lighthouse paper swan' });
    await mum.getByLabel('Family name').fill('The Rabbits');
    await expect.poll(() => mum.getByLabel('Your name in this family').inputValue(), { timeout: STEP }).toBe('Mum');
    await mum.getByRole('button', { name: 'Create the family' }).click();
    await mum.waitForURL(/\/family\/[A-Za-z0-9_-]{22}\/people$/, { timeout: STEP });
    const familyId = /\/family\/([A-Za-z0-9_-]{22})\//.exec(mum.url())![1]!;
    await addChild(mum, 'Mia', '🦊');
    // The toy is a device of its own: a second tab in Mum's context would put her page in the
    // background, where Chromium stops its animation frames and every click on it waits ~1 s.
    const toy = await page(app.browsers[0]!);
    const code = await showToyCode(toy);
    await pairToy(mum, toy, { code, childLabel: '🦊 Mia' });

    // An invite for Grandma Rose.
    await openTab(mum, 'People');
    await mum.getByLabel('Who is it for?').fill('Grandma Rose');
    await mum.getByRole('button', { name: 'Create an invite link' }).click();
    const link = (await mum.getByTestId('invite-link').innerText({ timeout: STEP })).trim();
    await mum.getByText('For Grandma Rose ·').waitFor({ timeout: STEP });

    // Grandma's phone: the join page says who invites whom to which family, and offers her name.
    const gran = await page(app.browsers[1]!, { camera: true });
    await gran.goto(link);
    await signUp(gran, { email: 'rose-names@example.org', password: 'teapot harbour violin sparrow' });
    await gran.getByTestId('invite-description').waitFor({ timeout: STEP });
    expect(await gran.getByTestId('invite-description').innerText()).toBe('Mum invites Grandma Rose to the family The Rabbits.');
    await expect.poll(() => gran.getByLabel('Your name in the family').inputValue(), { timeout: STEP }).toBe('Grandma Rose');
    await gran.getByLabel('Your name in the family').fill('Rose');
    await gran.getByRole('button', { name: 'Join the family' }).click();
    await gran.getByText('The guardian who invited you must now let you in').waitFor({ timeout: STEP });

    // Mum's let-in card: the name Grandma chose, and the email her account signed up with.
    const card = mum.getByTestId('let-in-card');
    await card.waitFor({ timeout: STEP });
    expect(await card.getByTestId('joiner-name').innerText()).toBe('Rose');
    expect(await card.getByTestId('joiner-email').innerText()).toBe('<rose-names@example.org>');
    expect(await card.innerText()).toContain('accepted your invite for Grandma Rose');
    await card.getByRole('button', { name: 'Let them in' }).click();
    await gran.waitForURL(new RegExp(`/family/${familyId}$`), { timeout: STEP });

    // Grandma sends Mia a message: Mum's conversation names her; the toy plays it; her receipt names the toy.
    await openConversation(gran, 'Mia');
    await recordAndSend(gran, { childName: 'Mia', holdMs: 1_500 });
    await waitForToy(toy, 'last-played-id', (v) => v !== '');
    await gran.getByTestId('receipt').filter({ hasText: "Played on Mia's toy" }).waitFor({ timeout: STEP });
    await openConversation(mum, 'Mia');
    const fromGran = mum.locator('li[data-message]').filter({ hasText: 'Rose' });
    await fromGran.first().waitFor({ timeout: STEP });
    expect(await mum.locator('li[data-message] strong').allInnerTexts()).toEqual(['Rose']);
    // The members list names everyone, from their own signed profiles.
    await openTab(mum, 'People');
    await expect.poll(() => mum.getByTestId('member-name').allInnerTexts(), { timeout: STEP }).toEqual(['Mum', 'Rose']);

    // The safety code, computed here from the keys in the verified roster.
    const view = await gran.evaluate(async (id) => (await fetch(`/v1/families/${id}`)).json() as Promise<{ roster: string[] }>, familyId);
    const head = decodeRosterEntry(fromBase64Url(view.roster.at(-1)!));
    if (!head.ok) throw new Error(head.code);
    const keysOf = (name: string) => head.value.members.find((m) => m.role === (name === 'mum' ? 'guardian' : 'relative'))!.keys;
    const expected = await safetyCode(keysOf('mum'), keysOf('gran'));

    // Verifying is a later, optional step: Mum opens Verify on Rose and shows her QR code.
    await mum.locator('li[data-member]', { hasText: 'Rose' }).getByRole('button', { name: 'Verify' }).click();
    expect(await mum.getByTestId('safety-code').innerText()).toBe(expected.digits);
    // The Verify panel (code, QR, scan) breaks no accessibility rule (axe-core, WCAG 2.x A/AA).
    expect(await axeViolations(mum)).toEqual([]);
    await gran.goto(`/family/${familyId}/people`);
    await gran.locator('li[data-member]', { hasText: 'Mum' }).getByRole('button', { name: 'Verify' }).click();
    expect(await gran.getByTestId('safety-code').innerText()).toBe(expected.digits);

    // First the camera films a device in the middle: a code made with someone else's keys. Refused.
    const middle = await safetyCode(keysOf('mum'), (await generateIdentity()).publicKeys);
    const wrong = qrPixels(middle.qr);
    await writeFile(join(app.dir, CAMERA), y4m(wrong.luma, wrong.size));
    await gran.getByRole('button', { name: 'Scan their code' }).click();
    await gran.getByTestId('verify-result').filter({ hasText: 'is not your safety code with Mum' }).waitFor({ timeout: STEP });

    // Then Mum's own screen: the QR code her page drew.
    const shown = await filmQrOn(mum);
    await writeFile(join(app.dir, CAMERA), y4m(shown.luma, shown.size));
    await gran.getByRole('button', { name: 'Scan their code' }).click();
    await gran.getByTestId('verify-result').filter({ hasText: 'Verified' }).waitFor({ timeout: STEP });
    await gran.locator('li[data-member]', { hasText: 'Mum' }).getByTestId('member-verified').waitFor({ timeout: STEP });

    // Grandma's home screen names the family's guardian, now verified.
    await gran.goto('/');
    await expect.poll(() => gran.locator(`li[data-family="${familyId}"]`).getByTestId('family-guardians').innerText().catch(() => ''), { timeout: STEP }).toContain('Mum (verified)');
  });
});
