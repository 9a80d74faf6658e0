/** Recognising database errors portably across the SQLite and PostgreSQL drivers. */

/** True when `error` is a unique-constraint violation (SQLite SQLITE_CONSTRAINT_UNIQUE / PRIMARYKEY, PostgreSQL 23505). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/**
 * True when `error` is a foreign-key violation (SQLite SQLITE_CONSTRAINT_FOREIGNKEY, PostgreSQL
 * 23503): on PostgreSQL, a row inserted while another transaction deletes the row it references.
 */
export function isForeignKeyViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503';
}

/** Socket-level failures of a database connection (Node errno codes). */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** PostgreSQL SQLSTATEs for "the server is not there right now": class 08 (connection exception), 57P01–57P03 (shutdown, starting up), 53300 (too many connections). */
const UNAVAILABLE_STATES = new Set(['08000', '08001', '08003', '08004', '08006', '57P01', '57P02', '57P03', '53300']);
/** What `pg` says, without a code, when a connection ends or a pool wait or query times out. */
const PG_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection terminated due to connection timeout)/;

/**
 * True when `error` means the database cannot be reached right now (down, restarting, overloaded),
 * so the request may succeed if retried: the server answers 503 rather than 500.
 */
export function isStoreUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || UNAVAILABLE_STATES.has(code) || code === 'SQLITE_BUSY')) return true;
  const message = (error as { message?: unknown }).message;
  return typeof message === 'string' && PG_MESSAGES.test(message);
}

/**
 * An SQLite error a worker thread sent back as plain data (message and code), made an Error again
 * with the `code` the checks above test: the main store's worker and the live bus's log worker.
 */
export function sqliteError(error: { message: string; code?: string }): Error {
  return Object.assign(new Error(error.message), { name: 'SqliteError' }, error.code === undefined ? {} : { code: error.code });
}
