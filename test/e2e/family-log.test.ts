/**
 * The family security log end to end: a guardian's client reads and verifies the log over real
 * HTTP, and notices every way someone with the database (but not the server's log key) could
 * hide what happened: an edited event, a removed event, a log cut back to before what it saw,
 * and a history rewritten and re-signed with another key.
 */
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginAccount } from '../../src/client/account.js';
import { ApiError, BurrowApi } from '../../src/client/api.js';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, setSettings } from '../../src/client/families.js';
import { readFamilyLog, type FamilyLogResult } from '../../src/client/family-log.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { MemoryKeyStore } from '../../src/client/key-store.js';
import { downloadAndOpenMessage, sendMessage } from '../../src/client/messages.js';
import { fromBase64Url, randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { FAMILY_LOG_GENESIS_HASH, hashFamilyLogEvent, type FamilyLogKind } from '../../src/crypto/family-log.js';
import { createLogSigner } from '../../src/server/security-log/log-signer.js';
import type { FamilyLogTable } from '../../src/server/security-log/repository.js';
import { startTestServer, type TestServer } from '../server/helpers.js';
import { registerMember, sameStretchingAs, wavWith, type TestMember } from './family-harness.js';

let server: TestServer;
let url: string;
let mum: TestMember;
let gran: TestMember;
let familyId: string;
let db: Kysely<{ family_log: FamilyLogTable }>;

async function rows(): Promise<FamilyLogTable[]> {
  return db.selectFrom('family_log').selectAll().where('family_id', '=', familyId).orderBy('seq', 'asc').execute();
}

async function restore(saved: readonly FamilyLogTable[]): Promise<void> {
  await db.deleteFrom('family_log').where('family_id', '=', familyId).execute();
  await db.insertInto('family_log').values([...saved]).execute();
}

function failure(result: FamilyLogResult): string {
  return result.ok ? 'ok' : result.code;
}

beforeAll(async () => {
  server = await startTestServer();
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const address = server.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  url = `http://127.0.0.1:${address.port}`;
  db = server.store.db.withTables<{ family_log: FamilyLogTable }>() as unknown as Kysely<{ family_log: FamilyLogTable }>;
  [mum, gran] = await Promise.all([registerMember(url, 'mum'), registerMember(url, 'gran')]);
  familyId = (await createFamily(mum, { name: 'The Burrows' })).familyId;
  const mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  const { link } = await createInvite(mum, { familyId, terms: { role: 'relative', children: [mia], needsApproval: false } });
  await acceptInvite(gran, link);
  await admitJoiners(mum, { familyId });
  await setSettings(mum, { familyId, settings: { volumeLimit: 30 } });
  const sent = await sendMessage(mum, { familyId, to: mia, audio: wavWith(randomBytes(8)), audioType: 'audio/wav', durationMs: 500 });
  await downloadAndOpenMessage(gran, { familyId, messageId: sent.messageId });
  await loginAccount({ api: new BurrowApi({ baseUrl: url }), email: gran.email, password: gran.password, sessionLabel: 'gran again', ...sameStretchingAs(gran) });
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('a guardian reads the family security log', () => {
  it('sees the family created, the member added, the settings changed, the download and the login, in order and verified', async () => {
    const result = await readFamilyLog(mum, familyId);
    if (!result.ok) throw new Error(`the log did not verify: ${result.code}`);
    const kinds: FamilyLogKind[] = result.events.map((e) => e.kind);
    expect(kinds).toEqual(['family-created', 'member-added', 'settings-changed', 'message-downloaded', 'login']);
    expect(result.events[1]).toMatchObject({ actorId: mum.me.accountId, subjectId: gran.me.accountId });
    expect(result.events[3]).toMatchObject({ actorId: gran.me.accountId, details: { by: 'member' } });
    expect(result.events[4]).toMatchObject({ actorId: gran.me.accountId });
    const state = await mum.store.loadFamily(familyId);
    expect(state?.securityLog?.seq).toBe(5);
  });

  it('a relative cannot read it', async () => {
    await expect(readFamilyLog(gran, familyId)).rejects.toSatisfy((error: unknown) => error instanceof ApiError && error.status === 403);
  });

  it('another device of the guardian, with nothing pinned yet, verifies the same log', async () => {
    const device = { ...mum, store: new MemoryKeyStore() };
    expect(failure(await readFamilyLog(device, familyId))).toBe('ok');
  });
});

describe('tampering in the database is detected by the client', () => {
  it('an edited event (its details changed) is log/edited', async () => {
    const saved = await rows();
    await db.updateTable('family_log').set({ details: JSON.stringify({ by: 'toy' }) }).where('family_id', '=', familyId).where('seq', '=', 4).execute();
    expect(failure(await readFamilyLog(mum, familyId))).toBe('log/edited');
    await restore(saved);
    expect(failure(await readFamilyLog(mum, familyId))).toBe('ok');
  });

  it('a removed event in the middle is log/gap', async () => {
    const saved = await rows();
    await db.deleteFrom('family_log').where('family_id', '=', familyId).where('seq', '=', 3).execute();
    expect(failure(await readFamilyLog(mum, familyId))).toBe('log/gap');
    await restore(saved);
  });

  it('a removed last event the client already saw is log/rolled-back', async () => {
    const saved = await rows();
    expect(failure(await readFamilyLog(mum, familyId))).toBe('ok');
    await db.deleteFrom('family_log').where('family_id', '=', familyId).where('seq', '=', saved.length).execute();
    expect(failure(await readFamilyLog(mum, familyId))).toBe('log/rolled-back');
    await restore(saved);
  });

  it('a history rewritten and re-signed with another key is log/bad-signature', async () => {
    const saved = await rows();
    const forger = createLogSigner(randomBytes(32));
    // The forger drops the download and chains the rest again, signing with their own key.
    const kept = saved.filter((r) => r.kind !== 'message-downloaded');
    const forged: FamilyLogTable[] = [];
    let previous: Uint8Array = FAMILY_LOG_GENESIS_HASH;
    for (const [index, row] of kept.entries()) {
      const body = {
        familyId,
        seq: index + 1,
        at: Number(row.at),
        kind: row.kind as FamilyLogKind,
        actorId: row.actor_id,
        ...(row.subject_id === null ? {} : { subjectId: row.subject_id }),
        details: JSON.parse(row.details) as Record<string, string | number>,
      };
      const hash = await hashFamilyLogEvent(body, previous);
      forged.push({ ...row, seq: body.seq, prev_hash: toBase64Url(previous), hash: toBase64Url(hash), signature: toBase64Url(forger.signHash(hash)) });
      previous = hash;
    }
    await restore(forged);
    expect(failure(await readFamilyLog(mum, familyId))).toBe('log/bad-signature');
    // A forged hash chain with the real signatures left in place fails too.
    await restore(forged.map((row, i) => ({ ...row, signature: saved[i]!.signature })));
    expect(failure(await readFamilyLog(mum, familyId))).not.toBe('ok');
    await restore(saved);
    expect(failure(await readFamilyLog(mum, familyId))).toBe('ok');
    expect(fromBase64Url((await rows())[0]!.hash)).toHaveLength(32);
  });

  it('a failed check does not move the remembered checkpoint', async () => {
    const before = (await mum.store.loadFamily(familyId))?.securityLog;
    const saved = await rows();
    await db.updateTable('family_log').set({ actor_id: gran.me.accountId }).where('family_id', '=', familyId).where('seq', '=', 1).execute();
    expect(failure(await readFamilyLog(mum, familyId))).toBe('log/edited');
    expect((await mum.store.loadFamily(familyId))?.securityLog).toEqual(before);
    await restore(saved);
  });
});
