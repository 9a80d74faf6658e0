/**
 * Sends one Web Push message with the `web-push` library: it encrypts the payload to the browser
 * (RFC 8291, aes128gcm) and signs the request with the server's VAPID key (RFC 8292). The request
 * itself goes out with fetch, without following redirects and with a timeout, so a push service
 * (or an endpoint pretending to be one) can neither hold the server nor send it elsewhere.
 * `web-push` is imported at the first push, not at start-up: most starts send none for a while.
 */
import type * as WebPush from 'web-push';
import { toBase64Url } from '../../crypto/bytes.js';
import type { Secrets } from '../secrets.js';

/** What came of one push: delivered to the push service, gone for good (404/410: forget it), or failed. */
export type PushOutcome = 'sent' | 'gone' | 'failed';

export interface PushTarget {
  endpoint: string;
  p256dh: string;
  auth: string;
}

export interface PushSender {
  send(target: PushTarget, payload: string): Promise<{ outcome: PushOutcome; status?: number }>;
}

/** How long a push service keeps an undelivered push: a day (RFC 8030 §5.2). */
const PUSH_TTL_SECONDS = 24 * 3600;

let webPushModule: Promise<typeof WebPush> | undefined;

/** The `web-push` module (CommonJS: its exports are the default export), imported once, on first use. */
function loadWebPush(): Promise<typeof WebPush> {
  webPushModule ??= import('web-push').then((module) => (module as unknown as { default: typeof WebPush }).default);
  return webPushModule;
}

export function createWebPushSender(options: { secrets: Secrets; subject: string; timeoutMs: number }): PushSender {
  const vapidDetails = { subject: options.subject, publicKey: toBase64Url(options.secrets.vapidPublicKey), privateKey: toBase64Url(options.secrets.vapidPrivateKey) };
  return {
    async send(target, payload) {
      const webpush = await loadWebPush();
      const details = webpush.generateRequestDetails({ endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } }, payload, {
        vapidDetails,
        TTL: PUSH_TTL_SECONDS,
        contentEncoding: 'aes128gcm',
        urgency: 'normal',
      });
      let response: Response;
      try {
        response = await fetch(details.endpoint, {
          method: details.method,
          headers: details.headers,
          ...(details.body === null ? {} : { body: new Uint8Array(details.body) }),
          redirect: 'manual',
          signal: AbortSignal.timeout(options.timeoutMs),
        });
      } catch {
        return { outcome: 'failed' };
      }
      // Nothing in the answer is used: it is not read beyond its status.
      await response.body?.cancel().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) return { outcome: 'sent', status: response.status };
      if (response.status === 404 || response.status === 410) return { outcome: 'gone', status: response.status };
      return { outcome: 'failed', status: response.status };
    },
  };
}

/**
 * The VAPID `sub` claim (RFC 8292 §2.1): a way for the push service to reach the operator — the
 * https public origin, else the security contact, else a mailto: that says nobody was named.
 */
export function vapidSubject(config: { publicOrigin?: string | undefined; contact?: string | undefined }): string {
  if (config.publicOrigin?.startsWith('https://') === true && !/^https:\/\/localhost(:|$)/.test(config.publicOrigin)) return config.publicOrigin;
  if (config.contact !== undefined) return config.contact;
  return 'mailto:operator@burrow.invalid';
}
