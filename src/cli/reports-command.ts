/** `burrow reports list|show|ack`: the operator reads security reports on the server machine. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, loadConfig, type Config } from '../server/config.js';
import { loadOrCreateSecrets, secretsPath, SecretsError, type Secrets } from '../server/secrets.js';
import { createSecurityReportsRepository, type SecurityReportsRepository } from '../server/security/reports-repository.js';
import { openSecurityReport, type SecurityReport } from '../server/security/reports-service.js';
import type { SqlStore } from '../storage/database.js';
import { openPostgresStore } from '../storage/postgres.js';
import { openSqliteStore } from '../storage/sqlite.js';

interface ReportsFlags {
  data?: string;
  json?: boolean;
}

/** Opens the deployment's store and, when present, its secrets (without creating anything). */
export async function openOperatorStore(config: Config): Promise<{ store: SqlStore; secrets: Secrets | undefined }> {
  let store: SqlStore;
  if (config.databaseUrl !== undefined) {
    store = await openPostgresStore(config.databaseUrl);
  } else {
    const path = join(config.dataDir, 'burrow.db');
    if (!existsSync(path)) throw new ConfigError(`no Burrow database in ${config.dataDir}; pass --data`);
    store = await openSqliteStore(path);
  }
  const haveSecrets = config.secretsFromEnvironment !== undefined || existsSync(secretsPath(config.dataDir));
  const secrets = haveSecrets
    ? (await loadOrCreateSecrets({ dataDir: config.dataDir, ...(config.secretsFromEnvironment === undefined ? {} : { fromEnvironment: config.secretsFromEnvironment }) })).secrets
    : undefined;
  return { store, secrets };
}

async function withReports<T>(flags: ReportsFlags, run: (repository: SecurityReportsRepository, secrets: Secrets | undefined) => Promise<T>): Promise<T> {
  const config = loadConfig({ flags: flags.data === undefined ? {} : { data: flags.data } });
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

function printReport(report: SecurityReport): void {
  console.log(`Report ${report.id} (${report.status}${report.ackedAt === null ? '' : ` ${when(report.ackedAt)}`})`);
  console.log(`Received: ${when(report.receivedAt)}`);
  console.log(`Contact:  ${safe(report.contact ?? '(none given)')}`);
  console.log(`Summary:  ${safe(report.summary)}`);
  console.log('');
  console.log(safe(report.details));
}

function fail(error: unknown): never {
  if (error instanceof ConfigError || error instanceof SecretsError) {
    console.error(`burrow reports: ${error.message}`);
    process.exit(1);
  }
  throw error;
}

/** Adds `burrow reports list|show ID|ack ID`. */
export function registerReportsCommand(program: Command): void {
  const reports = program.command('reports').description('Security reports received at /v1/security/reports (read from the database on this machine).');
  const common = (command: Command) => command.option('--data <dir>', 'data directory (default ./data, or BURROW_DATA)').option('--json', 'print JSON');

  common(reports.command('list').description('List reports, newest first.').option('--open', 'only reports not yet acknowledged'))
    .action(async (flags: ReportsFlags & { open?: boolean }) => {
      try {
        const list = await withReports(flags, async (repository) => repository.list({ limit: 1000, ...(flags.open === true ? { status: 'open' as const } : {}) }));
        if (flags.json === true) {
          console.log(JSON.stringify({ reports: list.map((r) => ({ id: r.id, receivedAt: r.received_at, status: r.status, summary: r.summary })) }));
          return;
        }
        if (list.length === 0) {
          console.log('No security reports.');
          return;
        }
        for (const r of list) console.log(`${r.id}  ${when(r.received_at)}  ${r.status.padEnd(5)}  ${safe(r.summary)}`);
      } catch (error) {
        fail(error);
      }
    });

  common(reports.command('show').description('Show one report in full, with the reporter\'s contact.').argument('<id>'))
    .action(async (id: string, flags: ReportsFlags) => {
      try {
        const report = await withReports(flags, async (repository, secrets) => {
          const row = await repository.find(id);
          return row === undefined ? undefined : openSecurityReport(row, secrets);
        });
        if (report === undefined) throw new ConfigError(`no report ${id}`);
        if (flags.json === true) console.log(JSON.stringify(report));
        else printReport(report);
      } catch (error) {
        fail(error);
      }
    });

  common(reports.command('ack').description('Mark a report as acknowledged (answered).').argument('<id>'))
    .action(async (id: string, flags: ReportsFlags) => {
      try {
        const done = await withReports(flags, async (repository) => repository.ack(id, Date.now()));
        if (!done) throw new ConfigError(`no report ${id}`);
        if (flags.json === true) console.log(JSON.stringify({ id, status: 'acked' }));
        else console.log(`Report ${id} acknowledged.`);
      } catch (error) {
        fail(error);
      }
    });
}
