/**
 * Databases that start with every migration applied, for test servers: an embedded SQLite file
 * copied from one migrated once per test process. Migrating is the same for every server and
 * costs most of its start; the migrations themselves are tested on empty databases by the storage
 * suites (test/storage/sql/), which open their stores without these templates.
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/storage/sqlite.js';

const MIGRATIONS_DIR = new URL('../../src/storage/migrations/', import.meta.url).pathname;

/** SHA-256 (hex) of every migration's source: a changed or added migration gets a new template. */
export async function migrationsDigest(): Promise<string> {
  const hash = createHash('sha256');
  for (const name of (await readdir(MIGRATIONS_DIR)).sort()) {
    hash.update(name).update('\0').update(await readFile(join(MIGRATIONS_DIR, name))).update('\0');
  }
  return hash.digest('hex');
}

let sqliteTemplate: Promise<string> | undefined;

/** A migrated SQLite file, made on first use in this process and removed when it exits. */
function migratedSqliteFile(): Promise<string> {
  sqliteTemplate ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'burrow-template-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'template.db');
    const store = await openSqliteStore(file);
    // Closing the last connection checkpoints the write-ahead log into the file.
    await store.close();
    return file;
  })();
  sqliteTemplate.catch(() => { sqliteTemplate = undefined; });
  return sqliteTemplate;
}

/** Writes a migrated, empty database to `path` (which must not exist yet), mode 0600. */
export async function writeMigratedSqlite(path: string): Promise<void> {
  await copyFile(await migratedSqliteFile(), path);
}
