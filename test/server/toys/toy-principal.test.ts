/**
 * The toy as a principal: its device token works on the routes the contract lists and nowhere
 * else (deny by default, walked over every route), reaches only its own child's conversation,
 * stops at once when the toy is removed or reset (HTTP and live socket), and is seen (coarsely)
 * by the guardians; relatives see the toys of their children only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { fromBase64Url, randomBytes, toBase64Url } from '../../../src/crypto/bytes.js';
import { signReceipt } from '../../../src/crypto/receipt.js';
import { sealMessage } from '../../../src/crypto/envelope.js';
import { routesOf } from '../../../src/server/app.js';
import { bearer, manualClock, startTestServer, type TestServer } from '../helpers.js';
import { planScopeKeys, ringOf, sealingKey, wrapsForEntry } from '../../support/scope-keys.js';
import { appendRosterEntry, encodeRosterEntry, hashRosterEntry, type Member } from '../../../src/crypto/roster.js';
import { addChild, createFamily, join, newPerson, SETTINGS, wireKeys, type Person, type TestFamily } from '../families/fixtures.js';
import { pairToy, setToys, type PairedToy } from './fixtures.js';

const clock = manualClock(Date.now());
let server: TestServer;
let port: number;
let guardian: Person;
let relative: Person;
let family: TestFamily;
let ada: string;
let ben: string;
let adaToy: PairedToy;
let benToy: PairedToy;

beforeAll(async () => {
  server = await startTestServer({ clock });
  const app = server.app;
  [guardian, relative] = await Promise.all([newPerson(app), newPerson(app)]);
  family = await createFamily(app, guardian);
  ada = await addChild(app, family, guardian);
  ben = await addChild(app, family, guardian);
  await join(app, family, guardian, relative, { role: 'relative', children: [ada], needsApproval: true });
  adaToy = await pairToy(app, family, guardian, ada);
  benToy = await pairToy(app, family, guardian, ben);
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  port = Number(new URL(address).port);
});
afterAll(async () => { await server.close(); });

const F = () => `/v1/families/${family.familyId}`;

function inject(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, token: string, payload?: unknown) {
  return server.app.inject({ method, url, headers: bearer(token), ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
}

/** An envelope sealed by `sender` (a toy or a member) at the family's head epoch. */
async function sealFrom(sender: { id: string; identity: PairedToy['identity'] }, recipients: string[]) {
  const epoch = family.chain.length - 1;
  const sealed = await sealMessage({
    familyId: family.familyId,
    epoch,
    rosterHead: await hashRosterEntry(family.chain[epoch]!),
    ...sealingKey(family.chain[epoch]!, family.keys, sender.id, recipients),
    sender: { accountId: sender.id, identity: sender.identity },
    recipients,
    audio: randomBytes(300),
    audioType: 'audio/webm',
    durationMs: 800,
    createdAt: clock.now(),
  });
  return { messageId: toBase64Url(sealed.header.messageId), bytes: sealed.bytes };
}

/** A 'played' receipt signed by the toy at the family's head. */
async function toyReceipt(toy: PairedToy, messageId: string) {
  const head = family.chain.at(-1)!;
  const receipt = await signReceipt(toy.identity, { familyId: family.familyId, messageId: fromBase64Url(messageId), kind: 'played', signerId: toy.toyId, rosterEpoch: head.epoch, rosterHead: await hashRosterEntry(head), at: clock.now() });
  return { kind: 'played', signedAt: receipt.at, rosterEpoch: receipt.rosterEpoch, rosterHead: toBase64Url(receipt.rosterHead), signature: toBase64Url(receipt.signature) };
}

function uploadAs(token: string, bytes: Uint8Array) {
  return server.app.inject({ method: 'POST', url: `${F()}/messages`, headers: { ...bearer(token), 'content-type': 'application/octet-stream' }, payload: Buffer.from(bytes) });
}

/** Opens /v1/live with `token`; resolves once the server says ready. */
async function live(token: string): Promise<{ socket: WebSocket; closed: Promise<number> }> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/v1/live`, { headers: bearer(token) });
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.on('message', (data) => { if ((JSON.parse(String(data)) as { type: string }).type === 'ready') resolve(); });
    socket.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    socket.once('error', reject);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'ping' })));
  });
  return { socket, closed };
}

/** Resolves with the close code, or fails after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, new Promise<T>((_resolve, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))]);
}

describe('a toy with its device token', () => {
  it('sends to its child, and lists, downloads and marks played what is addressed to its child', async () => {
    const fromToy = await sealFrom({ id: adaToy.toyId, identity: adaToy.identity }, [ada]);
    const uploaded = await uploadAs(adaToy.deviceToken, fromToy.bytes);
    expect(uploaded.statusCode, uploaded.body).toBe(201);
    const toGuardian = await sealFrom({ id: guardian.accountId, identity: guardian.identity }, [ada]);
    expect((await uploadAs(guardian.token, toGuardian.bytes)).statusCode).toBe(201);

    const list = await inject('GET', `${F()}/messages`, adaToy.deviceToken);
    expect(list.statusCode).toBe(200);
    const ids = list.json<{ messages: Array<{ messageId: string; senderKind: string }> }>().messages.map((m) => m.messageId);
    expect(ids).toEqual(expect.arrayContaining([fromToy.messageId, toGuardian.messageId]));
    const mine = list.json<{ messages: Array<{ messageId: string; senderKind: string }> }>().messages.find((m) => m.messageId === fromToy.messageId);
    expect(mine?.senderKind).toBe('toy');
    const envelope = await inject('GET', `${F()}/messages/${toGuardian.messageId}/envelope`, adaToy.deviceToken);
    expect(envelope.statusCode).toBe(200);
    expect(Buffer.from(envelope.rawPayload).equals(Buffer.from(toGuardian.bytes))).toBe(true);
    const played = await inject('POST', `${F()}/messages/${toGuardian.messageId}/receipts`, adaToy.deviceToken, await toyReceipt(adaToy, toGuardian.messageId));
    expect(played.statusCode).toBe(200);
    expect(played.json<{ receipts: Array<{ by: string; kind: string }> }>().receipts).toContainEqual(expect.objectContaining({ by: adaToy.toyId, kind: 'played' }));
  });

  it("cannot reach another child's messages (404), send to them (404), nor approve, save or delete (401)", async () => {
    const toBen = await sealFrom({ id: guardian.accountId, identity: guardian.identity }, [ben]);
    expect((await uploadAs(guardian.token, toBen.bytes)).statusCode).toBe(201);
    for (const suffix of ['', '/envelope']) expect((await inject('GET', `${F()}/messages/${toBen.messageId}${suffix}`, adaToy.deviceToken)).statusCode).toBe(404);
    expect((await inject('POST', `${F()}/messages/${toBen.messageId}/receipts`, adaToy.deviceToken, await toyReceipt(adaToy, toBen.messageId))).statusCode).toBe(404);
    const list = await inject('GET', `${F()}/messages`, adaToy.deviceToken);
    expect(list.json<{ messages: Array<{ messageId: string }> }>().messages.map((m) => m.messageId)).not.toContain(toBen.messageId);
    expect((await inject('GET', `${F()}/messages?conversation=${ben}`, adaToy.deviceToken)).json<{ messages: unknown[] }>().messages).toEqual([]);

    const toyToBen = await sealFrom({ id: adaToy.toyId, identity: adaToy.identity }, [ben]);
    expect((await uploadAs(adaToy.deviceToken, toyToBen.bytes)).statusCode).toBe(404);
    // A toy posing as a member (the envelope names the guardian as sender) is refused.
    const forged = await sealFrom({ id: guardian.accountId, identity: adaToy.identity }, [ada]);
    expect((await uploadAs(adaToy.deviceToken, forged.bytes)).statusCode).toBe(400);

    const toAda = await sealFrom({ id: guardian.accountId, identity: guardian.identity }, [ada]);
    expect((await uploadAs(guardian.token, toAda.bytes)).statusCode).toBe(201);
    expect((await inject('POST', `${F()}/messages/${toAda.messageId}/approvals`, adaToy.deviceToken, { signature: toBase64Url(randomBytes(64)), rosterEpoch: 0, rosterHead: toBase64Url(randomBytes(32)) })).statusCode).toBe(401);
    expect((await inject('PUT', `${F()}/messages/${toAda.messageId}/saved`, adaToy.deviceToken, { saved: true })).statusCode).toBe(401);
    expect((await inject('DELETE', `${F()}/messages/${toAda.messageId}`, adaToy.deviceToken)).statusCode).toBe(401);
    expect((await inject('GET', `${F()}/messages/${toAda.messageId}`, guardian.token)).json<{ saved: boolean }>().saved).toBe(false);
  });

  it('reads its family as role toy with its own child only; another family is 404 to it', async () => {
    const view = await inject('GET', F(), benToy.deviceToken);
    expect(view.statusCode).toBe(200);
    expect(view.json<{ role: string; children: Array<{ childId: string }> }>()).toMatchObject({ role: 'toy', children: [{ childId: ben }] });
    const otherGuardian = await newPerson(server.app);
    const other = await createFamily(server.app, otherGuardian);
    for (const url of [`/v1/families/${other.familyId}`, `/v1/families/${other.familyId}/roster`, `/v1/families/${other.familyId}/messages`]) {
      const answer = await inject('GET', url, benToy.deviceToken);
      expect(answer.statusCode, url).toBe(404);
    }
  });

  it('works only where the contract says: every other authenticated route answers 401 to a device token, and toy-only routes 401 to a session', async () => {
    const app = server.app;
    const id = toBase64Url(randomBytes(16));
    let walked = 0;
    for (const route of routesOf(app)) {
      if (!route.authenticated || route.method === 'HEAD') continue;
      const url = route.url.replace(/:familyId/g, family.familyId).replace(/:[A-Za-z]+/g, id);
      if (route.toys === undefined) {
        const answer = await app.inject({ method: route.method as 'GET', url, headers: { ...bearer(adaToy.deviceToken), 'content-type': 'application/json' }, payload: '{}' });
        expect(answer.statusCode, `${route.method} ${route.url}`).toBe(401);
        expect(answer.json<{ type: string }>().type).toBe('urn:burrow:problem:unauthenticated');
        walked++;
      } else if (route.toys === 'only') {
        const answer = await app.inject({ method: route.method as 'GET', url, headers: bearer(guardian.token), ...(route.method === 'GET' ? {} : { payload: {} }) });
        expect(answer.statusCode, `${route.method} ${route.url} with a session`).toBe(401);
      }
    }
    expect(walked).toBeGreaterThan(25);
    expect((await inject('GET', '/v1/accounts/me', adaToy.deviceToken)).statusCode).toBe(401);
    expect((await inject('GET', '/v1/toy', guardian.token)).statusCode).toBe(401);
    // The contract's list, exactly.
    const open = routesOf(app).filter((r) => r.toys !== undefined).map((r) => `${r.method} ${r.url}`).sort();
    expect(open).toEqual([
      'GET /v1/families/:familyId',
      'GET /v1/families/:familyId/messages',
      'GET /v1/families/:familyId/messages/:messageId',
      'GET /v1/families/:familyId/messages/:messageId/envelope',
      'GET /v1/families/:familyId/roster',
      'GET /v1/live',
      'GET /v1/toy',
      'POST /v1/families/:familyId/log/refusals',
      'POST /v1/families/:familyId/messages',
      'POST /v1/families/:familyId/messages/:messageId/receipts',
      'POST /v1/toy/reset',
    ]);
  });

  it('is seen at most once a minute, and listed for guardians and for relatives of its child only', async () => {
    const seen = () => inject('GET', `${F()}/toys`, guardian.token).then((a) => a.json<{ toys: Array<{ toyId: string; lastSeenAt?: number }> }>().toys.find((t) => t.toyId === adaToy.toyId)?.lastSeenAt);
    const first = await seen();
    clock.advance(10_000);
    await inject('GET', '/v1/toy', adaToy.deviceToken);
    expect(await seen()).toBe(first);
    clock.advance(60_000);
    await inject('GET', '/v1/toy', adaToy.deviceToken);
    expect(await seen()).toBe(clock.now());

    const forRelative = await inject('GET', `${F()}/toys`, relative.token);
    expect(forRelative.json<{ toys: Array<{ toyId: string }> }>().toys.map((t) => t.toyId)).toEqual([adaToy.toyId]);
    expect((await inject('PUT', `${F()}/toys/${adaToy.toyId}/profile`, relative.token, { sealedProfile: toBase64Url(randomBytes(40)) })).statusCode).toBe(403);
    expect((await inject('PUT', `${F()}/toys/${toBase64Url(randomBytes(16))}/profile`, guardian.token, { sealedProfile: toBase64Url(randomBytes(40)) })).statusCode).toBe(404);
  });

  it('stops at once when a guardian removes the toy: 401 and its live socket closed, its name kept read-only; the security log shows it added and removed', async () => {
    const toy = await pairToy(server.app, family, guardian, ada);
    expect((await inject('GET', '/v1/toy', toy.deviceToken)).statusCode).toBe(200);
    const connection = await live(toy.deviceToken);
    const head = family.chain[family.chain.length - 1]!;
    const removed = await setToys(server.app, family, guardian, head.toys.filter((t) => t.toyId !== toy.toyId));
    expect(removed.statusCode, removed.body).toBe(201);
    expect(await within(connection.closed, 5_000, 'the removed toy’s socket to close')).toBe(1008);
    expect((await inject('GET', '/v1/toy', toy.deviceToken)).statusCode).toBe(401);
    expect((await inject('GET', F(), toy.deviceToken)).statusCode).toBe(401);
    // The row stays for the toy's sealed name (past replies are labelled with it); its token is gone.
    const rows = await server.store.db.selectFrom('toy_devices').select(['toy_id', 'token_hash', 'removed_at']).where('toy_id', '=', toy.toyId).execute();
    expect(rows.map((r) => [r.toy_id, r.token_hash, r.removed_at === null])).toEqual([[toy.toyId, null, false]]);
    const listed = await inject('GET', `${F()}/toys`, guardian.token);
    expect(listed.json<{ toys: Array<{ toyId: string; removedAt?: number }> }>().toys.find((t) => t.toyId === toy.toyId)?.removedAt).toBe(clock.now());
    expect((await inject('PUT', `${F()}/toys/${toy.toyId}/profile`, guardian.token, { sealedProfile: toBase64Url(randomBytes(40)) })).statusCode).toBe(404);

    const log = await inject('GET', `${F()}/log`, guardian.token);
    expect(log.statusCode).toBe(200);
    const events = log.json<{ events: Array<{ kind: string; subjectId?: string }> }>().events.filter((e) => e.subjectId === toy.toyId).map((e) => e.kind);
    expect(events).toEqual(['toy-added', 'toy-removed']);
  });

  it('stops at once when the toy resets itself: 401 and its live socket closed, while it stays in the roster until a guardian removes it', async () => {
    const toy = await pairToy(server.app, family, guardian, ben);
    const connection = await live(toy.deviceToken);
    expect((await inject('POST', '/v1/toy/reset', toy.deviceToken, {})).statusCode).toBe(204);
    expect(await within(connection.closed, 5_000, 'the reset toy’s socket to close')).toBe(1008);
    expect((await inject('GET', '/v1/toy', toy.deviceToken)).statusCode).toBe(401);
    const listed = await inject('GET', `${F()}/toys`, guardian.token);
    expect(listed.json<{ toys: Array<{ toyId: string }> }>().toys.map((t) => t.toyId)).toContain(toy.toyId);
  });

  it('a removed relative no longer sees toys; deleting the family removes every toy row', async () => {
    const head = family.chain[family.chain.length - 1]!;
    expect(await setMembers(head.members.filter((m) => m.accountId !== relative.accountId))).toBe(201);
    expect((await inject('GET', `${F()}/toys`, relative.token)).statusCode).toBe(404);
    const deleted = await server.app.inject({ method: 'DELETE', url: F(), headers: bearer(guardian.token), payload: { confirm: 'delete this family' } });
    expect(deleted.statusCode, deleted.body).toBe(204);
    for (const table of ['toy_devices', 'pairing_runs'] as const) {
      const rows = await server.store.db.selectFrom(table).select('family_id').where('family_id', '=', family.familyId).execute();
      expect(rows, table).toEqual([]);
    }
    expect((await inject('GET', '/v1/toy', adaToy.deviceToken)).statusCode).toBe(401);
  });
});

/** Appends an entry with `members` and the head's toys unchanged; returns the status. */
async function setMembers(members: readonly Member[]): Promise<number> {
  const head = family.chain[family.chain.length - 1]!;
  const contents = { members: [...members], toys: [...head.toys] };
  const scopeKeys = planScopeKeys(head, contents, family.keys);
  const entry = await appendRosterEntry(family.chain, { signer: { accountId: guardian.accountId, identity: guardian.identity }, ...contents, settings: SETTINGS, scopeKeys });
  const answer = await inject('POST', `${F()}/roster`, guardian.token, { entry: toBase64Url(encodeRosterEntry(entry)), wrappedKeys: wireKeys(await wrapsForEntry(head, entry, scopeKeys)) });
  if (answer.statusCode === 201) {
    family.chain.push(entry);
    Object.assign(family.keys, ringOf(scopeKeys));
  }
  return answer.statusCode;
}
