/**
 * Pairing a toy through the client library against a real server, and a toy runtime over it.
 */
import { BurrowApi } from '../../src/client/api.js';
import type { ClientContext } from '../../src/client/families.js';
import { MemoryToyStorage, ToyRuntime, type ToyLogEntry, type ToyStorage } from '../../src/client/toy-runtime.js';
import { addToy, startToyPairingAttempt, type PairedToy } from '../../src/client/toys.js';
import type { OpenedMessage } from '../../src/crypto/envelope.js';
import { encodeRosterEntry } from '../../src/crypto/roster.js';

/** Pairs a new toy with `childId`: the toy starts an attempt, the guardian enters its code. */
export async function pairToy(url: string, guardian: ClientContext, familyId: string, childId: string, name?: string): Promise<PairedToy> {
  const attempt = await startToyPairingAttempt({ baseUrl: url });
  const paired = attempt.waitUntilPaired({ pollMs: 100 });
  paired.catch(() => undefined);
  await addToy(guardian, { familyId, code: attempt.code, childId, pollMs: 100, ...(name === undefined ? {} : { name }) });
  return paired;
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
    play: (message: OpenedMessage, info) => {
      played.push({ messageId: info.messageId, volume: info.volume, audio: message.audio.slice() });
      return Promise.resolve();
    },
    log: (entry) => logs.push(entry),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  return { paired, runtime, storage, played, logs };
}
