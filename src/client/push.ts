/**
 * Web Push from the client's side: the server's key to subscribe with, and registering or
 * removing this device's subscription. The browser's subscription (its endpoint and keys) is made
 * by the front end; what a push means is in push-notice.ts.
 */
import { PushSubscriptionCreated, PushSubscriptionList, type PushSubscriptionWrite } from '../protocol/push.js';
import type { ClientContext } from './families.js';

/** The server's VAPID public key and this account's subscriptions (`current`: this device's). */
export async function listPushSubscriptions(ctx: ClientContext) {
  return ctx.api.call('GET', '/v1/accounts/me/push-subscriptions', PushSubscriptionList);
}

/** Registers this device's browser subscription (replacing the one it had); returns its id. */
export async function registerPushSubscription(ctx: ClientContext, subscription: PushSubscriptionWrite): Promise<string> {
  const body: PushSubscriptionWrite = { endpoint: subscription.endpoint, keys: { p256dh: subscription.keys.p256dh, auth: subscription.keys.auth } };
  return (await ctx.api.call('POST', '/v1/accounts/me/push-subscriptions', PushSubscriptionCreated, body)).subscriptionId;
}

/** Stops pushes to one of this account's devices. */
export async function removePushSubscription(ctx: ClientContext, subscriptionId: string): Promise<void> {
  await ctx.api.call('DELETE', `/v1/accounts/me/push-subscriptions/${encodeURIComponent(subscriptionId)}`, undefined);
}
