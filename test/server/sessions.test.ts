import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemRandom } from '../../src/server/deps.js';
import { createSessionsRepository } from '../../src/server/sessions/repository.js';
import { createSessionsService } from '../../src/server/sessions/service.js';
import { b64, bearer, login, post, registerUser, startTestServer, manualClock, type TestServer } from './helpers.js';

const clock = manualClock();
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ clock, overrides: { sessions: { ttlMs: 10 * 60_000, touchIntervalMs: 60_000 } } });
});
afterAll(async () => { await server.close(); });

interface Listed { sessions: Array<{ sessionId: string; current: boolean; label: string; lastSeenAt: number }> }

describe('sessions', () => {
  it('lists only your own sessions and marks the current one', async () => {
    const user = await registerUser(server.app);
    await registerUser(server.app);
    const second = (await login(server.app, user.email, user.password)).finish!.json<{ sessionId: string }>();
    const list = await server.app.inject({ method: 'GET', url: '/v1/sessions', headers: bearer(user.token) });
    const { sessions } = list.json<Listed>();
    expect(sessions.map((s) => s.sessionId).sort()).toEqual([user.sessionId, second.sessionId].sort());
    expect(sessions.find((s) => s.current)?.sessionId).toBe(user.sessionId);
    expect(JSON.stringify(list.json())).not.toMatch(/token/i);
  });

  it('a user cannot end someone else\'s session: 404, and it keeps working', async () => {
    const alice = await registerUser(server.app);
    const mallory = await registerUser(server.app);
    const attempt = await server.app.inject({ method: 'DELETE', url: `/v1/sessions/${alice.sessionId}`, headers: bearer(mallory.token) });
    expect(attempt.statusCode).toBe(404);
    expect(attempt.json()).toMatchObject({ type: 'urn:burrow:problem:not-found' });
    const me = await server.app.inject({ method: 'GET', url: '/v1/accounts/me', headers: bearer(alice.token) });
    expect(me.statusCode).toBe(200);
  });

  it('ends one of your own sessions by id', async () => {
    const user = await registerUser(server.app);
    const other = (await login(server.app, user.email, user.password)).finish!.json<{ sessionId: string; token: string }>();
    const ended = await server.app.inject({ method: 'DELETE', url: `/v1/sessions/${other.sessionId}`, headers: bearer(user.token) });
    expect(ended.statusCode).toBe(204);
    expect((await server.app.inject({ method: 'GET', url: '/v1/accounts/me', headers: bearer(other.token) })).statusCode).toBe(401);
    expect((await server.app.inject({ method: 'GET', url: '/v1/accounts/me', headers: bearer(user.token) })).statusCode).toBe(200);
  });

  it('signs out everywhere, the current session included', async () => {
    const user = await registerUser(server.app);
    const other = (await login(server.app, user.email, user.password)).finish!.json<{ token: string }>();
    const all = await post(server.app, '/v1/sessions/revoke-all', {}, bearer(user.token));
    expect(all.statusCode).toBe(204);
    for (const token of [user.token, other.token]) {
      expect((await server.app.inject({ method: 'GET', url: '/v1/sessions', headers: bearer(token) })).statusCode).toBe(401);
    }
  });

  it('expires after its lifetime', async () => {
    const user = await registerUser(server.app);
    clock.advance(10 * 60_000 + 1);
    const me = await server.app.inject({ method: 'GET', url: '/v1/accounts/me', headers: bearer(user.token) });
    expect(me.statusCode).toBe(401);
  });

  it('records when it was last seen at most once per interval, not on every request', async () => {
    const user = await registerUser(server.app);
    const lastSeen = async () => (await server.store.db.selectFrom('sessions').select('last_seen_at').where('id', '=', user.sessionId).executeTakeFirstOrThrow()).last_seen_at;
    const created = await lastSeen();
    clock.advance(30_000);
    await server.app.inject({ method: 'GET', url: '/v1/accounts/me', headers: bearer(user.token) });
    expect(await lastSeen()).toBe(created);
    clock.advance(31_000);
    await server.app.inject({ method: 'GET', url: '/v1/accounts/me', headers: bearer(user.token) });
    expect(await lastSeen()).toBe(created + 61_000);
  });

  it('stores only a hash of the token', async () => {
    const user = await registerUser(server.app);
    const rows = await server.store.db.selectFrom('sessions').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(user.token);
    expect(rows.some((r) => r.id === user.sessionId)).toBe(true);
  });

  it('refuses a malformed session id with a problem, not a 500', async () => {
    const user = await registerUser(server.app);
    const bad = await server.app.inject({ method: 'DELETE', url: `/v1/sessions/${'x'.repeat(80)}`, headers: bearer(user.token) });
    expect(bad.statusCode).toBe(400);
    const unknown = await server.app.inject({ method: 'DELETE', url: `/v1/sessions/${b64(16)}`, headers: bearer(user.token) });
    expect(unknown.statusCode).toBe(404);
  });
});

describe('the session sweep', () => {
  it('deletes expired sessions that nobody presents again', async () => {
    const user = await registerUser(server.app);
    const sessions = createSessionsService({ repository: createSessionsRepository(server.store.db), clock, random: systemRandom, ttlMs: 10 * 60_000, touchIntervalMs: 60_000 });
    clock.advance(10 * 60_000 + 1);
    expect(await sessions.sweepExpired()).toBeGreaterThan(0);
    expect(await server.store.db.selectFrom('sessions').selectAll().where('id', '=', user.sessionId).execute()).toEqual([]);
  });
});
