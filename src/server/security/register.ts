/** Wires the security feature (disclosure and report intake) into the app. */
import type { Kysely } from 'kysely';
import type { Database } from '../../storage/database.js';
import type { Config, RateWindow } from '../config.js';
import type { Clock, Random } from '../deps.js';
import type { RateLimiter } from '../http/rate-limit.js';
import type { BurrowApp } from '../http/types.js';
import type { Secrets } from '../secrets.js';
import { registerCanaryChecks } from '../canaries/register.js';
import { createMailer, operatorAddress, type Mailer } from './mailer.js';
import { createSecurityReportsRepository } from './reports-repository.js';
import { registerSecurityRoutes } from './reports-routes.js';
import { createSecurityReportsService } from './reports-service.js';

/** Five reports per address per hour: enough for a researcher, too few to flood the operator. */
export const DEFAULT_REPORTS_PER_IP: RateWindow = { max: 5, windowMs: 60 * 60_000 };

export interface SecurityFeatureDeps {
  db: Kysely<Database>;
  config: Config;
  secrets: Secrets;
  clock: Clock;
  random: Random;
  limiter: RateLimiter;
  mailer?: Mailer;
  reportsPerIp?: RateWindow;
}

export function registerSecurityFeatures(app: BurrowApp, deps: SecurityFeatureDeps): void {
  const mailer = deps.mailer ?? createMailer(deps.config, { now: () => deps.clock.now() });
  const reports = createSecurityReportsService({
    repository: createSecurityReportsRepository(deps.db),
    secrets: deps.secrets,
    clock: deps.clock,
    random: deps.random,
    async alert(reportId) {
      // The alert names the report, never its text or the reporter's contact.
      app.log.error({ alert: 'security-report', reportId }, 'security report received: read it with `burrow reports show`');
      try {
        await mailer.send({
          from: mailer.from,
          to: operatorAddress(deps.config),
          subject: `[Burrow] Security report ${reportId}`,
          text: `A security report was received by your Burrow server.\n\nRead it on the server with:\n\n  burrow reports show ${reportId}\n\nAnswer the reporter promptly, then mark it with: burrow reports ack ${reportId}\n`,
        });
      } catch (error) {
        app.log.error({ alert: 'security-report-mail-failed', reportId, err: error }, 'the security-report alert mail could not be sent');
      }
    },
  });
  registerCanaryChecks(app, { config: deps.config, secrets: deps.secrets, clock: deps.clock, mailer });
  registerSecurityRoutes(app, {
    reports,
    limiter: deps.limiter,
    perIp: deps.reportsPerIp ?? DEFAULT_REPORTS_PER_IP,
    ...(deps.config.security.securityTxtExpires === undefined ? {} : { securityTxtExpires: deps.config.security.securityTxtExpires }),
    ...(deps.config.security.contact === undefined ? {} : { contact: deps.config.security.contact }),
    ...(deps.config.security.policyUrl === undefined ? {} : { policyUrl: deps.config.security.policyUrl }),
    ...(deps.config.live.publicOrigin === undefined ? {} : { publicOrigin: deps.config.live.publicOrigin }),
  });
}
