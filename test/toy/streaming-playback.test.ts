/**
 * The reference toy plays a 5 MiB message while it downloads from a real server: a guardian sends
 * it through the client library, the toy (paired for real) streams the envelope into
 * `downloadAndPlayStream`, and audio reaches the player chunk by chunk, each one verified, long
 * before the last byte is read, while the toy's pipeline never holds more than about two chunks
 * (counted by the code, `maxBufferedBytes`). A server that cuts the download short, or swaps a
 * chunk, makes the toy stop with a refusal, never with a whole "played" message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BurrowApi } from '../../src/client/api.js';
import { addChild } from '../../src/client/children.js';
import { createFamily } from '../../src/client/families.js';
import { sendMessage } from '../../src/client/messages.js';
import { downloadAndPlayStream, loadToyFamily, type ToyFamily } from '../../src/client/toy-runtime.js';
import { bytesEqual, concatBytes, randomBytes } from '../../src/crypto/bytes.js';
import { encodeRosterEntry } from '../../src/crypto/roster.js';
import { wavOfPcm16 } from '../../src/protocol/audio-formats.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, type TestMember } from '../e2e/family-harness.js';
import { envelopeCountingFetch, pairToy } from './toy-harness.js';

const FIVE_MIB = 5 * 1024 * 1024;
const CHUNK = 64 * 1024;
let server: RunningServer;
let mum: TestMember;
let familyId: string;
let mia: string;
let family: ToyFamily;
let toyToken: string;
let audio: Uint8Array;
let sent: { messageId: string };
let envelopeLength: number;

/** The toy's API, over a fetch that counts the envelope bytes read and can rewrite the body as a hostile server would. */
function toyApi(counter: { read: number }, rewrite?: (body: Uint8Array) => Uint8Array): BurrowApi {
  const counting = envelopeCountingFetch(counter, rewrite === undefined ? {} : { rewrite });
  return new BurrowApi({ baseUrl: server.url, token: toyToken, fetch: counting });
}

beforeAll(async () => {
  server = await startServer({ overrides: { limits: { maxMessageBytes: 8 * 1024 * 1024 } } });
  mum = await registerMember(server.url, 'mum');
  familyId = (await createFamily(mum, { name: 'Streaming Family' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  const paired = await pairToy(server.url, mum, familyId, mia);
  toyToken = paired.deviceToken;
  const api = new BurrowApi({ baseUrl: server.url, token: paired.deviceToken });
  family = await loadToyFamily(api, { toyId: paired.toyId, familyId, identity: paired.identity }, { anchorHash: paired.anchorHash, chain: paired.roster.entries.map(encodeRosterEntry), keys: {} });
  // 5 MiB of 16-bit PCM in a WAV file (a toy plays only Opus in Ogg or 16-bit PCM WAV).
  audio = wavOfPcm16(randomBytes(FIVE_MIB - 44), { sampleRate: 16_000 });
  sent = await sendMessage(mum, { familyId, to: mia, audio, audioType: 'audio/wav', durationMs: Math.round(((FIVE_MIB - 44) / 32_000) * 1000) });
  envelopeLength = (sent as { size?: number }).size ?? 0;
}, 180_000);

afterAll(async () => {
  await server?.close();
});

describe('the toy plays a message while it downloads', { timeout: 120_000 }, () => {
  it('a 5 MiB message: verified audio starts long before the last byte, and the toy holds about two chunks at a time', async () => {
    const counter = { read: 0 };
    const pieces: Uint8Array[] = [];
    let readAtFirstAudio = -1;
    const outcome = await downloadAndPlayStream(toyApi(counter), family, {
      view: { messageId: sent.messageId, ciphertextHash: '', approvals: [] },
      now: Date.now(),
      play: (piece) => {
        if (readAtFirstAudio < 0) readAtFirstAudio = counter.read;
        pieces.push(piece.slice());
      },
    });
    expect(outcome.action).toBe('played');
    if (outcome.action !== 'played') return;
    expect(bytesEqual(concatBytes(...pieces), audio)).toBe(true);
    expect(envelopeLength).toBeGreaterThan(FIVE_MIB);
    expect(counter.read).toBe(envelopeLength);
    // The first audio was handed out after reading the header, the commitment and a chunk or two, not the message.
    expect(readAtFirstAudio).toBeGreaterThan(0);
    expect(readAtFirstAudio).toBeLessThan(envelopeLength / 10);
    // The bound: one sealed chunk and its plaintext, the transport's unread pieces and the commitment.
    expect(outcome.maxBufferedBytes).toBeGreaterThanOrEqual(2 * CHUNK);
    expect(outcome.maxBufferedBytes).toBeLessThan(384 * 1024);
    console.log(`streaming playback of ${envelopeLength} bytes: first audio after ${readAtFirstAudio} bytes read, at most ${outcome.maxBufferedBytes} bytes held`);
  });

  it('a download cut short or with a chunk swapped stops the toy with a refusal, not a played message', async () => {
    const cut = await downloadAndPlayStream(toyApi({ read: 0 }, (body) => body.subarray(0, body.length - 1000)), family, {
      view: { messageId: sent.messageId, ciphertextHash: '', approvals: [] }, now: Date.now(), play: () => undefined,
    });
    expect(cut).toMatchObject({ action: 'broken', reason: 'envelope/malformed' });
    const swapped = await downloadAndPlayStream(toyApi({ read: 0 }, (body) => {
      const copy = body.slice();
      // Two whole chunks in the middle trade places.
      const start = body.length - 20 * (CHUNK + 16);
      copy.set(body.subarray(start + CHUNK + 16, start + 2 * (CHUNK + 16)), start);
      copy.set(body.subarray(start, start + CHUNK + 16), start + CHUNK + 16);
      return copy;
    }), family, { view: { messageId: sent.messageId, ciphertextHash: '', approvals: [] }, now: Date.now(), play: () => undefined });
    expect(swapped).toMatchObject({ action: 'broken', reason: 'envelope/bad-signature' });
  });
});
