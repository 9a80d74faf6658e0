/** `burrow backup` and `burrow restore`: verified snapshots of the data directory (docs/operations.md). */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../server/config.js';
import { BackupExistsError, createBackup } from '../storage/backup/create-backup.js';
import type { BackupProgress } from '../storage/backup/format.js';
import { restoreBackup } from '../storage/backup/restore-backup.js';
import type { CliIo } from './io.js';
import { reportOperatorFailure } from './operator-failure.js';
import { readSecret } from './prompt.js';

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Progress on stderr: one line per phase and about every tenth of the files. */
function progressPrinter(io: CliIo, verb: string): (progress: BackupProgress) => void {
  let lastDecile = -1;
  return (p) => {
    if (p.phase === 'snapshot') {
      io.stderr.write(`${verb}: taking a consistent snapshot of the database…\n`);
      return;
    }
    if (p.phase === 'swap') {
      io.stderr.write(`${verb}: every checksum verified; moving the restored data into place…\n`);
      return;
    }
    const decile = p.totalFiles === 0 ? 10 : Math.floor((p.files / p.totalFiles) * 10);
    if (decile === lastDecile && p.files !== p.totalFiles) return;
    lastDecile = decile;
    io.stderr.write(`${verb}: ${p.files}/${p.totalFiles} files, ${megabytes(p.bytes)} of ${megabytes(p.totalBytes)}\n`);
  };
}

/** Adds `burrow backup` and `burrow restore`. */
export function registerBackupCommands(program: Command, io: CliIo): void {
  const say = (text: string): void => {
    io.stdout.write(`${text}\n`);
  };

  program
    .command('backup')
    .description('Write a consistent, checksummed backup of the data directory (safe while the server runs).')
    .option('--data <dir>', 'data directory (default ./data, or BURROW_DATA)')
    .requiredOption('--out <file>', 'the backup file to write (an existing file is kept unless --force)')
    .option('--force', 'replace the file at --out if there is one')
    .option('--with-secrets', 'also include the secrets file, sealed with a passphrase (BURROW_BACKUP_PASSPHRASE or a prompt)')
    .option('--json', 'print one JSON object with the result on stdout (progress stays on stderr)')
    .action(async (flags: { data?: string; out: string; force?: boolean; withSecrets?: boolean; json?: boolean }) => {
      try {
        const config = loadConfig({ flags: flags.data === undefined ? {} : { data: flags.data }, env: io.env });
        if (config.databaseUrl !== undefined) throw new ConfigError('burrow backup copies the embedded store; with BURROW_DATABASE_URL use pg_dump and your object store\'s versioning (docs/operations.md)');
        const out = resolve(flags.out);
        // Asked before the passphrase prompt, so nobody types a passphrase for a backup that is refused.
        if (flags.force !== true && existsSync(out)) throw new BackupExistsError(flags.out);
        const passphrase = flags.withSecrets === true
          ? await readSecret(io, { envName: 'BURROW_BACKUP_PASSPHRASE', question: 'Passphrase for the secrets in this backup: ', confirm: true })
          : undefined;
        const summary = await createBackup({ dataDir: config.dataDir, out, noClobber: flags.force !== true, ...(passphrase === undefined ? {} : { secretsPassphrase: passphrase }), onProgress: progressPrinter(io, 'backup') });
        if (flags.json === true) {
          say(JSON.stringify({ out: summary.out, files: summary.files, bytes: summary.bytes, withSecrets: summary.withSecrets, createdAt: summary.manifest.createdAt }));
          return;
        }
        say(`Backup written: ${flags.out} (${summary.files} files, ${megabytes(summary.bytes)}, secrets ${summary.withSecrets ? 'included, sealed with your passphrase' : 'NOT included: keep a copy of secrets.json somewhere safe'}).`);
      } catch (error) {
        reportOperatorFailure(io, flags, error);
      }
    });

  program
    .command('restore')
    .description('Verify every checksum of a backup, then put it in place of the data directory. A damaged backup is refused and nothing is changed.')
    .requiredOption('--from <file>', 'the backup file')
    .option('--data <dir>', 'data directory to restore into (default ./data, or BURROW_DATA)')
    .option('--force', 'replace a non-empty data directory (it is moved aside, not deleted)')
    .option('--json', 'print one JSON object with the result on stdout (progress and warnings stay on stderr)')
    .action(async (flags: { from: string; data?: string; force?: boolean; json?: boolean }) => {
      try {
        const config = loadConfig({ flags: flags.data === undefined ? {} : { data: flags.data }, env: io.env });
        const summary = await restoreBackup({
          from: resolve(flags.from),
          dataDir: config.dataDir,
          force: flags.force === true,
          secretsPassphrase: () => readSecret(io, { envName: 'BURROW_BACKUP_PASSPHRASE', question: 'Passphrase of this backup\'s secrets: ' }),
          onProgress: progressPrinter(io, 'restore'),
        });
        const missingSecrets = 'WARNING: this backup holds no secrets and there was no secrets.json to keep. Copy your saved secrets.json into the data directory (mode 0600) BEFORE starting the server: with new secrets nobody can log in and stored emails cannot be read.';
        if (flags.json === true) {
          say(JSON.stringify({ dataDir: config.dataDir, files: summary.files, bytes: summary.bytes, backupCreatedAt: summary.manifest.createdAt, secrets: summary.secrets, movedAside: summary.movedAside ?? null }));
          if (summary.secrets === 'missing') io.stderr.write(`${missingSecrets}\n`);
          return;
        }
        say(`Restored ${summary.files} files (${megabytes(summary.bytes)}) from the backup of ${summary.manifest.createdAt} into ${config.dataDir}.`);
        if (summary.movedAside !== undefined) say(`The previous contents were moved to ${summary.movedAside}; delete it once you have checked the restore.`);
        if (summary.secrets === 'kept') say('The backup held no secrets: the existing secrets.json was kept.');
        if (summary.secrets === 'missing') io.stderr.write(`${missingSecrets}\n`);
      } catch (error) {
        reportOperatorFailure(io, flags, error);
      }
    });
}
