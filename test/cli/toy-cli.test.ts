/**
 * The reference toy end to end, every command in process (`runCli`): `burrow serve`, a guardian
 * and a relative through the member CLI, and `burrow toy pair` + `burrow toy run` running beside
 * them. Pairing by code; a guardian's message saved byte for byte; replies heard by the guardian
 * and the relative; the server stopped and started again while the toy holds queued replies (all
 * arrive once, in order); a reset kills the token and the state, and a guardian removes the toy.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, toHex, utf8 } from '../../src/crypto/bytes.js';
import { wavWith } from '../e2e/family-harness.js';
import { remuxWebmOpusToOgg } from '../../src/client/audio/webm-to-ogg.js';
import { wavOfPcm16 } from '../../src/protocol/audio-formats.js';
import { burrow as runBurrow, startBurrow, waitForOutput, type CliRun as Run, type StartedCli } from '../support/cli.js';

let workDir: string;
let dataDir: string;
let port: number;
let serverUrl: string;
let server: StartedCli | undefined;

function env(): Record<string, string> {
  return { HOME: workDir };
}

function burrow(args: string[], extra: Record<string, string> = {}): Promise<Run> {
  return runBurrow(args, { env: { ...env(), ...extra } });
}

async function ok(args: string[], extra: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const run = await burrow([...args, '--json'], extra);
  expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(0);
  const lines = run.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

async function startServe(): Promise<void> {
  server = startBurrow(['serve', '--data', dataDir, '--host', '127.0.0.1', '--port', String(port), '--json'], {
    env: { ...env(), BURROW_LOG_LEVEL: 'warn', BURROW_RATE_GLOBAL_PER_MINUTE: '100000', BURROW_RATE_ANONYMOUS_PER_MINUTE: '100000', BURROW_RATE_ACCOUNT_PER_MINUTE: '1000' },
  });
  await waitForOutput(server.stdout, /^\{"event":"listening"/m, server.done);
}

async function stopServe(): Promise<void> {
  const running = server;
  server = undefined;
  if (running === undefined) return;
  running.signal('SIGTERM');
  const ended = await running.done;
  expect(ended.code, ended.stderr).toBe(0);
}

/** A long-running command whose stdout is JSON lines, with a way to wait for one. */
interface Follower {
  lines(): Array<Record<string, unknown>>;
  stderr: () => string;
  waitFor(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  started: StartedCli;
}

function follow(args: string[]): Follower {
  const started = startBurrow(args, { env: env() });
  const lines = () => started.stdout().split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
  let ended = false;
  void started.done.then(() => {
    ended = true;
  });
  return {
    lines,
    stderr: started.stderr,
    started,
    async waitFor(predicate, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines().find(predicate);
        if (found !== undefined) return found;
        if (ended || Date.now() > deadline) throw new Error(`${ended ? 'ended' : 'timed out'}; lines so far: ${JSON.stringify(lines())}; stderr: ${started.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

async function stopFollower(f: Follower | undefined): Promise<void> {
  if (f === undefined) return;
  f.started.signal('SIGTERM');
  await f.started.done;
}

interface Registered {
  profile: string;
  accountId: string;
}

async function register(name: string): Promise<Registered> {
  const profile = join(workDir, name);
  const out = await ok(['account', 'register', '--server', serverUrl, '--email', `${name}-${toHex(randomBytes(4))}@example.org`, '--profile', profile], { BURROW_PASSWORD: `gentle ${name} ${toHex(randomBytes(4))} river lantern` });
  return { profile, accountId: out.accountId as string };
}

let mum: Registered;
let gran: Registered;
let familyId: string;
let toyState: string;
let toyId: string;
let runner: Follower | undefined;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'burrow-toy-cli-'));
  dataDir = join(workDir, 'data');
  toyState = join(workDir, 'toy');
  port = await freePort();
  serverUrl = `http://127.0.0.1:${port}`;
  await startServe();
  let link = '';
  [mum, gran] = await Promise.all([
    (async () => {
      const registered = await register('mum');
      familyId = (await ok(['family', 'create', '--name', 'Toybox', '--profile', registered.profile])).familyId as string;
      await ok(['child', 'add', '--family', familyId, '--name', 'Mia', '--emoji', '🦊', '--profile', registered.profile]);
      link = (await ok(['family', 'invite', '--family', familyId, '--role', 'relative', '--child', 'Mia', '--profile', registered.profile])).link as string;
      return registered;
    })(),
    register('gran'),
  ]);
  await ok(['family', 'join', link, '--profile', gran.profile]);
  await ok(['family', 'admit', '--family', familyId, '--profile', mum.profile]);
}, 240_000);

afterAll(async () => {
  await stopFollower(runner);
  await stopServe();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

describe('burrow toy', { timeout: 180_000 }, () => {
  it('every toy command has help with an example', async () => {
    const commands = [['toy'], ['toy', 'pair'], ['toy', 'run'], ['toy', 'reply'], ['family', 'add-toy'], ['family', 'toy-settings']];
    const runs = await Promise.all(commands.map((command) => burrow([...command, '--help'])));
    for (const [i, run] of runs.entries()) {
      expect(run.code, commands[i]!.join(' ')).toBe(0);
      expect(run.stdout, commands[i]!.join(' ')).toMatch(/Examples?:/);
    }
  });

  it('pairs by code: the toy prints the code, the guardian enters it, the toy prints paired; its state is private', async () => {
    const pair = follow(['toy', 'pair', '--server', serverUrl, '--state', toyState, '--json']);
    const code = await pair.waitFor((l) => l.event === 'code');
    expect(code.code).toMatch(/^[0-9]{8}$/);
    // A wrong code fails with a clear message and uses up one try.
    const wrong = String((Number(code.code as string) + 1) % 100_000_000).padStart(8, '0');
    const refused = await burrow(['family', 'add-toy', '--family', familyId, '--code', wrong, '--child', 'Mia', '--profile', mum.profile, '--json']);
    expect(refused.code).not.toBe(0);
    expect(JSON.parse(refused.stderr.trim())).toMatchObject({ code: 'client/wrong-code' });
    const added = await ok(['family', 'add-toy', '--family', familyId, '--code', `${(code.code as string).slice(0, 3)}-${(code.code as string).slice(3)}`, '--child', 'Mia', '--name', 'Bunny', '--profile', mum.profile]);
    toyId = added.toyId as string;
    const paired = await pair.waitFor((l) => l.event === 'paired');
    expect(paired).toEqual({ event: 'paired', toyId, familyId });
    expect((await pair.started.done).code).toBe(0);
    expect(pair.lines()).toHaveLength(2);

    expect((await stat(toyState)).mode & 0o777).toBe(0o700);
    for (const name of await readdir(toyState)) {
      const info = await stat(join(toyState, name));
      if (info.isFile()) expect((info.mode & 0o777).toString(8), name).toBe('600');
    }
    const toys = await ok(['family', 'toys', '--family', familyId, '--profile', gran.profile]);
    expect(toys.toys).toEqual([expect.objectContaining({ toyId, name: 'Bunny' })]);
    const settings = await ok(['family', 'toy-settings', '--family', familyId, '--volume', '35', '--profile', mum.profile]);
    expect(settings).toMatchObject({ volumeLimit: 35, quietHours: null, toyToToy: false });
    expect(await ok(['family', 'toy-settings', '--family', familyId, '--toy-to-toy', 'on', '--profile', mum.profile])).toMatchObject({ volumeLimit: 35, toyToToy: true });
  });

  it("saves a guardian's message byte for byte, and its replies reach the guardian and the relative", async () => {
    const saveDir = join(workDir, 'heard');
    // The "microphone": the record command copies a prepared WAV into {file}.
    const recorded = wavWith(utf8('pressed and recorded'), 3000);
    const recordedPath = join(workDir, 'microphone.wav');
    await writeFile(recordedPath, recorded);
    runner = follow(['toy', 'run', '--state', toyState, '--save', saveDir, '--record-command', `cp ${recordedPath} {file}`, '--json']);
    await runner.waitFor((l) => l.event === 'caught-up');
    const audio = wavWith(utf8('good night from mum'), 8000);
    const audioPath = join(workDir, 'hello.wav');
    await writeFile(audioPath, audio);
    const sent = await ok(['send', '--family', familyId, '--to', 'Mia', '--file', audioPath, '--profile', mum.profile]);
    const saved = await runner.waitFor((l) => l.event === 'saved' && l.messageId === sent.messageId);
    expect(new Uint8Array(await readFile(saved.file as string))).toEqual(audio);
    expect(await runner.waitFor((l) => l.event === 'played' && l.messageId === sent.messageId)).toMatchObject({ volume: 35 });

    const replyAudio = wavWith(utf8('night night'), 4000);
    const replyPath = join(workDir, 'reply.wav');
    await writeFile(replyPath, replyAudio);
    const reply = await ok(['toy', 'reply', '--state', toyState, '--file', replyPath]);
    expect(reply.event).toBe('reply-sent');
    for (const who of [mum, gran]) {
      const dir = join(workDir, `inbox-${who.accountId}`);
      const inbox = await ok(['inbox', '--family', familyId, '--save', dir, '--profile', who.profile]);
      const line = (inbox.messages as Array<Record<string, unknown>>).find((m) => m.messageId === reply.messageId);
      expect(line, JSON.stringify(inbox)).toMatchObject({ senderId: toyId, playable: true });
      expect(new Uint8Array(await readFile(line!.file as string))).toEqual(replyAudio);
    }
    // A button press from another process records through --record-command and sends the reply.
    await ok(['toy', 'press', '--state', toyState]);
    const pressed = await runner.waitFor((l) => l.event === 'reply-sent' && l.messageId !== reply.messageId);
    const heardByGran = await ok(['inbox', '--family', familyId, '--save', join(workDir, 'gran-pressed'), '--profile', gran.profile]);
    const pressedLine = (heardByGran.messages as Array<Record<string, unknown>>).find((m) => m.messageId === pressed.messageId);
    expect(new Uint8Array(await readFile(pressedLine!.file as string))).toEqual(recorded);
    // Nothing secret in what the toy printed.
    const config = JSON.parse(await readFile(join(toyState, 'toy.json'), 'utf8')) as { deviceToken: string };
    expect(JSON.stringify(runner.lines()) + runner.stderr()).not.toContain(config.deviceToken);
  });

  it('holds replies while the server is down and sends them once each, in order, when it is back', async () => {
    await stopServe();
    const queued: string[] = [];
    for (let i = 0; i < 3; i++) {
      const path = join(workDir, `queued-${i}.wav`);
      await writeFile(path, wavWith(utf8(`queued ${i}`), 2000));
      const out = await ok(['toy', 'reply', '--state', toyState, '--file', path]);
      expect(out.event).toBe('reply-queued');
      queued.push(out.messageId as string);
    }
    await startServe();
    for (const id of queued) await runner!.waitFor((l) => l.event === 'reply-sent' && l.messageId === id, 90_000);
    const inbox = await ok(['inbox', '--family', familyId, '--profile', mum.profile]);
    const fromToy = (inbox.messages as Array<{ messageId: string; senderId: string; receivedAt: number }>).filter((m) => queued.includes(m.messageId));
    expect(fromToy).toHaveLength(3);
    expect([...fromToy].sort((a, b) => a.receivedAt - b.receivedAt || queued.indexOf(a.messageId) - queued.indexOf(b.messageId)).map((m) => m.messageId)).toEqual(queued);
    expect(await readdir(join(toyState, 'outbox'))).toEqual([]);
  });

  it('plays Ogg/Opus and WAV messages through their play commands, each as a file of its format', async () => {
    await stopFollower(runner);
    const wavPlayer = join(workDir, 'wav-player');
    const oggPlayer = join(workDir, 'ogg-player');
    await Promise.all([mkdir(wavPlayer), mkdir(oggPlayer)]);
    // The "players" keep a copy of what they were given (the toy deletes its file afterwards).
    runner = follow(['toy', 'run', '--state', toyState, '--play-command', `cp {file} ${wavPlayer}`, '--play-ogg-command', `cp {file} ${oggPlayer}`, '--json']);
    await runner.waitFor((l) => l.event === 'caught-up');
    const ogg = remuxWebmOpusToOgg(new Uint8Array(await readFile(new URL('../client/audio/fixtures/chromium-opus.webm', import.meta.url))));
    const wav = wavWith(utf8('a wav for the toy'), 4000);
    const sent: Record<string, string> = {};
    for (const [name, audio] of [['song.ogg', ogg], ['hello-again.wav', wav]] as const) {
      const path = join(workDir, name);
      await writeFile(path, audio);
      sent[name] = (await ok(['send', '--family', familyId, '--to', 'Mia', '--file', path, '--profile', mum.profile])).messageId as string;
      await runner.waitFor((l) => l.event === 'played' && l.messageId === sent[name]);
    }
    expect(await readdir(oggPlayer)).toEqual([`${sent['song.ogg']!}.ogg`]);
    expect(await readdir(wavPlayer)).toEqual([`${sent['hello-again.wav']!}.wav`]);
    expect(new Uint8Array(await readFile(join(oggPlayer, `${sent['song.ogg']!}.ogg`)))).toEqual(ogg);
    expect(new Uint8Array(await readFile(join(wavPlayer, `${sent['hello-again.wav']!}.wav`)))).toEqual(wav);
  });

  it('a play command without {file} gets the audio on its stdin as the message downloads, byte for byte', async () => {
    await stopFollower(runner);
    const heard = join(workDir, 'heard-on-stdin.wav');
    runner = follow(['toy', 'run', '--state', toyState, '--play-command', `sh -c 'cat > ${heard}'`, '--json']);
    await runner.waitFor((l) => l.event === 'caught-up');
    // Several chunks long, so the player gets it in several pieces through the pipe.
    const wav = wavOfPcm16(randomBytes(300_000), { sampleRate: 16_000 });
    const path = join(workDir, 'long.wav');
    await writeFile(path, wav);
    const { messageId } = await ok(['send', '--family', familyId, '--to', 'Mia', '--file', path, '--profile', mum.profile]);
    await runner.waitFor((l) => l.event === 'played' && l.messageId === messageId);
    expect(new Uint8Array(await readFile(heard))).toEqual(wav);
    expect(runner.lines().filter((l) => l.event === 'play-command-failed')).toEqual([]);
    expect(await readdir(join(toyState, 'scratch'))).toEqual([]);
  });

  it('reset revokes the device token (401) and wipes the state', async () => {
    await stopFollower(runner);
    runner = undefined;
    const config = JSON.parse(await readFile(join(toyState, 'toy.json'), 'utf8')) as { deviceToken: string };
    const before = await fetch(`${serverUrl}/v1/toy`, { headers: { authorization: `Bearer ${config.deviceToken}` } });
    expect(before.status).toBe(200);
    const reset = await ok(['toy', 'reset', '--state', toyState]);
    expect(reset).toMatchObject({ event: 'reset', revoked: true });
    const after = await fetch(`${serverUrl}/v1/toy`, { headers: { authorization: `Bearer ${config.deviceToken}` } });
    expect(after.status).toBe(401);
    expect((await readdir(toyState)).filter((n) => !n.startsWith('.'))).toEqual([]);
    const run = await burrow(['toy', 'run', '--state', toyState, '--save', join(workDir, 'x'), '--once', '--json']);
    expect(run.code).not.toBe(0);
    expect(JSON.parse(run.stderr.trim()).detail).toContain('burrow toy pair');
    // The reset toy is still in the roster until a guardian removes it.
    const removed = await ok(['family', 'remove-toy', '--family', familyId, '--toy', toyId, '--profile', mum.profile]);
    expect(removed).toMatchObject({ removed: toyId });
    expect((await ok(['family', 'toys', '--family', familyId, '--profile', mum.profile])).toys).toEqual([]);
  });
});
