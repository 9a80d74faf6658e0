/**
 * Disk full during an upload: `burrow serve` (the built CLI) runs with its blob directory on a
 * small tmpfs of its own — mounted in a private mount namespace made with `unshare` (a user
 * namespace too when not root, so it works as an ordinary CI user and leaves no mount behind) —
 * filled until less than one envelope fits. Uploads then get the 507 `burrow/storage-full` problem,
 * leave no row and no temp file, and the server stays healthy; once space returns (the filler is
 * deleted through /proc/<pid>/root) the next upload is stored and reads back intact.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { createFamily, loadFamily } from '../../src/client/families.js';
import { randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { sealMessage } from '../../src/crypto/envelope.js';
import { registerMember, type TestMember } from '../e2e/family-harness.js';
import { startBurrowServe, type ServeProcess } from '../support/serve.js';
import { recordFigures } from './figures.js';

const TMPFS_KIB = 2_048;
const ENVELOPE_AUDIO = 300 * 1024;

let server: ServeProcess | undefined;
let url: string;
let blobDir: string;

beforeAll(async () => {
  const work = mkdtempSync(join(tmpdir(), 'burrow-disk-full-'));
  blobDir = join(work, 'blobs');
  // The filler leaves less room than one envelope (the tmpfs rounds to pages; the blob store's own directories take a little).
  const script = `mkdir -p "$BLOBS" && mount -t tmpfs -o size=${TMPFS_KIB}k,mode=700 tmpfs "$BLOBS" && dd if=/dev/zero of="$BLOBS/filler" bs=1024 count=${TMPFS_KIB - 200} status=none && exec "$@"`;
  const namespaces = process.getuid?.() === 0 ? ['--mount'] : ['--user', '--map-root-user', '--mount'];
  try {
    server = await startBurrowServe({
      dataDir: join(work, 'data'),
      env: { BLOBS: blobDir, BURROW_BLOBS: blobDir },
      wrapper: ['unshare', ...namespaces, '--propagation', 'private', 'sh', '-c', script, 'sh'],
    });
  } catch (error) {
    throw new Error(`unshare + mount + burrow serve did not start (a private tmpfs needs user or mount namespaces): ${String(error)}`);
  }
  url = server.url;
}, 120_000);

afterAll(async () => {
  await server?.close();
});

/** The server's view of its blob directory (its own mount namespace), from outside. */
const inServer = (...parts: string[]): string => join(`/proc/${server!.child.pid}/root`, blobDir, ...parts);

function filesIn(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    if (name.isDirectory()) out.push(...filesIn(join(dir, name.name)).map((f) => `${name.name}/${f}`));
    else out.push(name.name);
  }
  return out;
}

describe('disk full during uploads', () => {
  it('answers 507 with nothing stored, stays healthy, and stores again once space returns', async () => {
    const mum: TestMember = await registerMember(url, 'mum');
    const created = await createFamily(mum, { name: 'Full disk family' });
    const childId = (await addChild(mum, { familyId: created.familyId, name: 'Mia', emoji: '🦊' })).childId;
    // Adding Mia listed her in a new entry, with a conversation key of her own.
    const family = await loadFamily(mum, created.familyId);
    const seal = () => sealMessage({
      familyId: family.familyId, epoch: family.roster.epoch, rosterHead: family.roster.headHash, scope: childId, key: family.headKeyOf(childId)!, sender: mum.me, recipients: [childId],
      audio: randomBytes(ENVELOPE_AUDIO), audioType: 'audio/webm', durationMs: 20_000, createdAt: Date.now(),
    });
    const upload = (bytes: Uint8Array) => fetch(`${url}/v1/families/${family.familyId}/messages`, {
      method: 'POST', headers: { authorization: `Bearer ${mum.token}`, 'content-type': 'application/octet-stream' }, body: Buffer.from(bytes),
    });
    const list = async () => (await (await fetch(`${url}/v1/families/${family.familyId}/messages`, { headers: { authorization: `Bearer ${mum.token}` } })).json() as { messages: unknown[] }).messages;

    expect(existsSync(inServer('filler')), 'the server sees its tmpfs through /proc/<pid>/root').toBe(true);
    const before = filesIn(inServer());
    // Three uploads at once on a full disk: each a 507 problem, none stored, no temp file left.
    const full = await Promise.all([seal(), seal(), seal()].map(async (sealed) => upload((await sealed).bytes)));
    for (const answer of full) {
      const body = await answer.json() as { type: string; status: number };
      expect(answer.status, JSON.stringify(body)).toBe(507);
      expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(body.type).toBe('urn:burrow:problem:storage-full');
    }
    expect(await list()).toEqual([]);
    expect(filesIn(inServer())).toEqual(before);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    // Space returns: the next upload is stored and reads back byte for byte.
    rmSync(inServer('filler'));
    const sealed = await seal();
    const stored = await upload(sealed.bytes);
    expect(stored.status, await stored.clone().text()).toBe(201);
    const { messageId } = await stored.json() as { messageId: string };
    expect(messageId).toBe(toBase64Url(sealed.header.messageId));
    const download = await fetch(`${url}/v1/families/${family.familyId}/messages/${messageId}/envelope`, { headers: { authorization: `Bearer ${mum.token}` } });
    expect(Buffer.compare(Buffer.from(await download.arrayBuffer()), Buffer.from(sealed.bytes))).toBe(0);
    expect(await list()).toHaveLength(1);
    recordFigures('diskFull', { mechanism: 'tmpfs in a private mount namespace (unshare)', tmpfsKiB: TMPFS_KIB, uploadsWhileFull: full.length, answered507: full.filter((a) => a.status === 507).length, storedAfterSpaceReturned: 1 });
  }, 120_000);
});
