/**
 * `burrow migrate-store` moves an embedded deployment to PostgreSQL + S3: after the move, a node
 * on the new stores (with the old secrets from the environment) logs the same people in and
 * serves every message byte for byte.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loginAccount } from '../../src/client/account.js';
import { BurrowApi } from '../../src/client/api.js';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, loadFamily } from '../../src/client/families.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { downloadAndOpenMessage, listAllMessages, sendMessage } from '../../src/client/messages.js';
import { utf8 } from '../../src/crypto/bytes.js';
import { startServer } from '../e2e/accounts-harness.js';
import { registerMember, sameStretchingAs, wavWith } from '../e2e/family-harness.js';
import { S3RVER_CREDENTIALS, startS3rver } from '../support/backends.js';
import { createTestDatabase } from '../support/postgres.js';
import { startBurrowServe, type ServeProcess } from '../support/serve.js';
import { burrow } from '../support/cli.js';

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
    // The CLI in process (runCli); --json: one result object on stdout, progress on stderr.
    const args = ['migrate-store', '--from-data', embedded.dataDir, '--to-database', database.url, '--to-blobs', `s3://${bucket}/blobs`];
    const moved = await burrow([...args, '--json'], { env: s3Env });
    expect(moved.code, moved.stderr).toBe(0);
    const result = JSON.parse(moved.stdout) as { tables: Array<{ table: string; rows: number }>; blobs: number; verified: boolean };
    expect(result.tables.find((t) => t.table === 'messages')?.rows).toBe(6);
    expect(result).toMatchObject({ blobs: 6, verified: true });
    expect(moved.stderr).toMatch(/blobs: 6\/6/);

    // A second run refuses: the target is no longer empty.
    const again = await burrow(args, { env: s3Env });
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toMatch(/not empty/);

    const node: ServeProcess = await startBurrowServe({
      env: {
        ...s3Env,
        BURROW_DATABASE_URL: database.url,
        BURROW_BLOBS: `s3://${bucket}/blobs`,
        BURROW_SECRETS: readFileSync(join(embedded.dataDir, 'secrets.json'), 'utf8'),
        BURROW_SECURITY_CONTACT: 'mailto:security@example.org',
        BURROW_LOG_LEVEL: 'error',
      },
      dataDir: join(embedded.dataDir, '..', 'node'),
    });
    cleanups.push(() => node.kill());

    const signedIn = await loginAccount({ api: new BurrowApi({ baseUrl: node.url }), email: gran.email, password: gran.password, sessionLabel: 'after the move', ...sameStretchingAs(gran) });
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
