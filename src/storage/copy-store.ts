/**
 * Moves an embedded deployment to the scale-out stores: every lasting table of the SQLite file,
 * parents before children (from its foreign keys), and every blob a message names, into an empty
 * PostgreSQL database and bucket; then verifies row counts and each blob's SHA-256. Blobs get new
 * random names in the target store, and the copied message rows name them.
 */
import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { toBase64Url } from '../crypto/bytes.js';
import type { BlobStore } from './blobs/blob-store.js';
import type { SqlStore } from './database.js';

/** Tables that are not copied: the migrator's own, and short-lived per-node state. */
const SKIPPED = new Set(['kysely_migration', 'kysely_migration_lock', 'rate_windows', 'login_failures', 'login_states']);
const BATCH = 200;
/** Far above any envelope; the configured limit applied when each was uploaded. */
const MAX_BLOB_BYTES = 1024 ** 3;

export interface CopyReport {
  /** Rows copied per table, in copy order. */
  tables: Array<{ table: string; rows: number }>;
  blobs: number;
  blobBytes: number;
}

export interface CopyStoreOptions {
  /** The embedded SQLite store (the server must be stopped). */
  from: SqlStore;
  fromBlobs: BlobStore;
  /** An empty, migrated store (PostgreSQL). */
  to: SqlStore;
  toBlobs: BlobStore;
  /** Progress for long copies: a step name and counts; never row contents. */
  onProgress?: (step: string, done: number, total: number) => void;
}

/** Thrown when the copy cannot start or does not verify; the message says what to do. */
export class CopyStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CopyStoreError';
  }
}

type AnyDb = Kysely<Record<string, Record<string, unknown>>>;

/** The SQLite file's tables, each after the tables its foreign keys reference. */
async function tablesInDependencyOrder(db: AnyDb): Promise<string[]> {
  const tables = (await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`.execute(db)).rows
    .map((r) => r.name)
    .filter((name) => !SKIPPED.has(name));
  const parents = new Map<string, Set<string>>();
  for (const table of tables) {
    const keys = (await sql<{ table: string }>`SELECT "table" FROM pragma_foreign_key_list(${table})`.execute(db)).rows;
    parents.set(table, new Set(keys.map((k) => k.table).filter((t) => t !== table && tables.includes(t))));
  }
  const ordered: string[] = [];
  const placed = new Set<string>();
  while (ordered.length < tables.length) {
    const ready = tables.filter((t) => !placed.has(t) && [...(parents.get(t) ?? [])].every((p) => placed.has(p)));
    if (ready.length === 0) throw new CopyStoreError('the source tables have circular foreign keys');
    for (const t of ready) {
      ordered.push(t);
      placed.add(t);
    }
  }
  return ordered;
}

async function countRows(db: AnyDb, table: string): Promise<number> {
  const row = await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

async function sha256Of(store: BlobStore, name: string): Promise<{ hash: string; size: number } | undefined> {
  const read = await store.get(name);
  if (read === undefined) return undefined;
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of read.body as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { hash: toBase64Url(new Uint8Array(hash.digest())), size };
}

/**
 * Copies `from` into `to` and verifies the copy. Refuses a target that already holds rows. On a
 * failure part-way the target may hold part of the data: drop and recreate it before trying again.
 */
export async function copyStore(options: CopyStoreOptions): Promise<CopyReport> {
  const { from, to, fromBlobs, toBlobs } = options;
  if (from.dialect !== 'sqlite') throw new CopyStoreError('the source must be an embedded (SQLite) store');
  const source = from.db as unknown as AnyDb;
  const target = to.db as unknown as AnyDb;
  const tables = await tablesInDependencyOrder(source);
  for (const table of tables) {
    let rows: number;
    try {
      rows = await countRows(target, table);
    } catch {
      throw new CopyStoreError(`the target database has no table ${table}: run the same Burrow version on both`);
    }
    if (rows > 0) throw new CopyStoreError(`the target database is not empty (${table} has rows): use a new, empty database`);
  }

  // Blobs first, so every copied message row names a blob that is already stored.
  const messages = tables.includes('messages')
    ? await source.selectFrom('messages').select(['id', 'blob_name']).execute() as Array<{ id: string; blob_name: string }>
    : [];
  const renamed = new Map<string, { name: string; hash: string }>();
  let blobBytes = 0;
  for (const [index, message] of messages.entries()) {
    const read = await fromBlobs.get(message.blob_name);
    if (read === undefined) throw new CopyStoreError(`message ${message.id} names a blob that is missing from the source`);
    const stored = await toBlobs.put(read.body, { maxBytes: MAX_BLOB_BYTES, size: read.size });
    if (stored.sha256 === undefined) throw new Error('the blob store gave no hash for a put that asked for one');
    renamed.set(message.blob_name, { name: stored.name, hash: toBase64Url(stored.sha256) });
    blobBytes += stored.size;
    options.onProgress?.('blobs', index + 1, messages.length);
  }

  const report: CopyReport = { tables: [], blobs: messages.length, blobBytes };
  await target.transaction().execute(async (trx) => {
    for (const [index, table] of tables.entries()) {
      let copied = 0;
      for (let offset = 0; ; offset += BATCH) {
        const rows = await source.selectFrom(table).selectAll().orderBy(sql`rowid`).limit(BATCH).offset(offset).execute();
        if (rows.length === 0) break;
        const values = table === 'messages'
          ? rows.map((row) => ({ ...row, blob_name: renamed.get(row.blob_name as string)?.name ?? row.blob_name }))
          : rows;
        await trx.insertInto(table).values(values).execute();
        copied += rows.length;
      }
      report.tables.push({ table, rows: copied });
      options.onProgress?.('tables', index + 1, tables.length);
    }
  });

  // Verify: the same number of rows everywhere, and every blob byte for byte (by SHA-256).
  for (const { table, rows } of report.tables) {
    const copied = await countRows(target, table);
    const original = await countRows(source, table);
    if (copied !== rows || original !== rows) throw new CopyStoreError(`${table}: ${original} rows in the source, ${copied} in the target`);
  }
  for (const [index, [oldName, copy]] of [...renamed.entries()].entries()) {
    const original = await sha256Of(fromBlobs, oldName);
    const copied = await sha256Of(toBlobs, copy.name);
    if (original === undefined || copied === undefined || original.hash !== copied.hash || copied.hash !== copy.hash) {
      throw new CopyStoreError(`a blob did not verify after copying (source ${oldName})`);
    }
    options.onProgress?.('verify', index + 1, renamed.size);
  }
  return report;
}
