/** `GET /v1/security/log-key` (public) and `GET /v1/families/:familyId/log` (the family's guardians). */
import { FamilyParams } from '../../protocol/families.js';
import { FamilyLogPage, FamilyLogQuery, LogKeyResponse } from '../../protocol/family-log.js';
import type { BurrowApp } from '../http/types.js';
import { requireAuth } from '../sessions/authenticate.js';
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
}
