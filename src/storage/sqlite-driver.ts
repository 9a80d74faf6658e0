/**
 * Kysely's view of the embedded SQLite file with group commit: writes and transactions go to the
 * connection on its own thread (src/storage/sqlite-worker.ts), reads outside a transaction run
 * here on a second, read-only connection.
 *
 * Why reads stay on this thread: a read-only WAL connection sees only committed (so, with
 * synchronous=FULL, durable) data, never the group's writes still waiting for their fsync, so its
 * answers need not wait for the group's COMMIT; and a read from the page cache costs less than
 * the two messages a round trip to the worker would (docs/benchmarks.md, "Group commit").
 * Statements inside a transaction go to the worker, so a transaction reads its own writes and
 * stays atomic.
 */
import { Worker } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler,
  type DatabaseConnection, type DatabaseIntrospector, type Dialect, type DialectAdapter, type Driver, type Kysely, type QueryCompiler, type QueryResult,
} from 'kysely';
import type { BatchingAdapter } from './atomic-batch.js';
import { sqliteError } from './errors.js';
import { withStatementCache, type PreparingDatabase, type WorkerAnswer, type WorkerOptions, type WorkerRequest, type WorkerResult } from './sqlite-worker.js';

/** The worker's entry: the compiled file, or the source when the tests run the sources (Node strips its types). */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './sqlite-worker.ts' : './sqlite-worker.js', import.meta.url);

type Outgoing = WorkerRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;


/** The worker and the requests waiting for its answers. */
class WorkerClient {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (result: WorkerResult | undefined) => void; reject: (error: Error) => void }>();
  #nextId = 1;
  #dead: Error | null = null;
  readonly ready: Promise<void>;

  constructor(path: string) {
    this.#worker = new Worker(WORKER_URL, { workerData: { burrowSqliteWorker: true, path } satisfies WorkerOptions });
    // Idle, the worker keeps no process alive; a pending answer does (see #send).
    this.#worker.unref();
    this.ready = new Promise((resolve, reject) => {
      this.#pending.set(0, { resolve: () => resolve(), reject });
      this.#worker.ref();
    });
    this.#worker.on('message', (answers: WorkerAnswer[]) => {
      for (const answer of answers) this.#answer(answer);
    });
    this.#worker.on('error', (error) => this.#fail(error));
    this.#worker.on('exit', () => this.#fail(new Error('the SQLite worker stopped')));
  }

  send(request: Outgoing): Promise<WorkerResult | undefined> {
    if (this.#dead !== null) return Promise.reject(this.#dead);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...request, id });
    });
  }

  #answer(answer: WorkerAnswer): void {
    const waiter = this.#pending.get(answer.id);
    if (waiter === undefined) return;
    this.#pending.delete(answer.id);
    if (this.#pending.size === 0) this.#worker.unref();
    if (answer.ok) waiter.resolve(answer.result);
    else waiter.reject(sqliteError(answer.error));
  }

  #fail(error: Error): void {
    this.#dead ??= error;
    for (const waiter of this.#pending.values()) waiter.reject(this.#dead);
    this.#pending.clear();
  }

  async stop(): Promise<void> {
    if (this.#dead === null) await this.send({ conn: 0, op: 'close' });
    await this.#worker.terminate();
  }
}

/** One Kysely connection: a name the worker tells transactions apart by. */
class GroupConnection implements DatabaseConnection {
  readonly #client: WorkerClient;
  readonly #reader: PreparingDatabase | undefined;
  readonly #id: number;
  #inTransaction = false;

  constructor(client: WorkerClient, reader: PreparingDatabase | undefined, id: number) {
    this.#client = client;
    this.#reader = reader;
    this.#id = id;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const { sql, parameters } = compiledQuery;
    if (!this.#inTransaction && this.#reader !== undefined) {
      const statement = this.#reader.prepare(sql);
      if (statement.reader && statement.readonly) return { rows: statement.all(parameters) as R[] };
    }
    const result = await this.#client.send({ conn: this.#id, op: 'query', sql, parameters });
    return (result ?? { rows: [] }) as QueryResult<R>;
  }

  // eslint-disable-next-line require-yield -- nothing streams (see withStatementCache)
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('the SQLite store does not stream queries');
  }

  /** `queries` as one atomic unit in one round trip to the worker (src/storage/atomic-batch.ts); never inside a transaction. */
  async executeBatch(queries: readonly CompiledQuery[]): Promise<QueryResult<unknown>[]> {
    if (this.#inTransaction) throw new Error('executeBatch runs outside a transaction');
    const result = await this.#client.send({ conn: this.#id, op: 'batch', statements: queries.map(({ sql, parameters }) => ({ sql, parameters })) });
    return result?.batch ?? [];
  }

  async transaction(op: 'begin' | 'commit' | 'rollback'): Promise<void> {
    // Marked before the answer: a commit that fails has still ended the transaction in the worker.
    this.#inTransaction = op === 'begin';
    await this.#client.send({ conn: this.#id, op });
  }
}

/** The driver: one worker, one read-only connection, a fresh connection name per acquisition. */
class GroupCommitDriver implements Driver {
  readonly #path: string;
  #client: WorkerClient | undefined;
  #reader: PreparingDatabase | undefined;
  #nextConnection = 1;

  constructor(path: string) {
    this.#path = path;
  }

  async init(): Promise<void> {
    const client = new WorkerClient(this.#path);
    this.#client = client;
    await client.ready;
    // An in-memory database is the worker's alone: a second connection would open another one.
    if (this.#path !== ':memory:') {
      const reader = new BetterSqlite3(this.#path, { readonly: true });
      reader.pragma('busy_timeout = 5000');
      this.#reader = withStatementCache(reader);
    }
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new GroupConnection(this.#client!, this.#reader, this.#nextConnection++);
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as GroupConnection).transaction('begin');
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as GroupConnection).transaction('commit');
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as GroupConnection).transaction('rollback');
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint "${name.replaceAll('"', '""')}"`));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to "${name.replaceAll('"', '""')}"`));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release "${name.replaceAll('"', '""')}"`));
  }

  async releaseConnection(): Promise<void> {
    // Nothing to give back: a connection is only a name.
  }

  async destroy(): Promise<void> {
    this.#reader?.close();
    this.#reader = undefined;
    await this.#client?.stop();
  }
}

/** SQLite's adapter, except that connections need no mutex here: the worker orders transactions itself. */
class GroupCommitAdapter extends SqliteAdapter implements BatchingAdapter {
  readonly batchesStatements = true;

  override get supportsMultipleConnections(): boolean {
    return true;
  }
}

/**
 * SQLite's compiler, except that a parameter is written `+?` (unary plus: the same value, and like
 * a bare parameter it has no affinity) so that no statement is compiled again on every run.
 *
 * Why: when the query planner looks at a bound parameter (every `column = ?` that a join or a
 * non-unique index search plans with; single-table lookups by a unique key take a short cut that
 * does not), SQLite marks the parameter so that binding it may re-plan the statement, and
 * `sqlite3_clear_bindings` — which better-sqlite3 calls after every run — then expires the
 * statement outright. The next run parses and plans it from its text again: 8–10 µs per joined
 * table, more than the lookups themselves (docs/benchmarks.md, "reads on the event loop"). SQLite's
 * query planner stability guarantee (SQLITE_DBCONFIG_ENABLE_QPSG) would stop it, but better-sqlite3
 * cannot set it; a `+?` is no parameter to the planner, so it plans once, as PostgreSQL does with
 * prepared statements. Nothing here depends on planning with a value (no LIKE, no partial index).
 */
export class StablePlanQueryCompiler extends SqliteQueryCompiler {
  protected override getCurrentParameterPlaceholder(): string {
    return '+?';
  }
}

/** The Kysely dialect of the SQLite file at `path` with its connection on a worker thread. */
export function groupCommitDialect(path: string): Dialect {
  return {
    createAdapter: (): DialectAdapter => new GroupCommitAdapter(),
    createDriver: (): Driver => new GroupCommitDriver(path),
    createQueryCompiler: (): QueryCompiler => new StablePlanQueryCompiler(),
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's introspector takes any schema
    createIntrospector: (db: Kysely<any>): DatabaseIntrospector => new SqliteIntrospector(db),
  };
}
