/**
 * The live channel: WebSocket `/v1/live`, for members (session cookie or bearer token) and toys
 * (device token). Frames are JSON text. Events carry ids, never content; a client fetches
 * what an event names. Delivery is at-least-once: a client dedupes by (familyId, cursor) and by
 * message id. Cursors are per family and totally ordered; a client that reconnects sends the last
 * cursor it processed for each family and receives everything after it, then live events.
 * See docs/protocol.md, "Live events".
 */
import { Type, type Static } from '@sinclair/typebox';
import { fromBase64Url, toBase64Url } from '../crypto/bytes.js';
import { Id, Timestamp } from './common.js';
import { MessageView, ReceiptKind, ReceiptRequest } from './messages.js';

/** What each live event carries: ids, never content. Message events name the message's sender and recipients. */
const MessageRef = {
  messageId: Id,
  senderId: Type.String({ ...Id, description: 'the account or toy that sent the message' }),
  recipients: Type.Array(Id, { description: 'the children the message is for' }),
};
export const LiveEventData = {
  message: Type.Object({ ...MessageRef, epoch: Type.Integer({ minimum: 0 }), size: Type.Integer({ minimum: 0, description: 'the envelope\'s size in bytes' }) }, { additionalProperties: false }),
  'message-deleted': Type.Object(MessageRef, { additionalProperties: false }),
  receipt: Type.Object({ ...MessageRef, by: Type.String({ ...Id, description: 'who received or played it' }), kind: ReceiptKind }, { additionalProperties: false }),
  approval: Type.Object({ ...MessageRef, guardianId: Id }, { additionalProperties: false }),
  /** Sent only to the family's guardians and the message's sender. */
  decline: Type.Object({ ...MessageRef, guardianId: Id }, { additionalProperties: false }),
  roster: Type.Object({ epoch: Type.Integer({ minimum: 0, description: 'the new head\'s epoch' }) }, { additionalProperties: false }),
  child: Type.Object({ childId: Id, deleted: Type.Optional(Type.Literal(true)) }, { additionalProperties: false }),
  'family-deleted': Type.Object({}, { additionalProperties: false }),
} as const;

export const LiveEventType = Type.Union([
  Type.Literal('message'),
  Type.Literal('message-deleted'),
  Type.Literal('receipt'),
  Type.Literal('approval'),
  Type.Literal('decline'),
  Type.Literal('roster'),
  Type.Literal('child'),
  Type.Literal('family-deleted'),
]);
export type LiveEventType = Static<typeof LiveEventType>;

/** The payload of one kind of event, as `LiveEventData` describes it. */
export type LiveEventPayload<K extends LiveEventType> = Static<(typeof LiveEventData)[K]>;

/**
 * A client's name for one request frame, echoed in its answer (`receipt-stored` or `error`) so the
 * client can match answers to requests sent before them. Chosen by the client; never interpreted.
 */
export const FrameRef = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });

/**
 * Client → server: a signed receipt, exactly the body of `POST …/messages/:messageId/receipts`,
 * stored as that route stores it. Answered by `receipt-stored` or by an `error` carrying `ref`.
 */
export const ReceiptFrame = Type.Object(
  { type: Type.Literal('receipt'), ref: FrameRef, familyId: Id, messageId: Id, receipt: ReceiptRequest },
  { additionalProperties: false },
);
export type ReceiptFrame = Static<typeof ReceiptFrame>;

/** Client → server. `resume` first (optional), then `ping` and `receipt` whenever it likes. */
export const ClientFrame = Type.Union([
  Type.Object(
    {
      type: Type.Literal('resume'),
      /** The last cursor processed per family; a family left out is resumed from its oldest kept event. */
      cursors: Type.Record(Id, Type.String({ maxLength: 64 }), { maxProperties: 256 }),
    },
    { additionalProperties: false },
  ),
  Type.Object({ type: Type.Literal('ping') }, { additionalProperties: false }),
  ReceiptFrame,
]);
export type ClientFrame = Static<typeof ClientFrame>;

/** Server → client: one family event, after the resume backlog or live. */
export function EventFrame<K extends LiveEventType>(event: K) {
  return Type.Object(
    {
      type: Type.Literal('event'),
      familyId: Id,
      /** The family's cursor: a decimal sequence number, resumed from (docs/protocol.md, "Cursors and resume"). */
      cursor: Type.String({ pattern: '^(0|[1-9][0-9]{0,15})$' }),
      event: Type.Literal(event),
      data: LiveEventData[event],
      at: Timestamp,
    },
    { additionalProperties: false },
  );
}

/** One event frame of each kind, as a discriminated union on `event`. */
export type EventFrame = { [K in LiveEventType]: Static<ReturnType<typeof EventFrame<K>>> }[LiveEventType];

/** Server → client, once the backlog after the resume cursors has been delivered; live events follow. */
export const ReadyFrame = Type.Object({ type: Type.Literal('ready') }, { additionalProperties: false });
/** Server → client: the answer to a ping. */
export const PongFrame = Type.Object({ type: Type.Literal('pong') }, { additionalProperties: false });
/** Server → client: the receipt of the `receipt` frame `ref` was stored; `message` is what the HTTP route's 200 carries. */
export const ReceiptStoredFrame = Type.Object({ type: Type.Literal('receipt-stored'), ref: FrameRef, message: MessageView }, { additionalProperties: false });
/**
 * Server → client: a refused frame, as an RFC 9457 problem (the one the HTTP route would answer,
 * for a `receipt` frame, with its `ref`); the connection stays open unless a close follows.
 */
export const ErrorFrame = Type.Object(
  {
    type: Type.Literal('error'),
    ref: Type.Optional(FrameRef),
    problem: Type.Object(
      { type: Type.String(), title: Type.String(), status: Type.Integer(), detail: Type.String(), retryAfter: Type.Optional(Type.Integer({ minimum: 1 })), requestId: Type.Optional(Type.String({ maxLength: 64 })) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** Every frame the server sends. */
export const ServerFrame = Type.Union([
  EventFrame('message'),
  EventFrame('message-deleted'),
  EventFrame('receipt'),
  EventFrame('approval'),
  EventFrame('decline'),
  EventFrame('roster'),
  EventFrame('child'),
  EventFrame('family-deleted'),
  ReadyFrame,
  PongFrame,
  ReceiptStoredFrame,
  ErrorFrame,
]);
export type ServerFrame = Static<typeof ServerFrame>;

/**
 * Limits a server enforces per connection (a flood is closed with 1008). Every frame counts,
 * receipts too; a client keeps its receipt frames to `receiptFramesPerMinute` in any minute and
 * sends the rest over HTTP, which leaves room for pings and a resume.
 */
export const LIVE_LIMITS = {
  receiptFramesPerMinute: 60,
  maxFrameBytes: 16 * 1024,
  maxFramesPerMinute: 120,
  heartbeatMs: 30_000,
} as const;

/**
 * The WebSocket subprotocol of the live channel (RFC 6455 §1.9): a client offers it, and the
 * server selects it in its answer. A client that cannot set an Authorization header on the upgrade
 * (a browser) offers its token as a second subprotocol, `burrow.token.<base64url of the token>`:
 * never in the URL, which access logs and proxies keep. The server never selects, echoes or logs
 * that one.
 */
export const LIVE_SUBPROTOCOL = 'burrow.v1';
const TOKEN_SUBPROTOCOL_PREFIX = 'burrow.token.';
/** Tokens are short; anything longer offered as one is not a token. */
const MAX_TOKEN_SUBPROTOCOL_LENGTH = 1024;

/** The subprotocols a client offers to present `token` on the upgrade: `burrow.v1` first, then the token. */
export function liveSubprotocols(token: string): [string, string] {
  return [LIVE_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX + toBase64Url(new TextEncoder().encode(token))];
}

/**
 * The token offered in a `Sec-WebSocket-Protocol` header (comma-separated, RFC 6455 §4.1), or
 * undefined when none is offered or it is malformed.
 */
export function tokenOfSubprotocols(header: string | undefined): string | undefined {
  if (header === undefined || header.length > MAX_TOKEN_SUBPROTOCOL_LENGTH * 2) return undefined;
  const offered = header.split(',').map((p) => p.trim()).filter((p) => p.startsWith(TOKEN_SUBPROTOCOL_PREFIX));
  if (offered.length !== 1) return undefined;
  const encoded = offered[0]!.slice(TOKEN_SUBPROTOCOL_PREFIX.length);
  if (encoded.length === 0 || encoded.length > MAX_TOKEN_SUBPROTOCOL_LENGTH || !/^[A-Za-z0-9_-]+$/.test(encoded)) return undefined;
  try {
    const token = new TextDecoder('utf-8', { fatal: true }).decode(fromBase64Url(encoded));
    return /^[\x21-\x7e]+$/.test(token) ? token : undefined;
  } catch {
    return undefined;
  }
}
