/**
 * The rate limiter and login slow-down on the SQL store, so that every node behind a load balancer
 * counts the same hits. Keys (addresses, email lookups) are stored as HMAC-SHA-256 under a key
 * derived from the cookie key: the table holds no address a dump could reveal.
 */
import { createHmac } from 'node:crypto';
import type { Kysely } from 'kysely';
import { toBase64Url } from '../../crypto/bytes.js';
import type { Database } from '../../storage/database.js';
import type { Clock } from '../deps.js';
import type { FailureBudget, LoginThrottle, RateLimiter } from './rate-limit.js';

/** Every this many writes, rows that can no longer matter are deleted. */
const PRUNE_EVERY = 500;

/** A keyed hash of a limit key, so the table never holds an address or an email lookup as is. */
export function keyHasher(cookieKey: Uint8Array): (key: string) => string {
  const hashKey = createHmac('sha256', cookieKey).update('burrow/rate-limit-key/v1').digest();
  return (key) => toBase64Url(new Uint8Array(createHmac('sha256', hashKey).update(key).digest()));
}

/** A fixed-window counter in the `rate_windows` table: one atomic upsert per hit. */
export function createSqlRateLimiter(db: Kysely<Database>, options: { clock: Clock; cookieKey: Uint8Array }): RateLimiter {
  const hash = keyHasher(options.cookieKey);
  let writes = 0;
  return {
    async hit(key, window) {
      const now = options.clock.now();
      if (++writes % PRUNE_EVERY === 0) await db.deleteFrom('rate_windows').where('reset_at', '<=', now).execute();
      const row = await db.insertInto('rate_windows')
        .values({ key: hash(key), count: 1, reset_at: now + window.windowMs })
        .onConflict((oc) => oc.column('key').doUpdateSet((eb) => ({
          count: eb.case().when('rate_windows.reset_at', '<=', now).then(1).else(eb('rate_windows.count', '+', 1)).end(),
          reset_at: eb.case().when('rate_windows.reset_at', '<=', now).then(now + window.windowMs).else(eb.ref('rate_windows.reset_at')).end(),
        })))
        .returning(['count', 'reset_at'])
        .executeTakeFirstOrThrow();
      return Number(row.count) > window.max ? Number(row.reset_at) - now : 0;
    },
  };
}

/**
 * The `FailureBudget` of `createMemoryFailureBudget` in the `rate_windows` table: `take` is the
 * rate limiter's atomic upsert (its keys carry a prefix of their own, so they never meet the
 * limiter's), `forgive` one atomic decrement.
 */
export function createSqlFailureBudget(db: Kysely<Database>, options: { clock: Clock; cookieKey: Uint8Array }): FailureBudget {
  const limiter = createSqlRateLimiter(db, options);
  const hash = keyHasher(options.cookieKey);
  return {
    take: (key, window) => limiter.hit(`failures:${key}`, window),
    async forgive(key) {
      await db.updateTable('rate_windows')
        .set((eb) => ({ count: eb('count', '-', 1) }))
        .where('key', '=', hash(`failures:${key}`))
        .where('reset_at', '>', options.clock.now())
        .where('count', '>', 0)
        .execute();
    },
  };
}

/** The exponential login slow-down of `createMemoryLoginThrottle`, on the `login_failures` table. */
export function createSqlLoginThrottle(db: Kysely<Database>, options: { clock: Clock; cookieKey: Uint8Array; freeFailures: number; baseDelayMs: number; maxDelayMs: number }): LoginThrottle {
  const hash = keyHasher(options.cookieKey);
  const delayFor = (count: number): number =>
    count < options.freeFailures ? 0 : Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.min(30, count - options.freeFailures));
  let writes = 0;
  return {
    async waitFor(accountKey) {
      const row = await db.selectFrom('login_failures').select(['count', 'last_at']).where('key', '=', hash(accountKey)).executeTakeFirst();
      if (row === undefined) return 0;
      return Math.max(0, Number(row.last_at) + delayFor(Number(row.count)) - options.clock.now());
    },
    async failed(accountKey) {
      const now = options.clock.now();
      if (++writes % PRUNE_EVERY === 0) await db.deleteFrom('login_failures').where('last_at', '<=', now - 2 * options.maxDelayMs).execute();
      await db.insertInto('login_failures')
        .values({ key: hash(accountKey), count: 1, last_at: now })
        .onConflict((oc) => oc.column('key').doUpdateSet((eb) => ({ count: eb('login_failures.count', '+', 1), last_at: now })))
        .execute();
    },
    async succeeded(accountKey) {
      await db.deleteFrom('login_failures').where('key', '=', hash(accountKey)).execute();
    },
  };
}
