/**
 * Web Push end to end: browsers' subscriptions are made here as a browser makes them (a P-256 key
 * pair and a 16-byte secret from node:crypto), registered through the routes, and pushed to a local
 * HTTP push endpoint that decrypts what arrives as a browser would (RFC 8291 over RFC 8188
 * aes128gcm) and checks the VAPID signature (RFC 8292). What is proven: who gets a push for a toy's
 * reply, a message to approve and a join request; that the payload holds the kind and ids only;
 * that the routes validate, limit and keep each member to their own subscriptions.
 */
import { createECDH, createDecipheriv, createPublicKey, hkdfSync, randomBytes as nodeRandomBytes, verify, type ECDH } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, toBase64Url } from '../../../src/crypto/bytes.js';
import { sealMessage } from '../../../src/crypto/envelope.js';
import { hashRosterEntry } from '../../../src/crypto/roster.js';
import { endpointProblem } from '../../../src/server/push/service.js';
import { bearer, login, registerUser, startTestServer, type TestServer } from '../helpers.js';
import { acceptInvite, addChild, createFamily, createInvite, join, newPerson, type Person, type TestFamily } from '../families/fixtures.js';
import { pairToy, type PairedToy } from '../toys/fixtures.js';
import { sealingKey } from '../../support/scope-keys.js';

const MAX_SUBSCRIPTIONS = 3;

/** One push as the local push service received it. */
interface Received {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A browser's side of a subscription: the key pair and secret RFC 8291 §3 has the user agent make. */
interface Browser {
  path: string;
  ecdh: ECDH;
  auth: Buffer;
  subscription: { endpoint: string; expirationTime: null; keys: { p256dh: string; auth: string } };
}

let server: TestServer;
let pushService: Server;
let pushOrigin: string;
const received: Received[] = [];
let guardian: Person;
let adaRelative: Person;
let benRelative: Person;
let family: TestFamily;
let ada: string;
let adaToy: PairedToy;

function newBrowser(path: string): Browser {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = nodeRandomBytes(16);
  return { path, ecdh, auth, subscription: { endpoint: `${pushOrigin}${path}`, expirationTime: null, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } } };
}

/**
 * Decrypts an aes128gcm push body (RFC 8188 §2: salt ‖ rs ‖ idlen ‖ keyid ‖ records) with the
 * browser's keys (RFC 8291 §3.3–3.4), as the user agent does.
 */
function decryptPush(body: Buffer, browser: Browser): string {
  const salt = body.subarray(0, 16);
  const recordSize = body.readUInt32BE(16);
  const idLength = body[20]!;
  const serverPublic = body.subarray(21, 21 + idLength);
  const record = body.subarray(21 + idLength);
  expect(idLength).toBe(65);
  expect(record.length).toBeLessThanOrEqual(recordSize);
  const ecdhSecret = browser.ecdh.computeSecret(serverPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), browser.ecdh.getPublicKey(), serverPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, browser.auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  // The last record ends with the delimiter 0x02, then zero padding (RFC 8188 §2).
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  expect(padded[end]).toBe(2);
  return padded.subarray(0, end).toString('utf8');
}

/** Checks the request's VAPID authorisation (RFC 8292 §2–3): the server's key, signing a JWT for this push service. */
function checkVapid(push: Received): void {
  const match = /^vapid t=([A-Za-z0-9_.-]+), k=([A-Za-z0-9_-]+)$/.exec(String(push.headers.authorization));
  expect(match, String(push.headers.authorization)).not.toBeNull();
  const [jwt, k] = [match![1]!, match![2]!];
  expect(k).toBe(toBase64Url(server.secrets.vapidPublicKey));
  const [header, claims, signature] = jwt.split('.') as [string, string, string];
  const point = Buffer.from(k, 'base64url');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }, format: 'jwk' });
  expect(verify('sha256', Buffer.from(`${header}.${claims}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'))).toBe(true);
  const payload = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as { aud: string; exp: number; sub: string };
  expect(payload.aud).toBe(pushOrigin);
  expect(payload.exp * 1000).toBeGreaterThan(Date.now());
}

function pushesTo(browser: Browser): Received[] {
  return received.filter((r) => r.path === browser.path);
}

async function subscribe(person: { token: string }, browser: Browser) {
  return server.app.inject({ method: 'POST', url: '/v1/accounts/me/push-subscriptions', headers: bearer(person.token), payload: browser.subscription });
}

async function subscribed(person: { token: string }, browser: Browser): Promise<string> {
  const answer = await subscribe(person, browser);
  expect(answer.statusCode, answer.body).toBe(201);
  return answer.json<{ subscriptionId: string }>().subscriptionId;
}

/** An envelope sealed by `sender` at the family's head. */
async function sealFrom(sender: { id: string; identity: Person['identity'] }, recipients: string[]) {
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
    createdAt: Date.now(),
  });
  return { messageId: toBase64Url(sealed.header.messageId), bytes: sealed.bytes };
}

async function uploadAs(token: string, bytes: Uint8Array): Promise<void> {
  const answer = await server.app.inject({ method: 'POST', url: `/v1/families/${family.familyId}/messages`, headers: { ...bearer(token), 'content-type': 'application/octet-stream' }, payload: Buffer.from(bytes) });
  expect(answer.statusCode, answer.body).toBe(201);
}

beforeAll(async () => {
  pushService = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks) });
      // A push service answers 201 Created (RFC 8030 §5); an expired subscription 410 Gone.
      response.writeHead(request.url?.startsWith('/gone/') === true ? 410 : 201).end();
    });
  });
  await new Promise<void>((resolve) => pushService.listen(0, '127.0.0.1', resolve));
  pushOrigin = `http://127.0.0.1:${(pushService.address() as AddressInfo).port}`;
  server = await startTestServer({ overrides: { push: { allowLoopbackEndpoints: true, maxSubscriptionsPerAccount: MAX_SUBSCRIPTIONS } } });
  const app = server.app;
  [guardian, adaRelative, benRelative] = await Promise.all([newPerson(app), newPerson(app), newPerson(app)]);
  family = await createFamily(app, guardian);
  ada = await addChild(app, family, guardian);
  const ben = await addChild(app, family, guardian);
  await join(app, family, guardian, adaRelative, { role: 'relative', children: [ada], needsApproval: true });
  await join(app, family, guardian, benRelative, { role: 'relative', children: [ben], needsApproval: false });
  adaToy = await pairToy(app, family, guardian, ada);
  await app.pushesSettled();
}, 120_000);
afterAll(async () => {
  await server.close();
  await new Promise<void>((resolve) => pushService.close(() => resolve()));
});

describe('Web Push to members\' devices', () => {
  it('a toy\'s reply is pushed to the adults who may talk with its child, encrypted to each device and naming nobody', async () => {
    const [guardianPhone, adaPhone, benPhone] = [newBrowser('/push/guardian'), newBrowser('/push/ada-relative'), newBrowser('/push/ben-relative')];
    await subscribed(guardian, guardianPhone);
    await subscribed(adaRelative, adaPhone);
    await subscribed(benRelative, benPhone);

    const reply = await sealFrom({ id: adaToy.toyId, identity: adaToy.identity }, [ada]);
    await uploadAs(adaToy.deviceToken, reply.bytes);
    await server.app.pushesSettled();

    expect(pushesTo(benPhone), 'a relative of another child hears nothing of it').toHaveLength(0);
    for (const phone of [guardianPhone, adaPhone]) {
      const [push, ...more] = pushesTo(phone);
      expect(more).toHaveLength(0);
      expect(push!.headers['content-encoding']).toBe('aes128gcm');
      expect(Number(push!.headers.ttl)).toBeGreaterThan(0);
      checkVapid(push!);
      // The push service sees ciphertext: not even the ids are in the clear.
      expect(push!.body.includes(Buffer.from(family.familyId))).toBe(false);
      expect(push!.body.includes(Buffer.from(reply.messageId))).toBe(false);
      const payload = JSON.parse(decryptPush(push!.body, phone)) as unknown;
      expect(payload).toStrictEqual({ v: 1, kind: 'message', familyId: family.familyId, messageId: reply.messageId });
    }
    // Only the device the push was encrypted to can open it.
    expect(() => decryptPush(pushesTo(guardianPhone)[0]!.body, adaPhone)).toThrow();
  });

  it('a message that waits for approval is pushed to the guardians, not to its sender or other relatives', async () => {
    received.length = 0;
    const [guardianPhone, adaPhone, benPhone] = [newBrowser('/push/guardian-2'), newBrowser('/push/ada-relative-2'), newBrowser('/push/ben-relative-2')];
    await subscribed(guardian, guardianPhone);
    await subscribed(adaRelative, adaPhone);
    await subscribed(benRelative, benPhone);
    const message = await sealFrom({ id: adaRelative.accountId, identity: adaRelative.identity }, [ada]);
    await uploadAs(adaRelative.token, message.bytes);
    // A message that needs no approval, from a guardian to a child, pushes nothing.
    await uploadAs(guardian.token, (await sealFrom({ id: guardian.accountId, identity: guardian.identity }, [ada])).bytes);
    await server.app.pushesSettled();
    expect(received.map((r) => r.path)).toEqual(['/push/guardian-2']);
    expect(JSON.parse(decryptPush(received[0]!.body, guardianPhone))).toStrictEqual({ v: 1, kind: 'approval', familyId: family.familyId, messageId: message.messageId });
  });

  it('someone accepting an invite is pushed to the guardians as a join request, with the family id only', async () => {
    received.length = 0;
    const [guardianPhone, adaPhone] = [newBrowser('/push/guardian-3'), newBrowser('/push/ada-relative-3')];
    await subscribed(guardian, guardianPhone);
    await subscribed(adaRelative, adaPhone);
    const inviteId = await createInvite(server.app, family, guardian, { role: 'relative', children: [ada], needsApproval: true });
    const joiner = await newPerson(server.app);
    expect((await acceptInvite(server.app, inviteId, joiner)).statusCode).toBe(204);
    await server.app.pushesSettled();
    expect(received.map((r) => r.path)).toEqual(['/push/guardian-3']);
    expect(JSON.parse(decryptPush(received[0]!.body, guardianPhone))).toStrictEqual({ v: 1, kind: 'join-request', familyId: family.familyId });
  });

  it('a subscription the push service says is gone (410) is forgotten', async () => {
    received.length = 0;
    const expired = newBrowser('/gone/guardian');
    const id = await subscribed(guardian, expired);
    const list = async () => (await server.app.inject({ method: 'GET', url: '/v1/accounts/me/push-subscriptions', headers: bearer(guardian.token) })).json<{ subscriptions: Array<{ subscriptionId: string }> }>().subscriptions.map((s) => s.subscriptionId);
    expect(await list()).toContain(id);
    await uploadAs(adaToy.deviceToken, (await sealFrom({ id: adaToy.toyId, identity: adaToy.identity }, [ada])).bytes);
    await server.app.pushesSettled();
    expect(pushesTo(expired)).toHaveLength(1);
    expect(await list()).not.toContain(id);
  });
});

describe('the push-subscription routes', () => {
  it('keep one subscription per device, list only the caller\'s own and show which is this device\'s', async () => {
    const user = await registerUser(server.app);
    const other = await registerUser(server.app);
    const first = await subscribed(user, newBrowser('/push/user-a'));
    const replaced = await subscribed(user, newBrowser('/push/user-b'));
    const second = (await login(server.app, user.email, user.password)).finish!.json<{ token: string }>();
    const fromSecond = await subscribed(second, newBrowser('/push/user-c'));
    await subscribed(other, newBrowser('/push/other'));
    const answer = await server.app.inject({ method: 'GET', url: '/v1/accounts/me/push-subscriptions', headers: bearer(user.token) });
    expect(answer.statusCode).toBe(200);
    const body = answer.json<{ applicationServerKey: string; subscriptions: Array<{ subscriptionId: string; service: string; current: boolean }> }>();
    expect(body.applicationServerKey).toBe(toBase64Url(server.secrets.vapidPublicKey));
    expect(body.subscriptions.map((s) => [s.subscriptionId, s.current]).sort()).toEqual([[replaced, true], [fromSecond, false]].sort());
    expect(body.subscriptions.every((s) => s.service === pushOrigin)).toBe(true);
    expect(body.subscriptions.map((s) => s.subscriptionId)).not.toContain(first);
    expect(JSON.stringify(body)).not.toContain('/push/');
  });

  it('let a member delete only their own subscriptions (another\'s is not found), and signing out takes the device\'s with it', async () => {
    const user = await registerUser(server.app);
    const intruder = await registerUser(server.app);
    const id = await subscribed(user, newBrowser('/push/victim'));
    const stolen = await server.app.inject({ method: 'DELETE', url: `/v1/accounts/me/push-subscriptions/${id}`, headers: bearer(intruder.token) });
    expect(stolen.statusCode).toBe(404);
    expect(stolen.headers['content-type']).toMatch(/^application\/problem\+json/);
    const count = async () => Number((await server.store.db.selectFrom('push_subscriptions').select((eb) => eb.fn.countAll().as('n')).where('account_id', '=', user.accountId).executeTakeFirstOrThrow()).n);
    expect(await count()).toBe(1);
    expect((await server.app.inject({ method: 'DELETE', url: `/v1/accounts/me/push-subscriptions/${id}`, headers: bearer(user.token) })).statusCode).toBe(204);
    expect(await count()).toBe(0);
    await subscribed(user, newBrowser('/push/victim'));
    expect((await server.app.inject({ method: 'POST', url: '/v1/accounts/logout', headers: bearer(user.token), payload: {} })).statusCode).toBe(204);
    expect(await count()).toBe(0);
  });

  it('refuse a toy\'s device token and anonymous callers', async () => {
    const phone = newBrowser('/push/toy');
    expect((await subscribe({ token: adaToy.deviceToken }, phone)).statusCode).toBe(401);
    expect((await server.app.inject({ method: 'GET', url: '/v1/accounts/me/push-subscriptions', headers: bearer(adaToy.deviceToken) })).statusCode).toBe(401);
    expect((await server.app.inject({ method: 'POST', url: '/v1/accounts/me/push-subscriptions', payload: phone.subscription })).statusCode).toBe(401);
  });

  it(`hold at most ${MAX_SUBSCRIPTIONS} devices per account`, async () => {
    const user = await registerUser(server.app);
    const sessions = [user.token];
    for (let i = 0; i < MAX_SUBSCRIPTIONS; i++) sessions.push((await login(server.app, user.email, user.password)).finish!.json<{ token: string }>().token);
    for (const [i, token] of sessions.slice(0, MAX_SUBSCRIPTIONS).entries()) await subscribed({ token }, newBrowser(`/push/many-${i}`));
    const over = await subscribe({ token: sessions[MAX_SUBSCRIPTIONS]! }, newBrowser('/push/many-over'));
    expect(over.statusCode).toBe(409);
    expect(over.json<{ type: string }>().type).toBe('urn:burrow:problem:conflict');
    // A device that has one may still replace it.
    await subscribed({ token: sessions[0]! }, newBrowser('/push/many-again'));
  });

  it('refuse endpoints that are not https on a public name, overlong ones and keys that are not what RFC 8291 needs, with problems', async () => {
    const user = await registerUser(server.app);
    const good = newBrowser('/push/valid').subscription;
    const cases: Array<[string, unknown]> = [
      ['plain http to a public name', { ...good, endpoint: 'http://push.example.com/x' }],
      ['an IP address', { ...good, endpoint: 'https://10.0.0.5/x' }],
      ['an IPv6 address', { ...good, endpoint: 'https://[fd00::1]/x' }],
      ['a local name', { ...good, endpoint: 'https://printer.local/x' }],
      ['credentials', { ...good, endpoint: 'https://user:pw@push.example.com/x' }],
      ['not a URL', { ...good, endpoint: 'push.example.com/xxxxxxxx' }],
      ['overlong', { ...good, endpoint: `https://push.example.com/${'x'.repeat(1100)}` }],
      ['a short p256dh', { ...good, keys: { ...good.keys, p256dh: good.keys.p256dh.slice(0, 40) } }],
      ['a point off the curve', { ...good, keys: { ...good.keys, p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString('base64url') } }],
      ['a compressed p256dh', { ...good, keys: { ...good.keys, p256dh: Buffer.concat([Buffer.from([3]), nodeRandomBytes(64)]).toString('base64url') } }],
      ['a long auth', { ...good, keys: { ...good.keys, auth: nodeRandomBytes(32).toString('base64url') } }],
      ['an unknown field', { ...good, extra: 1 }],
    ];
    for (const [what, payload] of cases) {
      const answer = await server.app.inject({ method: 'POST', url: '/v1/accounts/me/push-subscriptions', headers: bearer(user.token), payload: payload as Record<string, unknown> });
      expect(answer.statusCode, what).toBe(400);
      expect(answer.headers['content-type'], what).toMatch(/^application\/problem\+json/);
    }
    const huge = await server.app.inject({ method: 'POST', url: '/v1/accounts/me/push-subscriptions', headers: bearer(user.token), payload: { ...good, endpoint: `https://push.example.com/${'x'.repeat(8000)}` } });
    expect(huge.statusCode).toBe(413);
    expect(await server.store.db.selectFrom('push_subscriptions').select('id').where('account_id', '=', user.accountId).execute()).toEqual([]);
  });

  it('accept http loopback endpoints only where a test allows them', () => {
    expect(endpointProblem('http://127.0.0.1:9000/x', { allowLoopback: false })).toBeDefined();
    expect(endpointProblem('https://localhost/x', { allowLoopback: false })).toBeDefined();
    expect(endpointProblem('http://127.0.0.1:9000/x', { allowLoopback: true })).toBeUndefined();
    expect(endpointProblem('https://fcm.googleapis.com/fcm/send/abc', { allowLoopback: false })).toBeUndefined();
  });
});
