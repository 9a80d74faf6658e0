/** Schema building blocks shared by every route. */
import { Type, type Static } from '@sinclair/typebox';

/**
 * Canonical unpadded base64url (RFC 4648 §3.5): the unused low bits of the last character are
 * zero, so every value has one spelling and decoding it never fails after validation.
 */
export const BASE64URL_CANONICAL_PATTERN = '^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$';

/** Unpadded base64url of at most `maxBytes` bytes. */
export function Base64Url(options: { minBytes?: number; maxBytes: number; description?: string }) {
  const maxLength = Math.ceil((options.maxBytes * 4) / 3);
  const minLength = options.minBytes === undefined ? 0 : Math.ceil((options.minBytes * 4) / 3);
  return Type.String({
    pattern: BASE64URL_CANONICAL_PATTERN,
    minLength,
    maxLength,
    ...(options.description === undefined ? {} : { description: options.description }),
  });
}

/** An opaque id chosen by the server: 22 characters of base64url (128 random bits). */
export const Id = Type.String({ pattern: '^[A-Za-z0-9_-]{22}$', description: '128-bit random id, base64url' });
export type Id = Static<typeof Id>;

/** Milliseconds since the Unix epoch. */
export const Timestamp = Type.Integer({ minimum: 0, description: 'milliseconds since the Unix epoch' });

/** An email address as typed; the server normalises case and surrounding whitespace. */
export const Email = Type.String({ minLength: 3, maxLength: 254, pattern: '^\\s*[^\\s@]+@[^\\s@]+\\s*$' });

/**
 * The public half of an account's or a toy's identity: raw 32-byte keys, base64url, and the X-Wing
 * key (1216 bytes) of identities made since the post-quantum change (absent for older ones).
 */
export const PublicIdentity = Type.Object(
  {
    signingKey: Base64Url({ minBytes: 32, maxBytes: 32, description: 'Ed25519 public key' }),
    agreementKey: Base64Url({ minBytes: 32, maxBytes: 32, description: 'X25519 public key' }),
    kemKey: Type.Optional(Base64Url({ minBytes: 1216, maxBytes: 1216, description: 'X-Wing (X25519 + ML-KEM-768) public key' })),
  },
  { additionalProperties: false },
);
export type PublicIdentity = Static<typeof PublicIdentity>;

/** The RFC 9457 problem every error answer carries. */
export const ProblemSchema = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  instance: Type.Optional(Type.String()),
  retryAfter: Type.Optional(Type.Integer()),
  requestId: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  /** On `burrow/sole-guardian`: the families that would be left without a guardian. */
  familyIds: Type.Optional(Type.Array(Type.String())),
  /** On `burrow/unavailable` from `/readyz`: which dependencies are down. */
  unavailable: Type.Optional(Type.Array(Type.Union([Type.Literal('database'), Type.Literal('object-store')]))),
});
