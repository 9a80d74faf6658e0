import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from '../../src/crypto/bytes.js';
import { searchDirectory, textNeedles } from './marker-search.js';

const MARKER = 'Grandma.Rose+Marker@example.org';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'burrow-markers-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A file of random bytes with `planted` somewhere in the middle. */
async function plant(name: string, planted: Buffer): Promise<void> {
  await writeFile(join(dir, name), Buffer.concat([Buffer.from(randomBytes(4099)), planted, Buffer.from(randomBytes(517))]));
}

describe('the dump search', () => {
  it('finds nothing in random bytes', async () => {
    await writeFile(join(dir, 'noise.bin'), Buffer.from(randomBytes(1 << 20)));
    const report = await searchDirectory(dir, { text: [MARKER] });
    expect(report.hits).toEqual([]);
    expect(report.bytesSearched).toBe(1 << 20);
  });

  const plantings: Array<[string, (marker: string) => Buffer]> = [
    ['UTF-8', (m) => Buffer.from(m, 'utf8')],
    ['lower-case UTF-8', (m) => Buffer.from(m.toLowerCase(), 'utf8')],
    ['upper-case UTF-8', (m) => Buffer.from(m.toUpperCase(), 'utf8')],
    ['UTF-16LE', (m) => Buffer.from(m, 'utf16le')],
    ['UTF-16BE', (m) => Buffer.from(m, 'utf16le').swap16()],
    ['lower-case UTF-16BE', (m) => Buffer.from(m.toLowerCase(), 'utf16le').swap16()],
    ['hex', (m) => Buffer.from(Buffer.from(m).toString('hex'))],
    ['upper-case hex', (m) => Buffer.from(Buffer.from(m).toString('hex').toUpperCase())],
    ['hex of the lower-case text', (m) => Buffer.from(Buffer.from(m.toLowerCase()).toString('hex'))],
    ['base64', (m) => Buffer.from(Buffer.from(m).toString('base64'))],
    ['base64 after one byte', (m) => Buffer.from(Buffer.concat([Buffer.from('x'), Buffer.from(m)]).toString('base64'))],
    ['base64url after two bytes', (m) => Buffer.from(Buffer.concat([Buffer.from('{"'), Buffer.from(m), Buffer.from('"}')]).toString('base64url'))],
    ['base64 inside JSON inside a longer text', (m) => Buffer.from(`{"a":"${Buffer.from(`{"email":"${m}","n":1}`).toString('base64')}"}`)],
  ];
  for (const [encoding, encode] of plantings) {
    it(`finds a marker planted as ${encoding}`, async () => {
      await mkdir(join(dir, 'blobs', 'ab'), { recursive: true });
      await plant(join('blobs', 'ab', 'planted.bin'), encode(MARKER));
      const report = await searchDirectory(dir, { text: [MARKER] });
      expect(report.hits.length).toBeGreaterThan(0);
      expect(report.hits[0]!.file).toBe(join('blobs', 'ab', 'planted.bin'));
    });
  }

  it('finds raw byte markers and their encodings', async () => {
    const audio = Buffer.from(randomBytes(64));
    await plant('raw.bin', audio);
    await plant('b64.txt', Buffer.from(Buffer.concat([Buffer.from('z'), audio]).toString('base64')));
    const report = await searchDirectory(dir, { bytes: [{ marker: 'audio', bytes: audio }] });
    expect(new Set(report.hits.map((h) => h.file))).toEqual(new Set(['raw.bin', 'b64.txt']));
  });

  it('refuses markers too short to search for without chance matches', async () => {
    await expect(searchDirectory(dir, { text: ['abc'] })).rejects.toThrow(/too short/);
  });

  it('searches every alignment, case and byte order of a marker', () => {
    const encodings = textNeedles(MARKER).map((n) => n.encoding);
    for (const expected of ['utf8', 'lower utf8', 'upper utf8', 'utf16le', 'utf16be', 'utf8 hex', 'utf8 HEX', 'utf8 base64@0', 'utf8 base64@1', 'utf8 base64@2', 'lower utf8 base64@2']) {
      expect(encodings).toContain(expected);
    }
  });
});
