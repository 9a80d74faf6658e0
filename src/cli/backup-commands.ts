/** `burrow backup` and `burrow restore`: verified snapshots of the data directory (docs/operations.md). */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../server/config.js';
import { createBackup } from '../storage/backup/create-backup.js';
import { BackupError, type BackupProgress } from '../storage/backup/format.js';
import { restoreBackup } from '../storage/backup/restore-backup.js';
import { NoInputError, readSecret } from './prompt.js';

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Progress on stderr: one line per phase and about every tenth of the files. */
function progressPrinter(verb: string): (progress: BackupProgress) => void {
  let lastDecile = -1;
  return (p) => {
    if (p.phase === 'snapshot') {
      process.stderr.write(`${verb}: taking a consistent snapshot of the database…\n`);
      return;
    }
    if (p.phase === 'swap') {
      process.stderr.write(`${verb}: every checksum verified; moving the restored data into place…\n`);
      return;
    }
    const decile = p.totalFiles === 0 ? 10 : Math.floor((p.files / p.totalFiles) * 10);
    if (decile === lastDecile && p.files !== p.totalFiles) return;
    lastDecile = decile;
    process.stderr.write(`${verb}: ${p.files}/${p.totalFiles} files, ${megabytes(p.bytes)} of ${megabytes(p.totalBytes)}\n`);
  };
}

function fail(command: string, error: unknown): never {
  if (error instanceof BackupError || error instanceof ConfigError || error instanceof NoInputError) {
    console.error(`burrow ${command}: ${error.message}`);
    process.exit(1);
  }
  throw error;
}

/** Adds `burrow backup` and `burrow restore`. */
export function registerBackupCommands(program: Command): void {
  program
    .command('backup')
    .description('Write a consistent, checksummed backup of the data directory (safe while the server runs).')
    .option('--data <dir>', 'data directory (default ./data, or BURROW_DATA)')
    .requiredOption('--out <file>', 'the backup file to write')
    .option('--with-secrets', 'also include the secrets file, sealed with a passphrase (BURROW_BACKUP_PASSPHRASE or a prompt)')
    .action(async (flags: { data?: string; out: string; withSecrets?: boolean }) => {
      try {
        const config = loadConfig({ flags: flags.data === undefined ? {} : { data: flags.data } });
        if (config.databaseUrl !== undefined) throw new ConfigError('burrow backup copies the embedded store; with BURROW_DATABASE_URL use pg_dump and your object store\'s versioning (docs/operations.md)');
        const passphrase = flags.withSecrets === true
          ? await readSecret({ envName: 'BURROW_BACKUP_PASSPHRASE', question: 'Passphrase for the secrets in this backup: ', confirm: true })
          : undefined;
        const summary = await createBackup({ dataDir: config.dataDir, out: resolve(flags.out), ...(passphrase === undefined ? {} : { secretsPassphrase: passphrase }), onProgress: progressPrinter('backup') });
        console.log(`Backup written: ${flags.out} (${summary.files} files, ${megabytes(summary.bytes)}, secrets ${summary.withSecrets ? 'included, sealed with your passphrase' : 'NOT included: keep a copy of secrets.json somewhere safe'}).`);
      } catch (error) {
        fail('backup', error);
      }
    });

  program
    .command('restore')
    .description('Verify every checksum of a backup, then put it in place of the data directory. A damaged backup is refused and nothing is changed.')
    .requiredOption('--from <file>', 'the backup file')
    .option('--data <dir>', 'data directory to restore into (default ./data, or BURROW_DATA)')
    .option('--force', 'replace a non-empty data directory (it is moved aside, not deleted)')
    .action(async (flags: { from: string; data?: string; force?: boolean }) => {
      try {
        const config = loadConfig({ flags: flags.data === undefined ? {} : { data: flags.data } });
        const summary = await restoreBackup({
          from: resolve(flags.from),
          dataDir: config.dataDir,
          force: flags.force === true,
          secretsPassphrase: () => readSecret({ envName: 'BURROW_BACKUP_PASSPHRASE', question: 'Passphrase of this backup\'s secrets: ' }),
          onProgress: progressPrinter('restore'),
        });
        console.log(`Restored ${summary.files} files (${megabytes(summary.bytes)}) from the backup of ${summary.manifest.createdAt} into ${config.dataDir}.`);
        if (summary.movedAside !== undefined) console.log(`The previous contents were moved to ${summary.movedAside}; delete it once you have checked the restore.`);
        if (summary.secrets === 'kept') console.log('The backup held no secrets: the existing secrets.json was kept.');
        if (summary.secrets === 'missing') {
          console.error('WARNING: this backup holds no secrets and there was no secrets.json to keep. Copy your saved secrets.json into the data directory (mode 0600) BEFORE starting the server: with new secrets nobody can log in and stored emails cannot be read.');
        }
      } catch (error) {
        fail('restore', error);
      }
    });
}
