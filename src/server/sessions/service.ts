/** Sessions: issue, authenticate, list and revoke. No HTTP here; errors come from the catalogue. */
import { BurrowError } from '../../protocol/errors.js';
import type { SessionRow } from '../../storage/database.js';
import type { Clock, Random } from '../deps.js';
import { newId } from '../deps.js';
import type { SessionsRepository } from './repository.js';
import { hashSessionToken, newSessionToken } from './tokens.js';

/** A new session's row and the token to hand to the client (once). */
export interface IssuedSession {
  row: SessionRow;
  token: string;
}

export interface SessionView {
  sessionId: string;
  label: string;
  createdAt: number;
  lastSeenAt: number;
  current: boolean;
}

export interface SessionsService {
  /** A session row and token for `accountId`; the caller inserts the row (possibly in its own transaction). */
  prepare(accountId: string, label: string | undefined): IssuedSession;
  /** Prepares and stores a new session for `accountId`. */
  issue(accountId: string, label: string | undefined): Promise<IssuedSession>;
  /** The live session a token belongs to, or undefined. Refreshes `last_seen_at` at most once per interval. */
  authenticate(token: string): Promise<SessionRow | undefined>;
  list(accountId: string, currentSessionId: string): Promise<SessionView[]>;
  /** Ends one of the caller's own sessions; `burrow/not-found` for anyone else's. */
  revoke(accountId: string, sessionId: string): Promise<void>;
  revokeAll(accountId: string): Promise<void>;
  /**
   * Tells the account's live connections, on every node, that sessions of it ended (revoked,
   * replaced by a recovery, or the account deleted), so each re-checks its own at once rather than
   * at the slow backstop. Never throws: the sessions have ended either way.
   */
  ended(accountId: string): Promise<void>;
  /** Deletes every expired session; returns how many. */
  sweepExpired(): Promise<number>;
}

export function createSessionsService(deps: {
  repository: SessionsRepository;
  clock: Clock;
  random: Random;
  ttlMs: number;
  touchIntervalMs: number;
  /** Announces ended sessions of an account to its live connections (src/server/live/hub.ts). */
  announceEnded?(accountId: string): Promise<void>;
  warn?(message: string, error: unknown): void;
}): SessionsService {
  const { repository, clock, random } = deps;
  const service: SessionsService = {
    async issue(accountId, label) {
      const issued = service.prepare(accountId, label);
      await repository.insert(issued.row);
      return issued;
    },
    prepare(accountId, label) {
      const now = clock.now();
      const token = newSessionToken(random);
      const tokenHash = hashSessionToken(token);
      if (tokenHash === undefined) throw new Error('a new session token did not hash');
      return {
        token,
        row: { id: newId(random), account_id: accountId, token_hash: tokenHash, label: label ?? '', created_at: now, last_seen_at: now, expires_at: now + deps.ttlMs },
      };
    },
    async authenticate(token) {
      const tokenHash = hashSessionToken(token);
      if (tokenHash === undefined) return undefined;
      const row = await repository.findByTokenHash(tokenHash);
      if (row === undefined) return undefined;
      const now = clock.now();
      if (row.expires_at <= now) {
        await repository.deleteExpired(now);
        return undefined;
      }
      if (now - row.last_seen_at >= deps.touchIntervalMs) {
        await repository.touch(row.id, now);
        return { ...row, last_seen_at: now };
      }
      return row;
    },
    async list(accountId, currentSessionId) {
      const rows = await repository.listForAccount(accountId, clock.now());
      return rows.map((r) => ({ sessionId: r.id, label: r.label, createdAt: r.created_at, lastSeenAt: r.last_seen_at, current: r.id === currentSessionId }));
    },
    async revoke(accountId, sessionId) {
      if (!(await repository.deleteOwn(accountId, sessionId))) throw new BurrowError('burrow/not-found', 'You have no session with this id');
      await service.ended(accountId);
    },
    async revokeAll(accountId) {
      await repository.deleteAllForAccount(accountId);
      await service.ended(accountId);
    },
    async ended(accountId) {
      try {
        await deps.announceEnded?.(accountId);
      } catch (error) {
        deps.warn?.('ended sessions were not announced to their live connections', error);
      }
    },
    async sweepExpired() {
      return repository.deleteExpired(clock.now());
    },
  };
  return service;
}
