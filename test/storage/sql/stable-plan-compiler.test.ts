import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql, type QueryCompiler } from 'kysely';
import { describe, expect, it } from 'vitest';
import { StablePlanQueryCompiler } from '../../../src/storage/sqlite-driver.js';

interface Db {
  t: { id: number; name: string; score: number | null; data: Uint8Array | null };
  u: { t_id: number; label: string };
}

class StablePlanDialect extends SqliteDialect {
  override createQueryCompiler(): QueryCompiler {
    return new StablePlanQueryCompiler();
  }
}

/** The same file under Kysely's own SQLite compiler and under the one Burrow's store uses. */
async function bothCompilers(): Promise<{ plain: Kysely<Db>; stable: Kysely<Db>; close: () => Promise<void> }> {
  const sqlite = new BetterSqlite3(':memory:');
  const plain = new Kysely<Db>({ dialect: new SqliteDialect({ database: sqlite }) });
  const stable = new Kysely<Db>({ dialect: new StablePlanDialect({ database: sqlite }) });
  await sql`create table t (id integer primary key, name text not null unique, score real, data blob)`.execute(plain);
  await sql`create table u (t_id integer not null references t (id), label text not null)`.execute(plain);
  await sql`create index u_t_id on u (t_id)`.execute(plain);
  await stable.insertInto('t').values([
    { id: 1, name: 'one', score: 1.5, data: Uint8Array.of(1, 2) },
    { id: 2, name: '2', score: null, data: null },
    { id: 3, name: 'three', score: 3, data: Uint8Array.of(3) },
  ]).execute();
  await stable.insertInto('u').values([{ t_id: 1, label: 'a' }, { t_id: 1, label: 'b' }, { t_id: 3, label: 'c' }]).execute();
  return { plain, stable, close: () => plain.destroy() };
}

describe('the SQLite store’s query compiler', () => {
  it('writes each parameter so the planner does not plan with its value', async () => {
    const { stable, close } = await bothCompilers();
    const compiled = stable.selectFrom('t').innerJoin('u', 'u.t_id', 't.id').select('u.label').where('t.name', '=', 'one').limit(2).compile();
    expect(compiled.sql).toBe('select "u"."label" from "t" inner join "u" on "u"."t_id" = "t"."id" where "t"."name" = +? limit +?');
    expect(compiled.parameters).toEqual(['one', 2]);
    await close();
  });

  it('a parameter compares, converts and is stored as a bare one: text, integers, reals, null, blobs, lists', async () => {
    const { plain, stable, close } = await bothCompilers();
    const queries = [
      (db: Kysely<Db>) => db.selectFrom('t').innerJoin('u', 'u.t_id', 't.id').select(['t.id', 'u.label']).where('t.name', '=', 'one').orderBy('u.label').execute(),
      // A text column against an integer (no match: the parameter takes no affinity), a real against an integer and a text.
      (db: Kysely<Db>) => db.selectFrom('t').select('id').where('name', '=', 2 as unknown as string).execute(),
      (db: Kysely<Db>) => db.selectFrom('t').select('id').where('score', '=', 3).execute(),
      (db: Kysely<Db>) => db.selectFrom('t').select('id').where('score', '=', '3' as unknown as number).execute(),
      (db: Kysely<Db>) => db.selectFrom('t').select('id').where('id', '=', '3' as unknown as number).execute(),
      (db: Kysely<Db>) => db.selectFrom('t').select('id').where('data', '=', Uint8Array.of(1, 2)).execute(),
      (db: Kysely<Db>) => db.selectFrom('t').select('id').where('score', 'is', null).execute(),
      (db: Kysely<Db>) => db.selectFrom('t').select('id').where('id', 'in', [1, 3, 7]).orderBy('id').execute(),
      (db: Kysely<Db>) => db.selectFrom('t').select((eb) => [eb.val(-2).as('negative'), sql<string>`${'a'} || ${'b'}`.as('joined')]).limit(1).offset(1).execute(),
    ];
    for (const query of queries) {
      const expected = await query(plain);
      expect(await query(stable)).toEqual(expected);
    }
    expect(await queries[0]!(stable)).toEqual([{ id: 1, label: 'a' }, { id: 1, label: 'b' }]);
    expect(await queries[4]!(stable)).toEqual([{ id: 3 }]);
    expect(await stable.selectFrom('t').select(['id', 'score', 'data']).where('id', '=', 1).executeTakeFirst()).toEqual({ id: 1, score: 1.5, data: Buffer.of(1, 2) });
    await close();
  });
});
