/** The contract every SQL store adapter keeps: run against SQLite and PostgreSQL alike. */
import { afterEach, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { executeAtomically, executeInOneTrip } from '../../../src/storage/atomic-batch.js';
import type { Database, SqlStore } from '../../../src/storage/database.js';
import { isUniqueViolation } from '../../../src/storage/errors.js';
import { migrateToLatest, migrationNames, migrationsAreCurrent } from '../../../src/storage/migrate.js';

/** Opens a store on an empty database; `migrate: false` leaves it unmigrated. Several calls open the same database. */
export type OpenEmptyStore = () => Promise<{ open(options?: { migrate?: boolean }): Promise<SqlStore>; cleanup(): Promise<void> }>;

/** A realistic millisecond timestamp beyond 2^32, so a 32-bit or string read shows. */
const AT = 1_764_288_000_123;

function account(id: string, lookup = `lookup-${id}`) {
  return {
    id, email_lookup: lookup, email_sealed: 's', opaque_record: 'r', signing_key: 'k', agreement_key: 'k',
    sealed_identity: 'i', recovery_sealed_identity: 'i', recovery_verifier: 'v', created_at: AT,
  };
}

function family(id: string) {
  return { id, created_at: AT, created_by: 'a', epoch: 0, head_hash: 'h', retention_days: 30, sealed_name: 'n' };
}

export function sqlStoreContract(name: string, openEmpty: OpenEmptyStore): void {
  describe(`SQL store contract: ${name}`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      while (cleanups.length > 0) await cleanups.pop()?.();
    });

    async function fresh(migrate = true): Promise<{ store: SqlStore; open: (options?: { migrate?: boolean }) => Promise<SqlStore> }> {
      const database = await openEmpty();
      cleanups.push(database.cleanup);
      const store = await database.open({ migrate });
      cleanups.push(() => store.close());
      return { store, open: database.open };
    }

    it('applies every migration cleanly to an empty database and knows when it is current', async () => {
      const { store } = await fresh(false);
      expect(await migrationsAreCurrent(store.db)).toBe(false);
      const result = await migrateToLatest(store.db);
      expect(result.results?.map((r) => [r.migrationName, r.status])).toEqual(migrationNames().map((n) => [n, 'Success']));
      expect(await migrationsAreCurrent(store.db)).toBe(true);
      expect((await migrateToLatest(store.db)).results).toEqual([]);
    });

    it('rolls a failed transaction back completely', async () => {
      const { store } = await fresh();
      await expect(store.db.transaction().execute(async (trx) => {
        await trx.insertInto('accounts').values(account('a')).execute();
        await trx.insertInto('accounts').values(account('b', 'lookup-a')).execute();
      })).rejects.toSatisfy(isUniqueViolation);
      expect(await store.db.selectFrom('accounts').selectAll().execute()).toEqual([]);
    });

    it('runs a batch of statements all or none: a failing one leaves none of its batch, and a batch beside it stays', async () => {
      const { store } = await fresh();
      const insert = (id: string, lookup = `lookup-${id}`) => store.db.insertInto('accounts').values(account(id, lookup)).compile();
      const outcomes = await Promise.allSettled([
        executeAtomically(store.db, [insert('a'), insert('b', 'lookup-a')]),
        executeAtomically(store.db, [insert('c'), insert('d')]),
      ]);
      expect(outcomes[0]!.status).toBe('rejected');
      if (outcomes[0]!.status === 'rejected') expect(isUniqueViolation(outcomes[0]!.reason)).toBe(true);
      expect(outcomes[1]!.status).toBe('fulfilled');
      if (outcomes[1]!.status === 'fulfilled') expect(outcomes[1]!.value.map((r) => Number(r.numAffectedRows))).toEqual([1, 1]);
      expect((await store.db.selectFrom('accounts').select('id').orderBy('id').execute()).map((r) => r.id)).toEqual(['c', 'd']);
      // Inside a transaction the batch is part of it: the transaction's rollback takes it too.
      await expect(store.db.transaction().execute(async (trx) => {
        await executeAtomically<Database>(trx, [trx.insertInto('accounts').values(account('e')).compile()]);
        await trx.insertInto('accounts').values(account('f', 'lookup-c')).execute();
      })).rejects.toSatisfy(isUniqueViolation);
      expect((await store.db.selectFrom('accounts').select('id').orderBy('id').execute()).map((r) => r.id)).toEqual(['c', 'd']);
    });

    it('runs statements in one trip in order: a read after a write sees it, inside a transaction too', async () => {
      const { store } = await fresh();
      const ids = (db: Kysely<Database>) => db.selectFrom('accounts').select('id').orderBy('id').compile();
      const [inserted, read] = await executeInOneTrip(store.db, [store.db.insertInto('accounts').values(account('a')).compile(), ids(store.db)]);
      expect(Number(inserted!.numAffectedRows)).toBe(1);
      expect(read!.rows).toEqual([{ id: 'a' }]);
      await expect(store.db.transaction().execute(async (trx) => {
        const [, seen] = await executeInOneTrip<Database>(trx, [trx.insertInto('accounts').values(account('b')).compile(), ids(trx)]);
        expect(seen!.rows).toEqual([{ id: 'a' }, { id: 'b' }]);
        await trx.insertInto('accounts').values(account('c', 'lookup-a')).execute();
      })).rejects.toSatisfy(isUniqueViolation);
      expect((await store.db.selectFrom('accounts').select('id').execute()).map((r) => r.id)).toEqual(['a']);
    });

    it('reads bigint columns and counts as JavaScript numbers', async () => {
      const { store } = await fresh();
      await store.db.insertInto('accounts').values(account('a')).execute();
      const row = await store.db.selectFrom('accounts').select('created_at').executeTakeFirstOrThrow();
      expect(row.created_at).toBe(AT);
      const n = await store.db.selectFrom('accounts').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      expect(Number(n.n)).toBe(1);
      const sum = await store.db.selectFrom('accounts').select((eb) => eb.fn.max('created_at').as('m')).executeTakeFirstOrThrow();
      expect(sum.m).toBe(AT);
    });

    it('recognises unique and primary-key violations, and only those', async () => {
      const { store } = await fresh();
      await store.db.insertInto('accounts').values(account('a')).execute();
      await expect(store.db.insertInto('accounts').values(account('a', 'other')).execute()).rejects.toSatisfy(isUniqueViolation);
      await expect(store.db.insertInto('accounts').values(account('b', 'lookup-a')).execute()).rejects.toSatisfy(isUniqueViolation);
      const notNull = store.db.insertInto('accounts').values({ ...account('c'), email_sealed: null as unknown as string }).execute();
      await expect(notNull).rejects.toSatisfy((error: unknown) => !isUniqueViolation(error));
    });

    it('keeps text ids and JSON text exactly, including case and non-ASCII', async () => {
      const { store } = await fresh();
      await store.db.insertInto('families').values(family('AbC-_x9')).execute();
      await store.db.insertInto('families').values(family('abc-_x9')).execute();
      const children = JSON.stringify(['Zoë', 'ID-1', '😀']);
      await store.db.insertInto('family_members').values({ family_id: 'AbC-_x9', account_id: 'acc', role: 'relative', children, needs_approval: 1 }).execute();
      const member = await store.db.selectFrom('family_members').selectAll().where('family_id', '=', 'AbC-_x9').executeTakeFirstOrThrow();
      expect(member).toEqual({ family_id: 'AbC-_x9', account_id: 'acc', role: 'relative', children, needs_approval: 1 });
      expect(JSON.parse(member.children)).toEqual(['Zoë', 'ID-1', '😀']);
      const ids = await store.db.selectFrom('families').select('id').orderBy('id').execute();
      expect(ids.map((r) => r.id).sort()).toEqual(['AbC-_x9', 'abc-_x9']);
    });

    it('cascades deletions: an account takes its sessions, a family its members and messages with their rows', async () => {
      const { store } = await fresh();
      await store.db.insertInto('accounts').values(account('a')).execute();
      await store.db.insertInto('sessions').values({ id: 's', account_id: 'a', token_hash: 'h', label: '', created_at: AT, last_seen_at: AT, expires_at: AT + 1 }).execute();
      await store.db.insertInto('families').values(family('f')).execute();
      await store.db.insertInto('family_members').values({ family_id: 'f', account_id: 'a', role: 'guardian', children: '[]', needs_approval: 0 }).execute();
      await store.db.insertInto('messages').values({
        id: 'm', family_id: 'f', sender_id: 'a', sender_kind: 'member', recipients: '[]', epoch: 0, size: 10, ciphertext_hash: 'c',
        blob_name: 'b', received_at: AT, expires_at: null, saved: 0, needs_approval: 0,
      }).execute();
      await store.db.insertInto('message_recipients').values({ message_id: 'm', recipient_id: 'a' }).execute();
      await store.db.insertInto('message_receipts').values({ message_id: 'm', by_id: 'a', kind: 'played', at: AT, signed_at: AT, roster_epoch: 0, roster_head: 'h', signature: 's' }).execute();

      await store.db.deleteFrom('accounts').where('id', '=', 'a').execute();
      expect(await store.db.selectFrom('sessions').selectAll().execute()).toEqual([]);
      await store.db.deleteFrom('families').where('id', '=', 'f').execute();
      for (const table of ['family_members', 'messages', 'message_recipients', 'message_receipts'] as const) {
        expect(await store.db.selectFrom(table).selectAll().execute(), table).toEqual([]);
      }
    });

    it('opening an already migrated database again migrates nothing and sees the same rows', async () => {
      const { store, open } = await fresh();
      await store.db.insertInto('accounts').values(account('a')).execute();
      const again = await open();
      try {
        expect(await migrationsAreCurrent(again.db)).toBe(true);
        expect((await again.db.selectFrom('accounts').select('id').execute()).map((r) => r.id)).toEqual(['a']);
      } finally {
        await again.close();
      }
    });
  });
}
