/**
 * Web Push (RFC 8030, RFC 8291, RFC 8292): a signed-in device registers the subscription its
 * browser made; the server sends it a push when something waits for that person. The payload
 * names only what happened and the ids the app needs to fetch and decrypt it, never a name or
 * any content. See docs/protocol.md, "Push notifications".
 */
import { Type, type Static } from '@sinclair/typebox';
import { Base64Url, Id, Timestamp } from './common.js';

/** The longest push endpoint accepted (push services use URLs of a few hundred characters). */
export const MAX_PUSH_ENDPOINT_LENGTH = 1024;

/** POST /v1/accounts/me/push-subscriptions: `PushSubscription.toJSON()` as the browser gives it. */
export const PushSubscriptionWrite = Type.Object(
  {
    endpoint: Type.String({ minLength: 12, maxLength: MAX_PUSH_ENDPOINT_LENGTH, description: 'the push service URL (https)' }),
    /** Browsers send `null`; the server keeps no expiry (a push service answers 404/410 once it lapses). */
    expirationTime: Type.Optional(Type.Union([Type.Null(), Timestamp])),
    keys: Type.Object(
      {
        p256dh: Base64Url({ minBytes: 65, maxBytes: 65, description: 'the browser\'s P-256 public key, uncompressed (RFC 8291 §3.1)' }),
        auth: Base64Url({ minBytes: 16, maxBytes: 16, description: 'the 16-byte authentication secret (RFC 8291 §3.2)' }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type PushSubscriptionWrite = Static<typeof PushSubscriptionWrite>;

export const PushSubscriptionCreated = Type.Object({ subscriptionId: Id });

/** One of the caller's subscriptions; the endpoint itself is not repeated, only its push service's origin. */
export const PushSubscriptionView = Type.Object({
  subscriptionId: Id,
  /** The push service, e.g. `https://fcm.googleapis.com`. */
  service: Type.String(),
  createdAt: Timestamp,
  /** Whether it belongs to the session asking (this device). */
  current: Type.Boolean(),
});

/** GET /v1/accounts/me/push-subscriptions */
export const PushSubscriptionList = Type.Object({
  /** The server's VAPID public key (RFC 8292 §3.2), base64url: the `applicationServerKey` to subscribe with. */
  applicationServerKey: Base64Url({ minBytes: 65, maxBytes: 65 }),
  subscriptions: Type.Array(PushSubscriptionView),
});

export const PushSubscriptionParams = Type.Object({ subscriptionId: Id }, { additionalProperties: false });

/**
 * What a push carries, encrypted to the browser (RFC 8291, aes128gcm): the kind and ids, nothing
 * that names anyone or says anything. `v` is the payload version.
 * - `message`: a child's toy sent a reply the recipient may hear;
 * - `join-request`: someone opened an invite of the family and waits to be let in;
 * - `approval`: a message waits for a guardian's approval.
 */
export const PushPayload = Type.Union([
  Type.Object({ v: Type.Literal(1), kind: Type.Literal('message'), familyId: Id, messageId: Id }, { additionalProperties: false }),
  Type.Object({ v: Type.Literal(1), kind: Type.Literal('approval'), familyId: Id, messageId: Id }, { additionalProperties: false }),
  Type.Object({ v: Type.Literal(1), kind: Type.Literal('join-request'), familyId: Id }, { additionalProperties: false }),
]);
export type PushPayload = Static<typeof PushPayload>;
