/** `/v1/sessions*`: list and end your own sessions. */
import { Type } from '@sinclair/typebox';
import { SessionList } from '../../protocol/accounts.js';
import { Id } from '../../protocol/common.js';
import { NoContent, refuseBody } from '../http/bodies.js';
import type { BurrowApp } from '../http/types.js';
import { requireAuth } from './authenticate.js';
import type { SessionsService } from './service.js';
import { clearedSessionCookie } from './tokens.js';

export function registerSessionRoutes(app: BurrowApp, options: { sessions: SessionsService }): void {
  const { sessions } = options;

  app.get('/v1/sessions', {
    schema: { response: { 200: SessionList } },
    config: { authenticated: true, summary: 'Your live sessions' },
  }, async (request) => {
    const auth = requireAuth(request);
    return { sessions: await sessions.list(auth.accountId, auth.sessionId) };
  });

  app.delete('/v1/sessions/:sessionId', {
    schema: { params: Type.Object({ sessionId: Id }, { additionalProperties: false }), response: { 204: NoContent } },
    config: { authenticated: true, summary: 'End one of your sessions', problems: ['burrow/not-found', 'burrow/forbidden'] },
    preValidation: refuseBody,
  }, async (request, reply) => {
    const auth = requireAuth(request);
    await sessions.revoke(auth.accountId, request.params.sessionId);
    if (request.params.sessionId === auth.sessionId) reply.header('set-cookie', clearedSessionCookie({ secure: request.secureTransport }));
    return reply.code(204).send(null);
  });

  app.post('/v1/sessions/revoke-all', {
    schema: { response: { 204: NoContent } },
    config: { authenticated: true, summary: 'Sign out everywhere, this session included', problems: ['burrow/forbidden'] },
    preValidation: refuseBody,
  }, async (request, reply) => {
    await sessions.revokeAll(requireAuth(request).accountId);
    reply.header('set-cookie', clearedSessionCookie({ secure: request.secureTransport }));
    return reply.code(204).send(null);
  });
}
