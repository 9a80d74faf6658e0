/**
 * Queries built and compiled once per dialect, then run with new parameter values. Kysely builds
 * its operation tree and compiles it to SQL on every call; on the messages hot path that cost more
 * CPU than SQLite's own work (docs/benchmarks.md, "Per-message CPU"). Only the hot statements use
 * this: a query written with it reads like any other Kysely query.
 */
import { createQueryId, type Compilable, type CompiledQuery, type DialectAdapter, type Kysely, type QueryResult } from 'kysely';

/** The arguments a compiled-once query takes: strings, numbers, null, or arrays of them (an array's length is part of the query's shape). */
type Argument = string | number | null | readonly (string | number)[];

/** Where each compiled parameter comes from: an argument (and its element), or a constant of the query. */
type Slot = { key: string; index?: number } | { constant: unknown };

interface Compiled {
  query: CompiledQuery;
  slots: Slot[];
}

/** Stands in for an argument while the query is compiled; nothing a caller sends can look like it. */
const SENTINEL = '\u0000burrow-argument\u0000';

function sentinelOf(key: string, index?: number): string {
  return index === undefined ? `${SENTINEL}${key}` : `${SENTINEL}${key}\u0000${index}`;
}

function slotOf(value: unknown, arrays: ReadonlyMap<string, number>): Slot {
  if (typeof value !== 'string' || !value.startsWith(SENTINEL)) return { constant: value };
  const [key, index] = value.slice(SENTINEL.length).split('\u0000') as [string, string | undefined];
  return index === undefined || !arrays.has(key) ? { key } : { key, index: Number(index) };
}

/** A compiled-once query: run it on `db` with `args`, or take its SQL and parameters (`compile`) to run in a batch (src/storage/atomic-batch.ts). */
export interface CompiledOnce<A, R, DB> {
  (db: Kysely<DB>, args: A): Promise<QueryResult<R>>;
  compile(db: Kysely<DB>, args: A): CompiledQuery<R>;
}

/**
 * `build` compiled once per dialect and shape (the lengths of its array arguments), and a function
 * that runs it on `db` (the store or a transaction) with `args`. `build` must use every argument
 * as a value (a parameter of the SQL), never to decide the query's shape.
 */
export function compiledOnce<A extends Record<string, Argument>, R, DB>(build: (db: Kysely<DB>, args: A) => Compilable<R>): CompiledOnce<A, R, DB> {
  const byAdapter = new WeakMap<DialectAdapter, Map<string, Compiled>>();

  function compile(db: Kysely<DB>, args: A, shape: string): Compiled {
    const arrays = new Map<string, number>();
    const stand: Record<string, Argument> = {};
    for (const [key, value] of Object.entries(args)) {
      if (Array.isArray(value)) {
        arrays.set(key, value.length);
        stand[key] = value.map((_, i) => sentinelOf(key, i));
      } else {
        stand[key] = sentinelOf(key);
      }
    }
    const query = build(db, stand as A).compile();
    const slots = query.parameters.map((value) => slotOf(value, arrays));
    const used = new Set(slots.flatMap((slot) => ('key' in slot ? [slot.key] : [])));
    for (const key of Object.keys(args)) {
      if (!used.has(key)) throw new TypeError(`compiledOnce: argument '${key}' is not a parameter of the compiled query (shape ${shape})`);
    }
    return { query, slots };
  }

  function withValues(db: Kysely<DB>, args: A): CompiledQuery<R> {
    const adapter = db.getExecutor().adapter;
    let cache = byAdapter.get(adapter);
    if (cache === undefined) byAdapter.set(adapter, (cache = new Map()));
    const shape = Object.entries(args).filter(([, value]) => Array.isArray(value)).map(([key, value]) => `${key}:${(value as unknown[]).length}`).join(',');
    let compiled = cache.get(shape);
    if (compiled === undefined) cache.set(shape, (compiled = compile(db, args, shape)));
    const parameters = compiled.slots.map((slot) => {
      if ('constant' in slot) return slot.constant;
      const value = args[slot.key];
      return slot.index === undefined ? value : (value as readonly unknown[])[slot.index];
    });
    return { ...compiled.query, queryId: createQueryId(), parameters } as CompiledQuery<R>;
  }

  const run = async (db: Kysely<DB>, args: A): Promise<QueryResult<R>> => db.executeQuery(withValues(db, args));
  return Object.assign(run, { compile: withValues });
}
