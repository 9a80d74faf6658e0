/**
 * A toy runtime over a paired toy. Pairing itself is test/support/toys.ts's `pairToy` (re-exported
 * here for the older import path).
 */
import { BurrowApi } from '../../src/client/api.js';
import { MemoryToyStorage, ToyRuntime, type ToyLogEntry, type ToyStorage } from '../../src/client/toy-runtime.js';
import type { PairedToy } from '../../src/client/toys.js';
import { concatBytes } from '../../src/crypto/bytes.js';
import { encodeRosterEntry } from '../../src/crypto/roster.js';

export { pairToy } from '../support/toys.js';

/**
 * A fetch that counts the envelope bytes a toy reads (`counter.read`) as they arrive, can rewrite
 * an envelope's body as a hostile server would, and fails like a lost network while `offline()`.
 */
export function envelopeCountingFetch(counter: { read: number }, options: { rewrite?: (body: Uint8Array) => Uint8Array; offline?: () => boolean } = {}): typeof fetch {
  const { rewrite, offline } = options;
  return async (input, init) => {
    if (offline?.() === true) throw new TypeError('fetch failed');
    const response = await fetch(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.endsWith('/envelope') || response.body === null) return response;
    const source = rewrite === undefined ? response.body : new Response(new Uint8Array(rewrite(new Uint8Array(await response.arrayBuffer())))).body!;
    const body = source.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ transform(piece, controller) { counter.read += piece.length; controller.enqueue(piece); } }));
    return new Response(body, { status: response.status, headers: rewrite === undefined ? response.headers : { 'content-type': 'application/octet-stream' } });
  };
}

export interface TestToy {
  paired: PairedToy;
  runtime: ToyRuntime;
  storage: ToyStorage;
  played: Array<{ messageId: string; volume: number; audio: Uint8Array }>;
  logs: ToyLogEntry[];
}

/**
 * A toy runtime for a paired toy, recording what it plays and logs; `fetch` may be a hostile one,
 * `storage` the reference toy's state directory (default: memory), `now` the toy's own clock.
 */
export async function toyRuntime(paired: PairedToy, fetchImpl?: typeof fetch, options: { storage?: ToyStorage; now?: () => number } = {}): Promise<TestToy> {
  const storage = options.storage ?? new MemoryToyStorage();
  // As the reference and virtual toys do: the chain verified at pairing is stored at once.
  if ((await storage.loadTrust()) === undefined) await storage.saveTrust({ anchorHash: paired.anchorHash, chain: paired.roster.entries.map(encodeRosterEntry), keys: {} });
  const played: TestToy['played'] = [];
  const logs: ToyLogEntry[] = [];
  const api = new BurrowApi({ baseUrl: paired.baseUrl, token: paired.deviceToken, ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }) });
  const runtime = new ToyRuntime({
    api,
    device: { toyId: paired.toyId, familyId: paired.familyId, identity: paired.identity },
    storage,
    play: async (message, info) => {
      const pieces: Uint8Array[] = [];
      for await (const piece of message.audio) pieces.push(piece.slice());
      played.push({ messageId: info.messageId, volume: info.volume, audio: concatBytes(...pieces) });
    },
    log: (entry) => logs.push(entry),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  return { paired, runtime, storage, played, logs };
}
