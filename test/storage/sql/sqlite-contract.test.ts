import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../../src/storage/sqlite.js';
import { sqlStoreContract } from './sql-store.contract.js';

sqlStoreContract('SQLite file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'burrow-sql-'));
  const path = join(dir, 'burrow.db');
  return {
    open: (options) => openSqliteStore(path, options),
    cleanup: async () => { rmSync(dir, { recursive: true, force: true }); },
  };
});
