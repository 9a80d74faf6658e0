/**
 * The `burrow` command in process: `runCli(argv, io)` parses `argv` (the words after `burrow`),
 * runs the command against `io` and answers its exit code. Nothing in here or in a command calls
 * `process.exit`; `main.ts` hands the real process in and sets the exit code it gets back.
 *
 * A group's module (and the server, crypto or database code behind it) is loaded only when its
 * command runs, so a toy or a member command does not pay for the server's start-up; `--help`,
 * `completion` and unknown commands load them all.
 */
import { Command, CommanderError } from 'commander';
import { CliExit, EXIT, UsageError, type CliIo } from './io.js';
import { packageVersion } from './version.js';

type Register = (program: Command, io: CliIo) => void;

/** Top-level command names → the module that registers them. */
const groups: ReadonlyArray<{ names: readonly string[]; load: () => Promise<Register[]> }> = [
  { names: ['account'], load: async () => [(await import('./account-commands.js')).registerAccountCommands] },
  { names: ['family'], load: async () => [(await import('./family-commands.js')).registerFamilyCommands] },
  { names: ['child'], load: async () => [(await import('./child-commands.js')).registerChildCommands] },
  { names: ['send', 'inbox', 'approve', 'decline', 'export'], load: async () => [(await import('./message-commands.js')).registerMessageCommands] },
  { names: ['toy'], load: async () => [(await import('./toy-commands.js')).registerToyCommands] },
  { names: ['serve'], load: async () => [(await import('./serve-command.js')).registerServeCommand] },
  { names: ['audit'], load: async () => [(await import('./audit-command.js')).registerAuditCommand] },
  { names: ['backup', 'restore'], load: async () => [(await import('./backup-commands.js')).registerBackupCommands] },
  { names: ['reports'], load: async () => [(await import('./reports-command.js')).registerReportsCommand] },
  { names: ['admin'], load: async () => [(await import('./admin-command.js')).registerAdminCommand] },
  { names: ['canary'], load: async () => [(await import('./canary-command.js')).registerCanaryCommand] },
  { names: ['notify'], load: async () => [(await import('./notify-command.js')).registerNotifyCommand] },
  { names: ['migrate-store'], load: async () => [(await import('./migrate-store-command.js')).registerMigrateStoreCommand] },
  { names: ['completion'], load: async () => [(await import('./completion-command.js')).registerCompletionCommand] },
];

const HELP_HINT = '(run with --help for usage)';

/** A usage error as one line of JSON (`--json`) or as commander's text followed by the hint. */
function usageProblem(text: string): string {
  return `${JSON.stringify({ type: 'urn:burrow:problem:cli/usage', code: 'cli/usage', title: 'Wrong usage', detail: text.replace(/^error: /, '').trim() })}\n`;
}

/** Runs `burrow <argv…>` against `io`; resolves with the exit code (also left in `io.exitCode`). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  // Usage errors follow --json too: one JSON problem on stderr instead of text and the hint.
  const json = argv.includes('--json');
  const program = new Command();
  program
    .name('burrow')
    .description('Burrow: end-to-end encrypted voice messages for connected toys.')
    .version(packageVersion(), '-V, --version', 'print the version of Burrow and exit')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(json ? usageProblem(text) : text),
    })
    .showHelpAfterError(json ? false : HELP_HINT)
    .enablePositionalOptions();

  const first = argv[0];
  const wanted = groups.find((group) => first !== undefined && group.names.includes(first));
  const versionOnly = first === '--version' || first === '-V';
  const everything = wanted === undefined || wanted.names.includes('completion');
  // In the order above, so `burrow --help` lists the commands as before; `--version` needs none.
  for (const group of versionOnly ? [] : everything ? groups : [wanted]) for (const register of await group.load()) register(program, io);

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version end with 0; every parse error (unknown option or command, missing
      // argument or option value, a value an argument parser refused) is a usage error.
      io.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    } else if (error instanceof CliExit) {
      io.exitCode = error.exitCode;
    } else if (error instanceof UsageError) {
      io.stderr.write(json ? usageProblem(error.message) : `error: ${error.message}\n${HELP_HINT}\n`);
      io.exitCode = EXIT.usage;
    } else {
      // A bug rather than a failure the command foresaw: the stack helps the report.
      io.stderr.write(`burrow: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      io.exitCode = EXIT.failed;
    }
  }
  return io.exitCode;
}
