/**
 * The reference toy's state directory writes an envelope as it downloads and reads it back piece by
 * piece, in the one file format `saveEnvelope` writes (base64url, 0600): whatever the cut of the
 * pieces, the bytes are the same, and a discarded write leaves nothing behind.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesEqual, concatBytes, randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { ToyStateDir } from '../../src/toy/state.js';

let dir: string;
const id = (n: number): string => `${'A'.repeat(21)}${String.fromCharCode(65 + n)}`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'burrow-toy-state-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(state: ToyStateDir, messageId: string): Promise<{ bytes: Uint8Array; pieces: number }> {
  const source = await state.readEnvelope(messageId);
  expect(source).toBeDefined();
  const pieces: Uint8Array[] = [];
  for await (const piece of source!) pieces.push(piece.slice());
  return { bytes: concatBytes(...pieces), pieces: pieces.length };
}

describe("the reference toy's envelope files", () => {
  it('an envelope written in pieces of any size is the file saveEnvelope would write, and reads back in pieces', async () => {
    const state = new ToyStateDir(join(dir, 'toy'));
    const envelope = randomBytes(200_003);
    const writer = await state.envelopeWriter(id(0));
    // Cuts that leave 0, 1 and 2 bytes over a multiple of 3, pieces shorter than what is carried over.
    const cuts = [1, 1, 1, 2, 5, 7, 1000, 3, 65_536, 4, 1, 2];
    let at = 0;
    for (let i = 0; at < envelope.length; i++) {
      const size = cuts[i % cuts.length]!;
      await writer.write(envelope.subarray(at, at + size));
      at += size;
    }
    // Nothing is stored before the commit.
    expect(await state.loadEnvelope(id(0))).toBeUndefined();
    await writer.commit();
    const file = join(state.dir, 'messages', `${id(0)}.env`);
    expect(await readFile(file, 'utf8')).toBe(toBase64Url(envelope));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(bytesEqual((await state.loadEnvelope(id(0)))!, envelope)).toBe(true);
    const read = await readAll(state, id(0));
    expect(bytesEqual(read.bytes, envelope)).toBe(true);
    expect(read.pieces).toBeGreaterThan(3);
  });

  it('reads back what saveEnvelope wrote, for every length modulo 3', async () => {
    const state = new ToyStateDir(join(dir, 'toy'));
    for (const length of [0, 1, 2, 3, 49_151, 49_152, 49_153, 131_072]) {
      const envelope = randomBytes(length);
      await state.saveEnvelope(id(1), envelope);
      expect(bytesEqual((await readAll(state, id(1))).bytes, envelope)).toBe(true);
    }
    expect(await state.readEnvelope(id(2))).toBeUndefined();
  });

  it('a discarded write leaves no file, and the envelope stored before it stays', async () => {
    const state = new ToyStateDir(join(dir, 'toy'));
    const before = randomBytes(1000);
    await state.saveEnvelope(id(3), before);
    const writer = await state.envelopeWriter(id(3));
    await writer.write(randomBytes(5000));
    await writer.discard();
    expect((await readdir(join(state.dir, 'messages'))).filter((n) => n.startsWith(id(3)))).toEqual([`${id(3)}.env`]);
    expect(bytesEqual((await state.loadEnvelope(id(3)))!, before)).toBe(true);
  });

  it('what a write left when the toy stopped mid-download is removed by the next write or delete of that message', async () => {
    const state = new ToyStateDir(join(dir, 'toy'));
    const left = await state.envelopeWriter(id(4));
    await left.write(randomBytes(3000));
    const again = await state.envelopeWriter(id(4));
    expect((await readdir(join(state.dir, 'messages'))).filter((n) => n.startsWith(id(4)))).toHaveLength(1);
    await again.write(randomBytes(300));
    await state.deleteEnvelope(id(4));
    expect((await readdir(join(state.dir, 'messages'))).filter((n) => n.startsWith(id(4)))).toEqual([]);
    await left.discard();
    await again.discard();
  });
});
