/**
 * A digest of everything a server has stored — every row of every table of its SQLite database and
 * the files of its blob directory — to prove that a refused request changed nothing. Columns that
 * change on reads by design (a session's last-seen time) are left out.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { sql } from 'kysely';
import type { SqlStore } from '../../src/storage/database.js';

/** Columns written by reads, at most once a minute (sessions.touchIntervalMs): not state a request changes. */
const VOLATILE: Record<string, readonly string[]> = { sessions: ['last_seen_at'] };

/**
 * How many rows the writing connection has changed since it opened (SQLite's total_changes()): a
 * cheap "did anything change?". Asked inside a transaction, because only transactions run on the
 * writing connection (src/storage/sqlite-driver.ts); a plain read would ask the read-only one, whose
 * count never moves.
 */
export async function changeCounter(store: SqlStore): Promise<number> {
  if (store.dialect !== 'sqlite') throw new Error('the state digest reads SQLite');
  const { rows } = await store.db.transaction().execute((trx) => sql<{ n: number }>`select total_changes() as n`.execute(trx));
  return Number(rows[0]!.n);
}

export async function tableNames(store: SqlStore): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`.execute(store.db);
  return rows.map((r) => r.name);
}

/** Per table, a hash of its rows (sorted), and one hash of the blob directory's file names and sizes. */
export async function stateDigest(store: SqlStore, blobDir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of await tableNames(store)) {
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(store.db);
    const volatile = VOLATILE[table] ?? [];
    const lines = rows.map((row) => JSON.stringify(Object.entries(row).filter(([k]) => !volatile.includes(k)).map(([k, v]) => [k, v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v]))).sort();
    out[table] = `${rows.length}:${createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16)}`;
  }
  out['<blobs>'] = createHash('sha256').update(filesUnder(blobDir).join('\n')).digest('hex').slice(0, 16);
  return out;
}

/** The blob directory's files and sizes, as one string (cheap: two directory levels). */
export function blobListing(blobDir: string): string {
  return filesUnder(blobDir).join('\n');
}

function filesUnder(dir: string, root = dir): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names.sort()) {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) out.push(...filesUnder(path, root));
    else out.push(`${relative(root, path)} ${stat.size}`);
  }
  return out;
}

/** The tables whose digest differs. */
export function changedTables(before: Record<string, string>, after: Record<string, string>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => before[k] !== after[k]);
}
