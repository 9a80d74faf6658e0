/**
 * Malformed envelopes and audio at the upload route: real sealed envelopes cut at every kind of
 * place, padded, with a broken header (magic, version, counts), sealed for another epoch, another
 * family or another sender, oversized (declared or sent), random bytes, and uploads cut off
 * mid-stream on a real socket. Each is refused with a 4xx problem before anything is stored: no
 * message row, no recipient row, no blob and no temp file. Mutations the server cannot see (the
 * signature, or header fields that stay valid: only clients verify) may be accepted — then the blob
 * holds exactly the bytes sent; a changed chunk is refused, since every chunk must match the hash
 * its commitment lists. Property-based (fast-check) on top of the named cases.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from '../../src/crypto/bytes.js';
import { parseEnvelopePrefix, type SealedMessage } from '../../src/crypto/envelope.js';
import { b64, startTestServer, type TestServer } from '../server/helpers.js';
import { blobFiles, messageCount, registerMember, seal, seedFamily, upload, type Member, type TestFamily } from '../server/messages/fixtures.js';
import { recordFigures } from './figures.js';
import { waitUntil } from '../support/wait.js';

const MAX_MESSAGE_BYTES = 256 * 1024;
let server: TestServer;
let port: number;
let mum: Member, dad: Member;
let family: TestFamily, other: TestFamily;
const child = b64(16);
let template: SealedMessage;
const figures: Record<string, number> = {};

beforeAll(async () => {
  server = await startTestServer({ overrides: { limits: { maxMessageBytes: MAX_MESSAGE_BYTES } } });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  port = (server.app.server.address() as { port: number }).port;
  [mum, dad] = await Promise.all([registerMember(server.app), registerMember(server.app)]);
  family = await seedFamily(server.store, { guardians: [mum, dad], children: [child], epoch: 3 });
  // Mum guards another family too: an envelope for it must not land in this one.
  other = await seedFamily(server.store, { guardians: [mum], children: [b64(16)] });
  template = await seal(mum, family, [child], { audioBytes: 4_000 });
}, 60_000);
afterAll(async () => { await server.close(); });

async function recipientRows(): Promise<number> {
  const row = await server.store.db.selectFrom('message_recipients').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

async function stored(): Promise<{ messages: number; recipients: number; blobs: number; temps: number }> {
  const files = blobFiles(join(server.dataDir, 'blobs'));
  return { messages: await messageCount(server.store), recipients: await recipientRows(), blobs: files.blobs.length, temps: files.temps.length };
}

/** Uploads `bytes` and checks the outcome: refused with nothing stored, or (when allowed) accepted whole. */
async function attempt(kind: string, bytes: Uint8Array, options: { mayBeAccepted?: boolean; status?: number; family?: TestFamily } = {}): Promise<number> {
  const before = await stored();
  const answer = await upload(server.app, mum, (options.family ?? family).familyId, bytes);
  const label = `${kind}: ${answer.statusCode} ${answer.body.slice(0, 200)}`;
  expect(answer.statusCode, label).toBeLessThan(500);
  figures[kind] = (figures[kind] ?? 0) + 1;
  if (answer.statusCode === 201) {
    expect(options.mayBeAccepted === true, label).toBe(true);
    const { messageId } = answer.json<{ messageId: string }>();
    const download = await server.app.inject({ method: 'GET', url: `/v1/families/${family.familyId}/messages/${messageId}/envelope`, headers: { authorization: `Bearer ${mum.token}` } });
    expect(Buffer.compare(download.rawPayload, Buffer.from(bytes)), `${kind}: stored exactly as sent`).toBe(0);
    figures[`${kind} (accepted: not visible to the server)`] = (figures[`${kind} (accepted: not visible to the server)`] ?? 0) + 1;
  } else {
    expect(answer.statusCode, label).toBeGreaterThanOrEqual(400);
    if (options.status !== undefined) expect(answer.statusCode, label).toBe(options.status);
    expect(answer.headers['content-type'], label).toMatch(/^application\/problem\+json/);
    expect(await stored(), `${label}: nothing stored`).toEqual(before);
    figures.refused = (figures.refused ?? 0) + 1;
  }
  return answer.statusCode;
}

/** The header's length: everything before the padded length that opens the commitment. */
function headerLength(sealed: SealedMessage): number {
  const prefix = parseEnvelopePrefix(sealed.bytes);
  if (!prefix.ok) throw new Error(prefix.code);
  return prefix.value.headerLength;
}

describe('malformed envelopes and audio', () => {
  it('named cases: cut, padded, broken header, wrong epoch, family or sender, oversized, not an envelope — each refused, nothing stored', async () => {
    const bytes = template.bytes;
    const header = headerLength(template);
    expect(header).toBeGreaterThan(40);
    await attempt('truncated in the header', bytes.subarray(0, 20), { status: 400 });
    await attempt('truncated after the header', bytes.subarray(0, header + 2), { status: 400 });
    await attempt('truncated in the commitment', bytes.subarray(0, header + 20), { status: 400 });
    await attempt('truncated in a chunk', bytes.subarray(0, header + 500), { status: 400 });
    await attempt('truncated in the signature', bytes.subarray(0, bytes.length - 30), { status: 400 });
    await attempt('empty body', new Uint8Array(0), { status: 400 });
    await attempt('padded', new Uint8Array([...bytes, 0, 0, 0]), { status: 400 });
    const badMagic = bytes.slice();
    badMagic[0] = 0x58;
    await attempt('wrong magic', badMagic, { status: 400 });
    const badVersion = bytes.slice();
    badVersion[4] = 99;
    await attempt('unknown version', badVersion, { status: 400 });
    const hugeCount = bytes.slice();
    hugeCount.fill(0xff, 5, 9);
    await attempt('absurd length field in the header', hugeCount, { status: 400 });
    const hugePadded = bytes.slice();
    new DataView(hugePadded.buffer).setUint32(header, 0x7fffffff);
    await attempt('padded length beyond any limit', hugePadded, { status: 400 });
    const notABucket = bytes.slice();
    new DataView(notABucket.buffer).setUint32(header, 16_385);
    await attempt('padded length that is not a bucket', notABucket, { status: 400 });
    const changedChunk = bytes.slice();
    changedChunk[bytes.length - 100]! ^= 1;
    await attempt('a chunk byte changed', changedChunk, { status: 400 });
    const changedHash = bytes.slice();
    changedHash[header + 11]! ^= 1;
    await attempt('a committed chunk hash changed', changedHash, { status: 400 });
    await attempt('wrong epoch (old)', (await seal(mum, family, [child], { epoch: family.epoch - 1 })).bytes, { status: 409 });
    await attempt('wrong epoch (future)', (await seal(mum, family, [child], { epoch: family.epoch + 1 })).bytes, { status: 409 });
    await attempt('wrong family (one the sender also guards)', (await seal(mum, other, [child], { familyId: other.familyId })).bytes, { status: 400 });
    await attempt('right family at the wrong route', (await seal(mum, family, [child])).bytes, { status: 400, family: other });
    await attempt('wrong sender', (await seal(mum, family, [child], { senderId: dad.accountId })).bytes, { status: 400 });
    await attempt('unknown recipient', (await seal(mum, family, [b64(16)])).bytes, { status: 404 });
    await attempt('oversized (sent whole)', (await seal(mum, family, [child], { audioBytes: MAX_MESSAGE_BYTES + 1 })).bytes, { status: 413 });
    await attempt('random bytes', randomBytes(5_000), { status: 400 });
    await attempt('audio instead of an envelope', new Uint8Array([...Buffer.from('RIFF\x24\x08\x00\x00WAVEfmt '), ...randomBytes(3_000)]), { status: 400 });
    // The same envelope twice: the second is a conflict and stores nothing more.
    const once = (await seal(mum, family, [child])).bytes;
    await attempt('first upload', once, { mayBeAccepted: true });
    await attempt('the same message id again', once, { status: 409 });
  });

  it('fast-check: any cut, padding, byte change in the header or a chunk, or random prefix is refused with nothing stored (or, where the server cannot see it, stored exactly)', async () => {
    const bytes = template.bytes;
    const header = headerLength(template);
    const mutation = fc.oneof(
      fc.integer({ min: 0, max: bytes.length - 1 }).map((cut) => ({ kind: 'cut anywhere', bytes: bytes.subarray(0, cut), visible: true })),
      fc.uint8Array({ minLength: 1, maxLength: 64 }).map((extra) => ({ kind: 'trailing bytes', bytes: new Uint8Array([...bytes, ...extra]), visible: true })),
      fc.tuple(fc.integer({ min: 0, max: header + 3 }), fc.integer({ min: 0, max: 255 })).filter(([at, value]) => bytes[at] !== value).map(([at, value]) => {
        const copy = bytes.slice();
        copy[at] = value;
        // Some header bytes may change to another valid value (createdAt, the message id): the server cannot know.
        return { kind: 'header byte changed', bytes: copy, visible: false };
      }),
      fc.tuple(// The template's one chunk: its 16 KiB padded plaintext and tag end the envelope.
      fc.integer({ min: bytes.length - (16_384 + 16), max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([at, xor]) => {
        const copy = bytes.slice();
        copy[at]! ^= xor;
        return { kind: 'chunk byte changed', bytes: copy, visible: true };
      }),
      fc.uint8Array({ minLength: 0, maxLength: 2_000 }).map((random) => ({ kind: 'random bytes', bytes: random, visible: true })),
      fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.integer({ min: 0, max: header })).map(([junk, at]) => ({ kind: 'junk spliced into the header', bytes: new Uint8Array([...bytes.subarray(0, at), ...junk, ...bytes.subarray(at)]), visible: true })),
    );
    let runs = 0;
    await fc.assert(fc.asyncProperty(mutation, async (m) => {
      // A changed message id or createdAt is a new, valid-looking envelope: it may be stored (clients refuse it on opening).
      await attempt(`fast-check: ${m.kind}`, m.bytes, { mayBeAccepted: !m.visible });
      runs++;
    }), { numRuns: 300 });
    figures.fastCheckRuns = runs;
  });

  it('an upload cut off mid-stream, or announcing more than the limit, leaves nothing behind', async () => {
    const before = await stored();
    const fresh = await seal(mum, family, [child], { audioBytes: 100_000 });
    const cut = await new Promise<string>((resolve) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/v1/families/${family.familyId}/messages`, headers: { authorization: `Bearer ${mum.token}`, 'content-type': 'application/octet-stream', 'content-length': String(fresh.bytes.length) } });
      req.on('error', () => resolve('cut'));
      req.on('response', (res) => resolve(String(res.statusCode)));
      req.write(Buffer.from(fresh.bytes.subarray(0, Math.floor(fresh.bytes.length / 2))), () => setTimeout(() => req.destroy(), 100));
    });
    expect(cut).toBe('cut');
    const announced = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/v1/families/${family.familyId}/messages`, headers: { authorization: `Bearer ${mum.token}`, 'content-type': 'application/octet-stream', 'content-length': String(100 * 1024 * 1024) } });
      req.on('error', reject);
      req.on('response', (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.write(Buffer.from(fresh.bytes.subarray(0, 1_000)));
    });
    expect(announced).toBe(413);
    // The aborted write's temp file is removed once the server sees the connection close.
    await waitUntil(async () => JSON.stringify(await stored()) === JSON.stringify(before));
    expect(await stored()).toEqual(before);
    figures['cut off mid-stream'] = 1;
    figures['announced 100 MiB'] = 1;
    recordFigures('malformedEnvelopes', { cases: figures, maxMessageBytes: MAX_MESSAGE_BYTES });
  });
});
