/**
 * What the web app sends is audio a small device can decode (issue #17, item 4), in real headless
 * Chromium against a real `burrow serve`, with a fake microphone whose loudness is known.
 *
 * A guardian records a message in the app (Chromium records WebM/Opus; the app remuxes it to
 * Ogg/Opus). The test downloads and opens what was sent with the guardian's own keys through the
 * client library, then decodes it with decoders that are neither Burrow's nor the browser's
 * (opusinfo checks every Ogg page, opusdec decodes, sox measures): its length is about the
 * recording's and its loudness is the microphone's, not silence. The virtual toy plays it, and
 * plays a 16-bit PCM WAV message too.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { createFamily, loadFamily } from '../../src/client/families.js';
import { downloadAndOpenMessage, listAllMessages, sendMessage } from '../../src/client/messages.js';
import { sniffAudioFormat } from '../../src/protocol/audio-formats.js';
import { registerSignInMember, type TestMember } from '../support/members.js';
import { openConversation, pairToy, recordAndSend, showToyCode, waitForToy } from './support/app-steps.js';
import { heardAudio } from './support/browser.js';
import { signInInBrowser, useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { fakeVoice } from './support/fake-mic.js';
import { decodeIndependently, skipWithoutAudioTools } from '../support/opus-tools.js';

const STEP = 20_000;
const HOLD_MS = 2_000;
const voice = fakeVoice({ pitchHz: 220, syllablesPerSecond: 4, peak: 0.4 });

let mum: TestMember;
let familyId: string;
let mia: string;

const skip = !hasChromium() || skipWithoutAudioTools();
const app = useBrowserApp({ name: 'recorded-audio', browsers: [{ voice }] });

beforeAll(async () => {
  if (skip) return;
  mum = await registerSignInMember(app.server.url, 'mum');
  familyId = (await createFamily(mum, { name: 'The Listeners' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
}, 90_000);

/** Mum signed in on her phone, and a virtual toy paired to Mia. */
async function phoneAndToy(): Promise<{ page: Page; toy: Page }> {
  const page = await app.newPage();
  const toy = await app.newPage();
  await signInInBrowser(page, mum, familyId, STEP);
  await page.locator(`a[href="/family/${familyId}"]`).click();
  const code = await showToyCode(toy);
  await pairToy(page, toy, { code, childLabel: '🦊 Mia' });
  return { page, toy };
}

describe.skipIf(skip)('the audio the web app sends', { timeout: 180_000 }, () => {
  it('is Ogg/Opus that an independent decoder plays at the recording’s length and loudness, and the virtual toy plays it and WAV', async () => {
    const { page, toy } = await phoneAndToy();
    await openConversation(page, 'Mia');
    await recordAndSend(page, { childName: 'Mia', holdMs: HOLD_MS });

    const [view] = await listAllMessages(mum, { familyId });
    expect(view).toBeDefined();
    const { opened } = await downloadAndOpenMessage(mum, { familyId, messageId: view!.messageId });
    if (!opened.ok) throw new Error(`the sent message did not open: ${opened.code}`);
    const { audio, audioType, durationMs } = opened.value;
    // Ogg/Opus, told by its bytes as well as by its sealed type: no WebM leaves the app.
    expect(audioType).toBe('audio/ogg');
    expect(sniffAudioFormat(audio)).toEqual({ ok: true, value: 'audio/ogg' });

    const decoded = await decodeIndependently(audio, 'audio/ogg');
    expect(decoded.info).not.toMatch(/WARNING|ERROR|corrupt|hole/i);
    // The button was held HOLD_MS after the microphone opened; stopping flushes a little more.
    expect(decoded.durationMs).toBeGreaterThan(HOLD_MS * 0.8);
    expect(decoded.durationMs).toBeLessThan(HOLD_MS + 2_000);
    expect(Math.abs(decoded.durationMs - durationMs)).toBeLessThan(750);
    // The microphone's loudness (voice processing is off), far above silence.
    expect(decoded.rms).toBeGreaterThan(voice.rms * 0.6);
    expect(decoded.rms).toBeLessThan(voice.rms * 1.5);

    // The virtual toy decodes and plays the same message, at the microphone's loudness.
    await waitForToy(toy, 'last-played-id', view!.messageId, STEP);
    await expect.poll(async () => (await heardAudio(toy)).length, { timeout: STEP }).toBeGreaterThan(0);
    const heardOgg = (await heardAudio(toy)).at(-1)!;
    expect(Math.abs(heardOgg.durationMs - decoded.durationMs)).toBeLessThan(250);
    expect(heardOgg.rms).toBeGreaterThan(voice.rms * 0.6);

    // And a 16-bit PCM WAV message (as `burrow send` or a toy would send one).
    const wav = await sendMessage(mum, { familyId, to: mia, audio: voice.wav, audioType: 'audio/wav', durationMs: 1000, family: await loadFamily(mum, familyId) });
    await waitForToy(toy, 'last-played-id', wav.messageId, STEP);
    await expect.poll(async () => (await heardAudio(toy)).length, { timeout: STEP }).toBeGreaterThan(1);
    const heardWav = (await heardAudio(toy)).at(-1)!;
    expect(Math.abs(heardWav.durationMs - 1000)).toBeLessThan(50);
    expect(Math.abs(heardWav.rms - voice.rms)).toBeLessThan(voice.rms * 0.05);
  });
});
