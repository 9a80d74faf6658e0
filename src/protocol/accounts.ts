/**
 * Accounts, sessions and recovery: the request and response bodies of `/v1/accounts` and
 * `/v1/sessions`. OPAQUE messages are the base64url strings `@serenity-kit/opaque` produces.
 * See docs/protocol.md, "Accounts".
 */
import { Type, type Static } from '@sinclair/typebox';
import { Base64Url, Email, Id, PublicIdentity, Timestamp } from './common.js';

/** Sealed identity bundles are small (two private keys, a header and a tag). */
export const SealedIdentity = Base64Url({ minBytes: 16, maxBytes: 2048, description: 'sealed identity bundle' });

const OpaqueMessage = Base64Url({ minBytes: 32, maxBytes: 1024 });

/** How the new session's token is handed over: an HttpOnly cookie for the web app, a bearer token for other clients. */
export const TokenDelivery = Type.Union([Type.Literal('cookie'), Type.Literal('bearer')]);

/** POST /v1/accounts/register/start */
/** An open family invite's id (22 characters) or an operator's one-time code (`reg_…`). */
export const RegistrationPass = Type.String({ pattern: '^(reg_[A-Za-z0-9_-]{43}|[A-Za-z0-9_-]{22})$', description: "an open family invite's id, or a one-time registration code from the server's operator" });

export const RegisterStartRequest = Type.Object(
  { email: Email, registrationRequest: OpaqueMessage, registrationPass: Type.Optional(RegistrationPass) },
  { additionalProperties: false },
);

/** GET /v1/accounts/registration: who may create an account on this server. */
export const RegistrationInfo = Type.Object({ mode: Type.Union([Type.Literal('open'), Type.Literal('invite'), Type.Literal('closed')]) });
export const RegisterStartResponse = Type.Object({ registrationResponse: OpaqueMessage });

/** POST /v1/accounts/register/finish */
export const RegisterFinishRequest = Type.Object(
  {
    email: Email,
    registrationRecord: OpaqueMessage,
    identity: PublicIdentity,
    sealedIdentity: SealedIdentity,
    /** The same identity sealed under a key derived from the recovery code. */
    recoverySealedIdentity: SealedIdentity,
    /** Proves knowledge of the recovery code at recovery time; derived from the code, 32 bytes. */
    recoveryVerifier: Base64Url({ minBytes: 32, maxBytes: 32 }),
    tokenDelivery: TokenDelivery,
    /** A label the user sees in their sessions list, such as "Firefox on Android" or "burrow CLI". */
    sessionLabel: Type.Optional(Type.String({ maxLength: 64 })),
    registrationPass: Type.Optional(RegistrationPass),
  },
  { additionalProperties: false },
);

/** The answer to a finished registration, login or recovery. */
export const SessionGranted = Type.Object({
  accountId: Id,
  sessionId: Id,
  /** Present only when `tokenDelivery` was `bearer`. */
  token: Type.Optional(Base64Url({ minBytes: 32, maxBytes: 32 })),
  identity: PublicIdentity,
  sealedIdentity: SealedIdentity,
});
export type SessionGranted = Static<typeof SessionGranted>;

/** POST /v1/accounts/login/start */
export const LoginStartRequest = Type.Object(
  { email: Email, startLoginRequest: OpaqueMessage },
  { additionalProperties: false },
);
export const LoginStartResponse = Type.Object({ loginId: Id, loginResponse: OpaqueMessage });

/** POST /v1/accounts/login/finish */
export const LoginFinishRequest = Type.Object(
  {
    loginId: Id,
    finishLoginRequest: OpaqueMessage,
    tokenDelivery: TokenDelivery,
    sessionLabel: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);

/**
 * POST /v1/accounts/recover/start: proves the recovery code and begins a new OPAQUE registration.
 * An unknown email and a wrong code get the same `burrow/recovery-failed` answer.
 */
export const RecoverStartRequest = Type.Object(
  {
    email: Email,
    recoveryProof: Base64Url({ minBytes: 32, maxBytes: 32 }),
    registrationRequest: OpaqueMessage,
  },
  { additionalProperties: false },
);
export const RecoverStartResponse = Type.Object({
  recoverySealedIdentity: SealedIdentity,
  registrationResponse: OpaqueMessage,
});

/** POST /v1/accounts/recover/finish: sets the new password record and re-sealed identity; ends every other session. */
export const RecoverFinishRequest = Type.Object(
  {
    email: Email,
    recoveryProof: Base64Url({ minBytes: 32, maxBytes: 32 }),
    registrationRecord: OpaqueMessage,
    sealedIdentity: SealedIdentity,
    recoverySealedIdentity: SealedIdentity,
    recoveryVerifier: Base64Url({ minBytes: 32, maxBytes: 32 }),
    tokenDelivery: TokenDelivery,
    sessionLabel: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);

/** GET /v1/accounts/me */
export const AccountView = Type.Object({
  accountId: Id,
  identity: PublicIdentity,
  sealedIdentity: SealedIdentity,
  createdAt: Timestamp,
});

/** DELETE /v1/accounts/me: the body must confirm, so a stray request cannot delete an account. */
export const DeleteAccountRequest = Type.Object(
  { confirm: Type.Literal('delete my account') },
  { additionalProperties: false },
);

/** GET /v1/sessions */
export const SessionView = Type.Object({
  sessionId: Id,
  label: Type.String(),
  createdAt: Timestamp,
  lastSeenAt: Timestamp,
  current: Type.Boolean(),
});
export const SessionList = Type.Object({ sessions: Type.Array(SessionView) });

/**
 * The account vault: the account's trust anchors, sealed on its devices under a key derived from
 * its identity (see docs/protocol.md, "Account vault"). 42 bytes is an empty sealed record; 192 KiB
 * (256 KiB of base64url) is the most the server keeps.
 */
export const SealedVault = Base64Url({ minBytes: 42, maxBytes: 192 * 1024, description: 'sealed account vault' });

/** Counts writes to the vault; the first write is revision 1. */
export const VaultRevision = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

/** GET /v1/accounts/me/vault */
export const VaultView = Type.Object({ revision: VaultRevision, sealed: SealedVault });

/** PUT /v1/accounts/me/vault: accepted only when `revision` is the stored revision + 1 (1 when none is stored). */
export const VaultWrite = Type.Object({ revision: VaultRevision, sealed: SealedVault }, { additionalProperties: false });
