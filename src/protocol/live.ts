/**
 * The live channel: WebSocket `/v1/live`, for members (session cookie or bearer token) and toys
 * (device token). Frames are JSON text. Events carry ids, never content; a client fetches
 * what an event names. Delivery is at-least-once: a client dedupes by (familyId, cursor) and by
 * message id. Cursors are per family and totally ordered; a client that reconnects sends the last
 * cursor it processed for each family and receives everything after it, then live events.
 * See docs/protocol.md, "Live events".
 */
import { Type, type Static } from '@sinclair/typebox';
import { Id, Timestamp } from './common.js';
import { ReceiptKind } from './messages.js';

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

/** Client → server. `resume` first (optional), then `ping` whenever it likes. */
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
/** Server → client: a refused frame, as an RFC 9457 problem; the connection stays open unless a close follows. */
export const ErrorFrame = Type.Object(
  {
    type: Type.Literal('error'),
    problem: Type.Object({ type: Type.String(), title: Type.String(), status: Type.Integer(), detail: Type.String() }, { additionalProperties: false }),
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
  ErrorFrame,
]);
export type ServerFrame = Static<typeof ServerFrame>;

/** Limits a server enforces per connection (a flood is closed with 1008). */
export const LIVE_LIMITS = {
  maxFrameBytes: 16 * 1024,
  maxFramesPerMinute: 120,
  heartbeatMs: 30_000,
} as const;
