/**
 * Web Push on this device: asks the browser for permission and a subscription under the server's
 * key, registers it for this session, or turns it off. Pushes carry no names or content (the
 * service worker shows a generic notification; the app fetches and decrypts on click).
 */
import { fromBase64Url } from '../../crypto/index.js';
import { type ClientContext, listPushSubscriptions, registerPushSubscription, removePushSubscription } from '../../client/index.js';

/** Whether this browser can receive Web Push at all (a service worker, the Push API, notifications). */
export function pushSupported(): boolean {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/** This device's subscription id on the server, if it has one. */
export async function currentPushSubscription(ctx: ClientContext): Promise<string | undefined> {
  const { subscriptions } = await listPushSubscriptions(ctx);
  return subscriptions.find((s) => s.current)?.subscriptionId;
}

/** Turns notifications on for this device; throws with a reason the user can act on. */
export async function enablePush(ctx: ClientContext): Promise<string> {
  if (!pushSupported()) throw new Error('This browser cannot show notifications from Burrow.');
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') throw new Error('Notifications are blocked for Burrow in this browser\'s settings.');
  const registration = await navigator.serviceWorker.ready;
  const { applicationServerKey } = await listPushSubscriptions(ctx);
  const existing = await registration.pushManager.getSubscription();
  // A subscription made under another server key cannot be used: replace it.
  if (existing !== null) await existing.unsubscribe();
  let subscription: PushSubscription;
  try {
    subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: fromBase64Url(applicationServerKey) as Uint8Array<ArrayBuffer> });
  } catch {
    throw new Error('This browser\'s push service did not answer; try again later.');
  }
  const json = subscription.toJSON();
  if (json.endpoint === undefined || json.keys?.p256dh === undefined || json.keys.auth === undefined) throw new Error('This browser gave an incomplete push subscription.');
  return registerPushSubscription(ctx, { endpoint: json.endpoint, keys: { p256dh: json.keys.p256dh, auth: json.keys.auth } });
}

/** Turns notifications off for this device: on the server, and in the browser. */
export async function disablePush(ctx: ClientContext, subscriptionId: string | undefined): Promise<void> {
  if (subscriptionId !== undefined) await removePushSubscription(ctx, subscriptionId);
  await forgetBrowserPush();
}

/** Drops the browser's own subscription (signing out: the server drops its copy with the session). */
export async function forgetBrowserPush(): Promise<void> {
  if (!('serviceWorker' in navigator)) return;
  const registration = await navigator.serviceWorker.getRegistration();
  await (await registration?.pushManager.getSubscription())?.unsubscribe();
}
