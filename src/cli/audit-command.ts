/** `burrow audit`: what a scanner would find on this deployment, with the fix for each finding. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, type Config } from '../server/config.js';
import { formatFindings, runAudit, type Finding } from '../server/security/audit.js';
import { FsBlobStore } from '../storage/blobs/fs-blob-store.js';
import { openConfiguredBlobStore } from '../storage/open-store.js';
import { UsageError, type CliIo } from './io.js';
import { reportOperatorFailure } from './operator-failure.js';

/** Audits the deployment of `config`: the configured blob store (S3), or the embedded blob directory when it exists. */
export async function auditDeployment(config: Config, options: { extraPorts?: ReadonlyMap<number, string> } = {}): Promise<Finding[]> {
  const blobDir = join(config.dataDir, 'blobs');
  const blobs = config.blobs !== undefined ? openConfiguredBlobStore(config) : existsSync(blobDir) ? new FsBlobStore({ dir: blobDir }) : undefined;
  try {
    return await runAudit(config, { ...(blobs === undefined ? {} : { blobs }), ...(options.extraPorts === undefined ? {} : { extraPorts: options.extraPorts }) });
  } finally {
    await blobs?.close();
  }
}

/** `--port`'s value as commander parses it: a bad one is a usage error (exit 2). */
export function portArgument(value: string): string {
  if (!/^[0-9]{1,5}$/.test(value) || Number(value) > 65_535) throw new InvalidArgumentError('It must be a whole number from 0 to 65535.');
  return value;
}

/** Parses `--check-port 27018=MongoDB` values into the extra ports map. */
export function parseExtraPorts(values: readonly string[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const value of values) {
    const [portText, name] = value.split('=', 2);
    const port = Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new UsageError(`--check-port must be PORT or PORT=NAME, got "${value}"`);
    out.set(port, name === undefined || name === '' ? `port ${port}` : name);
  }
  return out;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Adds `burrow audit [--data DIR] [--json] [--check-port P=NAME]…`. */
export function registerAuditCommand(program: Command, io: CliIo): void {
  program
    .command('audit')
    .description('Check this deployment as an attacker\'s scanner would: file modes, secrets, open ports, database URL, blobs, security contact and security.txt expiry, metrics listener, backups. Exit 1 on any high finding.')
    .option('--data <dir>', 'data directory (default ./data, or BURROW_DATA)')
    .option('--host <host>', 'the address the server listens on (default 127.0.0.1, or BURROW_HOST)')
    .option('--port <port>', 'the port the server listens on (default 8080, or BURROW_PORT)', portArgument)
    .option('--json', 'print one JSON object { ok, findings }')
    .option('--check-port <port=name>', 'also treat this port as a database port (repeatable)', collect, [] as string[])
    .action(async (flags: { data?: string; host?: string; port?: string; json?: boolean; checkPort: string[] }) => {
      try {
        const config = loadConfig({ flags: { ...(flags.data === undefined ? {} : { data: flags.data }), ...(flags.host === undefined ? {} : { host: flags.host }), ...(flags.port === undefined ? {} : { port: flags.port }) }, env: io.env });
        const findings = await auditDeployment(config, { extraPorts: parseExtraPorts(flags.checkPort) });
        const high = findings.some((f) => f.severity === 'high');
        if (flags.json === true) io.stdout.write(`${JSON.stringify({ ok: !high, findings })}\n`);
        else io.stdout.write(formatFindings(findings));
        io.exitCode = high ? 1 : 0;
      } catch (error) {
        // The settings are what audit examines: one it cannot read is a usage error (exit 2).
        reportOperatorFailure(io, flags, error, { configCode: 'cli/bad-input' });
      }
    });
}
