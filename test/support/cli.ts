/**
 * The `burrow` command in the test's own process: `runCli` with captured stdout and stderr, an
 * environment of the test's choosing (nothing of the test runner's leaks in), standard input as a
 * string or a fake terminal, and signals sent through an emitter.
 */
import { EventEmitter } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import type { CliIo, CliSignal } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/run-cli.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  /** The whole environment of the command (default: empty). */
  env?: Record<string, string>;
  /** Standard input's bytes; without it standard input is empty and not a terminal. */
  stdin?: string;
  /** Lines typed at a terminal (standard input is then a TTY). */
  typed?: string[];
}

function textSink(): { write(text: string): boolean; text(): string } {
  const chunks: string[] = [];
  return {
    write(text: string) {
      chunks.push(String(text));
      return true;
    },
    text: () => chunks.join(''),
  };
}

function inputOf(options: CliRunOptions): CliIo['stdin'] {
  if (options.typed !== undefined) {
    const terminal = new PassThrough() as PassThrough & { isTTY?: boolean };
    terminal.isTTY = true;
    terminal.end(options.typed.map((line) => `${line}\r`).join(''));
    return terminal;
  }
  return Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin, 'utf8')]);
}

/** A command started in process: its output so far, a way to signal it, and its end. */
export interface StartedCli {
  stdout(): string;
  stderr(): string;
  signal(name: CliSignal): void;
  done: Promise<CliRun>;
}

/** Starts `burrow <args…>` in process without waiting for it to end. */
export function startBurrow(args: string[], options: CliRunOptions = {}): StartedCli {
  const stdout = textSink();
  const stderr = textSink();
  const signals = new EventEmitter();
  const io: CliIo = { stdout, stderr, stdin: inputOf(options), env: { ...options.env }, signals, exitCode: 0 };
  const done = runCli(args, io).then((code) => ({ code, stdout: stdout.text(), stderr: stderr.text() }));
  return { stdout: stdout.text, stderr: stderr.text, signal: (name) => signals.emit(name), done };
}

/** Runs `burrow <args…>` in process to its end. */
export function burrow(args: string[], options: CliRunOptions = {}): Promise<CliRun> {
  return startBurrow(args, options).done;
}

/** The one JSON object a `--json` command printed on stdout. */
export function jsonOf(run: CliRun): Record<string, unknown> {
  const lines = run.stdout.trim().split('\n');
  if (lines.length !== 1) throw new Error(`expected one line of JSON on stdout, got ${lines.length}: ${run.stdout}\n${run.stderr}`);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

/** Waits until `read()` matches `pattern` (polling; the command writes as it goes). */
export async function waitForOutput(read: () => string, pattern: RegExp, done?: Promise<unknown>, timeoutMs = 60_000): Promise<RegExpExecArray> {
  let ended = false;
  void done?.then(() => {
    ended = true;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(read());
    if (match !== null) return match;
    if (ended) throw new Error(`the command ended before printing ${pattern}: ${read()}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms: ${read()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
