/**
 * Post-quantum scope keys end to end (issue #11, per-child keys of issue #16), over real HTTP against a real server: accounts
 * registered by today's client publish an X-Wing key; creating a family, inviting a relative and
 * rotating the family-wide and her child's keys when she is removed store only X-Wing wraps (read from the database behind the
 * server's back), every member opens their key and each other's messages, and the removed relative
 * cannot open the new generation's keys.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, loadFamily, removeMember } from '../../src/client/families.js';
import { acceptInvite, createInvite, inspectInvite } from '../../src/client/invites.js';
import { downloadAndOpenMessage, sendMessage } from '../../src/client/messages.js';
import { fromBase64Url, utf8 } from '../../src/crypto/bytes.js';
import { FAMILY_SCOPE } from '../../src/crypto/key-scopes.js';
import { commitmentsOf, unwrapAndCheckScopeKey, type WrappedScopeKey } from '../../src/crypto/scope-key.js';
import { decodeRosterEntry, scopeKeyOf } from '../../src/crypto/roster.js';
import { DATABASE_FILE, startServer, type RunningServer } from './accounts-harness.js';
import { registerMember, wavWith, type TestMember } from './family-harness.js';

let server: RunningServer;
let mum: TestMember;
let gran: TestMember;
let familyId: string;
let mia: string;

/** Rows of the server's database (SQLite in this project), read-only. */
function rows<T>(sql: string, ...params: unknown[]): T[] {
  const db = new Database(join(server.dataDir, DATABASE_FILE), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

async function invite(joiner: TestMember, terms: { role: 'guardian' | 'relative'; children: string[]; needsApproval: boolean }): Promise<void> {
  const { link } = await createInvite(mum, { familyId, terms });
  await inspectInvite(joiner, link);
  await acceptInvite(joiner, link);
}

beforeAll(async () => {
  server = await startServer();
  [mum, gran] = (await Promise.all(['mum', 'gran'].map((label) => registerMember(server.url, label)))) as [TestMember, TestMember];
  familyId = (await createFamily(mum, { name: 'The Quantum Burrows' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦔' })).childId;
  await invite(gran, { role: 'relative', children: [mia], needsApproval: false });
  const admitted = await admitJoiners(mum, { familyId });
  expect(admitted.refused).toEqual([]);
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('a family made by today\'s clients', () => {
  it('accounts publish their X-Wing key, and every roster entry is version 6 with it', async () => {
    const accounts = rows<{ id: string; kem_key: string | null }>('SELECT id, kem_key FROM accounts');
    expect(accounts).toHaveLength(2);
    for (const a of accounts) expect(fromBase64Url(a.kem_key!)).toHaveLength(1216);
    const entries = rows<{ epoch: number; entry: string }>('SELECT epoch, entry FROM roster_entries WHERE family_id = ? ORDER BY epoch', familyId);
    for (const { entry } of entries) {
      const decoded = decodeRosterEntry(fromBase64Url(entry));
      if (!decoded.ok) throw new Error(decoded.code);
      expect(decoded.value.version).toBe(6);
      for (const m of decoded.value.members) expect(m.keys.kemKey).toHaveLength(1216);
    }
  });

  it('every wrapped key the server stores is X-Wing, and each member opens theirs', async () => {
    const wraps = rows<{ scope: string; generation: number; recipient_id: string; suite: string; enc: string }>('SELECT scope, generation, recipient_id, suite, enc FROM wrapped_keys WHERE family_id = ?', familyId);
    // Epoch 0: the family-wide key to mum; epoch 1: it kept, to gran; Mia's first key (generation 1) to both.
    expect(wraps.map((w) => [w.recipient_id, w.scope, w.generation]).sort()).toEqual(
      [[mum.me.accountId, FAMILY_SCOPE, 0], [gran.me.accountId, FAMILY_SCOPE, 0], [mum.me.accountId, mia, 1], [gran.me.accountId, mia, 1]].sort(),
    );
    for (const w of wraps) {
      expect(w.suite).toBe('hpke-xwing-sha256-aes256gcm');
      expect(fromBase64Url(w.enc)).toHaveLength(1120);
    }
    for (const member of [mum, gran]) {
      const family = await loadFamily(member, familyId);
      expect(family.headKeyOf(FAMILY_SCOPE)).toHaveLength(32);
      expect(family.headKeyOf(mia)).toHaveLength(32);
    }
  });

  it('a message sealed under the hybrid-wrapped key reaches the grandmother, and removing her rotates to X-Wing wraps she cannot open', async () => {
    const audio = wavWith(utf8('pq-hello'));
    const sent = await sendMessage(gran, { familyId, to: mia, audio, audioType: 'audio/wav', durationMs: 250, caption: 'from gran' });
    const opened = await downloadAndOpenMessage(mum, { familyId, messageId: sent.messageId });
    expect(opened.opened.ok && opened.opened.value.caption).toBe('from gran');

    const before = await loadFamily(mum, familyId);
    const after = await removeMember(mum, { familyId, accountId: gran.me.accountId });
    const epoch = before.roster.epoch + 1;
    expect(after.roster.epoch).toBe(epoch);
    const rotated = rows<{ scope: string; recipient_id: string; suite: string; enc: string; ciphertext: string }>('SELECT scope, recipient_id, suite, enc, ciphertext FROM wrapped_keys WHERE family_id = ? AND generation = ?', familyId, epoch);
    // The family-wide key and Mia's rotate (gran held both), wrapped to mum alone.
    expect(rotated.map((w) => [w.recipient_id, w.scope]).sort()).toEqual([[mum.me.accountId, FAMILY_SCOPE], [mum.me.accountId, mia]].sort());
    expect(scopeKeyOf(after.roster.head, mia)?.generation).toBe(epoch);
    expect(new Set(rotated.map((w) => w.suite))).toEqual(new Set(['hpke-xwing-sha256-aes256gcm']));
    expect((await loadFamily(mum, familyId)).keyFor(epoch, FAMILY_SCOPE)).toBeDefined();

    // The grandmother's own X-Wing key opens none of the new generation's wraps.
    const commitments = commitmentsOf(after.roster.entries);
    for (const w of rotated) {
      const wrap: WrappedScopeKey = { suite: 'hpke-xwing-sha256-aes256gcm', recipientId: w.recipient_id, scope: w.scope, generation: epoch, enc: fromBase64Url(w.enc), ciphertext: fromBase64Url(w.ciphertext) };
      const tried = await unwrapAndCheckScopeKey({ wrap, familyId, recipientId: w.recipient_id, identity: gran.me.identity, commitments });
      expect(tried).toEqual({ ok: false, code: 'scope-key/unwrap-failed' });
    }
  });
});
