/**
 * The reference toy's own runtime (`ToyRuntime` over the reference toy's state directory, as
 * `burrow toy run` builds it) plays a 5 MiB message while it downloads from a real server: the
 * player gets its first verified audio after a small part of the envelope was read, the pipeline
 * holds a bounded number of bytes (counted by the code, reported in the 'played' log line), and the
 * envelope reaches the state directory without being held whole. A chunk tampered with part-way
 * stops the player and the message is refused and reported, never acknowledged as played; a
 * tampered header is refused before the player is called at all. A message kept for quiet hours is
 * verified and stored as it downloads, and later streams from the state directory, offline.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { createFamily } from '../../src/client/families.js';
import { readFamilyLog } from '../../src/client/family-log.js';
import { getMessage, sendMessage } from '../../src/client/messages.js';
import { BurrowApi } from '../../src/client/api.js';
import { AudioStreamBroken, ToyRuntime, type ToyLogEntry } from '../../src/client/toy-runtime.js';
import type { PairedToy } from '../../src/client/toys.js';
import { bytesEqual, concatBytes, randomBytes } from '../../src/crypto/bytes.js';
import { encodeRosterEntry } from '../../src/crypto/roster.js';
import { wavOfPcm16 } from '../../src/protocol/audio-formats.js';
import { ToyStateDir } from '../../src/toy/state.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, type TestMember } from '../e2e/family-harness.js';
import { setToySettings } from '../../src/client/toys.js';
import { envelopeCountingFetch, pairToy } from './toy-harness.js';

const FIVE_MIB = 5 * 1024 * 1024;
const CHUNK = 64 * 1024;
/**
 * The bound docs/protocol.md states for a 5 MiB message: a sealed chunk and its plaintext
 * (2 × 64 KiB + 16), the fields before the chunks (header ≤ 8.8 KB, 32 bytes per chunk, signature)
 * and the transport's unread pieces.
 */
const BOUND = 384 * 1024;

let server: RunningServer;
let mum: TestMember;
let familyId: string;
let workDir: string;

beforeAll(async () => {
  server = await startServer({ overrides: { limits: { maxMessageBytes: 8 * 1024 * 1024 } } });
  mum = await registerMember(server.url, 'mum');
  familyId = (await createFamily(mum, { name: 'Streaming Family' })).familyId;
  workDir = await mkdtemp(join(tmpdir(), 'burrow-toy-stream-'));
}, 180_000);

afterAll(async () => {
  await server?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

/** A new child with a newly paired toy: each test's toy hears only its own message. */
async function childWithToy(name: string): Promise<{ childId: string; paired: PairedToy }> {
  const { childId } = await addChild(mum, { familyId, name, emoji: '🦊' });
  return { childId, paired: await pairToy(server.url, mum, familyId, childId) };
}

/** A 5 MiB 16-bit PCM WAV message from mum to `childId`. */
async function sendFiveMiB(childId: string): Promise<{ messageId: string; audio: Uint8Array }> {
  const audio = wavOfPcm16(randomBytes(FIVE_MIB - 44), { sampleRate: 16_000 });
  const { messageId } = await sendMessage(mum, { familyId, to: childId, audio, audioType: 'audio/wav', durationMs: Math.round(((FIVE_MIB - 44) / 32_000) * 1000) });
  return { messageId, audio };
}

interface Player {
  /** Envelope bytes the toy had read when the player got its first audio. */
  readAtFirstAudio: number;
  pieces: Uint8Array[];
  calls: number;
  stoppedWith?: unknown;
}

/**
 * The reference toy's runtime on its state directory, over a fetch that counts the envelope bytes
 * read (and can rewrite the body as a hostile server would), with a player that writes out each
 * piece as it comes and stops at the first error.
 */
async function referenceToy(paired: PairedToy, rewrite?: (body: Uint8Array) => Uint8Array, clock: { now?: () => number; offline?: () => boolean } = {}) {
  const state = new ToyStateDir(await mkdtemp(join(workDir, 'toy-')));
  await state.saveTrust({ anchorHash: paired.anchorHash, chain: paired.roster.entries.map(encodeRosterEntry), keys: {} });
  const counter = { read: 0 };
  const counting = envelopeCountingFetch(counter, { ...(rewrite === undefined ? {} : { rewrite }), ...(clock.offline === undefined ? {} : { offline: clock.offline }) });
  const player: Player = { readAtFirstAudio: -1, pieces: [], calls: 0 };
  const logs: ToyLogEntry[] = [];
  const runtime = new ToyRuntime({
    api: new BurrowApi({ baseUrl: server.url, token: paired.deviceToken, fetch: counting }),
    device: { toyId: paired.toyId, familyId: paired.familyId, identity: paired.identity },
    storage: state,
    play: async (message) => {
      player.calls += 1;
      try {
        for await (const piece of message.audio) {
          if (player.readAtFirstAudio < 0) player.readAtFirstAudio = counter.read;
          player.pieces.push(piece.slice());
        }
      } catch (error) {
        player.stoppedWith = error;
        throw error;
      }
    },
    log: (entry) => logs.push(entry),
    ...(clock.now === undefined ? {} : { now: clock.now }),
  });
  return { state, runtime, counter, player, logs };
}

/** The refusals the toy reported for `messageId`, as the family's (verified) security log shows them. */
async function reportedRefusals(messageId: string, toyId: string): Promise<string[]> {
  const log = await readFamilyLog(mum, familyId);
  if (!log.ok) throw new Error(`the family log must verify (${log.code})`);
  return log.events.filter((e) => e.kind === 'client-refusal' && e.actorId === toyId && e.details.messageId === messageId).map((e) => String(e.details.code));
}

/** The receipts the toy signed for `messageId`, as the server holds them. */
async function receiptKinds(messageId: string, toyId: string): Promise<string[]> {
  const view = await getMessage(mum, { familyId, messageId });
  return view.receipts.filter((r) => r.by === toyId).map((r) => r.kind).sort();
}

describe("the reference toy's runtime plays while it downloads", { timeout: 180_000 }, () => {
  it('a 5 MiB message reaches the player long before the last byte, with a bounded number of bytes held, and is stored and acknowledged', async () => {
    const { childId, paired } = await childWithToy('Mia');
    const sent = await sendFiveMiB(childId);
    const toy = await referenceToy(paired);
    expect(await toy.runtime.sync()).toBe(1);

    expect(bytesEqual(concatBytes(...toy.player.pieces), sent.audio)).toBe(true);
    // Pieces of at most one chunk each, many of them: the audio came as it verified, not as one file.
    expect(Math.max(...toy.player.pieces.map((p) => p.length))).toBeLessThanOrEqual(CHUNK);
    expect(toy.player.pieces.length).toBeGreaterThan(FIVE_MIB / CHUNK - 2);
    // The envelope was read once (the header peek before it reads a few KiB), and the first audio
    // reached the player after a small part of it.
    const stored = await toy.state.loadEnvelope(sent.messageId);
    expect(stored).toBeDefined();
    const envelopeLength = stored!.length;
    expect(envelopeLength).toBeGreaterThan(FIVE_MIB);
    expect(toy.counter.read).toBeGreaterThanOrEqual(envelopeLength);
    expect(toy.counter.read).toBeLessThan(envelopeLength + 2 * CHUNK);
    expect(toy.player.readAtFirstAudio).toBeGreaterThan(0);
    expect(toy.player.readAtFirstAudio - (toy.counter.read - envelopeLength)).toBeLessThan(envelopeLength / 10);

    // The bound, as the code counts it (not RSS).
    const played = toy.logs.find((l) => l.event === 'played');
    expect(played).toMatchObject({ event: 'played', messageId: sent.messageId });
    const held = (played as Extract<ToyLogEntry, { event: 'played' }>).heldBytes;
    expect(held).toBeGreaterThanOrEqual(2 * CHUNK);
    expect(held).toBeLessThan(BOUND);

    // What the state directory kept is the envelope the server holds, written as it came.
    const direct = await new BurrowApi({ baseUrl: server.url, token: paired.deviceToken }).download(`/v1/families/${familyId}/messages/${sent.messageId}/envelope`, 8 * 1024 * 1024);
    expect(bytesEqual(stored!, direct)).toBe(true);
    expect((await readdir(join(toy.state.dir, 'messages'))).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect((await toy.state.loadInbox())[sent.messageId]).toMatchObject({ status: 'played', playedReceipt: true, delivered: true });
    expect(await receiptKinds(sent.messageId, paired.toyId)).toEqual(['delivered', 'played']);
    console.log(`reference toy runtime, ${envelopeLength}-byte envelope: first audio after ${toy.player.readAtFirstAudio - (toy.counter.read - envelopeLength)} bytes of its download read (${toy.counter.read - envelopeLength} more read by the header peek), at most ${held} bytes held`);
  });

  it('a chunk tampered with part-way stops the player; the message is refused and reported, and never acknowledged as played', async () => {
    const { childId, paired } = await childWithToy('Noah');
    const sent = await sendFiveMiB(childId);
    // One byte of a sealed chunk about 60% of the way in.
    const toy = await referenceToy(paired, (body) => {
      const copy = body.slice();
      copy[Math.floor(body.length * 0.6)]! ^= 0x01;
      return copy;
    });
    expect(await toy.runtime.sync()).toBe(0);

    // The player had started (authentic audio reached it), then was stopped by the failed chunk.
    expect(toy.player.calls).toBe(1);
    const heard = concatBytes(...toy.player.pieces);
    expect(heard.length).toBeGreaterThan(FIVE_MIB / 2);
    expect(heard.length).toBeLessThan(FIVE_MIB * 0.7);
    expect(bytesEqual(heard, sent.audio.subarray(0, heard.length))).toBe(true);
    expect(toy.player.stoppedWith).toBeInstanceOf(AudioStreamBroken);
    expect((toy.player.stoppedWith as AudioStreamBroken).code).toBe('envelope/bad-signature');

    expect(toy.logs).toContainEqual({ event: 'refused', messageId: sent.messageId, senderId: mum.me.accountId, reason: 'envelope/bad-signature' });
    expect(toy.logs.some((l) => l.event === 'played')).toBe(false);
    expect((await toy.state.loadInbox())[sent.messageId]).toMatchObject({ status: 'refused', reason: 'envelope/bad-signature' });
    expect((await toy.state.loadInbox())[sent.messageId]?.playedReceipt).toBeUndefined();
    expect(await receiptKinds(sent.messageId, paired.toyId)).toEqual([]);
    expect(await reportedRefusals(sent.messageId, paired.toyId)).toEqual(['envelope/bad-signature']);
    // Nothing of it stays on the toy, not even the part written as it came.
    expect(await toy.state.loadEnvelope(sent.messageId)).toBeUndefined();
    expect(await readdir(join(toy.state.dir, 'messages'))).toEqual([]);
    // Refused for good: a later sync does not try it again.
    expect(await toy.runtime.sync()).toBe(0);
    expect(toy.player.calls).toBe(1);
  });

  it('a tampered header is refused before the player is called', async () => {
    const { childId, paired } = await childWithToy('Ada');
    const sent = await sendFiveMiB(childId);
    // A byte of the signed header (inside the recipients): the signature over it fails.
    const toy = await referenceToy(paired, (body) => {
      const copy = body.slice();
      copy[100]! ^= 0x01;
      return copy;
    });
    expect(await toy.runtime.sync()).toBe(0);
    expect(toy.player.calls).toBe(0);
    const refused = toy.logs.find((l) => l.event === 'refused' && l.messageId === sent.messageId);
    expect(refused).toMatchObject({ reason: expect.stringMatching(/^envelope\//) });
    expect(await reportedRefusals(sent.messageId, paired.toyId)).toEqual([(refused as { reason: string }).reason]);
    expect(await receiptKinds(sent.messageId, paired.toyId)).toEqual([]);
    expect(await toy.state.loadEnvelope(sent.messageId)).toBeUndefined();
  });

  it('a message kept for quiet hours is verified and stored as it downloads, then plays from the state directory, offline', async () => {
    // A family of its own: its quiet hours must not hold back the other tests' messages.
    const { familyId: quietFamily } = await createFamily(mum, { name: 'Night Owls' });
    const { childId } = await addChild(mum, { familyId: quietFamily, name: 'Ola', emoji: '🦉' });
    const paired = await pairToy(server.url, mum, quietFamily, childId);
    const quiet = { start: '21:17', end: '06:43', timeZone: 'Pacific/Chatham' };
    await setToySettings(mum, { familyId: quietFamily, quietHours: quiet });
    // Several chunks long.
    const audio = wavOfPcm16(randomBytes(400_000), { sampleRate: 16_000 });
    const { messageId } = await sendMessage(mum, { familyId: quietFamily, to: childId, audio, audioType: 'audio/wav', durationMs: 12_500 });
    const local = new Intl.DateTimeFormat('en-GB', { timeZone: quiet.timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    const next = (from: number, hhmm: string): number => {
      for (let t = Math.ceil(from / 60_000) * 60_000; ; t += 60_000) if (local.format(t) === hhmm) return t;
    };
    let now = next(Date.now(), '22:00');
    const quietEnds = next(now, quiet.end);
    let offline = false;
    const toy = await referenceToy(paired, undefined, { now: () => now, offline: () => offline });
    await toy.runtime.start();
    expect(await toy.runtime.sync()).toBe(0);
    expect(toy.player.calls).toBe(0);
    expect(toy.logs).toContainEqual({ event: 'waiting', messageId, reason: 'toy/quiet-hours', notBefore: quietEnds });
    expect(bytesEqual((await toy.state.loadEnvelope(messageId))!, await new BurrowApi({ baseUrl: server.url, token: paired.deviceToken }).download(`/v1/families/${quietFamily}/messages/${messageId}/envelope`, 8 * 1024 * 1024))).toBe(true);
    const receipts = (await getMessage(mum, { familyId: quietFamily, messageId })).receipts;
    expect(receipts.filter((r) => r.by === paired.toyId).map((r) => r.kind)).toEqual(['delivered']);

    offline = true;
    now = quietEnds;
    expect(await toy.runtime.playWaiting()).toBe(1);
    expect(toy.player.calls).toBe(1);
    expect(bytesEqual(concatBytes(...toy.player.pieces), audio)).toBe(true);
    expect(toy.player.pieces.length).toBeGreaterThan(5);
    expect((await toy.state.loadInbox())[messageId]).toMatchObject({ status: 'played', playedReceipt: false });
  });
});
