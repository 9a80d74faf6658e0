/**
 * What the family app and the virtual toy send, byte for byte: every request (URL, headers, body)
 * and every WebSocket frame two browser contexts made while a guardian signed up, made a family,
 * paired the toy, sent it a recorded message and got its recorded reply. None may carry, in
 * any usual encoding (raw, hex, base64, base64url, UTF-16, URL-encoded), the password, the
 * recovery code, a private or secret key either page's WebCrypto made or imported, or the audio
 * either page recorded (its encoded bytes, or the fake microphone's samples).
 */
import { describe, expect, it } from 'vitest';
import { addChild, createFamily, openConversation, pairToy, recordAndSend, showToyCode, signUp, toyReplyByTaps, waitForToy } from './support/app-steps.js';
import { recordedAudio } from './support/browser.js';
import { useBrowserApp } from '../support/browser.js';
import { hasChromium } from '../support/chromium.js';
import { fakeVoice } from './support/fake-mic.js';
import { findInSent, KEY_PROBE, pageSecrets, recordSent, type Sent } from './support/requests.js';

const voice = fakeVoice({ pitchHz: 200, syllablesPerSecond: 4, peak: 0.45 });
const password = 'velvet canyon umbrella ninety';

const app = useBrowserApp({ name: 'requests', browsers: [{ voice: voice }] });

/**
 * True for byte strings worth searching for: a run of zeros (HPKE's all-zero salt, a silent
 * stretch of audio) would "match" any zero-filled field and prove nothing.
 */
function distinctive(bytes: Uint8Array): boolean {
  return new Set(bytes).size >= Math.min(16, bytes.length / 2);
}

/** Windows of `bytes` (skipping its first `skip` bytes) long enough to be unique, short enough to catch a partial leak. */
function windows(bytes: Uint8Array, size: number, count: number, skip = 0): Uint8Array[] {
  const out: Uint8Array[] = [];
  const span = bytes.length - skip - size;
  if (span <= 0) return out;
  for (let i = 0; i < count; i++) {
    let at = skip + Math.floor((span * i) / Math.max(1, count - 1));
    while (at < bytes.length - size && !distinctive(bytes.subarray(at, at + size))) at += size;
    if (at < bytes.length - size) out.push(bytes.slice(at, at + size));
  }
  return out;
}

describe.skipIf(!hasChromium())('what the web app and the virtual toy send', { timeout: 180_000 }, () => {
  it('carries no password, recovery code, private key or recorded audio in the clear', async () => {
    const guardianContext = await app.newContext();
    const toyContext = await app.newContext();
    for (const context of [guardianContext, toyContext]) await context.addInitScript({ content: KEY_PROBE });
    const guardianSent = recordSent(guardianContext).sent;
    const toySent = recordSent(toyContext).sent;
    const guardian = await guardianContext.newPage();
    const toy = await toyContext.newPage();

    await guardian.goto('/');
    const recoveryCode = await signUp(guardian, { email: 'sam@example.org', password });
    await createFamily(guardian, 'Larkspur');
    await addChild(guardian, 'Ada', '🐰');
    const code = await showToyCode(toy);
    await pairToy(guardian, toy, { code, childLabel: '🐰 Ada' });
    await openConversation(guardian, 'Ada');
    await recordAndSend(guardian, { childName: 'Ada', holdMs: 1_200 });
    await waitForToy(toy, 'last-played-id', (v) => v !== '');
    await toyReplyByTaps(toy, 1_000);
    await guardian.locator('li[data-sender="toy"]').waitFor({ timeout: 30_000 });

    // What must not leave the pages.
    const secrets = [...(await pageSecrets(guardian)), ...(await pageSecrets(toy))].filter(distinctive);
    const recordings = [...(await recordedAudio(guardian)), ...(await recordedAudio(toy))];
    // The recordings' first bytes are the WebM header every recording shares; the audio follows.
    const audioNeedles = recordings.flatMap((r) => windows(r, 32, 12, 200));
    const pcmNeedles = windows(voice.pcm, 32, 8, 4000);
    const all = [...guardianSent, ...toySent];

    // The search is not vacuous: the pages did sign up, upload sealed envelopes and hold live connections,
    // and the probes saw the keys and the recordings.
    expect(all.some((s) => s.url.endsWith('/v1/accounts/register/start') && s.body.length > 0)).toBe(true);
    const uploads = all.filter((s) => s.method === 'POST' && /\/v1\/families\/[^/]+\/messages$/.test(new URL(s.url).pathname));
    expect(uploads.length).toBe(2);
    expect(guardianSent.some((s) => s.kind === 'websocket')).toBe(true);
    expect(toySent.some((s) => s.url.endsWith('/v1/pairings'))).toBe(true);
    expect(recordings.length).toBeGreaterThanOrEqual(2);
    for (const upload of uploads) expect(upload.body.length).toBeGreaterThan(Math.min(...recordings.map((r) => r.length)) / 2);
    expect(secrets.length).toBeGreaterThan(10);
    expect(audioNeedles.length).toBeGreaterThan(20);
    const control: Sent = { kind: 'request', method: 'POST', url: 'http://x/', headers: '', body: new TextEncoder().encode(JSON.stringify({ k: Buffer.from(secrets[0]!).toString('base64url') })) };
    expect(findInSent([control], secrets[0]!)).toHaveLength(1);

    const hits: string[] = [];
    const search = (what: string, needle: Uint8Array | string): void => {
      for (const hit of findInSent(all, needle)) hits.push(`${what}: ${hit}`);
    };
    search('password', password);
    search('recovery code', recoveryCode);
    search('recovery code (bare)', recoveryCode.replace(/[^A-Za-z0-9]/g, ''));
    for (const [i, secret] of secrets.entries()) search(`secret key #${i}`, secret);
    for (const [i, needle] of audioNeedles.entries()) search(`recorded audio window #${i}`, needle);
    for (const [i, needle] of pcmNeedles.entries()) search(`microphone samples window #${i}`, needle);
    expect(hits).toEqual([]);
  });
});
