import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrateToLatest, migrationNames, migrationsAreCurrent } from '../../../src/storage/migrate.js';
import { openSqliteStore } from '../../../src/storage/sqlite.js';

describe('the SQLite store', () => {
  it('opens in WAL mode with foreign keys on and every migration applied', async () => {
    const store = await openSqliteStore(join(mkdtempSync(join(tmpdir(), 'burrow-sql-')), 'burrow.db'));
    try {
      const mode = await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(store.db);
      expect(mode.rows[0]?.journal_mode).toBe('wal');
      const fk = await sql<{ foreign_keys: number }>`PRAGMA foreign_keys`.execute(store.db);
      expect(fk.rows[0]?.foreign_keys).toBe(1);
      expect(await migrationsAreCurrent(store.db)).toBe(true);
      expect(migrationNames()[0]).toBe('0001-accounts');
    } finally {
      await store.close();
    }
  });

  it('migrates once: running the migrations again changes nothing', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'burrow-sql-')), 'burrow.db');
    const store = await openSqliteStore(path);
    await store.close();
    const again = await openSqliteStore(path, { migrate: false });
    try {
      const result = await migrateToLatest(again.db);
      expect(result.results).toEqual([]);
    } finally {
      await again.close();
    }
  });

  it('deletes an account\'s sessions with the account', async () => {
    const store = await openSqliteStore(join(mkdtempSync(join(tmpdir(), 'burrow-sql-')), 'burrow.db'));
    try {
      await store.db.insertInto('accounts').values({
        id: 'a', email_lookup: 'l', email_sealed: 's', opaque_record: 'r', signing_key: 'k', agreement_key: 'k',
        sealed_identity: 'i', recovery_sealed_identity: 'i', recovery_verifier: 'v', created_at: 1,
      }).execute();
      await store.db.insertInto('sessions').values({ id: 's', account_id: 'a', token_hash: 'h', label: '', created_at: 1, last_seen_at: 1, expires_at: 2 }).execute();
      await store.db.deleteFrom('accounts').where('id', '=', 'a').execute();
      const left = await store.db.selectFrom('sessions').selectAll().execute();
      expect(left).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
