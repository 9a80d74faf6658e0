import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { withStatementCache } from '../../../src/storage/sqlite.js';

interface Db {
  t: { id: number; name: string };
}

describe('the SQLite statement cache', () => {
  it('prepares a query once and runs it again with other parameters', async () => {
    const sqlite = new BetterSqlite3(':memory:');
    const prepare = sqlite.prepare.bind(sqlite);
    let prepared = 0;
    sqlite.prepare = ((text: string) => {
      prepared += 1;
      return prepare(text);
    }) as typeof sqlite.prepare;
    const db = new Kysely<Db>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
    await sql`create table t (id integer primary key, name text not null)`.execute(db);
    for (let i = 0; i < 5; i++) await db.insertInto('t').values({ id: i, name: `n${i}` }).execute();
    const names = [];
    for (let i = 0; i < 5; i++) names.push((await db.selectFrom('t').select('name').where('id', '=', i).executeTakeFirstOrThrow()).name);
    expect(names).toEqual(['n0', 'n1', 'n2', 'n3', 'n4']);
    // create, one insert, one select.
    expect(prepared).toBe(3);
    await db.destroy();
  });

  it('keeps working after a schema change and inside transactions that roll back', async () => {
    const db = new Kysely<Db>({ dialect: new SqliteDialect({ database: withStatementCache(new BetterSqlite3(':memory:')) }) });
    await sql`create table t (id integer primary key, name text not null)`.execute(db);
    await db.insertInto('t').values({ id: 1, name: 'a' }).execute();
    const select = () => db.selectFrom('t').selectAll().orderBy('id').execute();
    expect(await select()).toEqual([{ id: 1, name: 'a' }]);
    await sql`alter table t add column extra text`.execute(db);
    expect(await select()).toEqual([{ id: 1, name: 'a', extra: null }]);
    await expect(db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ id: 2, name: 'b' }).execute();
      throw new Error('roll back');
    })).rejects.toThrow('roll back');
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ id: 3, name: 'c' }).execute();
    });
    expect((await select()).map((r) => r.id)).toEqual([1, 3]);
    await db.destroy();
  });

  it('drops the least recently used statement beyond its size', async () => {
    const sqlite = new BetterSqlite3(':memory:');
    const prepare = sqlite.prepare.bind(sqlite);
    const texts: string[] = [];
    sqlite.prepare = ((text: string) => {
      texts.push(text);
      return prepare(text);
    }) as typeof sqlite.prepare;
    const cached = withStatementCache(sqlite, 2);
    cached.prepare('select 1');
    cached.prepare('select 2');
    cached.prepare('select 1');
    cached.prepare('select 3');
    cached.prepare('select 1');
    cached.prepare('select 2');
    expect(texts).toEqual(['select 1', 'select 2', 'select 3', 'select 2']);
    cached.close();
  });
});
