/** `burrow migrate-store`: move a stopped embedded deployment to PostgreSQL + S3 (docs/operations.md). */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../server/config.js';
import { checkDatabaseUrl } from '../server/security/audit.js';
import { FsBlobStore } from '../storage/blobs/fs-blob-store.js';
import { copyStore } from '../storage/copy-store.js';
import { openConfiguredBlobStore } from '../storage/open-store.js';
import { openPostgresStore } from '../storage/postgres.js';
import { openSqliteStore } from '../storage/sqlite.js';
import type { CliIo } from './io.js';
import { reportOperatorFailure } from './operator-failure.js';

interface MigrateStoreFlags {
  fromData: string;
  toDatabase: string;
  toBlobs: string;
  json?: boolean;
}

async function migrateStore(io: CliIo, flags: MigrateStoreFlags): Promise<void> {
  const dataDir = resolve(flags.fromData);
  const databaseFile = join(dataDir, 'burrow.db');
  if (!existsSync(databaseFile)) throw new ConfigError(`${databaseFile} does not exist: --from-data must name an embedded data directory`);
  // The S3 endpoint and credentials come from the same BURROW_S3_* variables `burrow serve` reads.
  const config = loadConfig({ env: { ...io.env, BURROW_DATABASE_URL: flags.toDatabase, BURROW_BLOBS: flags.toBlobs } });
  const unsafe = checkDatabaseUrl(config).filter((f) => f.severity === 'high');
  if (unsafe.length > 0) throw new ConfigError(unsafe.map((f) => `${f.id}: ${f.title} (fix: ${f.fix})`).join('\n'));

  const from = await openSqliteStore(databaseFile);
  const fromBlobs = new FsBlobStore({ dir: join(dataDir, 'blobs') });
  const to = await openPostgresStore(flags.toDatabase);
  const toBlobs = openConfiguredBlobStore(config);
  try {
    let lastStep = '';
    const report = await copyStore({
      from, fromBlobs, to, toBlobs,
      onProgress(step, done, total) {
        if (step !== lastStep || done === total || done % 100 === 0) io.stderr.write(`\r${step}: ${done}/${total}${done === total ? '\n' : ''}`);
        lastStep = step;
      },
    });
    if (flags.json === true) {
      io.stdout.write(`${JSON.stringify({ tables: report.tables.map(({ table, rows }) => ({ table, rows })), blobs: report.blobs, blobBytes: report.blobBytes, verified: true })}\n`);
      return;
    }
    const say = (text: string): void => {
      io.stdout.write(`${text}\n`);
    };
    for (const { table, rows } of report.tables) say(`${table.padEnd(24)} ${rows} rows`);
    say(`blobs                    ${report.blobs} (${report.blobBytes} bytes), each verified by SHA-256`);
    say('Done. Set BURROW_DATABASE_URL, BURROW_BLOBS and the secrets (BURROW_SECRETS) on every node, then start them.');
  } finally {
    await toBlobs.close();
    await to.close();
    await fromBlobs.close();
    await from.close();
  }
}

/** Adds `burrow migrate-store --from-data DIR --to-database URL --to-blobs s3://…`. */
export function registerMigrateStoreCommand(program: Command, io: CliIo): void {
  program
    .command('migrate-store')
    .description('Copy a stopped embedded deployment (SQLite + blob directory) into an empty PostgreSQL database and S3 bucket, and verify the copy.')
    .requiredOption('--from-data <dir>', 'the embedded data directory (stop the server first)')
    .requiredOption('--to-database <url>', 'postgres://user:password@host/db?sslmode=verify-full, an empty database')
    .requiredOption('--to-blobs <url>', 's3://bucket/prefix (endpoint and credentials from BURROW_S3_*)')
    .option('--json', 'print one JSON object with the rows and blobs copied on stdout (progress stays on stderr)')
    .action(async (flags: MigrateStoreFlags) => {
      try {
        await migrateStore(io, flags);
      } catch (error) {
        reportOperatorFailure(io, flags, error);
      }
    });
}
