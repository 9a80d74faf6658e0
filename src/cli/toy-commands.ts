/**
 * `burrow toy …`: the reference toy (what a Raspberry Pi-class toy would run), a shell over the
 * isomorphic toy runtime (src/client/toy/): this file gives it the state directory (src/toy/state.ts),
 * a play command, the chime and the log, and hands it the live channel's events.
 *
 *   pair   generate keys, show the code, wait until a guardian adds the toy
 *   run    keep a live connection; verify, play (or save) and acknowledge messages; send queued replies;
 *          a button press (Enter, or `burrow toy press`) records a reply with --record-command
 *   press  press the button of a running `burrow toy run` (as a GPIO hook would)
 *   reply  seal and send an audio file as a reply (queued when offline)
 *   reset  revoke the device token and forget keys, messages and queue
 *
 * Output: human lines, or with --json one JSON object per line on stdout. Nothing secret (token,
 * keys, audio, captions) is ever printed or logged: message ids, epochs and reason codes only.
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import WebSocket from 'ws';
import { BurrowApi, ClientError, describeFailure, connectLive, type LiveConnection, type WebSocketConstructor, isOffline, isTokenDead, isToyGone, ToyRuntime, type PlayingMessage, type ToyEvent, type ToyLogEntry, pairToy } from '../client/index.js';
import { toBase64Url, MAX_AUDIO_BYTES, encodeRosterEntry, randomBytes, toHex } from '../crypto/index.js';
import { reportFailure } from './failure.js';
import { chimeWav } from '../toy/chime.js';
import { ToyStateDir } from '../toy/state.js';
import type { CliIo } from './io.js';
import { OGG_OPUS } from '../protocol/audio-formats.js';
import { audioDurationMs, audioTypeOfFile, extensionOf } from './message-commands.js';

interface ToyOptions {
  state: string;
  json?: boolean;
  insecureHttp?: boolean;
}

const insecureHttpOption = ['--insecure-http', 'allow plain http to a server beyond this machine (the device token crosses the network in clear; default: refused)'] as const;

/** The user's opt-in to plain http beyond loopback: `--insecure-http` or BURROW_INSECURE_HTTP=1. */
function insecureHttpOf(io: CliIo, options: ToyOptions): { allowInsecureHttp?: true } {
  return options.insecureHttp === true || io.env.BURROW_INSECURE_HTTP === '1' ? { allowInsecureHttp: true } : {};
}

/**
 * A failure as the toy's own words put it: a rejected device token is the toy's cue to be paired
 * again (exit 3: a service manager should not restart it), and so is its removal from the roster.
 */
function asToyFailure(error: unknown): unknown {
  if (isTokenDead(error)) return new ClientError('toy/token-dead', 'the toy\'s device token no longer works (a guardian removed the toy, or it was reset): run "burrow toy reset" and "burrow toy pair" again');
  if (error instanceof ClientError && error.code === 'client/toy-removed') return new ClientError(error.code, `${error.message} ("burrow toy reset", then "burrow toy pair")`);
  return error;
}

/** The toy commands' output, failure and http helpers, bound to the command's {@link CliIo}. */
function toyCli(io: CliIo) {
  return {
    insecureHttp: (options: ToyOptions) => insecureHttpOf(io, options),
    out(options: { json?: boolean }, json: Record<string, unknown>, human: string): void {
      if (options.json) io.stdout.write(`${JSON.stringify(json)}\n`);
      else io.stdout.write(`${human}\n`);
    },
    action<A extends unknown[]>(body: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
      return async (...args: A) => {
        const options = (args.find((a) => typeof a === 'object' && a !== null && !Array.isArray(a) && !('commands' in a)) ?? {}) as { json?: boolean };
        try {
          await body(...args);
        } catch (error) {
          reportFailure(io, options, asToyFailure(error));
        }
      };
    },
  };
}

/** Splits a command template into words (double or single quotes group), replacing `{name}` placeholders in each word. */
export function commandWords(template: string, values: Record<string, string>): string[] {
  const words: string[] = [];
  const pattern = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (const match of template.matchAll(pattern)) {
    const word = match[1] ?? match[2] ?? match[3] ?? '';
    words.push(word.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole));
  }
  if (words.length === 0) throw new TypeError('the command is empty');
  return words;
}

/** Runs a command (no shell), resolving with its exit code; `input` goes to its stdin. */
async function runCommand(words: string[], input?: Uint8Array): Promise<number> {
  if (input === undefined) {
    return new Promise((resolveRun) => {
      const child = spawn(words[0]!, words.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
      child.on('error', () => resolveRun(127));
      child.on('exit', (code) => resolveRun(code ?? 1));
    });
  }
  const player = startPiped(words);
  await player.write(input);
  return player.finish();
}

/** Where the audio of a message goes as each verified piece arrives. */
interface AudioOut {
  write(piece: Uint8Array): Promise<void>;
  /** The last piece was written. */
  finish(): Promise<number>;
  /** The message stopped verifying, or its download broke: stop and leave nothing behind. */
  abort(): Promise<void>;
}

/** A command (no shell) reading the audio on its stdin as it comes, with the pipe's backpressure; resolves `finish` with its exit code. */
function startPiped(words: string[]): AudioOut {
  const child = spawn(words[0]!, words.slice(1), { stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = new Promise<number>((resolveExit) => {
    child.on('error', () => resolveExit(127));
    child.on('close', (code) => resolveExit(code ?? 1));
  });
  const stdin = child.stdin!;
  let closed = false;
  // A player that exits early (or never started) takes no more audio; the rest is still read and verified.
  stdin.on('error', () => {
    closed = true;
  });
  stdin.on('close', () => {
    closed = true;
  });
  return {
    async write(piece) {
      if (closed || stdin.write(piece)) return;
      await new Promise<void>((resolveDrain) => {
        const done = (): void => {
          stdin.off('drain', done);
          stdin.off('close', done);
          resolveDrain();
        };
        stdin.on('drain', done);
        stdin.on('close', done);
      });
    },
    finish() {
      if (!closed) stdin.end();
      return exited;
    },
    async abort() {
      child.kill('SIGTERM');
      stdin.destroy();
      await exited;
    },
  };
}

/** A private file (0600) written piece by piece under a temporary name and renamed when complete. */
async function startFile(path: string): Promise<AudioOut> {
  const temporary = `${path}.${toHex(randomBytes(6))}.part`;
  const handle = await open(temporary, 'wx', 0o600);
  return {
    async write(piece) {
      await handle.write(piece);
    },
    async finish() {
      await handle.close();
      await rename(temporary, path);
      return 0;
    },
    async abort() {
      await handle.close().catch(() => undefined);
      await rm(temporary, { force: true });
    },
  };
}

/** Whether a play command takes a whole file (`{file}`) rather than the audio on its stdin. */
function takesFile(command: string): boolean {
  return command.includes('{file}');
}

function humanLog(entry: ToyLogEntry | { event: string; [key: string]: unknown }): string {
  switch (entry.event) {
    case 'family':
      return `family verified at epoch ${String(entry.epoch)}; volume limit ${String(entry.volumeLimit)}; quiet hours ${entry.quietHours === null ? 'none' : String(entry.quietHours)}${entry.offline ? ' (offline: from the stored roster)' : ''}`;
    case 'chime':
      return `volume limit changed: chimed at volume ${String(entry.volume)}`;
    case 'played':
      return `played message ${String(entry.messageId)} at volume ${String(entry.volume)}`;
    case 'refused':
      return `refused message ${String(entry.messageId)} (${String(entry.reason)})`;
    case 'waiting':
      return `message ${String(entry.messageId)} waits (${String(entry.reason)})`;
    case 'reply-queued':
      return `reply ${String(entry.messageId)} queued`;
    case 'reply-sent':
      return `reply ${String(entry.messageId)} sent${entry.duplicate ? ' (it had arrived already)' : ''}`;
    default:
      return Object.entries(entry)
        .map(([k, v]) => (k === 'event' ? String(v) : `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`))
        .join(' ');
  }
}

async function openToy(
  io: CliIo,
  options: ToyOptions,
  log: (entry: ToyLogEntry | { event: string; [key: string]: unknown }) => void,
  play: ConstructorParameters<typeof ToyRuntime>[0]['play'],
  chime?: (volume: number) => void,
) {
  const state = new ToyStateDir(resolve(options.state));
  const { config, identity } = await state.loadPaired();
  const api = new BurrowApi({ baseUrl: config.serverUrl, token: config.deviceToken, ...insecureHttpOf(io, options) });
  const runtime = new ToyRuntime({ api, device: { toyId: config.toyId, familyId: config.familyId, identity }, storage: state, play, log, ...(chime === undefined ? {} : { chime }) });
  return { state, config, api, runtime };
}

const stateOption = ['--state <dir>', "the toy's state directory (keys, token, messages; created 0700)"] as const;

/** Adds `burrow toy …` to the program. */
export function registerToyCommands(program: Command, io: CliIo): void {
  const { action, insecureHttp, out } = toyCli(io);
  const toy = program.command('toy').description('the reference toy: pair, run, press, reply, reset').addHelpText(
    'after',
    `
A toy plays only what a current member of its family's signed roster sent it, records only when
its button is pressed, and keeps working offline. Its state directory holds its keys and token
(0700 directory, 0600 files): keep it private.

Examples:
  $ burrow toy pair --server https://burrow.example --state ./toy
  $ burrow toy run --state ./toy --play-command 'ffplay -nodisp -autoexit -volume {volume} {file}'
  $ burrow toy press --state ./toy
  $ burrow toy reply --state ./toy --file hello.wav
  $ burrow toy reset --state ./toy`,
  );

  toy
    .command('pair')
    .description('generate keys, show a pairing code and wait until a guardian adds this toy')
    .requiredOption('--server <url>', "the Burrow server's URL")
    .requiredOption(...stateOption)
    .option(...insecureHttpOption)
    .option('--json', 'one JSON line per code shown, then one when paired')
    .addHelpText(
      'after',
      `
A guardian enters the code with "burrow family add-toy --code CODE --child CHILD". The toy itself
answers at most 3 tries of a code and for 10 minutes by its own clock (whatever the server says);
then it shows a new code, with new keys, until paired or stopped.

Example:
  $ burrow toy pair --server https://burrow.example --state ./toy --json
  {"event":"code","code":"12345678","expiresAt":1767225600000}
  {"event":"paired","toyId":"…","familyId":"…"}`,
    )
    .action(
      action(async (options: ToyOptions & { server: string }) => {
        const state = new ToyStateDir(resolve(options.state));
        if ((await state.loadConfig()) !== undefined) throw new ClientError('toy/already-paired', `this state directory holds a paired toy already: run "burrow toy reset --state ${options.state}" first`);
        await state.ensure();
        const abort = new AbortController();
        const stop = (): void => abort.abort(new ClientError('toy/cancelled', 'pairing cancelled'));
        io.signals.once('SIGINT', stop);
        io.signals.once('SIGTERM', stop);
        try {
          const paired = await pairToy({
            baseUrl: options.server,
            ...insecureHttp(options),
            signal: abort.signal,
            onCode: ({ code, expiresAt }) => {
              out(options, { event: 'code', code, expiresAt }, `Pairing code: ${code.slice(0, 4)} ${code.slice(4)}\nEnter it in the Burrow app, or run "burrow family add-toy --code ${code} --child CHILD". It works until ${new Date(expiresAt).toISOString()}.`);
            },
            onRun: ({ runsLeft }) => {
              if (!options.json) io.stderr.write(`A guardian is entering the code (${runsLeft} ${runsLeft === 1 ? 'try' : 'tries'} left)…\n`);
            },
            onAttemptEnded: (error) => {
              out(options, { event: 'code-ended', code: error.code }, `${error.message.replace(/: start pairing again.*$/, '')}; showing a new code.`);
            },
          });
          // The chain verified from the guardian's head is stored at once: from now on only a chain
          // extending it is accepted.
          await state.savePaired({ version: 2, serverUrl: paired.baseUrl, toyId: paired.toyId, familyId: paired.familyId, anchorHash: toBase64Url(paired.anchorHash), deviceToken: paired.deviceToken }, paired.identity);
          await state.saveTrust({ anchorHash: paired.anchorHash, chain: paired.roster.entries.map(encodeRosterEntry), keys: {} });
          out(options, { event: 'paired', toyId: paired.toyId, familyId: paired.familyId }, `Paired: toy ${paired.toyId} in family ${paired.familyId}. Start it with "burrow toy run --state ${options.state} --play-command …".`);
        } catch (error) {
          if (error instanceof ClientError && (error.code === 'client/pairing-ended' || error.code === 'client/pairing-failed')) {
            throw new ClientError(error.code, `${error.message} (run "burrow toy pair --server ${options.server} --state ${options.state}" again)`);
          }
          throw error;
        } finally {
          io.signals.removeListener('SIGINT', stop);
          io.signals.removeListener('SIGTERM', stop);
        }
      }),
    );

  toy
    .command('run')
    .description('keep a live connection; verify, play or save, and acknowledge each message; send replies')
    .requiredOption(...stateOption)
    .option(...insecureHttpOption)
    .option('--play-command <cmd>', 'plays a message, Opus in Ogg or 16-bit PCM WAV: without {file} it reads the audio on its stdin as it downloads, e.g. "aplay -q -"; with {file} it gets the whole file once verified, e.g. "ffplay -nodisp -autoexit -volume {volume} {file}"; {volume} (0–100) is replaced')
    .option('--play-ogg-command <cmd>', 'plays the Ogg messages instead, where --play-command plays WAV only (stdin or {file} alike), e.g. "sh -c \'opusdec --quiet --force-wav - - | aplay -q\'"')
    .option('--save <dir>', 'save each played message\'s audio here (exactly the bytes the sender recorded)')
    .option('--record-command <cmd>', 'records a reply into {file} (a .wav) when the button is pressed, e.g. "arecord -d 5 -f cd {file}"')
    .option('--once', 'exit when caught up instead of staying connected')
    .option('--json', 'one JSON object per line for each event (ids and reason codes only)')
    .addHelpText(
      'after',
      `
The button: press Enter in this terminal, or run "burrow toy press --state DIR" from another
process. Messages are Opus in Ogg (.ogg) or 16-bit PCM WAV (.wav), nothing else (--play-ogg-command
plays the Ogg ones, where given). A play command without {file} reads the audio on its stdin while
the message downloads, each 64 KiB piece once it verified, and the toy never holds a whole message
in memory; a chunk that fails part-way stops it (SIGTERM) and the message is refused. A play command
with {file} (a player that needs the whole file) gets it written to the state directory once the
last piece verified. The record command must write one of the two formats. Messages received stay playable offline until retention ends; replies recorded
offline are queued and sent in order when the server is back. Exit status 3: the toy was removed from its
family or reset and must be paired again.

Examples:
  $ burrow toy run --state ./toy --play-command 'ffplay -nodisp -autoexit {file}' --record-command 'arecord -d 5 -f cd {file}'
  $ burrow toy run --state ./toy --play-command 'aplay -q -' --play-ogg-command "sh -c 'opusdec --quiet --force-wav - - | aplay -q'"
  $ burrow toy run --state ./toy --play-command 'aplay -q {file}' --play-ogg-command "sh -c 'opusdec --quiet --force-wav {file} - | aplay -q'"
  $ burrow toy run --state ./toy --save ./heard --once --json`,
    )
    .action(
      action(async (options: ToyOptions & { playCommand?: string; playOggCommand?: string; save?: string; recordCommand?: string; once?: boolean }) => {
        if (options.playCommand === undefined && options.save === undefined) throw new ClientError('cli/usage', 'give --play-command to play messages or --save DIR to save them (or both)');
        if (options.playOggCommand !== undefined && options.playCommand === undefined) throw new ClientError('cli/usage', '--play-ogg-command goes with --play-command (which plays the WAV messages)');
        if (options.playCommand !== undefined) commandWords(options.playCommand, {});
        if (options.playOggCommand !== undefined) commandWords(options.playOggCommand, {});
        if (options.recordCommand !== undefined) commandWords(options.recordCommand, {});
        const saveDir = options.save === undefined ? undefined : resolve(options.save);
        const log = (entry: ToyLogEntry | { event: string; [key: string]: unknown }): void => {
          if (options.json) io.stdout.write(`${JSON.stringify({ ...entry, at: Date.now() })}\n`);
          else io.stdout.write(`${new Date().toISOString()}  ${humanLog(entry)}\n`);
        };
        const scratchState = new ToyStateDir(resolve(options.state));
        // The audio arrives piece by piece as each chunk verifies: a play command without {file} gets it on its stdin at once (it
        // plays while the message downloads); one with {file} gets the whole file once the last piece verified; --save writes as it comes.
        const play = async (message: PlayingMessage, info: { volume: number; messageId: string; receivedAt: number }): Promise<void> => {
          const extension = extensionOf(message.audioType);
          const outs: AudioOut[] = [];
          let saved: string | undefined;
          let scratchFile: string | undefined;
          let command: string | undefined;
          try {
            if (saveDir !== undefined) {
              await mkdir(saveDir, { recursive: true, mode: 0o700 });
              saved = join(saveDir, `${info.messageId}${extension}`);
              outs.push(await startFile(saved));
            }
            if (options.playCommand !== undefined) {
              // The runtime plays only Ogg/Opus or 16-bit PCM WAV; a player that reads WAV only gets the Ogg files through its own command.
              command = message.audioType === OGG_OPUS ? (options.playOggCommand ?? options.playCommand) : options.playCommand;
              if (takesFile(command)) {
                scratchFile = join(await scratchState.scratch(), `${info.messageId}${extension}`);
                outs.push(await startFile(scratchFile));
              } else {
                outs.push(startPiped(commandWords(command, { volume: String(info.volume) })));
              }
            }
            for await (const piece of message.audio) for (const out of outs) await out.write(piece);
          } catch (error) {
            for (const out of outs) await out.abort();
            throw error;
          }
          for (const out of outs) {
            const code = await out.finish();
            if (code !== 0) log({ event: 'play-command-failed', messageId: info.messageId, exitCode: code });
          }
          if (saved !== undefined) log({ event: 'saved', messageId: info.messageId, file: saved });
          if (scratchFile !== undefined && command !== undefined) {
            try {
              const code = await runCommand(commandWords(command, { file: scratchFile, volume: String(info.volume) }));
              if (code !== 0) log({ event: 'play-command-failed', messageId: info.messageId, exitCode: code });
            } finally {
              await rm(scratchFile, { force: true });
            }
          }
        };
        // The runtime decides when the toy chimes (a guardian's new volume limit, outside quiet hours).
        const playChime = async (command: string, volume: number): Promise<void> => {
          if (!takesFile(command)) {
            const code = await runCommand(commandWords(command, { volume: String(volume) }), chimeWav());
            if (code !== 0) log({ event: 'play-command-failed', chime: true, exitCode: code });
            return;
          }
          const file = join(await scratchState.scratch(), 'chime.wav');
          await writeFile(file, chimeWav(), { mode: 0o600 });
          try {
            const code = await runCommand(commandWords(command, { file, volume: String(volume) }));
            if (code !== 0) log({ event: 'play-command-failed', chime: true, exitCode: code });
          } finally {
            await rm(file, { force: true });
          }
        };
        const chime = (volume: number): void => {
          if (options.playCommand !== undefined) void playChime(options.playCommand, volume).catch(() => undefined);
        };
        const { state, config, runtime } = await openToy(io, options, log, play, chime);
        await runtime.start();
        await runtime.expire();
        if (options.once) {
          await runtime.handle({ event: 'roster' });
          const left = await runtime.flush();
          log({ event: 'caught-up', queuedReplies: left.length });
          return;
        }
        await runLive({ io, options, state, config, runtime, log });
      }),
    );

  toy
    .command('press')
    .description('press the button of a running "burrow toy run" (records a reply with its --record-command)')
    .requiredOption(...stateOption)
    .option(...insecureHttpOption)
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nWhat a GPIO button hook would call.\n\nExample:\n  $ burrow toy press --state ./toy')
    .action(
      action(async (options: ToyOptions) => {
        const state = new ToyStateDir(resolve(options.state));
        await state.loadPaired();
        await state.press();
        out(options, { event: 'pressed' }, 'Button pressed.');
      }),
    );

  toy
    .command('reply')
    .description('seal an audio file as a reply to the toy\'s child\'s family and send it (queued when offline)')
    .requiredOption(...stateOption)
    .option(...insecureHttpOption)
    .requiredOption('--file <audio>', 'the audio file: Opus in Ogg (.ogg) or 16-bit PCM WAV (.wav), told apart by its content')
    .option('--duration-ms <n>', 'the duration, when it cannot be read from the file (WAV and Ogg are read)')
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nThe reply goes to the toy\'s child\'s conversation: the guardians and the relatives of that child hear it.\n\nExample:\n  $ burrow toy reply --state ./toy --file hello.wav')
    .action(
      action(async (options: ToyOptions & { file: string; durationMs?: string }) => {
        const log = (entry: ToyLogEntry | { event: string; [key: string]: unknown }): void => {
          if (!options.json) io.stderr.write(`${humanLog(entry)}\n`);
        };
        const { runtime } = await openToy(io, options, log, () => Promise.resolve());
        const audio = await readAudio(options.file);
        const audioType = audioTypeOfFile(audio, basename(options.file));
        const durationMs = options.durationMs !== undefined ? parseDuration(options.durationMs) : audioDurationMs(audio, audioType);
        await runtime.start();
        const result = await runtime.reply({ audio, audioType, durationMs });
        out(options, { event: result.sent ? 'reply-sent' : 'reply-queued', messageId: result.messageId }, result.sent ? `Reply ${result.messageId} sent.` : `The server cannot be reached: reply ${result.messageId} is queued and is sent when the toy is back online ("burrow toy run").`);
      }),
    );

  toy
    .command('reset')
    .description('revoke this toy\'s device token and forget its keys, messages, queue and token')
    .requiredOption(...stateOption)
    .option(...insecureHttpOption)
    .option('--force', 'wipe the state even when the server cannot be reached (a guardian should then remove the toy)')
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nAfter a reset the toy must be paired again ("burrow toy pair").\n\nExample:\n  $ burrow toy reset --state ./toy')
    .action(
      action(async (options: ToyOptions & { force?: boolean }) => {
        const state = new ToyStateDir(resolve(options.state));
        const config = await state.loadConfig();
        let revoked = false;
        if (config !== undefined) {
          const api = new BurrowApi({ baseUrl: config.serverUrl, token: config.deviceToken, ...insecureHttp(options) });
          try {
            await api.call('POST', '/v1/toy/reset', undefined, {});
            revoked = true;
          } catch (error) {
            // 401: the token was already dead (removed by a guardian, or reset before).
            if (!isTokenDead(error) && !(options.force && isOffline(error))) {
              throw isOffline(error) ? new ClientError('client/network', 'the server cannot be reached, so the device token was not revoked; try again, or pass --force to wipe the toy anyway') : error;
            }
          }
        }
        await state.wipe();
        out(options, { event: 'reset', revoked }, revoked ? 'The toy was reset: its token is revoked and its keys, messages and queue are gone. Pair it again with "burrow toy pair".' : 'The toy\'s state was wiped. Pair it again with "burrow toy pair".');
      }),
    );
}

function parseDuration(value: string): number {
  if (!/^[0-9]{1,9}$/.test(value)) throw new ClientError('cli/bad-input', '--duration-ms must be a whole number of milliseconds');
  return Number(value);
}

async function readAudio(file: string): Promise<Uint8Array> {
  const path = resolve(file);
  const info = await stat(path).catch(() => undefined);
  if (info === undefined || !info.isFile()) throw new ClientError('cli/bad-input', `no audio file at ${file}`);
  if (info.size > MAX_AUDIO_BYTES) throw new ClientError('cli/bad-input', `the audio file is larger than ${MAX_AUDIO_BYTES} bytes`);
  return new Uint8Array(await readFile(path));
}

/** Exponential backoff with full jitter: a uniform delay in [0, min(cap, base · 2^attempt)]. */
export function fullJitterDelay(attempt: number, baseMs = 500, capMs = 30_000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 16));
}

async function runLive(context: {
  io: CliIo;
  options: ToyOptions & { recordCommand?: string };
  state: ToyStateDir;
  config: { serverUrl: string; deviceToken: string };
  runtime: ToyRuntime;
  log: (entry: ToyLogEntry | { event: string; [key: string]: unknown }) => void;
}): Promise<void> {
  const { io, options, state, config, runtime, log } = context;
  let finished = false;
  let resolveDone: (error?: unknown) => void = () => undefined;
  const done = new Promise<unknown>((r) => {
    resolveDone = r;
  });
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const later = (ms: number, task: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      task();
    }, ms);
    timers.add(timer);
  };
  const stop = (error?: unknown): void => {
    if (finished) return;
    finished = true;
    resolveDone(error);
  };
  // Every failure of a background task ends up here: a dead token stops the toy, anything else is logged.
  const guard = (task: () => Promise<unknown>): void => {
    task().catch((error: unknown) => {
      if (isToyGone(error)) stop(error);
      else if (!isOffline(error)) log({ event: 'error', detail: describeFailure(asToyFailure(error)).detail });
    });
  };

  let flushAttempt = 0;
  let flushScheduled = false;
  const flush = (): void =>
    guard(async () => {
      const left = await runtime.flush();
      if (left.length === 0) {
        flushAttempt = 0;
        return;
      }
      if (flushScheduled || finished) return;
      flushScheduled = true;
      later(fullJitterDelay(flushAttempt++), () => {
        flushScheduled = false;
        flush();
      });
    });

  let waitingTimer = false;
  const scheduleWaiting = async (): Promise<void> => {
    const at = await runtime.nextWaitingAt();
    if (at === undefined || waitingTimer || finished) return;
    waitingTimer = true;
    later(Math.max(0, at - Date.now()) + 50, () => {
      waitingTimer = false;
      guard(async () => {
        await runtime.playWaiting();
        await scheduleWaiting();
      });
    });
  };
  // What the toy does on an event is the runtime's; the shell then times the next quiet-hours message, or stops.
  const handle = (event: ToyEvent): void =>
    guard(async () => {
      const { ended } = await runtime.handle(event);
      if (ended === 'family-deleted') stop(new ClientError('toy/family-deleted', 'the family was deleted: reset the toy and pair it again'));
      else await scheduleWaiting();
    });

  const press = (): void =>
    guard(async () => {
      if (options.recordCommand === undefined) {
        log({ event: 'press-ignored', detail: 'no --record-command: a press records nothing (send a file with "burrow toy reply")' });
        return;
      }
      const file = join(await state.scratch(), `reply-${Date.now()}.wav`);
      try {
        const code = await runCommand(commandWords(options.recordCommand, { file }));
        if (code !== 0) {
          log({ event: 'record-command-failed', exitCode: code });
          return;
        }
        const audio = new Uint8Array(await readFile(file));
        if (audio.length === 0 || audio.length > MAX_AUDIO_BYTES) {
          log({ event: 'record-command-failed', detail: 'the recording is empty or too large' });
          return;
        }
        // The record command writes a WAV; refused here unless it is 16-bit PCM (or Opus in Ogg).
        let audioType: ReturnType<typeof audioTypeOfFile>;
        try {
          audioType = audioTypeOfFile(audio, 'the recording');
        } catch {
          log({ event: 'record-command-failed', detail: 'the recording is neither 16-bit PCM WAV nor Opus in Ogg' });
          return;
        }
        await runtime.reply({ audio, audioType, durationMs: audioDurationMs(audio, audioType) });
      } finally {
        await rm(file, { force: true });
      }
    });

  // `burrow toy press` from another process leaves a file in presses/; Enter on a terminal presses too.
  const pressPoll = setInterval(() => {
    state
      .takePresses()
      .then((n) => {
        for (let i = 0; i < n; i++) press();
      })
      .catch(() => undefined);
  }, 250);
  const terminal = io.stdin.isTTY === true ? createInterface({ input: io.stdin }) : undefined;
  terminal?.on('line', () => press());

  const onSignal = (): void => stop();
  io.signals.once('SIGINT', onSignal);
  io.signals.once('SIGTERM', onSignal);

  await scheduleWaiting();
  flush();
  const live: LiveConnection = await connectLive({
    baseUrl: config.serverUrl,
    ...insecureHttpOf(io, options),
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    token: config.deviceToken,
    store: state,
    backoff: { initialMs: 500, maxMs: 30_000, jitter: 'full' },
    onEvent: (event) => handle(event),
    onReady: () => {
      log({ event: 'connected' });
      guard(async () => {
        await runtime.refresh();
        await runtime.handle({ event: 'poll' });
        await scheduleWaiting();
        flushAttempt = 0;
        flush();
        log({ event: 'caught-up' });
      });
    },
    onProblem: (problem) => {
      if (problem.type === 'live/ended') {
        // The server closed on purpose: usually the token was revoked. Check, then stop or carry on.
        guard(async () => {
          await runtime.refresh();
          stop(new ClientError('toy/live-ended', `${problem.detail}; restart "burrow toy run"`));
        });
        return;
      }
      if (problem.type === 'live/closed') {
        log({ event: 'offline', detail: 'reconnecting with backoff' });
        // A removed or reset toy's socket is refused for good: a read with the token tells (401 stops the toy).
        guard(() => runtime.refresh());
      }
    },
  });
  runtime.useLive(live);

  const error = await done;
  clearInterval(pressPoll);
  for (const timer of timers) clearTimeout(timer);
  terminal?.close();
  io.signals.removeListener('SIGINT', onSignal);
  io.signals.removeListener('SIGTERM', onSignal);
  runtime.useLive(undefined);
  await live.close().catch(() => undefined);
  if (error !== undefined) throw error;
}
