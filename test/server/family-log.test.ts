/**
 * The family security log on the server: which events a family's changes append, who may read
 * them, the published log key, and the log key added to a secrets file from before the log.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Static } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url } from '../../src/crypto/bytes.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { appendRosterEntry, encodeRosterEntry, type RosterEntry } from '../../src/crypto/roster.js';
import { verifyFamilyLog, type FamilyLogEvent } from '../../src/client/family-log.js';
import { BurrowApi } from '../../src/client/api.js';
import { reportRefusal } from '../../src/client/refusal-report.js';
import { describeLogEvent } from '../../src/client/family-log.js';
import type { FamilyLogPage } from '../../src/protocol/family-log.js';
import { createLogSigner } from '../../src/server/security-log/log-signer.js';
import { createFamilyLogRepository } from '../../src/server/security-log/repository.js';
import { createSecurityLog, rosterChangeEvents } from '../../src/server/security-log/service.js';
import { createFamilyAccess } from '../../src/server/families/access-repository.js';
import { systemClock } from '../../src/server/deps.js';
import { createMemoryRateLimiter } from '../../src/server/http/rate-limit.js';
import { generateSecrets, loadOrCreateSecrets, secretsPath } from '../../src/server/secrets.js';
import { planScopeKeys, ringOf, wrapsForEntry } from '../support/scope-keys.js';
import { b64, bearer, post, startTestServer, type TestServer } from './helpers.js';
import { addChild, appendEntry, createFamily, get, join as joinFamily, memberOf, newPerson, SETTINGS, wireKeys, type Person, type TestFamily } from './families/fixtures.js';

type LogPage = Static<typeof FamilyLogPage>;

let server: TestServer;
let guardian: Person;
let relative: Person;
let second: Person;
let stranger: Person;
let family: TestFamily;
let child: string;

async function readLog(person: Person, query = ''): Promise<LogPage> {
  const answer = await get(server.app, `/v1/families/${family.familyId}/log${query}`, person);
  expect(answer.statusCode).toBe(200);
  return answer.json<LogPage>();
}

beforeAll(async () => {
  server = await startTestServer();
  [guardian, relative, second, stranger] = await Promise.all([newPerson(server.app), newPerson(server.app), newPerson(server.app), newPerson(server.app)]);
  family = await createFamily(server.app, guardian);
  child = await addChild(server.app, family, guardian);
  await joinFamily(server.app, family, guardian, relative, { role: 'relative', children: [child], needsApproval: false });
  await joinFamily(server.app, family, guardian, second, { role: 'relative', children: [child], needsApproval: false });
  await createFamily(server.app, stranger);
});

afterAll(async () => {
  await server.close();
});

describe('the family security log', () => {
  it('records the family’s creation and each member added, signed by the published log key', async () => {
    const page = await readLog(guardian);
    expect(page.events.map((e) => e.kind)).toEqual(['family-created', 'member-added', 'member-added']);
    expect(page.events[0]).toMatchObject({ seq: 1, actorId: guardian.accountId });
    expect(page.events[1]).toMatchObject({ seq: 2, actorId: guardian.accountId, subjectId: relative.accountId, details: { role: 'relative', epoch: 1 } });
    const published = await server.app.inject({ method: 'GET', url: '/v1/security/log-key' });
    expect(published.statusCode).toBe(200);
    expect(published.json<{ logKey: string }>().logKey).toBe(page.logKey);
    expect(page.logKey).toBe(toBase64Url(createLogSigner(server.secrets.logSigningKey).publicKey));
    const verified = await verifyFamilyLog({ familyId: family.familyId, events: page.events, logKey: fromBase64Url(page.logKey) });
    expect(verified.ok).toBe(true);
  });

  it('records a role change, a removal and a settings change from a roster entry', async () => {
    const head = family.chain[family.chain.length - 1]!;
    const promoted = head.members.filter((m) => m.accountId !== relative.accountId).map((m) => (m.accountId === second.accountId ? memberOf(second, 'guardian') : m));
    expect((await appendEntry(server.app, family, guardian, promoted)).statusCode).toBe(201);
    const previous = family.chain[family.chain.length - 1]!;
    const scopeKeys = planScopeKeys(previous, { members: promoted, toys: [] }, family.keys);
    const entry = await appendRosterEntry(family.chain, { signer: { accountId: guardian.accountId, identity: guardian.identity }, members: promoted, toys: [], settings: { ...SETTINGS, volumeLimit: 40 }, scopeKeys });
    const answer = await post(server.app, `/v1/families/${family.familyId}/roster`, { entry: toBase64Url(encodeRosterEntry(entry)), wrappedKeys: wireKeys(await wrapsForEntry(previous, entry, scopeKeys)) }, bearer(guardian.token));
    expect(answer.statusCode).toBe(201);
    family.chain.push(entry);
    Object.assign(family.keys, ringOf(scopeKeys));

    const events = (await readLog(guardian, '?after=3')).events;
    expect(events.map((e) => [e.kind, e.subjectId])).toEqual([
      ['role-changed', second.accountId],
      ['member-removed', relative.accountId],
      ['settings-changed', undefined],
    ]);
    expect(events[0]!.details).toEqual({ epoch: 3, from: 'relative', to: 'guardian' });
    expect(events[2]!.details).toEqual({ epoch: 4, setting: 'family-settings' });
  });

  it('pages with after and limit', async () => {
    const page = await readLog(guardian, '?after=1&limit=2');
    expect(page.events.map((e) => e.seq)).toEqual([2, 3]);
  });

  it('a relative cannot read the family log, and a stranger is told it does not exist', async () => {
    const other = await newPerson(server.app);
    await joinFamily(server.app, family, guardian, other, { role: 'relative', children: [child], needsApproval: false });
    expect((await get(server.app, `/v1/families/${family.familyId}/log`, other)).statusCode).toBe(403);
    expect((await get(server.app, `/v1/families/${family.familyId}/log`, stranger)).statusCode).toBe(404);
    expect((await server.app.inject({ method: 'GET', url: `/v1/families/${family.familyId}/log` })).statusCode).toBe(401);
  });

  it('a promoted guardian can read the log', async () => {
    const page = await readLog(second);
    expect(page.events.length).toBeGreaterThanOrEqual(6);
  });

  it('keeps ids only: no email or address appears in any event', async () => {
    const page = await readLog(guardian);
    expect(JSON.stringify(page.events)).not.toMatch(/@|127\.0\.0\.1/);
  });

  it('deleting the family deletes its log', async () => {
    const owner = await newPerson(server.app);
    const gone = await createFamily(server.app, owner);
    expect((await get(server.app, `/v1/families/${gone.familyId}/log`, owner)).json<LogPage>().events).toHaveLength(1);
    const deleted = await server.app.inject({ method: 'DELETE', url: `/v1/families/${gone.familyId}`, headers: bearer(owner.token), payload: { confirm: 'delete this family' } });
    expect(deleted.statusCode).toBe(204);
    const rows = await server.store.db.withTables<{ family_log: { family_id: string } }>().selectFrom('family_log').select('family_id').where('family_id', '=', gone.familyId).execute();
    expect(rows).toEqual([]);
  });
});

describe('refusals reported by members and toys', () => {
  let reporter: Person;
  let flooder: Person;
  beforeAll(async () => {
    [reporter, flooder] = await Promise.all([newPerson(server.app), newPerson(server.app)]);
    await joinFamily(server.app, family, guardian, reporter, { role: 'relative', children: [child], needsApproval: false });
    await joinFamily(server.app, family, guardian, flooder, { role: 'relative', children: [child], needsApproval: false });
  });

  it('a relative’s client reports a refusal through the client library and the guardians read it in the log', async () => {
    const address = await server.app.listen({ port: 0, host: '127.0.0.1' });
    const api = new BurrowApi({ baseUrl: address, token: reporter.token });
    const messageId = b64(16);
    expect(await reportRefusal(api, { familyId: family.familyId, code: 'scope-key/commitment-mismatch', epoch: 1, messageId })).toBe(true);
    const last = (await readLog(guardian)).events.at(-1)!;
    expect(last).toMatchObject({ kind: 'client-refusal', actorId: reporter.accountId, details: { code: 'scope-key/commitment-mismatch', epoch: 1, messageId } });
    // In plain words, never as the code.
    const sentence = describeLogEvent(last as FamilyLogEvent, guardian.accountId);
    expect(sentence).toContain('refused a conversation key the family’s guardians never signed for');
    expect(sentence).not.toContain('scope-key/');
  });

  it('a stranger’s report is a 404 and changes nothing; a malformed one is a 400 problem', async () => {
    const before = (await readLog(guardian)).events.length;
    const foreign = await post(server.app, `/v1/families/${family.familyId}/log/refusals`, { code: 'roster/fork' }, bearer(stranger.token));
    expect(foreign.statusCode).toBe(404);
    for (const payload of [{ code: 'Not A Code' }, { code: 'roster/fork', extra: 1 }, { code: 'roster/fork', epoch: -1 }, { code: 'roster/fork', messageId: 'short' }, { code: `a/${'x'.repeat(60)}` }]) {
      const answer = await post(server.app, `/v1/families/${family.familyId}/log/refusals`, payload, bearer(reporter.token));
      expect(answer.statusCode).toBe(400);
      expect(answer.headers['content-type']).toContain('application/problem+json');
    }
    expect((await readLog(guardian)).events.length).toBe(before);
  });

  it('one reporter cannot flood the log: the 31st report within an hour is 429', async () => {
    const before = (await readLog(guardian)).events.length;
    const answers = [];
    for (let i = 0; i < 31; i++) answers.push((await post(server.app, `/v1/families/${family.familyId}/log/refusals`, { code: 'roster/fork' }, bearer(flooder.token))).statusCode);
    expect(answers.slice(0, 30).every((status) => status === 204)).toBe(true);
    expect(answers[30]).toBe(429);
    expect((await readLog(guardian)).events.length).toBe(before + 30);
  });

  it('the client library never throws when a report is refused', async () => {
    const address = server.app.server.listening ? `http://127.0.0.1:${(server.app.server.address() as { port: number }).port}` : await server.app.listen({ port: 0, host: '127.0.0.1' });
    const api = new BurrowApi({ baseUrl: address, token: stranger.token });
    expect(await reportRefusal(api, { familyId: family.familyId, code: 'roster/fork' })).toBe(false);
    expect(await reportRefusal(api, { familyId: family.familyId, code: 'not a code' })).toBe(false);
  });
});

describe('concurrent appends', () => {
  it('twenty events appended at once get seq 1…20 in one unbroken, verified chain', async () => {
    const owner = await newPerson(server.app);
    const busy = await createFamily(server.app, owner);
    const log = createSecurityLog({
      repository: createFamilyLogRepository(server.store.db),
      access: createFamilyAccess(server.store.db),
      signer: createLogSigner(server.secrets.logSigningKey),
      clock: systemClock,
      limiter: createMemoryRateLimiter(systemClock),
      warn: (message) => { throw new Error(message); },
    });
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(busy.familyId, { kind: 'message-downloaded', actorId: owner.accountId, subjectId: `m${i}` })));
    const page = (await get(server.app, `/v1/families/${busy.familyId}/log`, owner)).json<LogPage>();
    expect(page.events.map((e) => e.seq)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    const verified = await verifyFamilyLog({ familyId: busy.familyId, events: page.events, logKey: fromBase64Url(page.logKey) });
    expect(verified.ok).toBe(true);
  });
});

describe('appends after the remembered tail', () => {
  for (const singleWriter of [true, false]) {
    it(`an append after another writer moved the log on continues from the stored tail, with no fork (${singleWriter ? 'one statement' : 'under the family lock'})`, async () => {
      const owner = await newPerson(server.app);
      const busy = await createFamily(server.app, owner);
      const logOf = () => createSecurityLog({
        repository: createFamilyLogRepository(server.store.db, { singleWriter }),
        access: createFamilyAccess(server.store.db),
        signer: createLogSigner(server.secrets.logSigningKey),
        clock: systemClock,
        limiter: createMemoryRateLimiter(systemClock),
        warn: (message) => { throw new Error(message); },
      });
      // Two processes' worth of logs on one store: each remembers the tail it appended last.
      const [here, elsewhere] = [logOf(), logOf()];
      const download = (i: number) => ({ kind: 'message-downloaded' as const, actorId: owner.accountId, subjectId: `m${i}`, details: { by: 'toy' } });
      await here.append(busy.familyId, download(1));
      await here.append(busy.familyId, download(2));
      await elsewhere.append(busy.familyId, download(3));
      await here.append(busy.familyId, download(4));
      await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? elsewhere : here).append(busy.familyId, download(5 + i))));
      const page = (await get(server.app, `/v1/families/${busy.familyId}/log`, owner)).json<LogPage>();
      expect(page.events.map((e) => e.seq)).toEqual(Array.from({ length: 17 }, (_, i) => i + 1));
      expect(page.events.slice(1).map((e) => e.subjectId).sort()).toEqual(Array.from({ length: 16 }, (_, i) => `m${i + 1}`).sort());
      const verified = await verifyFamilyLog({ familyId: busy.familyId, events: page.events, logKey: fromBase64Url(page.logKey) });
      expect(verified.ok).toBe(true);
    });
  }

  it('a family deleted after its tail was remembered gets no log row', async () => {
    const owner = await newPerson(server.app);
    const gone = await createFamily(server.app, owner);
    const repository = createFamilyLogRepository(server.store.db, { singleWriter: true });
    const last = await repository.last(gone.familyId);
    expect(last?.seq).toBe(1);
    const deleted = await server.app.inject({ method: 'DELETE', url: `/v1/families/${gone.familyId}`, headers: bearer(owner.token), payload: { confirm: 'delete this family' } });
    expect(deleted.statusCode).toBe(204);
    const row = { family_id: gone.familyId, seq: 1, at: 1, kind: 'message-downloaded', actor_id: owner.accountId, subject_id: null, details: '{}', prev_hash: b64(32), hash: b64(32), signature: b64(64) };
    expect(await repository.appendAfter(row)).toBe(false);
    expect(await repository.last(gone.familyId)).toBeUndefined();
  });
});

describe('roster differences', () => {
  it('a toy added or removed becomes a toy event naming the toy', async () => {
    const [g, toy] = await Promise.all([generateIdentity(), generateIdentity()]);
    const base = { version: 1, familyId: 'f', epoch: 1, previousHash: new Uint8Array(32), signerId: 'g', members: [{ accountId: 'g', role: 'guardian', keys: g.publicKeys }], settings: SETTINGS, signature: new Uint8Array(64) } as unknown as RosterEntry;
    const withToy = { ...base, epoch: 2, toys: [{ toyId: 'toy-1', childId: 'child-1', keys: toy.publicKeys }] } as unknown as RosterEntry;
    const without = { ...base, toys: [] } as unknown as RosterEntry;
    expect(rosterChangeEvents('g', { before: without, after: withToy })).toEqual([{ kind: 'toy-added', actorId: 'g', subjectId: 'toy-1', details: { epoch: 2, childId: 'child-1' } }]);
    expect(rosterChangeEvents('g', { before: withToy, after: { ...without, epoch: 3 } as RosterEntry })).toEqual([{ kind: 'toy-removed', actorId: 'g', subjectId: 'toy-1', details: { epoch: 3 } }]);
  });
});

describe('the log key in the secrets file', () => {
  it('a secrets file from before the log gets a log key added, the same one on every later start', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'burrow-logkey-')), 'data');
    const first = await loadOrCreateSecrets({ dataDir });
    const path = secretsPath(dataDir);
    const file = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    expect(typeof file.logSigningKey).toBe('string');
    expect(fromBase64Url(file.logSigningKey as string)).toEqual(first.secrets.logSigningKey);

    delete file.logSigningKey;
    writeFileSync(path, JSON.stringify(file), { mode: 0o600 });
    const upgraded = await loadOrCreateSecrets({ dataDir });
    const rewritten = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    expect(rewritten.logSigningKey).toBe(toBase64Url(upgraded.secrets.logSigningKey));
    expect(rewritten.cookieKey).toBe(file.cookieKey);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = await loadOrCreateSecrets({ dataDir });
    expect(again.secrets.logSigningKey).toEqual(upgraded.secrets.logSigningKey);
  });

  it('two fresh secrets have different log keys', async () => {
    const [a, b] = await Promise.all([generateSecrets(), generateSecrets()]);
    expect(a.logSigningKey).toHaveLength(32);
    expect(a.logSigningKey).not.toEqual(b.logSigningKey);
  });
});
