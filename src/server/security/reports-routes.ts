/** `/.well-known/security.txt` and `POST /v1/security/reports`: how a stranger reaches the operator. */
import { Type } from '@sinclair/typebox';
import { BurrowError } from '../../protocol/errors.js';
import { clientKeyOf } from '../http/addresses.js';
import type { RateWindow } from '../config.js';
import { enforceLimit, type RateLimiter } from '../http/rate-limit.js';
import type { BurrowApp } from '../http/types.js';
import type { SecurityReportsService } from './reports-service.js';
import { buildSecurityTxt, REPORT_PATH } from './security-txt.js';

export const SecurityReportRequest = Type.Object({
  summary: Type.String({ minLength: 1, maxLength: 200, description: 'One line: what is wrong' }),
  details: Type.String({ minLength: 1, maxLength: 16_000, description: 'Steps to reproduce, impact, affected versions' }),
  contact: Type.Optional(Type.String({ maxLength: 254, description: 'How to reach you (email or URL); stored encrypted' })),
}, { additionalProperties: false });

export const SecurityReportAccepted = Type.Object({
  reportId: Type.String(),
  message: Type.String(),
}, { additionalProperties: false });

/** Largest body the intake reads: the longest details in UTF-8 plus room for JSON escapes. */
const REPORT_BODY_LIMIT = 96 * 1024;

export interface SecurityRoutesOptions {
  reports: SecurityReportsService;
  limiter: RateLimiter;
  /** Reports per client address. */
  perIp: RateWindow;
  contact?: string;
  policyUrl?: string;
  publicOrigin?: string;
  /** security.txt's Expires, as the operator set it. */
  securityTxtExpires?: number;
}

export function registerSecurityRoutes(app: BurrowApp, options: SecurityRoutesOptions): void {
  // Built once from the configuration: nothing in it depends on the request (not even its Host).
  const securityTxt = buildSecurityTxt({
    ...(options.contact === undefined ? {} : { contact: options.contact }),
    ...(options.policyUrl === undefined ? {} : { policyUrl: options.policyUrl }),
    ...(options.publicOrigin === undefined ? {} : { publicOrigin: options.publicOrigin }),
    ...(options.securityTxtExpires === undefined ? {} : { expires: options.securityTxtExpires }),
  });
  app.get('/.well-known/security.txt', {
    config: {
      summary: 'Where to report security problems (RFC 9116); 404 until the operator sets a contact and an expiry',
      problems: ['burrow/not-found'],
      docs: { success: { status: 200, description: 'The security.txt file: Contact, Expires, Policy, Preferred-Languages, Canonical', contentType: 'text/plain', schema: { type: 'string' } } },
    },
  }, async (_request, reply) => {
    if (securityTxt === undefined) throw new BurrowError('burrow/not-found', 'This server publishes no security.txt: its operator has not set a contact and an expiry date');
    return reply.type('text/plain; charset=utf-8').send(securityTxt);
  });

  app.post(REPORT_PATH, {
    bodyLimit: REPORT_BODY_LIMIT,
    schema: { body: SecurityReportRequest, response: { 201: SecurityReportAccepted } },
    config: { anonymous: true, summary: 'Report a security problem; no account needed' },
    // Counted once the body passed validation, so a malformed post (a typo, an over-long field)
    // does not spend the reporter's budget; the body limit and the per-address limits of every
    // anonymous route still bound what a flood of bad posts costs before this point.
    preHandler: async (request) => {
      await enforceLimit(options.limiter, `security-report:${clientKeyOf(request.ip)}`, options.perIp);
    },
  }, async (request, reply) => {
    const { reportId } = await options.reports.submit(request.body);
    reply.code(201);
    return { reportId, message: `Thank you. Your report was received and the operator has been alerted. Quote ${reportId} in any follow-up.` };
  });
}
