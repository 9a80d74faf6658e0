/**
 * The family dump test (DESIGN §2): a server seeded through the client library with families,
 * children with known names, voice messages with known captions and audio bytes, relatives'
 * messages back, invites, emails and passwords, and a named toy paired to each family (its name,
 * device token and private keys). A copy of the data directory without the secrets file — database
 * and blob store — holds none of them in any encoding, and no file in it is recognisable as audio by
 * its magic bytes or by `file`. Part of the adversarial suite's figures (docs/security-testing.md).
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, loadFamily } from '../../src/client/families.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { approveMessage, sendMessage } from '../../src/client/messages.js';
import { randomBytes, toHex } from '../../src/crypto/bytes.js';
import { exportIdentitySecret } from '../../src/crypto/identity.js';
import { parseInviteLink } from '../../src/crypto/invite.js';
import { DATABASE_FILE, startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, wavWith, type TestMember } from '../e2e/family-harness.js';
import { pairToy } from '../toy/toy-harness.js';
import { recordFigures } from '../adversarial/figures.js';
import { searchDirectory, type SearchReport } from './marker-search.js';

const SECRETS_FILE = 'secrets.json';
const FAMILIES = 2;
const MESSAGES_PER_SENDER = 3;

/** Magic bytes of the audio containers browsers and phones record (RIFF/WAVE, Ogg, MP3 ID3, FLAC, WebM/Matroska EBML). */
const AUDIO_MAGIC: Array<{ name: string; test: (head: Buffer) => boolean }> = [
  { name: 'RIFF/WAVE', test: (h) => h.subarray(0, 4).toString('latin1') === 'RIFF' || h.subarray(8, 12).toString('latin1') === 'WAVE' },
  { name: 'OggS', test: (h) => h.subarray(0, 4).toString('latin1') === 'OggS' },
  { name: 'ID3', test: (h) => h.subarray(0, 3).toString('latin1') === 'ID3' },
  { name: 'fLaC', test: (h) => h.subarray(0, 4).toString('latin1') === 'fLaC' },
  { name: 'EBML', test: (h) => h.subarray(0, 4).equals(Buffer.from([0x1a, 0x45, 0xdf, 0xa3])) },
];

const run = toHex(randomBytes(3));
const textMarkers: string[] = [];
const byteMarkers: Array<{ marker: string; bytes: Uint8Array }> = [];
const sentAudio: Uint8Array[] = [];
let server: RunningServer;
let workDir: string;
let messagesSent = 0;
let toysPaired = 0;

function remember(text: string): string {
  textMarkers.push(text);
  return text;
}

/** The audio's own marker bytes (start, middle and end slices) as byte markers. */
function rememberAudio(label: string, audio: Uint8Array): void {
  sentAudio.push(audio);
  const middle = Math.floor(audio.length / 2);
  byteMarkers.push(
    { marker: `${label} head`, bytes: audio.slice(0, 48) },
    { marker: `${label} middle`, bytes: audio.slice(middle, middle + 32) },
    { marker: `${label} tail`, bytes: audio.slice(-32) },
  );
}

async function member(label: string): Promise<TestMember> {
  const m = await registerMember(server.url, label, remember(`Dump.${label}.${run}@Burrow-Family.example`));
  remember(m.password);
  return m;
}

async function seedFamily(f: number): Promise<void> {
  const [guardian, partner, grandpa, uncle] = await Promise.all(['guardian', 'partner', 'grandpa', 'uncle'].map((role) => member(`${role}${f}`)));
  const family = await createFamily(guardian!, { name: remember(`Hazelnut Family ${f} ${run}`), myName: remember(`Wilhelmina Thistledown ${f}${run}`) });
  const familyId = family.familyId;
  const childA = await addChild(guardian!, { familyId, name: remember(`Ottilie Quickfoot ${f}${run}`), emoji: '🦔' });
  const childB = await addChild(guardian!, { familyId, name: remember(`Barnaby Mossbrook ${f}${run}`), emoji: '🐻' });
  const invites = [
    { joiner: partner!, terms: { role: 'guardian' as const, children: [], needsApproval: false } },
    { joiner: grandpa!, terms: { role: 'relative' as const, children: [childA.childId], needsApproval: false } },
    { joiner: uncle!, terms: { role: 'relative' as const, children: [childA.childId, childB.childId], needsApproval: true } },
  ];
  for (const [i, { joiner, terms }] of invites.entries()) {
    const { link } = await createInvite(guardian!, { familyId, terms, for: remember(`Invitee Quillfeather ${f}${i}${run}`) });
    byteMarkers.push({ marker: `invite secret ${f}`, bytes: parseInviteLink(link).secret });
    await acceptInvite(joiner, link, { name: remember(`Joiner Bramblewick ${f}${i}${run}`) });
  }
  await admitJoiners(guardian!, { familyId });
  // Each joiner's chosen name becomes their sealed member profile on their first load.
  for (const { joiner } of invites) await loadFamily(joiner, familyId);
  // An invite left open: its secret must not be on the server either.
  const open = await createInvite(guardian!, { familyId, terms: { role: 'relative', children: [childB.childId], needsApproval: false } });
  byteMarkers.push({ marker: `open invite secret ${f}`, bytes: parseInviteLink(open.link).secret });

  const senders: Array<{ from: TestMember; to: string }> = [
    { from: guardian!, to: childA.childId },
    { from: partner!, to: childB.childId },
    { from: grandpa!, to: childA.childId },
    { from: uncle!, to: childB.childId },
  ];
  for (const { from, to } of senders) {
    for (let i = 0; i < MESSAGES_PER_SENDER; i++) {
      const label = `${from.label} message ${i}`;
      const audio = wavWith(randomBytes(64), 24_000 + i * 1000);
      rememberAudio(label, audio);
      const sent = await sendMessage(from, { familyId, to, audio, audioType: 'audio/wav', durationMs: 1500, caption: remember(`Caption ${label} sleepy otter ${run}`) });
      messagesSent += 1;
      if (from === uncle) await approveMessage(guardian!, { familyId, messageId: sent.messageId });
    }
  }
  // A toy paired to the first child, with a name only the family can read.
  const toy = await pairToy(server.url, guardian!, familyId, childA.childId, remember(`Sir Wobbleton Toy ${f} ${run}`));
  remember(toy.deviceToken);
  byteMarkers.push({ marker: `toy ${f} private keys`, bytes: await exportIdentitySecret(toy.identity) });
  toysPaired += 1;
  await loadFamily(guardian!, familyId);
  // Every scope key the guardian holds: the family-wide one and each child's, every generation.
  const held = (await guardian!.store.loadFamily(familyId))?.keys ?? {};
  expect(Object.keys(held).length).toBeGreaterThan(1);
  for (const [id, key] of Object.entries(held)) byteMarkers.push({ marker: `family ${f} scope key ${id}`, bytes: key });
}

async function copyWithoutSecrets(name: string): Promise<string> {
  const target = join(workDir, name);
  await cp(server.dataDir, target, { recursive: true, filter: (source) => !source.endsWith(`/${SECRETS_FILE}`) });
  return target;
}

function describeHits(report: SearchReport): string {
  return report.hits
    .slice(0, 10)
    .map((hit) => `${hit.marker} as ${hit.encoding} at ${hit.file}:${hit.offset}`)
    .join('; ');
}

/** Files `file` (libmagic) calls audio or video, by MIME type. */
async function audioByFile(dir: string): Promise<string[]> {
  const paths = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  const { stdout } = await promisify(execFile)('file', ['--brief', '--mime-type', '--', ...paths], { maxBuffer: 16 * 1024 * 1024 });
  const types = stdout.trim().split('\n');
  expect(types).toHaveLength(paths.length);
  return paths.map((path, i) => ({ path, type: types[i]! })).filter((f) => /^(audio|video)\//.test(f.type)).map((f) => `${relative(dir, f.path)} (${f.type})`);
}

async function audioLookingFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const head = (await readFile(path)).subarray(0, 16);
    for (const magic of AUDIO_MAGIC) if (magic.test(head)) found.push(`${relative(dir, path)} (${magic.name})`);
  }
  return found;
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'burrow-family-dump-'));
  server = await startServer();
  for (let f = 0; f < FAMILIES; f++) await seedFamily(f);
}, 300_000);

afterAll(async () => {
  await server?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

describe('a copy of a seeded data directory without the secrets file', () => {
  it('was made from a server holding the seeded families and messages', async () => {
    expect(messagesSent).toBe(FAMILIES * 4 * MESSAGES_PER_SENDER);
    const copy = await copyWithoutSecrets('check');
    const files = await readdir(copy, { recursive: true });
    expect(files).toContain(DATABASE_FILE);
    expect(files).not.toContain(SECRETS_FILE);
    const blobFiles = (await readdir(join(copy, 'blobs'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    expect(blobFiles.length).toBeGreaterThanOrEqual(messagesSent);
  });

  it('taken while the server runs holds no name, caption, email, password, audio, invite secret or family key', async () => {
    const copy = await copyWithoutSecrets('hot');
    const report = await searchDirectory(copy, { text: textMarkers, bytes: byteMarkers });
    expect(report.bytesSearched).toBeGreaterThan(sentAudio.reduce((n, a) => n + a.length, 0));
    expect(report.hits, describeHits(report)).toEqual([]);
    const files = (await readdir(copy, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length;
    recordFigures('dump', {
      families: FAMILIES, messages: messagesSent, toys: toysPaired, textMarkers: textMarkers.length, byteMarkers: byteMarkers.length,
      filesSearched: files, bytesSearched: report.bytesSearched, hits: report.hits.length,
    });
  });

  it('holds no file that is recognisable as audio by its magic bytes, or by `file`', async () => {
    const copy = await copyWithoutSecrets('magic');
    expect(await audioLookingFiles(copy)).toEqual([]);
    expect(await audioByFile(copy)).toEqual([]);
  });

  it('taken after the server stopped holds none of them either', async () => {
    await server.stop();
    const copy = await copyWithoutSecrets('cold');
    const report = await searchDirectory(copy, { text: textMarkers, bytes: byteMarkers });
    expect(report.hits, describeHits(report)).toEqual([]);
    expect(await audioLookingFiles(copy)).toEqual([]);
  });

  it('would fail if a caption, a child name or audio were planted in it', async () => {
    const copy = await copyWithoutSecrets('planted');
    const caption = textMarkers.find((m) => m.startsWith('Caption'))!;
    const child = textMarkers.find((m) => m.startsWith('Ottilie'))!;
    const audio = sentAudio[3]!;
    await writeFile(join(copy, 'planted-caption.bin'), Buffer.concat([Buffer.from(randomBytes(100)), Buffer.from(caption.toLowerCase(), 'utf16le')]));
    await writeFile(join(copy, 'planted-child.json'), JSON.stringify({ n: Buffer.from(`..${child}`).toString('base64url') }));
    await writeFile(join(copy, 'planted-audio.txt'), Buffer.from(audio).toString('hex'));
    await writeFile(join(copy, 'planted.wav'), audio);
    const report = await searchDirectory(copy, { text: textMarkers, bytes: byteMarkers });
    expect(new Set(report.hits.map((hit) => hit.file))).toEqual(new Set(['planted-caption.bin', 'planted-child.json', 'planted-audio.txt', 'planted.wav']));
    expect(await audioLookingFiles(copy)).toEqual(['planted.wav (RIFF/WAVE)']);
    expect((await audioByFile(copy)).map((f) => f.split(' ')[0])).toEqual(['planted.wav']);
    expect((await stat(join(copy, 'planted.wav'))).size).toBe(audio.length);
  });
});
