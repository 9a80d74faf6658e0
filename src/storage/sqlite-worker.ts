/**
 * The SQLite connection's own thread, with group commit (docs/benchmarks.md, "Group commit").
 *
 * The main thread's Kysely driver (src/storage/sqlite-driver.ts) sends each compiled statement
 * here. Every write runs inside one open "group" transaction; the group is committed (one WAL
 * fsync, synchronous=FULL) once the messages queued so far have run, and only then are the
 * writes' answers sent back. While a COMMIT waits on the disk this thread is blocked and new
 * statements queue up in its port, so the next group takes all of them: under load one fsync
 * carries many requests' writes, and the event loop never waits on a disk.
 *
 * A request's own transaction (Kysely `transaction()`) is a SAVEPOINT inside the group: its
 * rollback undoes only its writes, and the other requests' writes in the group stay. While it is
 * open, other connections' statements wait here in order, as Kysely's one-connection mutex made
 * them wait before. Answers that could reveal a not yet durable write (any answer given while the
 * group holds writes) wait for the COMMIT too, so nothing a client is told can be lost by a power
 * cut.
 *
 * This file runs as a worker's entry and, when the tests run the sources, through Node's type
 * stripping: it imports no module of ours and uses only erasable TypeScript.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';

/** Prepared statements kept per connection, least recently used dropped first. */
const STATEMENT_CACHE_SIZE = 256;

/** The part of a database Kysely's SQLite driver and this worker use. */
export interface PreparingDatabase {
  close(): void;
  prepare(sql: string): BetterSqlite3.Statement;
}

/**
 * `sqlite` with its prepared statements cached by SQL text. Preparing costs more than running a
 * typical query here (about 100 µs against 50 µs), several times per request. Safe because each
 * statement runs to completion synchronously; nothing here streams (`iterate`), which would hold
 * a statement open. SQLite re-prepares a cached statement by itself after a schema change.
 */
export function withStatementCache(sqlite: BetterSqlite3.Database, size = STATEMENT_CACHE_SIZE): PreparingDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => {
      cache.clear();
      sqlite.close();
    },
    prepare(sql) {
      let statement = cache.get(sql);
      if (statement === undefined) {
        statement = sqlite.prepare(sql);
        if (cache.size >= size) cache.delete(cache.keys().next().value!);
      } else {
        cache.delete(sql);
      }
      cache.set(sql, statement);
      return statement;
    },
  };
}

/** What the main thread asks; `conn` names one Kysely connection, `id` the request. */
export type WorkerRequest =
  | { id: number; conn: number; op: 'query'; sql: string; parameters: readonly unknown[] }
  | { id: number; conn: number; op: 'begin' | 'commit' | 'rollback' }
  /** Statements run together as one savepoint in the group: all of them or none (one round trip for a short transaction). */
  | { id: number; conn: number; op: 'batch'; statements: ReadonlyArray<{ sql: string; parameters: readonly unknown[] }> }
  | { id: number; conn: 0; op: 'close' };

/** A statement's result as Kysely's `QueryResult` wants it. */
export interface WorkerResult {
  rows: unknown[];
  numAffectedRows?: bigint;
  insertId?: bigint;
  /** A batch's answer: each statement's result, in order. */
  batch?: WorkerResult[];
}

/** The answer to one request: its result, or the error with the fields callers test (`code`). The worker posts arrays of them. */
export type WorkerAnswer =
  | { id: number; ok: true; result?: WorkerResult }
  | { id: number; ok: false; error: { message: string; code?: string } };

/** How the worker opens the database (passed as `workerData`). */
export interface WorkerOptions {
  burrowSqliteWorker: true;
  path: string;
}

const NO_ROWS: WorkerResult = { rows: [] };

/** better-sqlite3 binds Buffers; a Uint8Array loses its Buffer prototype on the way here. */
function bindable(parameters: readonly unknown[]): unknown[] {
  return parameters.map((value) => (value instanceof Uint8Array && !Buffer.isBuffer(value) ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value));
}

function errorOf(error: unknown): { message: string; code?: string } {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? { message, code } : { message };
}

/** The database, the group transaction and the request transaction open in it. */
class GroupCommitter {
  readonly #sqlite: BetterSqlite3.Database;
  readonly #db: PreparingDatabase;
  readonly #send: (answer: WorkerAnswer) => void;
  /** BEGIN ran and COMMIT has not. */
  #groupOpen = false;
  /** The open group holds writes (or a released request transaction that may have written). */
  #groupDirty = false;
  /** Answers that wait for the group's COMMIT. */
  #held: WorkerAnswer[] = [];
  /** The connection whose transaction (savepoint) is open, if any. */
  #owner: number | null = null;
  /** The group was rolled back under the open request transaction (disk full): it can only roll back. */
  #ownerBroken: { message: string; code?: string } | null = null;
  /** Other connections' requests, in arrival order, while a request transaction is open. */
  #waiting: WorkerRequest[] = [];
  #commitScheduled = false;
  /** A COMMIT fell due while a request transaction was open: it runs before the next one begins, so back-to-back transactions cannot hold answers back for ever. */
  #commitPostponed = false;

  constructor(sqlite: BetterSqlite3.Database, send: (answer: WorkerAnswer) => void) {
    this.#sqlite = sqlite;
    this.#db = withStatementCache(sqlite);
    this.#send = send;
  }

  receive(request: WorkerRequest): void {
    if (request.op === 'close') {
      this.#commit();
      this.#db.close();
      this.#send({ id: request.id, ok: true });
      return;
    }
    if (this.#owner !== null && request.conn !== this.#owner) {
      this.#waiting.push(request);
      return;
    }
    this.#handle(request);
  }

  #handle(request: Exclude<WorkerRequest, { op: 'close' }>): void {
    switch (request.op) {
      case 'begin':
        if (this.#commitPostponed) this.#commit();
        this.#run(request.id, () => {
          this.#openGroup();
          this.#sqlite.exec('SAVEPOINT request');
          this.#owner = request.conn;
          return NO_ROWS;
        }, true);
        return;
      case 'commit':
        this.#endRequest(request.id, 'RELEASE request');
        return;
      case 'rollback':
        this.#endRequest(request.id, 'ROLLBACK TO request; RELEASE request');
        return;
      case 'query':
        this.#run(request.id, () => this.#query(request.sql, request.parameters), this.#owner !== null);
        return;
      case 'batch':
        this.#run(request.id, () => this.#batch(request.statements), this.#owner !== null);
        return;
    }
  }

  /** Runs `statements` in a savepoint of the group: a failing one rolls back the batch's writes alone. */
  #batch(statements: ReadonlyArray<{ sql: string; parameters: readonly unknown[] }>): WorkerResult {
    if (this.#ownerBroken !== null) throw Object.assign(new Error(this.#ownerBroken.message), this.#ownerBroken);
    this.#openGroup();
    this.#sqlite.exec('SAVEPOINT batch');
    try {
      const batch = statements.map((statement) => this.#query(statement.sql, statement.parameters));
      this.#sqlite.exec('RELEASE batch');
      return { rows: [], batch };
    } catch (error) {
      // SQLITE_FULL and SQLITE_IOERR may have rolled back the whole group already (#run sees that).
      if (this.#sqlite.inTransaction) this.#sqlite.exec('ROLLBACK TO batch; RELEASE batch');
      throw error;
    }
  }

  /** Runs one statement: outside any transaction for a read while the group is clean, else in the group. */
  #query(sql: string, parameters: readonly unknown[]): WorkerResult {
    if (this.#ownerBroken !== null) throw Object.assign(new Error(this.#ownerBroken.message), this.#ownerBroken);
    const statement = this.#db.prepare(sql);
    if (statement.reader) return { rows: statement.all(bindable(parameters)) };
    this.#openGroup();
    this.#groupDirty = true;
    const { changes, lastInsertRowid } = statement.run(bindable(parameters));
    return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
  }

  /** Ends the open request transaction with `sql` (RELEASE or ROLLBACK TO), then lets the waiting connections on. */
  #endRequest(id: number, sql: string): void {
    const broken = this.#ownerBroken;
    this.#owner = null;
    this.#ownerBroken = null;
    if (broken !== null) {
      // The group (and the savepoint in it) is gone already: a rollback is done, a commit fails.
      if (sql.startsWith('RELEASE')) this.#send({ id, ok: false, error: broken });
      else this.#send({ id, ok: true });
    } else {
      this.#run(id, () => {
        this.#sqlite.exec(sql);
        this.#groupDirty = true;
        return NO_ROWS;
      }, false);
    }
    this.#drain();
  }

  /** Runs `work` and answers now (`now`), or after the group's COMMIT when the group holds writes. */
  #run(id: number, work: () => WorkerResult, now: boolean): void {
    let answer: WorkerAnswer;
    try {
      answer = { id, ok: true, result: work() };
    } catch (error) {
      answer = { id, ok: false, error: errorOf(error) };
      // Some errors (SQLITE_FULL, SQLITE_IOERR) roll back the whole transaction, not just the statement.
      if (this.#groupOpen && !this.#sqlite.inTransaction) this.#groupLost(error);
    }
    if (now || !this.#groupDirty) this.#send(answer);
    else this.#held.push(answer);
    this.#scheduleCommit();
  }

  #openGroup(): void {
    if (this.#groupOpen) return;
    this.#sqlite.exec('BEGIN');
    this.#groupOpen = true;
  }

  /** SQLite rolled the group back: every held answer becomes that error, and an open request transaction can only roll back. */
  #groupLost(error: unknown): void {
    const failure = errorOf(error);
    this.#groupOpen = false;
    this.#groupDirty = false;
    const held = this.#held;
    this.#held = [];
    for (const answer of held) this.#send({ id: answer.id, ok: false, error: failure });
    if (this.#owner !== null) this.#ownerBroken = failure;
  }

  /** After the messages queued now have run (setImmediate follows the port's poll phase), commit. */
  #scheduleCommit(): void {
    if (this.#commitScheduled || !this.#groupOpen) return;
    this.#commitScheduled = true;
    setImmediate(() => {
      this.#commitScheduled = false;
      this.#commit();
    });
  }

  /** COMMITs the group (unless a request transaction is still open; its end schedules the next try) and sends the held answers. */
  #commit(): void {
    if (!this.#groupOpen) {
      this.#commitPostponed = false;
      return;
    }
    if (this.#owner !== null) {
      this.#commitPostponed = true;
      return;
    }
    this.#commitPostponed = false;
    try {
      this.#sqlite.exec('COMMIT');
    } catch (error) {
      try {
        if (this.#sqlite.inTransaction) this.#sqlite.exec('ROLLBACK');
      } catch {
        // The connection already rolled back or cannot: either way the group is lost.
      }
      this.#groupLost(error);
      return;
    }
    this.#groupOpen = false;
    this.#groupDirty = false;
    const held = this.#held;
    this.#held = [];
    for (const answer of held) this.#send(answer);
  }

  /** Runs the requests that waited for a request transaction, until the next one begins. */
  #drain(): void {
    while (this.#owner === null && this.#waiting.length > 0) this.#handle(this.#waiting.shift() as Exclude<WorkerRequest, { op: 'close' }>);
  }
}

/** Opens the database with Burrow's settings; WAL with synchronous=FULL keeps every commit across a power cut. */
export function openDatabase(path: string): BetterSqlite3.Database {
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma('journal_mode = WAL');
  // FULL: each COMMIT fsyncs the WAL. NORMAL could lose the last commits in a power cut; group
  // commit, not a weaker sync, is what makes many writes cost one fsync.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // Deleted rows (sessions, accounts) are overwritten, not left in free pages.
  sqlite.pragma('secure_delete = ON');
  return sqlite;
}

function startWorker(options: WorkerOptions): void {
  const port = parentPort!;
  let sqlite: BetterSqlite3.Database;
  try {
    sqlite = openDatabase(options.path);
  } catch (error) {
    port.postMessage([{ id: 0, ok: false, error: errorOf(error) }] satisfies WorkerAnswer[]);
    return;
  }
  // Answers go out in batches: a COMMIT releases every held answer at once, and one message for
  // them all costs the main thread one structured clone and one event instead of one each.
  let outbox: WorkerAnswer[] = [];
  const flush = (): void => {
    if (outbox.length === 0) return;
    const batch = outbox;
    outbox = [];
    port.postMessage(batch);
  };
  const committer = new GroupCommitter(sqlite, (answer) => {
    if (outbox.push(answer) === 1) queueMicrotask(flush);
  });
  port.on('message', (request: WorkerRequest) => {
    committer.receive(request);
    if (request.op === 'close') {
      // The last answers (the close's own among them) leave before the port does.
      flush();
      port.close();
    }
  });
  port.postMessage([{ id: 0, ok: true }] satisfies WorkerAnswer[]);
}

if (!isMainThread && (workerData as Partial<WorkerOptions> | null)?.burrowSqliteWorker === true) startWorker(workerData as WorkerOptions);
