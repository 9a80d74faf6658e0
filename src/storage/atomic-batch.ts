/**
 * A short write transaction as one unit: statements compiled beforehand, run all or none. On the
 * embedded store that is one message to the SQLite worker instead of one per statement plus BEGIN
 * and COMMIT (src/storage/sqlite-driver.ts); elsewhere it is an ordinary transaction. Statements
 * that need only to run in order, not together, take `executeInOneTrip`: one message to the worker
 * there too, and no BEGIN and COMMIT round trips elsewhere.
 */
import type { CompiledQuery, DatabaseConnection, Kysely, QueryResult } from 'kysely';

/** An adapter whose connections run a batch of statements atomically in one call. */
export interface BatchingAdapter {
  readonly batchesStatements: true;
}

interface BatchingConnection extends DatabaseConnection {
  executeBatch(queries: readonly CompiledQuery[]): Promise<QueryResult<unknown>[]>;
}

function batches(adapter: unknown): boolean {
  return (adapter as Partial<BatchingAdapter>).batchesStatements === true;
}

/** Runs `queries` one after another on `db`; their results in order. */
async function inOrder<DB>(db: Kysely<DB>, queries: readonly CompiledQuery[]): Promise<QueryResult<unknown>[]> {
  const results: QueryResult<unknown>[] = [];
  for (const query of queries) results.push(await db.executeQuery(query));
  return results;
}

/** Runs `queries` in order, atomically (a failing one undoes the others' writes); their results in order. */
export async function executeAtomically<DB>(db: Kysely<DB>, queries: readonly CompiledQuery[]): Promise<QueryResult<unknown>[]> {
  // Already atomic inside a transaction: the surrounding transaction holds them.
  if (db.isTransaction) return inOrder(db, queries);
  const executor = db.getExecutor();
  if (batches(executor.adapter)) {
    return executor.provideConnection((connection) => (connection as BatchingConnection).executeBatch(queries));
  }
  return db.transaction().execute((tx) => inOrder(tx, queries));
}

/**
 * Runs `queries` in order; their results in order. On a store that batches, one round trip (and
 * atomic, as a batch is); elsewhere each statement on its own, with no transaction around them:
 * for statements whose meaning holds without one (a write, then reads of what it wrote).
 */
export async function executeInOneTrip<DB>(db: Kysely<DB>, queries: readonly CompiledQuery[]): Promise<QueryResult<unknown>[]> {
  if (!db.isTransaction && batches(db.getExecutor().adapter)) return executeAtomically(db, queries);
  return inOrder(db, queries);
}
