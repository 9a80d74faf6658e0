/**
 * Timings a SQL store reports (to the metrics), never a statement's text, parameters or rows: how
 * long each statement took by kind, and how long each transaction's COMMIT took (on SQLite with
 * synchronous=FULL, that is the WAL fsync; on PostgreSQL, the server's commit and WAL flush).
 */
import type { DatabaseConnection, Dialect, Driver, LogEvent, Logger } from 'kysely';

export type StatementKind = 'select' | 'insert' | 'update' | 'delete' | 'other';

export interface StoreObserver {
  /** One statement ran for `durationMs` (failed: it threw). */
  statement?(kind: StatementKind, durationMs: number, failed: boolean): void;
  /** One transaction's COMMIT took `durationMs`. */
  commit?(durationMs: number): void;
}

const KINDS: Record<string, StatementKind> = {
  SelectQueryNode: 'select',
  InsertQueryNode: 'insert',
  UpdateQueryNode: 'update',
  DeleteQueryNode: 'delete',
};

/** Kysely's `log` option feeding `observer.statement`; undefined when nothing listens. */
export function statementLogger(observer: StoreObserver | undefined): Logger | undefined {
  const statement = observer?.statement;
  if (statement === undefined) return undefined;
  return (event: LogEvent) => {
    statement(KINDS[event.query.query.kind] ?? 'other', event.queryDurationMillis, event.level === 'error');
  };
}

/** `dialect` whose driver reports each COMMIT's duration to `observer.commit`; `dialect` itself when nothing listens. */
export function observedDialect(dialect: Dialect, observer: StoreObserver | undefined): Dialect {
  const commit = observer?.commit;
  if (commit === undefined) return dialect;
  return {
    createAdapter: () => dialect.createAdapter(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createDriver(): Driver {
      const driver = dialect.createDriver();
      const commitTransaction = driver.commitTransaction.bind(driver);
      driver.commitTransaction = async (connection: DatabaseConnection) => {
        const started = performance.now();
        try {
          await commitTransaction(connection);
        } finally {
          commit(performance.now() - started);
        }
      };
      return driver;
    },
  };
}
