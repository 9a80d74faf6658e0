#!/usr/bin/env node
/**
 * The `burrow` command: one entry point, one module per command group. A group's module (and the
 * server, crypto or database code behind it) is loaded only when its command runs, so a toy or a
 * member command does not pay for the server's start-up; `--help` and unknown commands load them all.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';

type Register = (program: Command) => void;

/** Top-level command names → the module that registers them. */
const groups: ReadonlyArray<{ names: readonly string[]; load: () => Promise<Register[]> }> = [
  { names: ['account'], load: async () => [(await import('./account-commands.js')).registerAccountCommands] },
  { names: ['family'], load: async () => [(await import('./family-commands.js')).registerFamilyCommands] },
  { names: ['child'], load: async () => [(await import('./child-commands.js')).registerChildCommands] },
  { names: ['send', 'inbox', 'approve', 'decline', 'export'], load: async () => [(await import('./message-commands.js')).registerMessageCommands] },
  { names: ['toy'], load: async () => [(await import('../toy/commands.js')).registerToyCommands] },
  { names: ['serve'], load: async () => [(await import('./serve-command.js')).registerServeCommand] },
  { names: ['audit'], load: async () => [(await import('./audit-command.js')).registerAuditCommand] },
  { names: ['backup', 'restore'], load: async () => [(await import('./backup-commands.js')).registerBackupCommands] },
  { names: ['reports'], load: async () => [(await import('./reports-command.js')).registerReportsCommand] },
  { names: ['admin'], load: async () => [(await import('./admin-command.js')).registerAdminCommand] },
  { names: ['canary'], load: async () => [(await import('./canary-command.js')).registerCanaryCommand] },
  { names: ['notify'], load: async () => [(await import('./notify-command.js')).registerNotifyCommand] },
  { names: ['migrate-store'], load: async () => [(await import('./migrate-store-command.js')).registerMigrateStoreCommand] },
];

/** The version of the package this command came from (its package.json, beside dist/). */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}

const program = new Command();
program
  .name('burrow')
  .description('Burrow: end-to-end encrypted voice messages for connected toys.')
  .version(packageVersion(), '-V, --version', 'print the version of Burrow and exit')
  .showHelpAfterError('(run with --help for usage)')
  .enablePositionalOptions();

const first = process.argv[2];
const wanted = groups.find((group) => first !== undefined && group.names.includes(first));
const versionOnly = first === '--version' || first === '-V';
// In the order above, so `burrow --help` lists the commands as before; `--version` needs none.
for (const group of versionOnly ? [] : wanted === undefined ? groups : [wanted]) for (const register of await group.load()) register(program);

await program.parseAsync(process.argv);
