/**
 * Toys: the pairing relay (attempts, runs, the pairing token), device tokens, and the toys of a
 * family. The relay reads nothing it carries except the toy's public keys in its confirmation
 * (src/crypto/pairing.ts `toyKeysOfConfirmation`), which a roster entry must then add unchanged.
 * No HTTP here; errors come from the catalogue. See docs/protocol.md, "Toys".
 */
import { timingSafeEqual } from 'node:crypto';
import { fromBase64Url } from '../../crypto/bytes.js';
import { toyKeysOfConfirmation } from '../../crypto/pairing.js';
import { BurrowError } from '../../protocol/errors.js';
import { PAIRING_LIMITS, type GuardianRunView, type PairingStarted, type ToyPairingView, type ToySelf, type ToyView } from '../../protocol/toys.js';
import { isUniqueViolation } from '../../storage/errors.js';
import type { RateWindow } from '../config.js';
import { newId, type Clock, type Random } from '../deps.js';
import { toyMembership, type FamilyAccess, type FamilyMembership } from '../families/access.js';
import { canSeeChild, requireGuardian, requireMember } from '../families/authorize.js';
import { enforceLimit, type RateLimiter } from '../http/rate-limit.js';
import { hashSessionToken, newSessionToken } from '../sessions/tokens.js';
import { OPEN_RUN_STATES, type AttemptRow, type RunRow, type ToysRepository } from './repository.js';

const SLOTS = 10 ** PAIRING_LIMITS.slotDigits;
/** Attempts are deleted this long after they expired (their slot is free as soon as they expire). */
const PURGE_AFTER_MS = 60 * 60_000;
/** `lastSeenAt` moves at most this often. */
const TOUCH_INTERVAL_MS = 60_000;
/** How long a toy is told to wait when every slot is taken. */
const SLOTS_FULL_RETRY_S = 30;

export const PAIRING_TOKEN_PREFIX = 'pair.';
export const DEVICE_TOKEN_PREFIX = 'toy.';

/** Rate limits of the relay (besides the global per-address one). */
export interface PairingLimits {
  /** POST /v1/pairings per client address. */
  startsPerIp: RateWindow;
  /** Runs a guardian starts, per client address and per account. */
  runsPerIp: RateWindow;
  runsPerAccount: RateWindow;
  /** Requests on one attempt's routes (the toy polls once a second). */
  perAttempt: RateWindow;
}

/** A toy polls once a second; twice that is allowed on one attempt's routes. */
export const PER_ATTEMPT_LIMIT: RateWindow = { max: 120, windowMs: 60_000 };

/** The toy a device token belongs to, with its family and child (its `Principal` is `{ id: toyId, kind: 'toy' }`). */
export interface AuthenticatedToy {
  readonly toyId: string;
  readonly familyId: string;
  readonly childId: string;
  /** The toy's membership, read while authenticating this request. */
  readonly membership: FamilyMembership;
}

export interface ToysServiceDeps {
  repository: ToysRepository;
  access: FamilyAccess;
  clock: Clock;
  random: Random;
  limiter: RateLimiter;
  limits: PairingLimits;
  /** Ends the live connections of a toy whose device token was revoked (a reset). */
  deviceRevoked?(toyId: string): Promise<void>;
  warn?(message: string, error: unknown): void;
}

export type ToysService = ReturnType<typeof createToysService>;

/** base64url SHA-256 of a prefixed token's random part; undefined when it is not such a token. */
export function hashPrefixedToken(token: string, prefix: string): string | undefined {
  return token.startsWith(prefix) ? hashSessionToken(token.slice(prefix.length)) : undefined;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function noSuchRun(): BurrowError {
  return new BurrowError('burrow/not-found', 'No such pairing run');
}

function ended(detail = 'This pairing attempt has ended; ask the toy for a new code'): BurrowError {
  return new BurrowError('burrow/pairing-ended', detail);
}

/** A uniform index below `n` (n ≤ 2^16) from random bytes, by rejection sampling. */
function uniformBelow(random: Random, n: number): number {
  const limit = 65536 - (65536 % n);
  for (;;) {
    const b = random.bytes(2);
    const value = (b[0]! << 8) | b[1]!;
    if (value < limit) return value % n;
  }
}

export function createToysService(deps: ToysServiceDeps) {
  const { repository, access, clock, random, limiter } = deps;
  const { limits } = deps;

  function isOpen(run: RunRow, now: number): boolean {
    return (OPEN_RUN_STATES as readonly string[]).includes(run.state) && Number(run.expires_at) > now;
  }

  function runState(run: RunRow, now: number): GuardianRunView['state'] {
    if ((OPEN_RUN_STATES as readonly string[]).includes(run.state) && Number(run.expires_at) <= now) return 'expired';
    return run.state;
  }

  /** Whether the attempt can take no more runs and has none going: it is over. */
  function usedUp(attempt: AttemptRow, runs: readonly RunRow[], now: number): boolean {
    return Number(attempt.runs_started) >= PAIRING_LIMITS.maxRuns && !runs.some((r) => isOpen(r, now));
  }

  /** Frees the slots of expired attempts and deletes those expired an hour ago (also done when an attempt starts). */
  async function sweepExpired(): Promise<void> {
    const now = clock.now();
    await repository.releaseExpired(now, now - PURGE_AFTER_MS);
  }

  // ─── The toy's side ────────────────────────────────────────────────────────────────────────

  async function startAttempt(ip: string): Promise<PairingStarted> {
    await enforceLimit(limiter, `pairing-start:${ip}`, limits.startsPerIp);
    const now = clock.now();
    await repository.releaseExpired(now, now - PURGE_AFTER_MS);
    for (let tries = 0; tries < 5; tries++) {
      const held = new Set(await repository.heldSlots());
      const free: string[] = [];
      for (let i = 0; i < SLOTS; i++) {
        const slot = String(i).padStart(PAIRING_LIMITS.slotDigits, '0');
        if (!held.has(slot)) free.push(slot);
      }
      if (free.length === 0) break;
      const slot = free[uniformBelow(random, free.length)]!;
      const pairingId = newId(random);
      const pairingToken = PAIRING_TOKEN_PREFIX + newSessionToken(random);
      const expiresAt = now + PAIRING_LIMITS.attemptTtlMs;
      try {
        await repository.insertAttempt({
          id: pairingId,
          slot,
          held_slot: slot,
          token_hash: hashPrefixedToken(pairingToken, PAIRING_TOKEN_PREFIX)!,
          state: 'waiting',
          runs_started: 0,
          created_at: now,
          expires_at: expiresAt,
          family_id: null,
          guardian_confirm: null,
        });
      } catch (error) {
        // Another attempt took the slot meanwhile: choose again.
        if (isUniqueViolation(error)) continue;
        throw error;
      }
      return { pairingId, slot, pairingToken, expiresAt, maxRuns: PAIRING_LIMITS.maxRuns };
    }
    throw new BurrowError('burrow/unavailable', 'Every pairing slot is taken; try again shortly', { retryAfter: SLOTS_FULL_RETRY_S });
  }

  /** The attempt a pairing token opens, or 401. */
  async function attemptOf(pairingId: string, token: string | undefined): Promise<AttemptRow> {
    const hash = token === undefined ? undefined : hashPrefixedToken(token, PAIRING_TOKEN_PREFIX);
    if (hash === undefined) throw new BurrowError('burrow/unauthenticated', 'Send the pairing token as a bearer token');
    const attempt = await repository.attempt(pairingId);
    if (attempt === undefined || !sameText(attempt.token_hash, hash)) {
      throw new BurrowError('burrow/unauthenticated', 'The pairing token is unknown or no longer valid; start a new attempt');
    }
    await enforceLimit(limiter, `pairing-attempt:${pairingId}`, limits.perAttempt);
    return attempt;
  }

  async function toyView(pairingId: string, token: string | undefined): Promise<ToyPairingView> {
    const attempt = await attemptOf(pairingId, token);
    const now = clock.now();
    const base = { pairingId, expiresAt: Number(attempt.expires_at), runsLeft: Math.max(0, PAIRING_LIMITS.maxRuns - Number(attempt.runs_started)) };
    if (attempt.state === 'paired' && attempt.family_id !== null && attempt.guardian_confirm !== null) {
      // Each read hands out a fresh device token and voids the one before, until the toy uses one.
      const deviceToken = DEVICE_TOKEN_PREFIX + newSessionToken(random);
      const reissued = await repository.reissueToken(pairingId, hashPrefixedToken(deviceToken, DEVICE_TOKEN_PREFIX)!);
      if (!reissued) throw new BurrowError('burrow/unauthenticated', 'The pairing token is no longer valid: the toy was removed or already has its device token');
      return { ...base, state: 'paired', paired: { familyId: attempt.family_id, guardianConfirm: attempt.guardian_confirm, deviceToken } };
    }
    if (attempt.state !== 'waiting' || Number(attempt.expires_at) <= now) return { ...base, state: 'ended' };
    const runs = await repository.runsOf(pairingId);
    if (usedUp(attempt, runs, now)) {
      await repository.endAttempt(pairingId, false);
      return { ...base, state: 'ended' };
    }
    const waiting = runs.find((r) => r.state === 'waiting-for-toy' && isOpen(r, now));
    if (waiting === undefined) return { ...base, state: 'waiting' };
    return { ...base, state: 'run', run: { runId: waiting.id, sessionId: waiting.session_id, guardianShare: waiting.guardian_share } };
  }

  async function answerRun(pairingId: string, token: string | undefined, runId: string, body: { toyShare: string; toyConfirm: string }): Promise<void> {
    const attempt = await attemptOf(pairingId, token);
    const run = await repository.run(runId);
    if (run === undefined || run.pairing_id !== pairingId) throw noSuchRun();
    const now = clock.now();
    if (attempt.state !== 'waiting' || Number(attempt.expires_at) <= now) throw ended();
    if (toyKeysOfConfirmation(fromBase64Url(body.toyConfirm)) === undefined) {
      throw new BurrowError('burrow/bad-request', 'toyConfirm is not a toy confirmation', { errors: [{ path: 'body/toyConfirm', message: 'is not a toy confirmation' }] });
    }
    if (!(await repository.answerRun(runId, body.toyShare, body.toyConfirm, now))) {
      throw new BurrowError('burrow/conflict', Number(run.expires_at) <= now ? 'This run expired' : 'This run was answered already or is over');
    }
  }

  async function cancel(pairingId: string, token: string | undefined): Promise<void> {
    const attempt = await attemptOf(pairingId, token);
    if (attempt.state !== 'waiting') return;
    await repository.transaction(async (trx) => {
      await trx.endAttempt(pairingId, true);
      for (const run of await trx.runsOf(pairingId)) if ((OPEN_RUN_STATES as readonly string[]).includes(run.state)) await trx.failRun(run.id);
    });
  }

  // ─── The guardian's side ───────────────────────────────────────────────────────────────────

  async function startRun(
    accountId: string,
    ip: string,
    familyId: string,
    body: { slot: string; childId: string; sessionId: string; guardianShare: string },
  ): Promise<{ runId: string; pairingId: string; expiresAt: number }> {
    await requireGuardian(access, familyId, accountId);
    await enforceLimit(limiter, `pairing-run-ip:${ip}`, limits.runsPerIp);
    await enforceLimit(limiter, `pairing-run-account:${accountId}`, limits.runsPerAccount);
    if (!(await repository.childExists(familyId, body.childId))) throw new BurrowError('burrow/not-found', 'No such child in this family');
    const now = clock.now();
    const runId = newId(random);
    const expiresAt = now + PAIRING_LIMITS.runTtlMs;
    const pairingId = await repository.transaction(async (trx) => {
      const attempt = await trx.attemptBySlot(body.slot);
      if (attempt === undefined) throw new BurrowError('burrow/not-found', 'No toy is pairing with a code that starts with these digits');
      await trx.lockAttempt(attempt.id);
      const current = await trx.attempt(attempt.id);
      if (current === undefined || current.held_slot !== body.slot) throw new BurrowError('burrow/not-found', 'No toy is pairing with a code that starts with these digits');
      if (current.state !== 'waiting' || Number(current.expires_at) <= now) throw ended();
      const runs = await trx.runsOf(current.id);
      const seen = Number(current.runs_started);
      if (seen >= PAIRING_LIMITS.maxRuns) throw ended('This pairing code was tried too many times; ask the toy for a new one');
      if (runs.some((r) => isOpen(r, now))) throw new BurrowError('burrow/conflict', 'Someone is trying this code right now; try again in a moment');
      if (!(await trx.countRun(current.id, seen, now))) throw new BurrowError('burrow/conflict', 'The pairing attempt changed meanwhile; try again');
      await trx.insertRun({
        id: runId,
        pairing_id: current.id,
        seq: seen + 1,
        family_id: familyId,
        account_id: accountId,
        child_id: body.childId,
        session_id: body.sessionId,
        guardian_share: body.guardianShare,
        toy_share: null,
        toy_confirm: null,
        guardian_confirm: null,
        state: 'waiting-for-toy',
        created_at: now,
        expires_at: expiresAt,
      });
      return current.id;
    });
    return { runId, pairingId, expiresAt };
  }

  /** The run, when `accountId` started it in `familyId`; 404 otherwise. */
  async function ownRun(accountId: string, familyId: string, runId: string): Promise<RunRow> {
    await requireGuardian(access, familyId, accountId);
    const run = await repository.run(runId);
    if (run === undefined || run.family_id !== familyId || run.account_id !== accountId) throw noSuchRun();
    return run;
  }

  async function runView(accountId: string, familyId: string, runId: string): Promise<GuardianRunView> {
    const run = await ownRun(accountId, familyId, runId);
    return {
      runId: run.id,
      pairingId: run.pairing_id,
      childId: run.child_id,
      state: runState(run, clock.now()),
      expiresAt: Number(run.expires_at),
      ...(run.toy_share === null ? {} : { toyShare: run.toy_share }),
      ...(run.toy_confirm === null ? {} : { toyConfirm: run.toy_confirm }),
    };
  }

  async function confirmRun(accountId: string, familyId: string, runId: string, guardianConfirm: string): Promise<void> {
    const run = await ownRun(accountId, familyId, runId);
    const now = clock.now();
    if (!(await repository.confirmRun(run.id, guardianConfirm, now))) {
      throw new BurrowError('burrow/conflict', run.state === 'toy-answered' ? 'This run expired' : 'This run is not waiting for a confirmation');
    }
  }

  async function failRun(accountId: string, familyId: string, runId: string): Promise<void> {
    const run = await ownRun(accountId, familyId, runId);
    await repository.failRun(run.id);
    // The last run failed: the attempt ends now (it keeps its slot until it expires, so a fourth guess hears 410).
    const attempt = await repository.attempt(run.pairing_id);
    if (attempt !== undefined && usedUp(attempt, await repository.runsOf(attempt.id), clock.now())) await repository.endAttempt(attempt.id, false);
  }

  // ─── Toys in a family ──────────────────────────────────────────────────────────────────────

  async function list(accountId: string, familyId: string): Promise<{ toys: ToyView[] }> {
    const membership = await requireMember(access, familyId, accountId);
    const rows = await repository.devicesOf(familyId);
    return {
      toys: rows.filter((r) => canSeeChild(membership, r.child_id)).map((r) => ({
        toyId: r.toy_id,
        childId: r.child_id,
        ...(r.sealed_profile === null ? {} : { sealedProfile: r.sealed_profile }),
        pairedAt: Number(r.paired_at),
        ...(r.last_seen_at === null ? {} : { lastSeenAt: Number(r.last_seen_at) }),
        ...(r.removed_at === null ? {} : { removedAt: Number(r.removed_at) }),
      })),
    };
  }

  async function setProfile(accountId: string, familyId: string, toyId: string, sealedProfile: string): Promise<void> {
    await requireGuardian(access, familyId, accountId);
    if (!(await repository.setProfile(familyId, toyId, sealedProfile))) throw new BurrowError('burrow/not-found', 'No such toy in this family');
  }

  // ─── The toy principal ─────────────────────────────────────────────────────────────────────

  /** The toy a device token belongs to, or undefined (unknown, revoked, or the toy left its family). */
  async function authenticateDevice(token: string): Promise<AuthenticatedToy | undefined> {
    const hash = hashPrefixedToken(token, DEVICE_TOKEN_PREFIX);
    if (hash === undefined) return undefined;
    // The device and its toy's membership in one statement: a toy not in its family any more has no row.
    const device = await repository.deviceInFamilyByToken(hash);
    if (device === undefined) return undefined;
    const membership = toyMembership({ familyId: device.family_id, toyId: device.toy_id, childId: device.family_child_id, epoch: Number(device.epoch), retentionDays: Number(device.retention_days) });
    const now = clock.now();
    // The first use ends reissuing: the pairing attempt (and its token) goes.
    if (Number(device.token_used) === 0 && (await repository.markTokenUsed(hash))) await repository.deleteAttempt(device.toy_id);
    const last = device.last_seen_at === null ? undefined : Number(device.last_seen_at);
    if (last === undefined || now - last >= TOUCH_INTERVAL_MS) await repository.touch(device.toy_id, now);
    return { toyId: device.toy_id, familyId: device.family_id, childId: device.child_id, membership };
  }

  /** Whether the device token still authenticates this toy (for live connections). */
  async function stillValid(token: string, toyId: string): Promise<boolean> {
    const hash = hashPrefixedToken(token, DEVICE_TOKEN_PREFIX);
    if (hash === undefined) return false;
    const device = await repository.deviceByToken(hash);
    if (device === undefined || device.toy_id !== toyId) return false;
    return (await access.membership(device.family_id, toyId))?.kind === 'toy';
  }

  async function self(toy: AuthenticatedToy): Promise<ToySelf> {
    const membership = await access.membership(toy.familyId, toy.toyId);
    if (membership === undefined) throw new BurrowError('burrow/unauthenticated', 'This toy is no longer in a family');
    return { toyId: toy.toyId, familyId: toy.familyId, childId: toy.childId, epoch: membership.epoch };
  }

  async function reset(toy: AuthenticatedToy): Promise<void> {
    await repository.revokeToken(toy.toyId);
    try {
      await deps.deviceRevoked?.(toy.toyId);
    } catch (error) {
      deps.warn?.('a toy reset was not announced to its live connections', error);
    }
  }

  return { sweepExpired, startAttempt, toyView, answerRun, cancel, startRun, runView, confirmRun, failRun, list, setProfile, authenticateDevice, stillValid, self, reset };
}
