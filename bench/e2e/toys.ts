/**
 * Provisioning real toys fast: families made by a few reused guardians, toys paired through the
 * server's pairing relay with the real protocol on both sides — the toy side is the client
 * library's `startToyPairingAttempt` / `waitUntilPaired` (CPace, roster verified from the
 * genesis hash), the guardian side is `addToy`'s steps (src/client/toys.ts) with one difference:
 * up to four confirmed runs are completed by one roster entry (`completesPairings` takes four),
 * and many families pair at once. Nothing is cached: device tokens live in memory for one run.
 */
import { startToyPairingAttempt, type PairedToy } from '../../src/client/toys.js';
import { addChild } from '../../src/client/children.js';
import { changeRoster, createFamily, type ClientContext, type OpenedFamily } from '../../src/client/families.js';
import { BurrowApi } from '../../src/client/api.js';
import { MemoryKeyStore } from '../../src/client/key-store.js';
import { fromBase64Url, randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { startGuardianPairing } from '../../src/crypto/pairing.js';
import { hashRosterEntry } from '../../src/crypto/roster.js';
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

/** Registers `count` guardians (bench key stretching, see accounts.ts) as client-library contexts. */
export async function benchGuardians(client: HttpClient, baseUrl: string, count: number): Promise<ClientContext[]> {
  const out: ClientContext[] = [];
  for (let i = 0; i < count; i++) {
    const account = await registerBenchAccount(client, `guardian${i}`);
    out.push({ api: new BurrowApi({ baseUrl, token: account.token }), me: { accountId: account.accountId, identity: account.identity }, store: new MemoryKeyStore() });
  }
  return out;
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
  const pairing = startGuardianPairing({ code, sessionId, rosterAnchor: anchor });
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
  const genesis = f.family.roster.entries[0];
  if (genesis === undefined) throw new Error('the family has no genesis entry');
  const anchor = await hashRosterEntry(genesis);
  const toys: BenchToy[] = [];
  for (let done = 0; done < count; done += RUNS_PER_ENTRY) {
    const batch = Math.min(RUNS_PER_ENTRY, count - done);
    const attempts = await Promise.all(Array.from({ length: batch }, () => startToyPairingAttempt({ baseUrl: options.baseUrl })));
    const waiting = attempts.map((attempt) => attempt.waitUntilPaired({ pollMs: options.pollMs }));
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
 * `count` toys spread over families of at most `perFamily` toys, `parallel` families pairing at
 * once, the families shared round-robin among `guardians`.
 */
export async function provisionToys(options: {
  guardians: ClientContext[];
  baseUrl: string;
  count: number;
  perFamily?: number;
  parallel?: number;
  pollMs?: number;
  onProgress?: (done: number) => void;
}): Promise<{ toys: BenchToy[]; families: BenchFamily[] }> {
  const perFamily = Math.min(options.perFamily ?? TOYS_PER_FAMILY, TOYS_PER_FAMILY);
  const familiesNeeded = Math.ceil(options.count / perFamily);
  const toys: BenchToy[] = [];
  const families: BenchFamily[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.parallel ?? 8, familiesNeeded)) }, async () => {
    for (let i = next++; i < familiesNeeded; i = next++) {
      const f = await benchFamily(options.guardians[i % options.guardians.length]!, String(i));
      families.push(f);
      const want = Math.min(perFamily, options.count - i * perFamily);
      toys.push(...(await pairToys(f, want, { baseUrl: options.baseUrl, pollMs: options.pollMs ?? 20 })));
      options.onProgress?.(toys.length);
    }
  }));
  return { toys, families };
}
