import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql, type CompiledQuery, type KyselyPlugin } from 'kysely';
import { describe, expect, it } from 'vitest';
import { compiledOnce } from '../../../src/storage/compiled-once.js';
import { openSqliteStore } from '../../../src/storage/sqlite.js';

interface Db {
  t: { id: number; name: string; tag: string | null };
}

/** A store whose compiled statements are counted (a plugin sees every query Kysely builds). */
async function countingDb(): Promise<{ db: Kysely<Db>; built: () => number; executed: CompiledQuery[] }> {
  let built = 0;
  const counting: KyselyPlugin = {
    transformQuery: ({ node }) => {
      built += 1;
      return node;
    },
    transformResult: async ({ result }) => result,
  };
  const executed: CompiledQuery[] = [];
  const db = new Kysely<Db>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }), plugins: [counting], log: (event) => { executed.push(event.query); } });
  await sql`create table t (id integer primary key, name text not null, tag text)`.execute(db);
  await db.insertInto('t').values([{ id: 1, name: 'a', tag: 'x' }, { id: 2, name: 'b', tag: null }, { id: 3, name: 'c', tag: 'x' }]).execute();
  built = 0;
  executed.length = 0;
  return { db, built: () => built, executed };
}

describe('queries compiled once', () => {
  it('a query is built and compiled on its first run only, and each run gets its own values', async () => {
    const { db, built, executed } = await countingDb();
    const byName = compiledOnce((q: Kysely<Db>, a: { name: string; limit: number }) => q.selectFrom('t').select(['id', 'tag']).where('name', '=', a.name).orderBy('id').limit(a.limit));
    expect((await byName(db, { name: 'a', limit: 5 })).rows).toEqual([{ id: 1, tag: 'x' }]);
    expect((await byName(db, { name: 'c', limit: 5 })).rows).toEqual([{ id: 3, tag: 'x' }]);
    expect((await byName(db, { name: 'nobody', limit: 5 })).rows).toEqual([]);
    expect(built()).toBe(1);
    expect(executed.map((q) => q.parameters)).toEqual([['a', 5], ['c', 5], ['nobody', 5]]);
    expect(new Set(executed.map((q) => q.queryId)).size).toBe(3);
    await db.destroy();
  });

  it('an array argument is one compiled shape per length, and an argument used twice gets its value in both places', async () => {
    const { db, built } = await countingDb();
    const among = compiledOnce((q: Kysely<Db>, a: { ids: readonly number[]; tag: string }) => q.selectFrom('t').select('name')
      .where((eb) => eb.or([eb('id', 'in', a.ids), eb('name', '=', a.tag)])).where((eb) => eb.or([eb('tag', '=', a.tag), eb('tag', 'is', null)])).orderBy('id'));
    expect((await among(db, { ids: [1, 2], tag: 'x' })).rows.map((r) => r.name)).toEqual(['a', 'b']);
    expect((await among(db, { ids: [3], tag: 'x' })).rows.map((r) => r.name)).toEqual(['c']);
    expect((await among(db, { ids: [2, 3], tag: 'b' })).rows.map((r) => r.name)).toEqual(['b']);
    expect(built()).toBe(2);
    await db.destroy();
  });

  it('writes report the rows they changed, and run inside a transaction that rolls back', async () => {
    const { db } = await countingDb();
    const rename = compiledOnce((q: Kysely<Db>, a: { id: number; name: string }) => q.updateTable('t').set({ name: a.name }).where('id', '=', a.id));
    expect(Number((await rename(db, { id: 1, name: 'A' })).numAffectedRows)).toBe(1);
    expect(Number((await rename(db, { id: 9, name: 'Z' })).numAffectedRows)).toBe(0);
    await expect(db.transaction().execute(async (trx) => {
      await rename(trx, { id: 2, name: 'B' });
      throw new Error('roll back');
    })).rejects.toThrow('roll back');
    expect(await db.selectFrom('t').select('name').orderBy('id').execute()).toEqual([{ name: 'A' }, { name: 'b' }, { name: 'c' }]);
    await db.destroy();
  });

  it('refuses an argument that decides the query instead of being one of its values', async () => {
    const { db } = await countingDb();
    const shaped = compiledOnce((q: Kysely<Db>, a: { name: string; tagged: string }) => q.selectFrom('t').select('id').where('name', '=', a.name).$if(a.tagged === 'yes', (w) => w.where('tag', 'is not', null)));
    await expect(shaped(db, { name: 'a', tagged: 'yes' })).rejects.toThrow(/argument 'tagged'/);
    await db.destroy();
  });

  it('runs on the group-commit store, on its read connection and in its transactions', async () => {
    const store = await openSqliteStore(':memory:', { migrate: false });
    const db = store.db as unknown as Kysely<Db>;
    await sql`create table t (id integer primary key, name text not null, tag text)`.execute(db);
    const add = compiledOnce((q: Kysely<Db>, a: { id: number; name: string; tag: string | null }) => q.insertInto('t').values({ id: a.id, name: a.name, tag: a.tag }));
    const get = compiledOnce((q: Kysely<Db>, a: { id: number }) => q.selectFrom('t').selectAll().where('id', '=', a.id));
    await add(db, { id: 1, name: 'a', tag: null });
    await db.transaction().execute(async (trx) => {
      await add(trx, { id: 2, name: 'b', tag: 'x' });
      expect((await get(trx, { id: 2 })).rows).toEqual([{ id: 2, name: 'b', tag: 'x' }]);
    });
    expect((await get(db, { id: 1 })).rows).toEqual([{ id: 1, name: 'a', tag: null }]);
    await store.close();
  });
});
