/** `burrow reports list|show|ack`: the operator reads security reports on the server machine. */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { ConfigError, loadConfig, type Config } from '../server/config.js';
import { loadOrCreateSecrets, secretsPath, type Secrets } from '../server/secrets.js';
import { createSecurityReportsRepository, type SecurityReportsRepository } from '../server/security/reports-repository.js';
import { openSecurityReport, type SecurityReport } from '../server/security/reports-service.js';
import type { SqlStore } from '../storage/database.js';
import { openConfiguredSqlStore, sqliteFileOf } from '../storage/open-store.js';
import { ClientError } from '../client/index.js';
import type { CliIo } from './io.js';
import { reportOperatorFailure } from './operator-failure.js';

interface ReportsFlags {
  data?: string;
  json?: boolean;
}

/** Opens the deployment's store and, when present, its secrets (without creating anything). */
export async function openOperatorStore(config: Config): Promise<{ store: SqlStore; secrets: Secrets | undefined }> {
  // An operator command never creates a database.
  if (config.databaseUrl === undefined && !existsSync(sqliteFileOf(config))) throw new ConfigError(`no Burrow database in ${config.dataDir}; pass --data`);
  const store = await openConfiguredSqlStore(config);
  const haveSecrets = config.secretsFromEnvironment !== undefined || existsSync(secretsPath(config.dataDir));
  const secrets = haveSecrets
    ? (await loadOrCreateSecrets({ dataDir: config.dataDir, ...(config.secretsFromEnvironment === undefined ? {} : { fromEnvironment: config.secretsFromEnvironment }) })).secrets
    : undefined;
  return { store, secrets };
}

async function withReports<T>(io: CliIo, flags: ReportsFlags, run: (repository: SecurityReportsRepository, secrets: Secrets | undefined) => Promise<T>): Promise<T> {
  const config = loadConfig({ flags: flags.data === undefined ? {} : { data: flags.data }, env: io.env });
  const { store, secrets } = await openOperatorStore(config);
  try {
    return await run(createSecurityReportsRepository(store.db), secrets);
  } finally {
    await store.close();
  }
}

function when(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Terminal-safe text: control characters from a stranger's report are shown, not obeyed. */
function safe(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function printReport(say: (text: string) => void, report: SecurityReport): void {
  say(`Report ${report.id} (${report.status}${report.ackedAt === null ? '' : ` ${when(report.ackedAt)}`})`);
  say(`Received: ${when(report.receivedAt)}`);
  say(`Contact:  ${safe(report.contact ?? '(none given)')}`);
  say(`Summary:  ${safe(report.summary)}`);
  say('');
  say(safe(report.details));
}

/** Adds `burrow reports list|show ID|ack ID`. */
export function registerReportsCommand(program: Command, io: CliIo): void {
  const say = (text: string): void => {
    io.stdout.write(`${text}\n`);
  };
  const reports = program.command('reports').description('Security reports received at /v1/security/reports (read from the database on this machine).');
  const common = (command: Command) => command.option('--data <dir>', 'data directory (default ./data, or BURROW_DATA)').option('--json', 'print JSON');

  common(reports.command('list').description('List reports, newest first.').option('--open', 'only reports not yet acknowledged'))
    .action(async (flags: ReportsFlags & { open?: boolean }) => {
      try {
        const list = await withReports(io, flags, async (repository) => repository.list({ limit: 1000, ...(flags.open === true ? { status: 'open' as const } : {}) }));
        if (flags.json === true) {
          say(JSON.stringify({ reports: list.map((r) => ({ id: r.id, receivedAt: r.received_at, status: r.status, summary: r.summary })) }));
          return;
        }
        if (list.length === 0) {
          say('No security reports.');
          return;
        }
        for (const r of list) say(`${r.id}  ${when(r.received_at)}  ${r.status.padEnd(5)}  ${safe(r.summary)}`);
      } catch (error) {
        reportOperatorFailure(io, flags, error);
      }
    });

  common(reports.command('show').description('Show one report in full, with the reporter\'s contact.').argument('<id>'))
    .action(async (id: string, flags: ReportsFlags) => {
      try {
        const report = await withReports(io, flags, async (repository, secrets) => {
          const row = await repository.find(id);
          return row === undefined ? undefined : openSecurityReport(row, secrets);
        });
        if (report === undefined) throw new ClientError('cli/not-found', `no report ${id}`);
        if (flags.json === true) say(JSON.stringify(report));
        else printReport(say, report);
      } catch (error) {
        reportOperatorFailure(io, flags, error);
      }
    });

  common(reports.command('ack').description('Mark a report as acknowledged (answered).').argument('<id>'))
    .action(async (id: string, flags: ReportsFlags) => {
      try {
        const done = await withReports(io, flags, async (repository) => repository.ack(id, Date.now()));
        if (!done) throw new ClientError('cli/not-found', `no report ${id}`);
        if (flags.json === true) say(JSON.stringify({ id, status: 'acked' }));
        else say(`Report ${id} acknowledged.`);
      } catch (error) {
        reportOperatorFailure(io, flags, error);
      }
    });
}
