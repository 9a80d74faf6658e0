/**
 * Group commit on the SQLite file (src/storage/sqlite-worker.ts): concurrent writes share
 * commits, a failing request's transaction rolls back alone, read-modify-write transactions stay
 * atomic, and everything acknowledged is in the file when it is opened again.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { NewAccountRow, SqlStore } from '../../../src/storage/database.js';
import { executeAtomically } from '../../../src/storage/atomic-batch.js';
import { isUniqueViolation } from '../../../src/storage/errors.js';
import { openSqliteStore } from '../../../src/storage/sqlite.js';

const dirs: string[] = [];
const stores: SqlStore[] = [];

async function openFresh(): Promise<{ store: SqlStore; path: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'burrow-group-'));
  dirs.push(dir);
  const path = join(dir, 'burrow.db');
  const store = await openSqliteStore(path);
  stores.push(store);
  return { store, path };
}

afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function account(id: string, lookup = `lookup-${id}`): NewAccountRow {
  return {
    id, email_lookup: lookup, email_sealed: 's', opaque_record: 'r', signing_key: 'k', agreement_key: 'k',
    sealed_identity: 'i', recovery_sealed_identity: 'i', recovery_verifier: 'v', created_at: 1,
  };
}

/** WAL frames written since the last checkpoint: every commit appends at least one per page it changed. */
function walFrames(path: string, pageSize: number): number {
  const size = statSync(`${path}-wal`).size;
  return size === 0 ? 0 : (size - 32) / (pageSize + 24);
}

describe('group commit on the SQLite file', () => {
  it('commits concurrent writes together: far fewer WAL frames than one commit each would write', async () => {
    const { store, path } = await openFresh();
    const pageSize = (await sql<{ page_size: number }>`PRAGMA page_size`.execute(store.db)).rows[0]!.page_size;
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(store.db);
    const before = walFrames(path, pageSize);
    const writes = 200;
    await Promise.all(Array.from({ length: writes }, (_, i) => store.db.insertInto('accounts').values(account(`a${i}`)).execute()));
    // One commit per insert writes at least two pages (the table and its unique index) each time.
    const frames = walFrames(path, pageSize) - before;
    expect(frames).toBeGreaterThan(0);
    expect(frames).toBeLessThan(writes);
    const n = await store.db.selectFrom('accounts').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(writes);
  });

  it('rolls back only the failing request\'s transaction, and the writes grouped with it stay', async () => {
    const { store, path } = await openFresh();
    const outcomes = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => store.db.transaction().execute(async (trx) => {
      await trx.insertInto('accounts').values(account(`t${i}`)).execute();
      // Every fifth request collides with its own first row and must leave nothing behind.
      if (i % 5 === 0) await trx.insertInto('accounts').values(account(`t${i}-again`, `lookup-t${i}`)).execute();
      await trx.insertInto('sessions').values({ id: `s${i}`, account_id: `t${i}`, token_hash: `h${i}`, label: '', created_at: 1, last_seen_at: 1, expires_at: 2 }).execute();
    })));
    const failed = outcomes.flatMap((outcome, i) => (outcome.status === 'rejected' ? [i] : []));
    expect(failed).toEqual([0, 5, 10, 15, 20, 25, 30, 35]);
    for (const outcome of outcomes) if (outcome.status === 'rejected') expect(isUniqueViolation(outcome.reason)).toBe(true);
    await store.close();
    const again = await openSqliteStore(path);
    stores.push(again);
    const ids = (await again.db.selectFrom('accounts').select('id').execute()).map((row) => row.id).sort();
    const kept = Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 5 !== 0).map((i) => `t${i}`).sort();
    expect(ids).toEqual(kept);
    expect((await again.db.selectFrom('sessions').select('id').execute()).length).toBe(kept.length);
  });

  it('keeps read-modify-write transactions atomic while they are grouped', async () => {
    const { store } = await openFresh();
    await store.db.insertInto('rate_windows').values({ key: 'k', count: 0, reset_at: 1 }).execute();
    const increments = 60;
    await Promise.all(Array.from({ length: increments }, () => store.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('rate_windows').select('count').where('key', '=', 'k').executeTakeFirstOrThrow();
      await trx.updateTable('rate_windows').set({ count: row.count + 1 }).where('key', '=', 'k').execute();
    })));
    const row = await store.db.selectFrom('rate_windows').select('count').where('key', '=', 'k').executeTakeFirstOrThrow();
    expect(row.count).toBe(increments);
  });

  it('does not hold answers back while transactions keep queueing behind each other', async () => {
    const { store } = await openFresh();
    let resolved = 0;
    const seenByLast: number[] = [];
    const count = 80;
    await Promise.all(Array.from({ length: count }, async (_, i) => {
      await store.db.transaction().execute(async (trx) => {
        if (i === count - 1) seenByLast.push(resolved);
        await trx.insertInto('rate_windows').values({ key: `w${i}`, count: 1, reset_at: 1 }).execute();
        await trx.selectFrom('rate_windows').select('count').where('key', '=', `w${i}`).executeTakeFirstOrThrow();
      });
      resolved += 1;
    }));
    // All 80 were queued at once; the first ones were answered (committed) while later ones still ran.
    expect(seenByLast[0]).toBeGreaterThan(0);
  });

  it('answers a write only once it is committed: a reader on another connection already sees it', async () => {
    const { store, path } = await openFresh();
    const other = await openSqliteStore(path, { migrate: false });
    stores.push(other);
    await Promise.all(Array.from({ length: 30 }, async (_, i) => {
      await store.db.insertInto('accounts').values(account(`r${i}`)).execute();
      const seen = await other.db.selectFrom('accounts').select('id').where('id', '=', `r${i}`).executeTakeFirst();
      expect(seen?.id).toBe(`r${i}`);
    }));
  });

  it('answers a batch only after the group\'s COMMIT: a batch whose COMMIT fails is answered with the failure, never as done', async () => {
    const { store } = await openFresh();
    // A foreign key deferred to the COMMIT: the batch's statements and its savepoint succeed, the COMMIT fails.
    const orphan = store.db.insertInto('message_recipients').values({ message_id: 'no-such-message', recipient_id: 'r' }).compile();
    await expect(executeAtomically(store.db, [sql`PRAGMA defer_foreign_keys = ON`.compile(store.db), orphan])).rejects.toThrow(/FOREIGN KEY/);
    expect(await store.db.selectFrom('message_recipients').selectAll().execute()).toEqual([]);
  });
});
