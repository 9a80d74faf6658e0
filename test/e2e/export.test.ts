/**
 * `burrow export` as a user runs it: the CLI in process (`runCli`) against a real server on
 * 127.0.0.1. Two members exchange voice messages through `burrow send`;
 * each one's export reproduces every audio file they can read byte for byte, with an index whose
 * hashes match.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, toHex } from '../../src/crypto/bytes.js';
import { startServer, type RunningServer } from './accounts-harness.js';
import { wavWith } from './family-harness.js';
import { burrow as runBurrow, type CliRun as Run } from '../support/cli.js';
import { csvCell } from '../../src/client/export.js';
import { remuxWebmOpusToOgg } from '../../src/client/audio/webm-to-ogg.js';

/** Real Ogg/Opus: Chromium's recording of a tone, remuxed (test/client/audio/fixtures). */
const song = remuxWebmOpusToOgg(new Uint8Array(await readFile(new URL('../client/audio/fixtures/chromium-opus.webm', import.meta.url))));


let server: RunningServer;
let workDir: string;

function burrow(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return runBurrow(args, { env: { HOME: workDir, ...env } });
}

/** Runs a command that must succeed with --json and returns its one JSON object. */
async function ok(args: string[], env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const run = await burrow([...args, '--json'], env);
  expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(0);
  const lines = run.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

async function register(name: string): Promise<string> {
  const profile = join(workDir, name);
  await ok(['account', 'register', '--server', server.url, '--email', `${name}-${toHex(randomBytes(4))}@example.org`, '--profile', profile], {
    BURROW_PASSWORD: `bright ${name} ${toHex(randomBytes(4))} meadow kettle`,
  });
  return profile;
}

/** A WAV of 32-bit float samples: a real WAV, but not the 16-bit PCM a toy can count on. */
function floatWav(): Uint8Array {
  const wav = wavWith(new Uint8Array(0), 400);
  const view = new DataView(wav.buffer);
  view.setUint16(20, 3, true);
  view.setUint16(34, 32, true);
  return wav;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

interface Sent {
  messageId: string;
  audio: Uint8Array;
  caption: string;
}

let mum: string;
let gran: string;
let familyId: string;
const sentToMia: Sent[] = [];
const sentToLeo: Sent[] = [];

beforeAll(async () => {
  server = await startServer();
  workDir = await mkdtemp(join(tmpdir(), 'burrow-export-'));
  let aunt: string;
  [mum, gran, aunt] = await Promise.all([register('mum'), register('gran'), register('aunt')]);
  familyId = (await ok(['family', 'create', '--name', 'Export Family', '--profile', mum])).familyId as string;
  const mia = (await ok(['child', 'add', '--family', familyId, '--name', 'Mia', '--emoji', '🦊', '--profile', mum])).childId as string;
  await ok(['child', 'add', '--family', familyId, '--name', 'Leo', '--emoji', '🐢', '--profile', mum]);
  const { link } = await ok(['family', 'invite', '--family', familyId, '--role', 'relative', '--child', 'Mia', '--profile', mum]);
  const joined = await ok(['family', 'join', link as string, '--profile', gran]);
  expect(joined.familyId).toBe(familyId);
  // Leo's conversation has a key once someone besides the guardians holds it: an aunt who may talk with him.
  const forLeo = await ok(['family', 'invite', '--family', familyId, '--role', 'relative', '--child', 'Leo', '--profile', mum]);
  expect((await ok(['family', 'join', forLeo.link as string, '--profile', aunt])).familyId).toBe(familyId);
  const admitted = await ok(['family', 'admit', '--family', familyId, '--profile', mum]);
  expect((admitted.admitted as unknown[]).length).toBe(2);

  const files: Array<{ from: string; to: string; name: string; audio: Uint8Array; list: Sent[] }> = [
    { from: mum, to: 'Mia', name: 'hello.wav', audio: wavWith(randomBytes(16), 64_000), list: sentToMia },
    { from: mum, to: mia, name: 'song.ogg', audio: song, list: sentToMia },
    { from: mum, to: 'Leo', name: 'leo.wav', audio: wavWith(randomBytes(16), 1_200_000), list: sentToLeo },
    // Told apart by content, not by name: an Ogg/Opus file called .bin is sent as Ogg.
    { from: gran, to: 'Mia', name: 'gran.bin', audio: song, list: sentToMia },
    { from: mum, to: 'Mia', name: 'empty-ish.wav', audio: wavWith(new Uint8Array(0), 2), list: sentToMia },
  ];
  for (const [i, file] of files.entries()) {
    const path = join(workDir, `${i}-${file.name}`);
    await writeFile(path, file.audio);
    const caption = `caption ${i} ${toHex(randomBytes(3))}`;
    const sent = await ok(['send', '--family', familyId, '--to', file.to, '--file', path, '--caption', caption, '--profile', file.from]);
    expect(sent.sha256).toBe(sha256(file.audio));
    file.list.push({ messageId: sent.messageId as string, audio: file.audio, caption });
  }
}, 180_000);

afterAll(async () => {
  await server?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

interface IndexEntry {
  messageId: string;
  familyId: string;
  senderId: string;
  recipients: string[];
  caption: string | null;
  file: string;
  sha256: string;
  createdAt: number;
  receivedAt: number;
  status: string;
}

async function exportAs(profile: string): Promise<{ out: string; index: { messages: IndexEntry[] }; csv: string }> {
  const out = join(workDir, `export-${toHex(randomBytes(3))}`);
  const result = await ok(['export', '--out', out, '--profile', profile]);
  expect(result.out).toBe(out);
  const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { messages: IndexEntry[] };
  return { out, index, csv: await readFile(join(out, 'index.csv'), 'utf8') };
}

describe('burrow export', { timeout: 120_000 }, () => {
  it("reproduces every audio file a guardian can read byte for byte, with the index's hashes and captions", async () => {
    const { out, index, csv } = await exportAs(mum);
    const expected = [...sentToMia, ...sentToLeo];
    expect(index.messages.map((m) => m.messageId).sort()).toEqual(expected.map((s) => s.messageId).sort());
    expect(index.messages.map((m) => m.status)).toEqual(expected.map(() => 'ok'));
    // The web app's "Download everything" writes the same index (src/client/export.ts).
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe('file,messageId,familyId,familyName,from,to,sentAt,durationMs,audioType,caption,saved,approved,status,sha256');
    expect(lines).toHaveLength(expected.length + 2);
    // Cells as the CSV writes them: an id that starts with '-' is neutralised like any formula-looking cell.
    for (const entry of index.messages) expect(csv).toContain(`${csvCell(entry.file)},${csvCell(entry.messageId)},${csvCell(familyId)},`);
    for (const sent of expected) {
      const entry = index.messages.find((m) => m.messageId === sent.messageId)!;
      const bytes = new Uint8Array(await readFile(join(out, entry.file)));
      expect(Buffer.compare(Buffer.from(bytes), Buffer.from(sent.audio)), entry.file).toBe(0);
      expect(entry.sha256).toBe(sha256(sent.audio));
      expect(entry.caption).toBe(sent.caption);
      expect(entry.familyId).toBe(familyId);
      expect(typeof entry.createdAt).toBe('number');
      expect((await stat(join(out, entry.file))).mode & 0o077).toBe(0);
    }
  });

  it("a relative's export holds exactly the messages of her child, byte for byte", async () => {
    const { out, index } = await exportAs(gran);
    expect(index.messages.map((m) => m.messageId).sort()).toEqual(sentToMia.map((s) => s.messageId).sort());
    for (const sent of sentToMia) {
      const entry = index.messages.find((m) => m.messageId === sent.messageId)!;
      expect(Buffer.compare(await readFile(join(out, entry.file)), Buffer.from(sent.audio))).toBe(0);
    }
  });

  it('the inbox lists and saves the same audio, and family show names members and children', async () => {
    const saveDir = join(workDir, 'inbox');
    const inbox = await ok(['inbox', '--family', familyId, '--save', saveDir, '--profile', gran]);
    const messages = inbox.messages as Array<{ messageId: string; file?: string; status: string; caption: string | null }>;
    expect(messages.map((m) => m.messageId).sort()).toEqual(sentToMia.map((s) => s.messageId).sort());
    for (const m of messages) {
      const sent = sentToMia.find((s) => s.messageId === m.messageId)!;
      expect(m.status).toBe('playable');
      expect(m.caption).toBe(sent.caption);
      expect(Buffer.compare(await readFile(m.file!), Buffer.from(sent.audio))).toBe(0);
    }
    const shown = await ok(['family', 'show', '--family', familyId, '--profile', gran]);
    expect(shown.name).toBe('Export Family');
    expect((shown.children as Array<{ name: string }>).map((c) => c.name)).toEqual(['Mia']);
    expect((shown.members as Array<{ role: string; safetyCode: string }>).map((m) => m.role).sort()).toEqual(['guardian', 'relative', 'relative']);
  });

  it('send refuses audio that is neither Ogg/Opus nor 16-bit PCM WAV, naming both and how to convert', async () => {
    for (const [name, audio] of [['voice.mp3', randomBytes(2000)], ['renamed.ogg', randomBytes(2000)], ['float.wav', floatWav()]] as const) {
      const path = join(workDir, name);
      await writeFile(path, audio);
      const run = await burrow(['send', '--family', familyId, '--to', 'Mia', '--file', path, '--profile', mum, '--json']);
      expect(run.code, name).toBe(2);
      const problem = JSON.parse(run.stderr.trim()) as { code: string; detail?: string; message?: string };
      expect(problem.code).toBe('client/audio-format');
      expect(run.stderr).toMatch(/Opus in Ogg.*16-bit PCM WAV/);
      expect(run.stderr).toMatch(/opusenc|sox/);
    }
  });

  it('a failure is a JSON problem on stderr with a non-zero exit', async () => {
    const run = await burrow(['export', '--out', join(workDir, 'x'), '--family', 'not-an-id', '--profile', mum, '--json']);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe('');
    expect(JSON.parse(run.stderr.trim())).toMatchObject({ code: 'cli/bad-input' });
  });
});
