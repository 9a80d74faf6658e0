/**
 * Secrets typed at the terminal without echo, or taken from the environment for scripts.
 * Prompts go to stderr so that stdout carries only the command's result.
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';

/** Thrown when a secret is needed but there is no terminal and no environment variable. */
export class NoInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoInputError';
  }
}

/** Asks for one line on the terminal with echo turned off. */
export function askHidden(question: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) return Promise.reject(new NoInputError('no terminal to ask on'));
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      if (!muted) process.stderr.write(chunk);
      callback();
    },
  });
  const rl = createInterface({ input, output, terminal: true });
  return new Promise((resolve, reject) => {
    rl.on('SIGINT', () => {
      rl.close();
      process.stderr.write('\n');
      reject(new NoInputError('cancelled'));
    });
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    muted = true;
  });
}

/** Asks for one line on the terminal with echo on. */
export function askVisible(question: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) return Promise.reject(new NoInputError('no terminal to ask on'));
  const rl = createInterface({ input, output: process.stderr, terminal: true });
  return new Promise((resolve) => {
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
export async function readSecret(options: { envName: string; question: string; confirm?: boolean; env?: NodeJS.ProcessEnv }): Promise<string> {
  const env = options.env ?? process.env;
  const fromEnv = env[options.envName];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!process.stdin.isTTY) {
    throw new NoInputError(`no terminal to ask on: set ${options.envName} to provide it`);
  }
  const first = await askHidden(options.question);
  if (options.confirm) {
    const second = await askHidden('Type it again: ');
    if (first !== second) throw new NoInputError('the two entries differ; nothing was changed');
  }
  return first;
}
