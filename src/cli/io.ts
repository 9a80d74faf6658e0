/**
 * What a command may touch of the world it runs in: its output streams, its input, its environment,
 * the signals that stop it and its exit code. `runCli` gets one from `main.ts` (the real process)
 * or from a test (strings and an event emitter), so every command runs in process.
 */
import type { Readable } from 'node:stream';
import { EXIT } from '../protocol/client-errors.js';

/** Somewhere text goes: the process's stdout/stderr, or a buffer in a test. */
export interface CliWriter {
  write(text: string): unknown;
}

/** The signals a long-running command (serve, toy run, inbox --follow) stops on. */
export type CliSignal = 'SIGINT' | 'SIGTERM';

/** Where SIGINT and SIGTERM come from: `process`, or an `EventEmitter` a test emits on. */
export interface CliSignals {
  once(signal: CliSignal, listener: () => void): unknown;
  removeListener(signal: CliSignal, listener: () => void): unknown;
}

/** The command's world. `exitCode` starts at 0; a command sets it (never `process.exit`). */
export interface CliIo {
  readonly stdout: CliWriter;
  readonly stderr: CliWriter;
  /** Standard input; `isTTY` says whether a person can be asked (prompts, confirmations). */
  readonly stdin: Readable & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  readonly signals: CliSignals;
  exitCode: number;
}

/** Ends the command at once with `exitCode`, after its message (if any) went to stderr. */
export class CliExit extends Error {
  readonly exitCode: number;

  constructor(exitCode: number, message = `exit ${exitCode}`) {
    super(message);
    this.name = 'CliExit';
    this.exitCode = exitCode;
  }
}

/** A wrong flag value or combination the parser cannot see: exit 2 with a hint to --help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Exit codes every command shares (docs/operations.md lists them with the per-command ones). */
export { EXIT };

/** Writes `message` to stderr and ends the command with `exitCode` (1 unless given). */
export function failWith(io: CliIo, message: string, exitCode: number = EXIT.failed): never {
  io.stderr.write(`${message}\n`);
  throw new CliExit(exitCode, message);
}

/** The real process as a {@link CliIo}. */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    // Only a command that reads input (a prompt, --password-stdin, the toy's Enter key) opens it.
    get stdin() {
      return process.stdin;
    },
    env: process.env,
    signals: process,
    exitCode: 0,
  };
}
