/** The push_subscriptions table, and who in a family a push goes to (from the head's member tables). */
import type { Kysely } from 'kysely';
import type { Database } from '../../storage/database.js';
import { parseIdList } from '../families/access-repository.js';

export interface StoredPushSubscription {
  id: string;
  accountId: string;
  sessionId: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  createdAt: number;
}

export interface PushRepository {
  /** Stores the session's subscription in place of any it had, and of the account's others with the same endpoint. */
  replaceForSession(subscription: StoredPushSubscription): Promise<void>;
  /** How many subscriptions the account holds on sessions other than `sessionId`. */
  countOtherSessions(accountId: string, sessionId: string): Promise<number>;
  listOfAccount(accountId: string): Promise<StoredPushSubscription[]>;
  /** Deletes the account's subscription; false when it has none of that id. */
  deleteOfAccount(accountId: string, subscriptionId: string): Promise<boolean>;
  /** Deletes a subscription the push service said is gone. */
  delete(subscriptionId: string): Promise<void>;
  /** The subscriptions of these accounts whose session is still valid at `now`. */
  liveSubscriptionsOf(accountIds: readonly string[], now: number): Promise<StoredPushSubscription[]>;
  /** The family's guardians at the head. */
  guardiansOf(familyId: string): Promise<string[]>;
  /** The members at the head who may talk with the child of `toyId`: guardians and that child's relatives. */
  adultsOfToy(familyId: string, toyId: string): Promise<string[]>;
}

type Row = Database['push_subscriptions'];

function fromRow(row: Row): StoredPushSubscription {
  return { id: row.id, accountId: row.account_id, sessionId: row.session_id, endpoint: row.endpoint, p256dh: row.p256dh, auth: row.auth, createdAt: Number(row.created_at) };
}

export function createPushRepository(db: Kysely<Database>): PushRepository {
  return {
    async replaceForSession(s) {
      await db.transaction().execute(async (tx) => {
        await tx.deleteFrom('push_subscriptions').where((eb) => eb.or([eb('session_id', '=', s.sessionId), eb.and([eb('account_id', '=', s.accountId), eb('endpoint', '=', s.endpoint)])])).execute();
        await tx.insertInto('push_subscriptions').values({ id: s.id, account_id: s.accountId, session_id: s.sessionId, endpoint: s.endpoint, p256dh: s.p256dh, auth: s.auth, created_at: s.createdAt }).execute();
      });
    },
    async countOtherSessions(accountId, sessionId) {
      const row = await db.selectFrom('push_subscriptions').select((eb) => eb.fn.countAll().as('n')).where('account_id', '=', accountId).where('session_id', '!=', sessionId).executeTakeFirstOrThrow();
      return Number(row.n);
    },
    async listOfAccount(accountId) {
      const rows = await db.selectFrom('push_subscriptions').selectAll().where('account_id', '=', accountId).orderBy('created_at').orderBy('id').execute();
      return rows.map(fromRow);
    },
    async deleteOfAccount(accountId, subscriptionId) {
      const result = await db.deleteFrom('push_subscriptions').where('id', '=', subscriptionId).where('account_id', '=', accountId).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
    async delete(subscriptionId) {
      await db.deleteFrom('push_subscriptions').where('id', '=', subscriptionId).execute();
    },
    async liveSubscriptionsOf(accountIds, now) {
      if (accountIds.length === 0) return [];
      const rows = await db
        .selectFrom('push_subscriptions')
        .innerJoin('sessions', 'sessions.id', 'push_subscriptions.session_id')
        .selectAll('push_subscriptions')
        .where('push_subscriptions.account_id', 'in', [...accountIds])
        .where('sessions.expires_at', '>', now)
        .execute();
      return rows.map(fromRow);
    },
    async guardiansOf(familyId) {
      const rows = await db.selectFrom('family_members').select('account_id').where('family_id', '=', familyId).where('role', '=', 'guardian').execute();
      return rows.map((r) => r.account_id);
    },
    async adultsOfToy(familyId, toyId) {
      const toy = await db.selectFrom('family_toys').select('child_id').where('family_id', '=', familyId).where('toy_id', '=', toyId).executeTakeFirst();
      if (toy === undefined) return [];
      const members = await db.selectFrom('family_members').select(['account_id', 'role', 'children']).where('family_id', '=', familyId).execute();
      return members.filter((m) => m.role === 'guardian' || parseIdList(m.children).includes(toy.child_id)).map((m) => m.account_id);
    },
  };
}
