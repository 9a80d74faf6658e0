/**
 * Voice messages: `/v1/families/:familyId/messages/*`. The body of an upload is the envelope
 * itself (src/crypto/envelope.ts), sent as `application/octet-stream` and streamed to the blob
 * store; the server parses only the key-free header (`parseEnvelopeHeader`) to check it against
 * the route and the caller. See docs/protocol.md, "Voice messages".
 *
 * Conversations: a message's recipients are child ids (the child's conversation) or toy ids (that
 * toy only). A relative may address, and sees, only the conversations of their children; a toy
 * sends into, and sees, its own child's conversation.
 */
import { Type } from '@sinclair/typebox';
import { Base64Url, Id, Timestamp } from './common.js';

/** A message id: the envelope's 16 random bytes, base64url (22 characters). */
export const MessageId = Id;

/** The epoch of a roster head. */
const RosterEpoch = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
/** `hashRosterEntry` of a roster head, base64url. */
const RosterHead = Base64Url({ minBytes: 32, maxBytes: 32 });
const Signature = Base64Url({ minBytes: 64, maxBytes: 64 });

/** An envelope-level signature by a guardian that lets a relative's message play (src/crypto/envelope.ts `Approval`), with the guardian's verified head. */
export const ApprovalWire = Type.Object(
  {
    guardianId: Id,
    rosterEpoch: RosterEpoch,
    rosterHead: RosterHead,
    signature: Signature,
  },
  { additionalProperties: false },
);

export const ReceiptKind = Type.Union([Type.Literal('delivered'), Type.Literal('played')]);

/** A receipt as relayed: signed by whoever sent it (src/crypto/receipt.ts); clients verify it with `verifyReceipt`. */
export const ReceiptView = Type.Object({
  /** The account id or toy id that sent the receipt (the signer). */
  by: Type.String(),
  kind: ReceiptKind,
  /** When the server recorded it (server clock). */
  at: Timestamp,
  /** When the signer says it happened (signer's clock, signed). */
  signedAt: Timestamp,
  rosterEpoch: RosterEpoch,
  rosterHead: RosterHead,
  signature: Signature,
});

/** A guardian's signed decline of a relative's message (src/crypto/envelope.ts `Decline`, label `burrow/decline/v1`), with the guardian's verified head. */
export const DeclineWire = ApprovalWire;

/** What the server knows about a message: ids, sizes, times, receipts. Never content. */
export const MessageView = Type.Object({
  messageId: MessageId,
  familyId: Id,
  senderId: Type.String(),
  senderKind: Type.Union([Type.Literal('member'), Type.Literal('toy')]),
  recipients: Type.Array(Type.String()),
  epoch: Type.Integer({ minimum: 0 }),
  size: Type.Integer({ minimum: 0 }),
  /** SHA-256 of the ciphertext, base64url: what approvals sign. */
  ciphertextHash: Base64Url({ minBytes: 32, maxBytes: 32 }),
  /** When the server committed the message (server clock). */
  receivedAt: Timestamp,
  /** When retention deletes it; absent while saved. */
  expiresAt: Type.Optional(Timestamp),
  saved: Type.Boolean(),
  /**
   * Whether the sender needed approval when the server stored the message: what the server's approval
   * queue (`pendingApproval`) is built from. Clients never decide on it: they read the head of the
   * verified roster and the signed approvals and declines (`approvalDecision`).
   */
  needsApproval: Type.Boolean(),
  approvals: Type.Array(ApprovalWire),
  /**
   * Guardians' signed declines: a declined message is hidden from toys and other relatives. The
   * server always sends the list; a view without it reads as no declines.
   */
  declines: Type.Optional(Type.Array(DeclineWire)),
  receipts: Type.Array(ReceiptView),
});

/** 201 answer to an upload. */
export const MessageAccepted = Type.Object({ messageId: MessageId, receivedAt: Timestamp, size: Type.Integer() });

/**
 * GET /v1/families/:familyId/messages?before=&limit=&conversation=
 * Newest first. `before` is the `nextCursor` of the previous page; `conversation` a child or toy id.
 */
export const MessageListQuery = Type.Object(
  {
    before: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })),
    limit: Type.Optional(Type.String({ pattern: '^([1-9]|[1-9][0-9]|100)$' })),
    conversation: Type.Optional(Id),
    /** Only messages still waiting for a guardian's decision, approval or decline (the approval queue). */
    pendingApproval: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
  },
  { additionalProperties: false },
);
export const MessageList = Type.Object({
  messages: Type.Array(MessageView),
  nextCursor: Type.Optional(Type.String()),
});

/** POST …/messages/:messageId/receipts: a receipt signed by the caller (src/crypto/receipt.ts `signReceipt`). */
export const ReceiptRequest = Type.Object(
  { kind: ReceiptKind, signedAt: Timestamp, rosterEpoch: RosterEpoch, rosterHead: RosterHead, signature: Signature },
  { additionalProperties: false },
);

/** POST …/messages/:messageId/approvals (guardian): signature from `approveMessage`, with the head it commits to. */
export const ApproveRequest = Type.Object({ signature: Signature, rosterEpoch: RosterEpoch, rosterHead: RosterHead }, { additionalProperties: false });

/** POST …/messages/:messageId/declines (guardian): signature from `declineMessage`, with the head it commits to. */
export const DeclineRequest = ApproveRequest;

/** PUT …/messages/:messageId/saved: saved messages are exempt from retention. */
export const SaveRequest = Type.Object({ saved: Type.Boolean() }, { additionalProperties: false });

export const MessageParams = Type.Object({ familyId: Id, messageId: MessageId }, { additionalProperties: false });
