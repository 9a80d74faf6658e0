/**
 * Rate limits and the per-account login slow-down. The state sits behind two small interfaces;
 * these in-memory versions serve one process; src/server/http/sql-rate-limit.ts shares them between nodes.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { clientKeyOf } from './addresses.js';
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
  /**
   * An attempt finished and failed (a wrong password, an unknown email, a wrong recovery proof).
   * Only finished attempts count: starting a login costs a stranger nothing, so counting starts
   * would let anyone lock an account's owner out.
   */
  failed(accountKey: string): void | Promise<void>;
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

/**
 * The most keys an in-memory limiter holds (each a key string and two numbers, about 150 bytes:
 * some 15 MB at the bound). When full, ended windows are dropped first, then the oldest windows,
 * down to 90% of the bound, so that a flood of new keys costs one sweep per 10% of the bound.
 * An evicted key starts a fresh window: the bound trades exactness for memory under a flood of
 * distinct clients (each IPv6 client is one /64, so a flood needs that many real networks).
 */
export const MAX_LIMIT_KEYS = 100_000;

/** Options of the in-memory limiters. */
export interface MemoryLimitOptions {
  /** At most this many keys are held (default `MAX_LIMIT_KEYS`). */
  maxKeys?: number;
}

type Windows = Map<string, { count: number; resetAt: number }>;

/** Makes room for one more key: ended entries go, then the oldest, down to 90% of `maxKeys`. */
function makeRoom<V>(entries: Map<string, V>, maxKeys: number, ended: (value: V) => boolean): void {
  if (entries.size < maxKeys) return;
  for (const [k, v] of entries) if (ended(v)) entries.delete(k);
  const target = Math.floor(maxKeys * 0.9);
  // Maps iterate in insertion order, and a key is re-inserted whenever its window restarts.
  for (const k of entries.keys()) {
    if (entries.size <= target) break;
    entries.delete(k);
  }
}

/** Counts one hit on `key` in its fixed window; answers the wait in ms when over `window.max`, else 0. */
function countHit(windows: Windows, now: number, key: string, window: RateWindow, maxKeys: number): number {
  let entry = windows.get(key);
  if (entry !== undefined && entry.resetAt <= now) {
    windows.delete(key);
    entry = undefined;
  }
  if (entry === undefined) {
    makeRoom(windows, maxKeys, (w) => w.resetAt <= now);
    entry = { count: 0, resetAt: now + window.windowMs };
    windows.set(key, entry);
  }
  entry.count += 1;
  return entry.count > window.max ? entry.resetAt - now : 0;
}

/** A fixed-window counter in memory, holding at most `maxKeys` keys. */
export function createMemoryRateLimiter(clock: Clock, options: MemoryLimitOptions = {}): RateLimiter & { size(): number } {
  const windows: Windows = new Map();
  const maxKeys = options.maxKeys ?? MAX_LIMIT_KEYS;
  return {
    hit: (key, window) => countHit(windows, clock.now(), key, window, maxKeys),
    size: () => windows.size,
  };
}

/** A `FailureBudget` in memory: the same fixed-window counter, which it can also take back. */
export function createMemoryFailureBudget(clock: Clock, options: MemoryLimitOptions = {}): FailureBudget & { size(): number } {
  const windows: Windows = new Map();
  const maxKeys = options.maxKeys ?? MAX_LIMIT_KEYS;
  return {
    take: (key, window) => countHit(windows, clock.now(), key, window, maxKeys),
    forgive(key) {
      const entry = windows.get(key);
      if (entry !== undefined && entry.resetAt > clock.now() && entry.count > 0) entry.count -= 1;
    },
    size: () => windows.size,
  };
}

/**
 * Exponential slow-down: after `freeFailures` failures, attempt n waits
 * `baseDelayMs · 2^(failures − freeFailures)` (at most `maxDelayMs`) after the previous one.
 */
export function createMemoryLoginThrottle(clock: Clock, options: { freeFailures: number; baseDelayMs: number; maxDelayMs: number } & MemoryLimitOptions): LoginThrottle & { size(): number } {
  const failures = new Map<string, { count: number; lastAt: number }>();
  const maxKeys = options.maxKeys ?? MAX_LIMIT_KEYS;
  const delayFor = (count: number): number =>
    count < options.freeFailures ? 0 : Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.min(30, count - options.freeFailures));
  return {
    waitFor(accountKey) {
      const entry = failures.get(accountKey);
      if (entry === undefined) return 0;
      return Math.max(0, entry.lastAt + delayFor(entry.count) - clock.now());
    },
    failed(accountKey) {
      const now = clock.now();
      const entry = failures.get(accountKey);
      // Re-inserted on every failure, so the oldest in the map is the one that failed longest ago.
      failures.delete(accountKey);
      makeRoom(failures, maxKeys, (e) => e.lastAt + 2 * options.maxDelayMs <= now);
      failures.set(accountKey, { count: (entry?.count ?? 0) + 1, lastAt: now });
    },
    succeeded(accountKey) {
      failures.delete(accountKey);
    },
    size: () => failures.size,
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

/** The budget every request of one client address takes from (`clientKeyOf`), over HTTP or the live channel. */
export function enforceAddressLimit(limiter: RateLimiter, client: string, perIp: RateWindow): Promise<void> {
  return enforceLimit(limiter, `ip:${client}`, perIp);
}

/**
 * Per-address limits in an `onRequest` hook: a global one on every route but the health checks,
 * and a tighter one on routes marked `config: { anonymous: true }` (register, login, recover).
 */
export function installAddressRateLimits(app: FastifyInstance, options: { limiter: RateLimiter; globalPerIp: RateWindow; anonymousPerIp: RateWindow }): void {
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const path = request.url.split('?')[0];
    if (path === '/healthz' || path === '/readyz') return;
    const client = clientKeyOf(request.ip);
    await enforceAddressLimit(options.limiter, client, options.globalPerIp);
    if (request.routeOptions.config.anonymous === true) {
      await enforceLimit(options.limiter, `ip-anon:${client}`, options.anonymousPerIp);
    }
  });
}
