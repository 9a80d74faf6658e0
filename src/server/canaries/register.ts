/**
 * Wires the canary checks into the app: a login start for a decoy email, any request naming a
 * decoy family, and any request naming a decoy message (its envelope above all) raise an alert
 * like a security report. The answer is never changed or delayed: the intruder must not notice.
 */
import type { Config } from '../config.js';
import type { Clock } from '../deps.js';
import type { BurrowApp } from '../http/types.js';
import { emailLookupHash, normaliseEmail, type Secrets } from '../secrets.js';
import { operatorAddress, type Mailer } from '../security/mailer.js';
import type { CanaryKind } from './registry.js';
import { createCanaryWatch, type CanaryWatch } from './watch.js';

const LOGIN_START = '/v1/accounts/login/start';

const WHAT: Record<CanaryKind, string> = {
  account: 'someone started a login to a decoy account',
  family: 'someone read (or tried to act on) a decoy family',
  blob: 'someone read (or tried to act on) a decoy message',
};

export function registerCanaryChecks(app: BurrowApp, deps: { config: Config; secrets: Secrets; clock: Clock; mailer: Mailer }): CanaryWatch {
  const watch = createCanaryWatch({
    dataDir: deps.config.dataDir,
    secrets: deps.secrets,
    clock: deps.clock,
    onError: (message, error) => app.log.error({ err: error }, message),
    async alert(kind, id) {
      app.log.error({ alert: 'canary', kind, id }, `canary touched: ${WHAT[kind]}; treat the database as read by an intruder`);
      try {
        await deps.mailer.send({
          from: deps.mailer.from,
          to: operatorAddress(deps.config),
          subject: `[Burrow] Canary touched (${kind} ${id})`,
          text: `A canary planted with \`burrow canary create\` was touched on your Burrow server: ${WHAT[kind]}.\n\nNo real client ever does this. Someone has probably read your database or its backups.\nSee "Canaries" in docs/operations.md for what to do now.\n`,
        });
      } catch (error) {
        app.log.error({ alert: 'canary-mail-failed', kind, id, err: error }, 'the canary alert mail could not be sent');
      }
    },
  });

  app.addHook('preHandler', async (request) => {
    if (watch.size === 0) return;
    const url = request.routeOptions.url;
    if (url === LOGIN_START && request.method === 'POST') {
      const email = (request.body as { email?: unknown } | undefined)?.email;
      if (typeof email === 'string') watch.check('account', emailLookupHash(deps.secrets, normaliseEmail(email)));
      return;
    }
    // A session of a decoy account (forged in the database, say) is a canary touch on any route.
    if (request.auth !== null) watch.check('account', `id:${request.auth.accountId}`);
    const params = request.params as { familyId?: unknown; messageId?: unknown } | undefined;
    if (typeof params?.familyId === 'string') watch.check('family', params.familyId);
    if (typeof params?.messageId === 'string') watch.check('blob', params.messageId);
  });

  const onHangUp = (): void => watch.reload();
  app.addHook('onReady', async () => { process.on('SIGHUP', onHangUp); });
  app.addHook('onClose', async () => { process.off('SIGHUP', onHangUp); });
  return watch;
}
