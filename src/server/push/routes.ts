/**
 * `/v1/accounts/me/push-subscriptions`: a signed-in device turns Web Push on or off. The routes name
 * no account: each caller sees and deletes only their own subscriptions, and a toy's device token is
 * refused (pushes are for members). One subscription per session; at most a few per account.
 */
import { toBase64Url } from '../../crypto/bytes.js';
import { PushSubscriptionCreated, PushSubscriptionList, PushSubscriptionParams, PushSubscriptionWrite } from '../../protocol/push.js';
import type { RateWindow } from '../config.js';
import { NoContent, refuseBody } from '../http/bodies.js';
import { enforceLimit, type RateLimiter } from '../http/rate-limit.js';
import type { BurrowApp } from '../http/types.js';
import type { Secrets } from '../secrets.js';
import { requireAuth } from '../sessions/authenticate.js';
import type { PushService } from './service.js';

/** A subscription's JSON is under 1.5 KiB; this leaves room and refuses anything bigger. */
const SUBSCRIPTION_BODY_LIMIT = 4 * 1024;

export interface PushRoutesOptions {
  push: PushService;
  secrets: Pick<Secrets, 'vapidPublicKey'>;
  limiter: RateLimiter;
  /** Subscription writes per account. */
  perAccount: RateWindow;
}

export function registerPushRoutes(app: BurrowApp, options: PushRoutesOptions): void {
  const { push } = options;
  const applicationServerKey = toBase64Url(options.secrets.vapidPublicKey);

  app.get('/v1/accounts/me/push-subscriptions', {
    schema: { response: { 200: PushSubscriptionList } },
    config: { authenticated: true, summary: 'Your devices that receive push notifications, and the key to subscribe with' },
  }, async (request) => {
    const auth = requireAuth(request);
    return { applicationServerKey, subscriptions: await push.list(auth) };
  });

  app.post('/v1/accounts/me/push-subscriptions', {
    schema: { body: PushSubscriptionWrite, response: { 201: PushSubscriptionCreated } },
    bodyLimit: SUBSCRIPTION_BODY_LIMIT,
    config: {
      authenticated: true,
      summary: 'Receive push notifications on this device (replaces its earlier subscription)',
      problems: ['burrow/conflict', 'burrow/forbidden'],
    },
  }, async (request, reply) => {
    const auth = requireAuth(request);
    await enforceLimit(options.limiter, `push-subscribe:${auth.accountId}`, options.perAccount);
    return reply.code(201).send(await push.subscribe(auth, request.body));
  });

  app.delete('/v1/accounts/me/push-subscriptions/:subscriptionId', {
    schema: { params: PushSubscriptionParams, response: { 204: NoContent } },
    config: { authenticated: true, summary: 'Stop push notifications to one of your devices', problems: ['burrow/not-found', 'burrow/forbidden'] },
    preValidation: refuseBody,
  }, async (request, reply) => {
    await push.unsubscribe(requireAuth(request), request.params.subscriptionId);
    return reply.code(204).send(null);
  });
}
