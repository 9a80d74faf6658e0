/**
 * Started OPAQUE logins waiting for their finish, keyed by a random login id, with a short TTL.
 * The server login state holds ephemeral secrets: this version keeps it in memory; the shared one
 * (src/server/accounts/sql-login-states.ts) seals it under a key derived from the cookie key.
 */
import type { AccountRow } from '../../storage/database.js';
import type { Clock } from '../deps.js';

/** What a login's finish answers with, read with the OPAQUE record at its start, so the finish does not read the account again. */
export type LoginAccount = Pick<AccountRow, 'opaque_record' | 'signing_key' | 'agreement_key' | 'kem_key' | 'sealed_identity' | 'disabled_at'>;

export interface PendingLogin {
  serverLoginState: string;
  /** null when the email has no account: such a login can never finish. */
  accountId: string | null;
  /** The account as the start read it (absent when `accountId` is null). */
  account?: LoginAccount;
  /** The email's lookup hash, for the per-account slow-down. */
  emailLookup: string;
  /** The client address the login started from, whose failure budget a success gives back. */
  address?: string;
  expiresAt: number;
}

export interface LoginStateStore {
  put(loginId: string, login: PendingLogin): void | Promise<void>;
  /** Removes and returns the login, or undefined when unknown or expired: a login id works once. */
  take(loginId: string): PendingLogin | undefined | Promise<PendingLogin | undefined>;
}

const MAX_PENDING = 100_000;

export function createMemoryLoginStateStore(clock: Clock): LoginStateStore {
  const pending = new Map<string, PendingLogin>();
  return {
    put(loginId, login) {
      const now = clock.now();
      if (pending.size >= MAX_PENDING / 2) {
        for (const [id, l] of pending) if (l.expiresAt <= now) pending.delete(id);
      }
      // Beyond this, drop the oldest: an attacker filling memory only expires their own logins sooner.
      while (pending.size >= MAX_PENDING) {
        const oldest = pending.keys().next().value;
        if (oldest === undefined) break;
        pending.delete(oldest);
      }
      pending.set(loginId, login);
    },
    take(loginId) {
      const login = pending.get(loginId);
      if (login === undefined) return undefined;
      pending.delete(loginId);
      return login.expiresAt > clock.now() ? login : undefined;
    },
  };
}
