#!/usr/bin/env node
/** The `burrow` command: one entry point, one module per command group. */
import { Command } from 'commander';
import { registerAccountCommands } from './account-commands.js';
import { registerAuditCommand } from './audit-command.js';
import { registerBackupCommands } from './backup-commands.js';
import { registerCanaryCommand } from './canary-command.js';
import { registerReportsCommand } from './reports-command.js';
import { registerNotifyCommand } from './notify-command.js';
import { registerChildCommands } from './child-commands.js';
import { registerFamilyCommands } from './family-commands.js';
import { registerMessageCommands } from './message-commands.js';
import { registerMigrateStoreCommand } from './migrate-store-command.js';
import { registerServeCommand } from './serve-command.js';
import { registerToyCommands } from '../toy/commands.js';

const program = new Command();
program
  .name('burrow')
  .description('Burrow: end-to-end encrypted voice messages for connected toys.')
  .showHelpAfterError('(run with --help for usage)')
  .enablePositionalOptions();

// Command groups register themselves here, one line each.
registerAccountCommands(program);
registerFamilyCommands(program);
registerChildCommands(program);
registerMessageCommands(program);
registerToyCommands(program);
registerServeCommand(program);
registerAuditCommand(program);
registerBackupCommands(program);
registerReportsCommand(program);
registerCanaryCommand(program);
registerNotifyCommand(program);
registerMigrateStoreCommand(program);

await program.parseAsync(process.argv);
