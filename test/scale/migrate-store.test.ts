/**
 * `burrow migrate-store` moves an embedded deployment to PostgreSQL + S3: after the move, a node
 * on the new stores (with the old secrets from the environment) logs the same people in and
 * serves every message byte for byte.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loginAccount } from '../../src/client/account.js';
import { BurrowApi } from '../../src/client/api.js';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, loadFamily } from '../../src/client/families.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { downloadAndOpenMessage, listAllMessages, sendMessage } from '../../src/client/messages.js';
import { utf8 } from '../../src/crypto/bytes.js';
import { startServer } from '../e2e/accounts-harness.js';
import { registerMember, wavWith } from '../e2e/family-harness.js';
import { S3RVER_CREDENTIALS, startS3rver } from '../support/backends.js';
import { createTestDatabase } from '../support/postgres.js';
import { startServeProcess, type Node } from './nodes.js';

const run = promisify(execFile);
const CLI = join(process.cwd(), 'dist', 'cli', 'main.js');
const cleanups: Array<() => Promise<void>> = [];

afterAll(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

describe('burrow migrate-store', () => {
  it('moves every account, family and message of an embedded deployment to PostgreSQL + S3', { timeout: 180_000 }, async () => {
    const embedded = await startServer();
    cleanups.push(() => embedded.close());
    const mum = await registerMember(embedded.url, 'mum');
    const gran = await registerMember(embedded.url, 'gran');
    const familyId = (await createFamily(mum, { name: 'Moving House' })).familyId;
    const mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
    const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false } });
    await acceptInvite(gran, link);
    await admitJoiners(mum, { familyId });
    const sent = new Map<string, string>();
    for (let i = 0; i < 6; i++) {
      const audio = wavWith(utf8(`moved-${i}`), 512);
      const message = await sendMessage(i % 2 === 0 ? mum : gran, { familyId, to: mia, audio, audioType: 'audio/wav', durationMs: 32 });
      sent.set(message.messageId, sha256(audio));
    }
    await embedded.stop();

    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const s3 = await startS3rver();
    cleanups.push(() => s3.close());
    const bucket = await s3.newBucket();
    const s3Env = {
      BURROW_S3_ENDPOINT: s3.endpoint,
      BURROW_S3_REGION: 'us-east-1',
      BURROW_S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      BURROW_S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      BURROW_S3_FORCE_PATH_STYLE: 'true',
    };
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...s3Env };
    const args = [CLI, 'migrate-store', '--from-data', embedded.dataDir, '--to-database', database.url, '--to-blobs', `s3://${bucket}/blobs`];
    const moved = await run(process.execPath, args, { env });
    expect(moved.stdout).toMatch(/messages\s+6 rows/);
    expect(moved.stdout).toMatch(/blobs\s+6 /);

    // A second run refuses: the target is no longer empty.
    await expect(run(process.execPath, args, { env })).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/not empty/) as unknown });

    const node: Node = await startServeProcess({
      ...s3Env,
      BURROW_DATABASE_URL: database.url,
      BURROW_BLOBS: `s3://${bucket}/blobs`,
      BURROW_SECRETS: readFileSync(join(embedded.dataDir, 'secrets.json'), 'utf8'),
      BURROW_SECURITY_CONTACT: 'mailto:security@example.org',
      BURROW_LOG_LEVEL: 'error',
    }, join(embedded.dataDir, '..', 'node'));
    cleanups.push(() => node.kill());

    const signedIn = await loginAccount({ api: new BurrowApi({ baseUrl: node.url }), email: gran.email, password: gran.password, sessionLabel: 'after the move' });
    const granThere = { ...gran, api: new BurrowApi({ baseUrl: node.url, token: signedIn.session.token! }) };
    const family = await loadFamily(granThere, familyId);
    expect(family.name).toBe('Moving House');
    const listed = await listAllMessages(granThere, { familyId });
    expect(listed.map((m) => m.messageId).sort()).toEqual([...sent.keys()].sort());
    for (const [messageId, hash] of sent) {
      const downloaded = await downloadAndOpenMessage(granThere, { familyId, messageId });
      if (!downloaded.opened.ok) throw new Error(`message did not open after the move: ${downloaded.opened.code}`);
      expect(sha256(downloaded.opened.value.audio)).toBe(hash);
    }
  });
});
