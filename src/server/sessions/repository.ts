/** The sessions table, as the sessions feature needs it. */
import type { Kysely } from 'kysely';
import { compiledOnce } from '../../storage/compiled-once.js';
import type { Database, SessionRow } from '../../storage/database.js';

export interface SessionsRepository {
  insert(session: SessionRow): Promise<void>;
  findByTokenHash(tokenHash: string): Promise<SessionRow | undefined>;
  listForAccount(accountId: string, now: number): Promise<SessionRow[]>;
  touch(sessionId: string, lastSeenAt: number): Promise<void>;
  /** Deletes one session of `accountId`; false when it is not theirs or does not exist. */
  deleteOwn(accountId: string, sessionId: string): Promise<boolean>;
  deleteAllForAccount(accountId: string): Promise<number>;
  deleteExpired(now: number): Promise<number>;
}

// Every member's request looks its session up: compiled once (src/storage/compiled-once.ts).
const sessionByTokenHash = compiledOnce((db: Kysely<Database>, a: { tokenHash: string }) => db.selectFrom('sessions').selectAll().where('token_hash', '=', a.tokenHash));

export function createSessionsRepository(db: Kysely<Database>): SessionsRepository {
  return {
    async insert(session) {
      await db.insertInto('sessions').values(session).execute();
    },
    async findByTokenHash(tokenHash) {
      return (await sessionByTokenHash(db, { tokenHash })).rows[0];
    },
    async listForAccount(accountId, now) {
      return db.selectFrom('sessions').selectAll().where('account_id', '=', accountId).where('expires_at', '>', now).orderBy('created_at', 'asc').execute();
    },
    async touch(sessionId, lastSeenAt) {
      await db.updateTable('sessions').set({ last_seen_at: lastSeenAt }).where('id', '=', sessionId).execute();
    },
    async deleteOwn(accountId, sessionId) {
      const result = await db.deleteFrom('sessions').where('id', '=', sessionId).where('account_id', '=', accountId).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async deleteAllForAccount(accountId) {
      const result = await db.deleteFrom('sessions').where('account_id', '=', accountId).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    async deleteExpired(now) {
      const result = await db.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
