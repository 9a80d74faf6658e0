/**
 * The live channel: WebSocket `/v1/live`, for members (session cookie or bearer token) and toys
 * (device token, later). Frames are JSON text. Events carry ids, never content; a client fetches
 * what an event names. Delivery is at-least-once: a client dedupes by (familyId, cursor) and by
 * message id. Cursors are per family and totally ordered; a client that reconnects sends the last
 * cursor it processed for each family and receives everything after it, then live events.
 * See docs/protocol.md, "Live events".
 */
import { Type, type Static } from '@sinclair/typebox';
import { Id } from './common.js';

export const LiveEventType = Type.Union([
  Type.Literal('message'), // data: { messageId, senderId, recipients, epoch, size }
  Type.Literal('message-deleted'), // data: { messageId }
  Type.Literal('receipt'), // data: { messageId, by, kind }
  Type.Literal('approval'), // data: { messageId, guardianId }
  Type.Literal('decline'), // data: { messageId, guardianId }: to guardians and the sender only
  Type.Literal('roster'), // data: { epoch }
  Type.Literal('child'), // data: { childId, deleted? }
  Type.Literal('family-deleted'), // data: {}
]);
export type LiveEventType = Static<typeof LiveEventType>;

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

/** Server → client. */
export type ServerFrame =
  | { type: 'event'; familyId: string; cursor: string; event: LiveEventType; data: Record<string, unknown>; at: number }
  /** Sent once the backlog after the resume cursors has been delivered; live events follow. */
  | { type: 'ready' }
  | { type: 'pong' }
  /** A refused frame; the connection stays open unless `close` follows. */
  | { type: 'error'; problem: { type: string; title: string; status: number; detail: string } };

/** Limits a server enforces per connection (a flood is closed with 1008). */
export const LIVE_LIMITS = {
  maxFrameBytes: 16 * 1024,
  maxFramesPerMinute: 120,
  heartbeatMs: 30_000,
} as const;
