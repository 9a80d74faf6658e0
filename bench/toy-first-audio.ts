/**
 * Time to the first audio byte for a toy on a 5 MiB message, through a real server on loopback
 * (part of `npm run bench:crypto`, Node only). A guardian sends a 16-bit PCM WAV message; a paired
 * toy then catches up, round after round, from an empty inbox:
 *
 * - whole (how the toy played before it streamed): list the messages, download the whole envelope,
 *   open and verify it whole (`decideMessage`), then the first audio byte is at hand. A lower bound
 *   of the toy before: its runtime also wrote the envelope to its state directory and read it back.
 * - streamed (the reference toy now): `ToyRuntime.sync()` on a fresh state directory, up to the
 *   first piece the player gets (list, header peek, download into the state directory while the
 *   header, commitment and first chunk verify, the audio's first bytes checked).
 *
 * The two are interleaved round by round; the medians are reported with the bytes read before the
 * first audio and the bytes the streaming toy held at most (counted by the code).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BurrowApi } from '../src/client/api.js';
import { addChild } from '../src/client/children.js';
import { createFamily } from '../src/client/families.js';
import { downloadEnvelope, listMessages, sendMessage } from '../src/client/messages.js';
import { decideMessage, loadToyFamily, ToyRuntime, type ToyLogEntry } from '../src/client/toy-runtime.js';
import { addToy, startToyPairingAttempt } from '../src/client/toys.js';
import { randomBytes } from '../src/crypto/bytes.js';
import { encodeRosterEntry } from '../src/crypto/roster.js';
import { wavOfPcm16 } from '../src/protocol/audio-formats.js';
import { ToyStateDir } from '../src/toy/state.js';
import type * as AppModule from '../src/server/app.js';
import type * as ConfigModule from '../src/server/config.js';
import type * as SecretsModule from '../src/server/secrets.js';
import type * as FsBlobsModule from '../src/storage/blobs/fs-blob-store.js';
import type * as BusModule from '../src/storage/bus/local-event-bus.js';
import type * as SqliteModule from '../src/storage/sqlite.js';
import { registerAccount } from '../src/client/account.js';
import { MemoryKeyStore } from '../src/client/key-store.js';

/**
 * A module of the built server (`npm run build`), loaded at run time: the bench itself is one
 * bundle, and the embedded store starts its worker from a file beside its own module.
 */
async function built<T>(path: string): Promise<T> {
  const file = resolve(process.cwd(), 'dist', path);
  if (!existsSync(file)) throw new Error(`no ${join('dist', path)}: run "npm run build" first`);
  return (await import(pathToFileURL(file).href)) as T;
}

const MESSAGE_BYTES = 5 * 1024 * 1024;

export interface ToyFirstAudioReport {
  envelopeBytes: number;
  rounds: number;
  wholeMs: number[];
  streamedMs: number[];
  medianWholeMs: number;
  medianStreamedMs: number;
  /** Envelope bytes the streaming toy had downloaded when its player got the first audio (its header peek included). */
  streamedBytesRead: number;
  /** The most bytes the streaming toy's pipeline held at once, as the code counts them. */
  heldBytes: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A real server on 127.0.0.1 over an embedded store in `dataDir` (as `burrow serve` runs it), with room for a 5 MiB message. */
async function startServer(dataDir: string): Promise<{ url: string; close(): Promise<void> }> {
  const { createServer } = await built<typeof AppModule>('server/app.js');
  const { loadConfig } = await built<typeof ConfigModule>('server/config.js');
  const { loadOrCreateSecrets } = await built<typeof SecretsModule>('server/secrets.js');
  const { FsBlobStore } = await built<typeof FsBlobsModule>('storage/blobs/fs-blob-store.js');
  const { LocalEventBus } = await built<typeof BusModule>('storage/bus/local-event-bus.js');
  const { openSqliteStore } = await built<typeof SqliteModule>('storage/sqlite.js');
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir, host: '127.0.0.1', port: 0, logLevel: 'silent',
      limits: { maxMessageBytes: 8 * 1024 * 1024 },
      rateLimits: { globalPerIp: { max: 100_000, windowMs: 60_000 }, anonymousPerIp: { max: 100_000, windowMs: 60_000 }, perAccount: { max: 100_000, windowMs: 60_000 } },
    },
  });
  const { secrets } = await loadOrCreateSecrets({ dataDir });
  await mkdir(join(dataDir, 'blobs'), { recursive: true, mode: 0o700 });
  const store = await openSqliteStore(join(dataDir, 'burrow.db'));
  const blobs = new FsBlobStore({ dir: join(dataDir, 'blobs') });
  const bus = new LocalEventBus({ database: ':memory:', now: () => Date.now() });
  const app = createServer({ config, store, blobs, bus, secrets, log: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the server has no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    async close() {
      await app.close();
      await bus.close();
      await blobs.close();
      await store.close();
    },
  };
}

/** Runs `rounds` interleaved rounds of each way of playing; see the file comment. */
export async function measureToyFirstAudio(rounds = 5): Promise<ToyFirstAudioReport> {
  const work = await mkdtemp(join(tmpdir(), 'burrow-bench-toy-'));
  const server = await startServer(join(work, 'data'));
  try {
    const mumApi = new BurrowApi({ baseUrl: server.url });
    const registration = await registerAccount({ api: mumApi, email: `mum-${Date.now()}@example.org`, password: 'quiet mum harbour lantern bench', sessionLabel: 'bench' });
    const mum = { api: mumApi, me: { accountId: registration.session.accountId, identity: registration.identity }, store: new MemoryKeyStore() };
    const { familyId } = await createFamily(mum, { name: 'Bench Family' });
    const { childId } = await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' });
    const attempt = await startToyPairingAttempt({ baseUrl: server.url });
    const waiting = attempt.waitUntilPaired({ pollMs: 100 });
    waiting.catch(() => undefined);
    await addToy(mum, { familyId, code: attempt.code, childId, pollMs: 100 });
    const paired = await waiting;
    const trust = { anchorHash: paired.anchorHash, chain: paired.roster.entries.map(encodeRosterEntry), keys: {} };
    const device = { toyId: paired.toyId, familyId, identity: paired.identity };
    const audio = wavOfPcm16(randomBytes(MESSAGE_BYTES - 44), { sampleRate: 16_000 });
    const { messageId } = await sendMessage(mum, { familyId, to: childId, audio, audioType: 'audio/wav', durationMs: Math.round(((MESSAGE_BYTES - 44) / 32_000) * 1000) });

    const read = { bytes: 0 };
    const counting: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (!url.endsWith('/envelope') || response.body === null) return response;
      const body = response.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ transform(piece, controller) { read.bytes += piece.length; controller.enqueue(piece); } }));
      return new Response(body, { status: response.status, headers: response.headers });
    };
    const api = new BurrowApi({ baseUrl: server.url, token: paired.deviceToken, fetch: counting });
    const family = await loadToyFamily(api, device, trust);

    const whole = async (): Promise<number> => {
      const start = performance.now();
      const page = await listMessages({ api }, { familyId, limit: 100 });
      const view = page.messages.find((m) => m.messageId === messageId)!;
      const envelope = await downloadEnvelope({ api }, { familyId, messageId });
      const decision = await decideMessage(family, { envelope, view, now: Date.now() });
      if (decision.action !== 'play' || decision.message.audio.length === 0) throw new Error(`the toy did not play (${decision.action})`);
      return performance.now() - start;
    };
    let envelopeBytes = 0;
    let streamedBytesRead = 0;
    let heldBytes = 0;
    const streamed = async (round: number): Promise<number> => {
      const state = new ToyStateDir(join(work, `toy-${round}`));
      await state.saveTrust(trust);
      let first: number | undefined;
      const logs: ToyLogEntry[] = [];
      read.bytes = 0;
      const runtime = new ToyRuntime({
        api,
        device,
        storage: state,
        play: async (message) => {
          for await (const piece of message.audio) {
            if (first === undefined && piece.length > 0) {
              first = performance.now();
              streamedBytesRead = read.bytes;
            }
          }
        },
        log: (entry) => logs.push(entry),
      });
      // The family (roster chain, keys) is verified before the clock starts, as for the whole path.
      await runtime.start();
      const start = performance.now();
      const played = await runtime.sync();
      if (played !== 1 || first === undefined) throw new Error('the streaming toy did not play');
      const entry = logs.find((l) => l.event === 'played') as Extract<ToyLogEntry, { event: 'played' }>;
      heldBytes = Math.max(heldBytes, entry.heldBytes);
      envelopeBytes = (await state.loadEnvelope(messageId))?.length ?? 0;
      return first - start;
    };

    // One of each first, to warm up.
    await whole();
    await streamed(-1);
    const wholeMs: number[] = [];
    const streamedMs: number[] = [];
    for (let round = 0; round < rounds; round++) {
      wholeMs.push(await whole());
      streamedMs.push(await streamed(round));
    }
    return { envelopeBytes, rounds, wholeMs, streamedMs, medianWholeMs: median(wholeMs), medianStreamedMs: median(streamedMs), streamedBytesRead, heldBytes };
  } finally {
    await server.close();
    await rm(work, { recursive: true, force: true });
  }
}
