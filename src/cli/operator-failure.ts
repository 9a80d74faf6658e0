/**
 * How the operator's commands report a failure: the errors of the server side they run in process
 * (configuration, secrets, backups, mail, the store copy) are given a code of the client catalogue
 * here, in one place, and then reported like every other command's failure (`reportFailure`):
 * `error: <detail>` and the catalogue's words on what to do next, or with `--json` one problem;
 * the exit code is the catalogue's.
 */
import { ClientError, type ClientErrorCode } from '../client/index.js';
import { BurrowError } from '../protocol/errors.js';
import { ConfigError } from '../server/config.js';
import { SecretsError } from '../server/secrets.js';
import { MailError } from '../server/security/mailer.js';
import { BackupExistsError } from '../storage/backup/create-backup.js';
import { BackupError } from '../storage/backup/format.js';
import { CopyStoreError } from '../storage/copy-store.js';
import { reportFailure } from './failure.js';
import type { CliIo } from './io.js';

/**
 * The catalogue code of an operator-side error, or `undefined` for anything else (a bug, whose
 * stack the caller lets through). `configCode` lets a command whose settings are its input (audit)
 * call a bad setting a usage error.
 */
export function operatorCodeOf(error: unknown, options: { configCode?: ClientErrorCode } = {}): ClientErrorCode | undefined {
  if (error instanceof ConfigError) return options.configCode ?? 'cli/config';
  if (error instanceof SecretsError) return 'cli/secrets';
  if (error instanceof BackupExistsError) return 'cli/file-exists';
  if (error instanceof BackupError) return 'cli/backup';
  if (error instanceof CopyStoreError) return 'cli/copy-store';
  if (error instanceof MailError) return 'cli/mail';
  if (error instanceof BurrowError && error.code === 'burrow/sole-guardian') return 'cli/sole-guardian';
  return undefined;
}

/**
 * Reports a failure of an operator command and ends it with the catalogue's exit code. Errors
 * that are not foreseen are thrown on, so the command line prints them as the bugs they are.
 */
export function reportOperatorFailure(io: CliIo, flags: { json?: boolean }, error: unknown, options: { configCode?: ClientErrorCode } = {}): void {
  if (error instanceof ClientError) {
    reportFailure(io, flags, error, { withWords: true });
    return;
  }
  const code = operatorCodeOf(error, options);
  if (code === undefined) throw error;
  reportFailure(io, flags, new ClientError(code, (error as Error).message, { cause: error }), { withWords: true });
}
