import * as opaque from '@serenity-kit/opaque';
import { describe, expect, it } from 'vitest';
import { manualClock, post, registerUser, startTestServer, TEST_KEY_STRETCHING } from './helpers.js';

describe('a started login', () => {
  it('expires after its time to live, even with the right password', async () => {
    const clock = manualClock();
    const server = await startTestServer({ clock, overrides: { login: { stateTtlMs: 60_000 } } });
    try {
      const user = await registerUser(server.app);
      await opaque.ready;
      const { clientLoginState, startLoginRequest } = opaque.client.startLogin({ password: user.password });
      const start = await post(server.app, '/v1/accounts/login/start', { email: user.email, startLoginRequest });
      const { loginId, loginResponse } = start.json<{ loginId: string; loginResponse: string }>();
      const result = opaque.client.finishLogin({ clientLoginState, loginResponse, password: user.password, keyStretching: TEST_KEY_STRETCHING })!;
      clock.advance(60_001);
      const finish = await post(server.app, '/v1/accounts/login/finish', { loginId, finishLoginRequest: result.finishLoginRequest, tokenDelivery: 'bearer' });
      expect(finish.statusCode).toBe(401);
      expect(finish.json()).toMatchObject({ type: 'urn:burrow:problem:login-expired' });
    } finally {
      await server.close();
    }
  });
});

describe('/readyz', () => {
  it('answers 503 as a problem when the database is gone', async () => {
    const server = await startTestServer();
    await server.store.close();
    const answer = await server.app.inject({ method: 'GET', url: '/readyz' });
    expect(answer.statusCode).toBe(503);
    expect(answer.json()).toMatchObject({ type: 'urn:burrow:problem:unavailable' });
    expect((await server.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    await server.app.close();
  });
});
