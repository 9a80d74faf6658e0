/**
 * Rate limits and the per-account login slow-down. The state sits behind two small interfaces;
 * these in-memory versions serve one process; src/server/http/sql-rate-limit.ts shares them between nodes.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BurrowError } from '../../protocol/errors.js';
import type { RateWindow } from '../config.js';
import type { Clock } from '../deps.js';

/** Counts hits per key in fixed windows. */
export interface RateLimiter {
  /** Counts one hit; answers how long to wait (ms) when the key is over its limit, else 0. */
  hit(key: string, window: RateWindow): number | Promise<number>;
}

/** Remembers failed logins per account and says how long the next attempt must wait. */
export interface LoginThrottle {
  /** Milliseconds until an attempt for `accountKey` is allowed; 0 when it may go now. */
  waitFor(accountKey: string): number | Promise<number>;
  /** An attempt started; it counts as a failure until `succeeded` is called. */
  attempted(accountKey: string): void | Promise<void>;
  /** The account's failures are forgotten. */
  succeeded(accountKey: string): void | Promise<void>;
}

/**
 * Failures per key (a client address) in fixed windows. Every attempt `take`s one when it starts
 * and is `forgive`n when it succeeds or ends before any check, so only failures (and attempts
 * abandoned half-way) use up the budget; taking and checking are one step, so concurrent
 * attempts cannot all slip under the limit.
 */
export interface FailureBudget {
  /** Counts one attempt; answers how long to wait (ms) when the key is over `window.max`, else 0. */
  take(key: string, window: RateWindow): number | Promise<number>;
  /** Takes back one counted attempt (never below zero; a window that ended is left alone). */
  forgive(key: string): void | Promise<void>;
}

const PRUNE_AT = 10_000;

type Windows = Map<string, { count: number; resetAt: number }>;

/** Counts one hit on `key` in its fixed window; answers the wait in ms when over `window.max`, else 0. Ended windows are pruned when the map grows. */
function countHit(windows: Windows, now: number, key: string, window: RateWindow): number {
  if (windows.size >= PRUNE_AT) {
    for (const [k, w] of windows) if (w.resetAt <= now) windows.delete(k);
  }
  let entry = windows.get(key);
  if (entry === undefined || entry.resetAt <= now) {
    entry = { count: 0, resetAt: now + window.windowMs };
    windows.set(key, entry);
  }
  entry.count += 1;
  return entry.count > window.max ? entry.resetAt - now : 0;
}

/** A fixed-window counter in memory. */
export function createMemoryRateLimiter(clock: Clock): RateLimiter {
  const windows: Windows = new Map();
  return {
    hit: (key, window) => countHit(windows, clock.now(), key, window),
  };
}

/** A `FailureBudget` in memory: the same fixed-window counter, which it can also take back. */
export function createMemoryFailureBudget(clock: Clock): FailureBudget {
  const windows: Windows = new Map();
  return {
    take: (key, window) => countHit(windows, clock.now(), key, window),
    forgive(key) {
      const entry = windows.get(key);
      if (entry !== undefined && entry.resetAt > clock.now() && entry.count > 0) entry.count -= 1;
    },
  };
}

/**
 * Exponential slow-down: after `freeFailures` failures, attempt n waits
 * `baseDelayMs · 2^(failures − freeFailures)` (at most `maxDelayMs`) after the previous one.
 */
export function createMemoryLoginThrottle(clock: Clock, options: { freeFailures: number; baseDelayMs: number; maxDelayMs: number }): LoginThrottle {
  const failures = new Map<string, { count: number; lastAt: number }>();
  const delayFor = (count: number): number =>
    count < options.freeFailures ? 0 : Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.min(30, count - options.freeFailures));
  return {
    waitFor(accountKey) {
      const entry = failures.get(accountKey);
      if (entry === undefined) return 0;
      return Math.max(0, entry.lastAt + delayFor(entry.count) - clock.now());
    },
    attempted(accountKey) {
      const now = clock.now();
      if (failures.size >= PRUNE_AT) {
        for (const [k, e] of failures) if (e.lastAt + 2 * options.maxDelayMs <= now) failures.delete(k);
      }
      const entry = failures.get(accountKey);
      failures.set(accountKey, { count: (entry?.count ?? 0) + 1, lastAt: now });
    },
    succeeded(accountKey) {
      failures.delete(accountKey);
    },
  };
}

/** The 429 problem for a wait of `waitMs`, with `retryAfter` in whole seconds (at least 1). */
export function rateLimited(waitMs: number, detail = 'Too many requests; wait before trying again'): BurrowError {
  return new BurrowError('burrow/rate-limited', detail, { retryAfter: Math.max(1, Math.ceil(waitMs / 1000)) });
}

/** Throws `burrow/rate-limited` if `key` is over `window`. */
export async function enforceLimit(limiter: RateLimiter, key: string, window: RateWindow): Promise<void> {
  const wait = await limiter.hit(key, window);
  if (wait > 0) throw rateLimited(wait);
}

/**
 * Per-address limits in an `onRequest` hook: a global one on every route but the health checks,
 * and a tighter one on routes marked `config: { anonymous: true }` (register, login, recover).
 */
export function installAddressRateLimits(app: FastifyInstance, options: { limiter: RateLimiter; globalPerIp: RateWindow; anonymousPerIp: RateWindow }): void {
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const path = request.url.split('?')[0];
    if (path === '/healthz' || path === '/readyz') return;
    await enforceLimit(options.limiter, `ip:${request.ip}`, options.globalPerIp);
    if (request.routeOptions.config.anonymous === true) {
      await enforceLimit(options.limiter, `ip-anon:${request.ip}`, options.anonymousPerIp);
    }
  });
}
