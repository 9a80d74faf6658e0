/** The family security log's API contract: `GET /v1/security/log-key`, `GET /v1/families/:familyId/log` and `POST /v1/families/:familyId/log/refusals`. */
import { Type } from '@sinclair/typebox';
import { FAMILY_LOG_KINDS, type FamilyLogKind } from '../crypto/family-log.js';
import { Base64Url, Timestamp } from './common.js';

export const LogKey = Base64Url({ minBytes: 32, maxBytes: 32, description: "the server's Ed25519 log key, which signs every family log event" });

/** GET /v1/security/log-key */
export const LogKeyResponse = Type.Object({ logKey: LogKey });

/** `?after=SEQ&limit=N`: events with seq > after (default 0), at most limit (1–500, default 500). */
export const FamilyLogQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
  },
  { additionalProperties: false },
);

const Hash = Base64Url({ minBytes: 32, maxBytes: 32, description: 'SHA-256' });

/** One event: ids and numbers only. */
export const FamilyLogEventWire = Type.Object({
  seq: Type.Integer({ minimum: 1 }),
  at: Timestamp,
  kind: Type.Unsafe<FamilyLogKind>(Type.String({ enum: [...FAMILY_LOG_KINDS] })),
  actorId: Type.String({ maxLength: 64 }),
  subjectId: Type.Optional(Type.String({ maxLength: 64 })),
  details: Type.Record(Type.String({ maxLength: 64 }), Type.Union([Type.String({ maxLength: 128 }), Type.Integer({ minimum: 0 })])),
  prevHash: Hash,
  hash: Hash,
  signature: Base64Url({ minBytes: 64, maxBytes: 64, description: 'Ed25519 signature by the log key' }),
});

export const FamilyLogPage = Type.Object({ familyId: Type.String(), events: Type.Array(FamilyLogEventWire), logKey: LogKey });

/** A refusal code as clients report it: `area/reason`, lowercase (e.g. `scope-key/commitment-mismatch`). */
export const REFUSAL_CODE_PATTERN = '^[a-z0-9-]{1,32}/[a-z0-9-]{1,48}$';

/** POST /v1/families/:familyId/log/refusals: a member's client or a toy says it refused something the server delivered. */
export const RefusalReport = Type.Object(
  {
    code: Type.String({ pattern: REFUSAL_CODE_PATTERN, maxLength: 81, description: 'the client-side refusal code' }),
    epoch: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'the roster epoch concerned' })),
    messageId: Type.Optional(Base64Url({ minBytes: 16, maxBytes: 16, description: 'the message concerned' })),
  },
  { additionalProperties: false },
);
