/**
 * `GET /v1/security/log-key` (public), `GET /v1/families/:familyId/log` (the family's guardians) and
 * `POST /v1/families/:familyId/log/refusals` (any member or toy of the family).
 */
import { FamilyParams } from '../../protocol/families.js';
import { FamilyLogPage, FamilyLogQuery, LogKeyResponse, RefusalReport } from '../../protocol/family-log.js';
import { NoContent } from '../http/bodies.js';
import type { BurrowApp } from '../http/types.js';
import { principalOf, requireAuth } from '../sessions/authenticate.js';
import { MAX_LOG_PAGE, type SecurityLogService } from './service.js';

export function registerSecurityLogRoutes(app: BurrowApp, options: { log: SecurityLogService }): void {
  const { log } = options;

  app.get('/v1/security/log-key', {
    schema: { response: { 200: LogKeyResponse } },
    config: { summary: "The Ed25519 key that signs every family's security log; clients pin it" },
  }, async () => ({ logKey: log.logKey }));

  app.get('/v1/families/:familyId/log', {
    schema: { params: FamilyParams, querystring: FamilyLogQuery, response: { 200: FamilyLogPage } },
    config: { authenticated: true, summary: "The family's security log (guardians only): signed, hash-chained events after ?after=SEQ", problems: ['burrow/not-found', 'burrow/forbidden'] },
  }, async (request) => {
    const after = request.query.after === undefined ? 0 : Number(request.query.after);
    const limit = request.query.limit === undefined ? MAX_LOG_PAGE : Number(request.query.limit);
    return log.read(requireAuth(request).accountId, request.params.familyId, after, limit);
  });

  app.post('/v1/families/:familyId/log/refusals', {
    schema: { params: FamilyParams, body: RefusalReport, response: { 204: NoContent } },
    config: {
      authenticated: true,
      toys: 'also',
      summary: "Record in the family's security log that your client or toy refused something the server delivered (a key that does not match its commitment, a forked roster…)",
      problems: ['burrow/not-found', 'burrow/rate-limited'],
    },
  }, async (request, reply) => {
    await log.recordRefusal(principalOf(request), request.params.familyId, request.body);
    return reply.code(204).send(null);
  });
}
