/**
 * Secrets typed at the terminal without echo, or taken from the environment, a file or standard
 * input for scripts. Prompts go to stderr so that stdout carries only the command's result.
 */
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { ClientError } from '../client/index.js';
import type { CliIo } from './io.js';

/** Thrown when a secret is needed but there is no terminal and no environment variable. */
export class NoInputError extends ClientError {
  constructor(message: string) {
    super('cli/bad-input', message);
    this.name = 'NoInputError';
  }
}

/** Asks for one line on the terminal with echo turned off. */
export function askHidden(io: CliIo, question: string): Promise<string> {
  const input = io.stdin;
  if (input.isTTY !== true) return Promise.reject(new NoInputError('no terminal to ask on'));
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      if (!muted) io.stderr.write(chunk.toString());
      callback();
    },
  });
  const rl = createInterface({ input, output, terminal: true });
  return new Promise((resolve, reject) => {
    rl.on('SIGINT', () => {
      rl.close();
      io.stderr.write('\n');
      reject(new NoInputError('cancelled'));
    });
    rl.question(question, (answer) => {
      rl.close();
      io.stderr.write('\n');
      resolve(answer);
    });
    muted = true;
  });
}

/** Asks for one line on the terminal with echo on. */
export function askVisible(io: CliIo, question: string): Promise<string> {
  const input = io.stdin;
  if (input.isTTY !== true) return Promise.reject(new NoInputError('no terminal to ask on'));
  const output = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      io.stderr.write(chunk.toString());
      callback();
    },
  });
  const rl = createInterface({ input, output, terminal: true });
  return new Promise((resolve, reject) => {
    rl.on('SIGINT', () => {
      rl.close();
      io.stderr.write('\n');
      reject(new NoInputError('cancelled'));
    });
    rl.question(question, (answer) => {
      rl.close();
      resolve(answer);
    });
  });
}

/**
 * A secret from the environment variable `envName`, else from a no-echo prompt (asked twice when
 * `confirm`), else a {@link NoInputError} that says how to provide it.
 */
export async function readSecret(io: CliIo, options: { envName: string; question: string; confirm?: boolean; alternatives?: string }): Promise<string> {
  const fromEnv = io.env[options.envName];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (io.stdin.isTTY !== true) {
    throw new NoInputError(`no terminal to ask on: set ${options.envName}${options.alternatives === undefined ? '' : ` or ${options.alternatives}`} to provide it`);
  }
  const first = await askHidden(io, options.question);
  if (options.confirm) {
    const second = await askHidden(io, 'Type it again: ');
    if (first !== second) throw new NoInputError('the two entries differ; nothing was changed');
  }
  return first;
}

/** The flags that give a password without the environment. */
export interface PasswordOptions {
  passwordFile?: string;
  passwordStdin?: boolean;
}

/** Adds `--password-file <path>` and `--password-stdin`. */
export function withPasswordOptions(command: Command): Command {
  return command
    .option('--password-file <path>', 'read the password from this file (one trailing newline is ignored) instead of BURROW_PASSWORD or a prompt')
    .option('--password-stdin', 'read the password from standard input (one trailing newline is ignored)');
}

/** `text` without one trailing LF or CRLF: what `echo` and editors add to a file. */
function withoutTrailingNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}

async function readAll(input: CliIo['stdin']): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The password from `--password-file`, else `--password-stdin`, else BURROW_PASSWORD, else a
 * no-echo prompt (asked twice when `confirm`). Never echoed; the file and standard input lose one
 * trailing newline.
 */
export async function readPassword(io: CliIo, options: PasswordOptions, prompt: { question: string; confirm?: boolean }): Promise<string> {
  if (options.passwordFile !== undefined && options.passwordStdin === true) throw new NoInputError('give only one of --password-file and --password-stdin');
  let password: string | undefined;
  if (options.passwordFile !== undefined) {
    try {
      password = withoutTrailingNewline(await readFile(options.passwordFile, 'utf8'));
    } catch {
      throw new NoInputError(`cannot read the password file ${options.passwordFile}`);
    }
  } else if (options.passwordStdin === true) {
    password = withoutTrailingNewline(await readAll(io.stdin));
  }
  if (password !== undefined) {
    if (password === '') throw new NoInputError('the password given is empty');
    return password;
  }
  return readSecret(io, { envName: 'BURROW_PASSWORD', question: prompt.question, alternatives: 'pass --password-file or --password-stdin', ...(prompt.confirm === undefined ? {} : { confirm: prompt.confirm }) });
}
