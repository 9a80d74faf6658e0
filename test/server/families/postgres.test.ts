/** The families feature on PostgreSQL: the same migrations, checks, transactions and cascades as on SQLite. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localMessaging } from '../../support/backends.js';
import { createServer } from '../../../src/server/app.js';
import { loadConfig } from '../../../src/server/config.js';
import type { BurrowApp } from '../../../src/server/http/types.js';
import { loadOrCreateSecrets } from '../../../src/server/secrets.js';
import type { SqlStore } from '../../../src/storage/database.js';
import { openPostgresStore } from '../../../src/storage/postgres.js';
import { createTestDatabase } from '../../support/postgres.js';
import { acceptInvite, addChild, appendEntry, createFamily, createInvite, del, get, join, memberOf, newPerson } from './fixtures.js';

let app: BurrowApp;
let messaging: ReturnType<typeof localMessaging>;
let store: SqlStore;
let drop: () => Promise<void>;
beforeAll(async () => {
  const database = await createTestDatabase();
  drop = database.drop;
  const dataDir = joinPath(mkdtempSync(joinPath(tmpdir(), 'burrow-families-pg-')), 'data');
  const config = loadConfig({ env: {}, flags: { data: dataDir, port: 0 }, overrides: { rateLimits: { globalPerIp: { max: 100_000, windowMs: 60_000 }, anonymousPerIp: { max: 100_000, windowMs: 60_000 }, perAccount: { max: 100_000, windowMs: 60_000 } } } });
  const { secrets } = await loadOrCreateSecrets({ dataDir: config.dataDir });
  store = await openPostgresStore(database.url, { poolSize: 4 });
  messaging = localMessaging(config.dataDir);
  app = createServer({ config, store, secrets, blobs: messaging.blobs, bus: messaging.bus, log: false });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await messaging?.close();
  await store?.close();
  await drop?.();
});

describe('families on PostgreSQL', () => {
  it('create, invite, accept once, sign in, refuse a stale head, remove, delete with every row', async () => {
    const [guardian, relative, late] = await Promise.all([newPerson(app), newPerson(app), newPerson(app)]);
    const family = await createFamily(app, guardian);
    const child = await addChild(app, family, guardian);
    await join(app, family, guardian, relative, { role: 'relative', children: [child], needsApproval: true });
    expect((await get(app, `/v1/families/${family.familyId}/children`, relative)).statusCode).toBe(200);

    const inviteId = await createInvite(app, family, guardian, { role: 'guardian', children: [], needsApproval: false });
    const accepts = await Promise.all([acceptInvite(app, inviteId, late), acceptInvite(app, inviteId, late)]);
    expect(accepts.map((a) => a.statusCode).sort()).toEqual([204, 410]);

    const head = family.chain[family.chain.length - 1]!;
    const [a, b] = await Promise.all([
      appendEntry(app, family, guardian, head.members.filter((m) => m.accountId !== relative.accountId)),
      appendEntry(app, family, guardian, [...head.members, memberOf(late, 'guardian')], [inviteId]),
    ]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([201, 409]);
    // The signed roster still lists the child either way (removing the relative does not drop them): not deletable.
    expect((await del(app, `/v1/families/${family.familyId}/children/${child}`, guardian)).statusCode).toBe(409);

    expect((await del(app, `/v1/families/${family.familyId}`, guardian, { confirm: 'delete this family' })).statusCode).toBe(204);
    for (const table of ['roster_entries', 'family_members', 'family_toys', 'wrapped_keys', 'children', 'invites'] as const) {
      const row = await store.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).where('family_id', '=', family.familyId).executeTakeFirstOrThrow();
      expect(Number(row.n), table).toBe(0);
    }
    expect((await get(app, `/v1/families/${family.familyId}`, guardian)).statusCode).toBe(404);
  });
});
