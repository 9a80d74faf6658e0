/**
 * Provisioning real toys fast: families made by a few reused guardians, toys paired through the
 * server's pairing relay with the real protocol on both sides — the toy side is the client
 * library's `startToyPairingAttempt` / `waitUntilPaired` (CPace, roster verified from the
 * genesis hash), the guardian side is `addToy`'s steps (src/client/toys.ts) with one difference:
 * up to four confirmed runs are completed by one roster entry (`completesPairings` takes four),
 * and many families pair at once. The relay's rate limits stay as they are (see
 * benchClientAddress). Nothing is cached: device tokens live in memory for one run.
 */
import { startToyPairingAttempt, type PairedToy } from '../../src/client/toys.js';
import { addChild } from '../../src/client/children.js';
import { changeRoster, createFamily, type ClientContext, type OpenedFamily } from '../../src/client/families.js';
import { BurrowApi } from '../../src/client/api.js';
import { MemoryKeyStore } from '../../src/client/key-store.js';
import { fromBase64Url, randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { startGuardianPairing } from '../../src/crypto/pairing.js';
import type { PublicIdentityKeys } from '../../src/crypto/identity.js';
import { GuardianRunView, PAIRING_LIMITS, RunStarted } from '../../src/protocol/toys.js';
import type { HttpClient } from '../harness/http-client.js';
import { sleep } from '../harness/stats.js';
import { registerBenchAccount } from './accounts.js';

/** A roster holds at most this many toys (src/crypto/roster.ts), so many toys need many families. */
export const TOYS_PER_FAMILY = 64;
/** `completesPairings` takes at most this many runs (src/protocol/families.ts). */
const RUNS_PER_ENTRY = 4;

export interface BenchFamily {
  ctx: ClientContext;
  familyId: string;
  childId: string;
  family: OpenedFamily;
}

export interface BenchToy {
  toyId: string;
  familyId: string;
  deviceToken: string;
  paired: PairedToy;
}

/**
 * Toys and guardians live in different homes: each pairing toy and each guardian here presents its
 * own client address in `X-Forwarded-For` (the server runs with BURROW_TRUST_PROXY, as behind a
 * reverse proxy), so the relay's per-address limits apply to each as they would in the field.
 * The addresses come from 198.18.0.0/15, the range set aside for benchmarks (RFC 2544); they are
 * only header values — every connection goes to 127.0.0.1.
 */
let nextAddress = 0;
export function benchClientAddress(): string {
  const n = nextAddress++;
  return `198.${18 + ((n >> 16) & 1)}.${(n >> 8) & 255}.${n & 255}`;
}

/** `fetch` that presents `address` as the client's (see benchClientAddress). */
export function fetchFrom(address: string): typeof globalThis.fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('x-forwarded-for', address);
    return globalThis.fetch(input, { ...init, headers });
  };
}

/** Registers `count` guardians (bench key stretching, see accounts.ts), each from its own address, as client-library contexts. */
export async function benchGuardians(client: HttpClient, baseUrl: string, count: number): Promise<ClientContext[]> {
  return Promise.all(Array.from({ length: count }, async (_, i) => {
    const account = await registerBenchAccount(client, `guardian${i}`);
    return { api: new BurrowApi({ baseUrl, token: account.token, fetch: fetchFrom(benchClientAddress()) }), me: { accountId: account.accountId, identity: account.identity }, store: new MemoryKeyStore() };
  }));
}

/** A new family with one child, made by `ctx`. */
export async function benchFamily(ctx: ClientContext, label: string): Promise<BenchFamily> {
  const created = await createFamily(ctx, { name: `Bench ${label}` });
  const { childId } = await addChild(ctx, { familyId: created.familyId, name: 'Kid', emoji: '🦊' });
  return { ctx, familyId: created.familyId, childId, family: created };
}

/** The guardian's half of one pairing run (addToy's steps up to the confirmation). */
async function guardianRun(f: BenchFamily, anchor: Uint8Array, code: string, pollMs: number): Promise<{ runId: string; toyId: string; keys: PublicIdentityKeys }> {
  const sessionId = randomBytes(16);
  const pairing = startGuardianPairing({ code, sessionId, headHash: anchor });
  const base = `/v1/families/${f.familyId}/pairings`;
  const run = await f.ctx.api.call('POST', base, RunStarted, { slot: code.slice(0, PAIRING_LIMITS.slotDigits), childId: f.childId, sessionId: toBase64Url(sessionId), guardianShare: toBase64Url(pairing.share) });
  for (;;) {
    const view = await f.ctx.api.call('GET', `${base}/${run.runId}`, GuardianRunView);
    if (view.state === 'toy-answered' && view.toyShare !== undefined && view.toyConfirm !== undefined) {
      const shared = await pairing.receiveToyShare(fromBase64Url(view.toyShare));
      if (!shared.ok) throw new Error(`toy share refused: ${shared.code}`);
      const confirmed = await pairing.receiveToyConfirmation(fromBase64Url(view.toyConfirm));
      if (!confirmed.ok) throw new Error(`toy confirmation refused: ${confirmed.code}`);
      await f.ctx.api.call('POST', `${base}/${run.runId}/confirm`, undefined, { guardianConfirm: toBase64Url(shared.value.message) });
      return { runId: run.runId, toyId: run.pairingId, keys: confirmed.value.toyKeys };
    }
    if (view.state !== 'waiting-for-toy') throw new Error(`pairing run ended in state ${view.state}`);
    await sleep(pollMs);
  }
}

/** Pairs `count` toys into `f` (count ≤ 64 minus the toys it has), four per roster entry. */
export async function pairToys(f: BenchFamily, count: number, options: { baseUrl: string; pollMs: number }): Promise<BenchToy[]> {
  // The toys anchor at the head the guardian verified (later entries extend it).
  const anchor = f.family.roster.headHash;
  const toys: BenchToy[] = [];
  for (let done = 0; done < count; done += RUNS_PER_ENTRY) {
    const batch = Math.min(RUNS_PER_ENTRY, count - done);
    const attempts = await Promise.all(Array.from({ length: batch }, () => startToyPairingAttempt({ baseUrl: options.baseUrl, fetch: fetchFrom(benchClientAddress()) })));
    // The relay allows 120 requests a minute on one attempt: the toy polls at most 10 times a second.
    const waiting = attempts.map((attempt) => attempt.waitUntilPaired({ pollMs: Math.max(100, options.pollMs) }));
    // Keep a rejected wait from going unhandled while the guardian side runs.
    for (const w of waiting) w.catch(() => undefined);
    const runs = await Promise.all(attempts.map((attempt) => guardianRun(f, anchor, attempt.code, options.pollMs)));
    f.family = await changeRoster(f.ctx, f.familyId, (current) => ({
      members: current.roster.members.map((m) => ({ ...m, children: [...(m.children ?? [])] })),
      toys: [...current.roster.toys, ...runs.map((r) => ({ toyId: r.toyId, keys: r.keys, childId: f.childId }))],
      settings: current.roster.settings,
      completesPairings: runs.map((r) => r.runId),
    }));
    for (const paired of await Promise.all(waiting)) toys.push({ toyId: paired.toyId, familyId: paired.familyId, deviceToken: paired.deviceToken, paired });
  }
  return toys;
}

/**
 * `count` toys spread over families of at most `perFamily` toys (default 8: the relay lets one
 * guardian start 10 runs a minute), each family with a guardian of its own, `parallel` families
 * pairing at once.
 */
export async function provisionToys(options: {
  client: HttpClient;
  baseUrl: string;
  count: number;
  perFamily?: number;
  parallel?: number;
  pollMs?: number;
  onProgress?: (done: number) => void;
}): Promise<{ toys: BenchToy[]; families: BenchFamily[] }> {
  const parallel = Math.max(1, options.parallel ?? 8);
  const perFamily = Math.max(1, Math.min(options.perFamily ?? 8, TOYS_PER_FAMILY));
  const familiesNeeded = Math.ceil(options.count / perFamily);
  const toys: BenchToy[] = [];
  const families: BenchFamily[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(parallel, familiesNeeded) }, async () => {
    for (let i = next++; i < familiesNeeded; i = next++) {
      const [guardian] = await benchGuardians(options.client, options.baseUrl, 1);
      const f = await benchFamily(guardian!, String(i));
      families.push(f);
      const want = Math.min(perFamily, options.count - i * perFamily);
      toys.push(...(await pairToys(f, want, { baseUrl: options.baseUrl, pollMs: options.pollMs ?? 20 })));
      options.onProgress?.(toys.length);
    }
  }));
  return { toys, families };
}
