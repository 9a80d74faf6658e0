/**
 * Toys: pairing by code through the server as a relay, device tokens, and the routes a guardian
 * uses to manage toys. See docs/protocol.md, "Pairing a toy" and "Toys".
 *
 * The code a toy shows is 8 digits: the first 3 are the attempt's **slot**, chosen by the server
 * among the slots free at that moment, so a guardian's client can name the attempt; the last 5
 * are chosen by the toy and never sent. All 8 digits are the CPace password
 * (src/crypto/pairing.ts), so the server, which knows the slot, is left 10^5 codes to guess, one
 * per run, and an attempt allows `PAIRING_LIMITS.maxRuns` runs, then ends whatever the code. The
 * toy counts its runs and time itself (src/client/toys.ts) and never relies on this relay's count.
 *
 *   toy                                   server                               guardian
 *   POST /v1/pairings              ──► attempt (slot, pairingId = toyId, pairing token)
 *   shows slot ‖ 5 own digits
 *                                       ◄── POST /v1/families/:f/pairings {slot, childId, sessionId, guardianShare}
 *   GET /v1/pairings/:id (poll)    ◄── run {runId, sessionId, guardianShare}
 *   POST …/runs/:runId {toyShare, toyConfirm} ──►
 *                                       ──► GET /v1/families/:f/pairings/:runId (poll): toyShare, toyConfirm
 *                                       ◄── POST …/:runId/confirm {guardianConfirm}   (or …/fail)
 *                                       ◄── POST /v1/families/:f/roster {entry adding the toy, completesPairings: [runId]}
 *   GET /v1/pairings/:id (poll)    ◄── paired {familyId, guardianConfirm, deviceToken}
 *   verifies guardianConfirm → the guardian's head hash; GET /v1/families/:f with the device token; verifies the roster from it.
 *
 * Tokens: the pairing token (`pair.` + 43 base64url characters) authenticates the toy's pairing
 * routes until the device token is first used or the attempt ends; the device token (`toy.` +
 * 43 characters) is a bearer token for the toy's routes. The server keeps only their SHA-256.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Base64Url, Id, Timestamp } from './common.js';

/** Limits of the pairing relay (the server enforces them; clients may show them). */
export const PAIRING_LIMITS = {
  /** Runs (code guesses) one attempt allows; the next is refused with `burrow/pairing-ended` whatever the code. */
  maxRuns: 3,
  /** An attempt ends this long after it started. */
  attemptTtlMs: 10 * 60_000,
  /** A run the toy or guardian does not finish within this time fails (and counts). */
  runTtlMs: 2 * 60_000,
  /** Digits of the slot at the start of the code. */
  slotDigits: 3,
  /** How often a client should poll a pairing or run. */
  pollMs: 1_000,
} as const;

/** `pair.` + 32 random bytes, base64url. */
export const PAIRING_TOKEN_PATTERN = '^pair\\.[A-Za-z0-9_-]{43}$';
/** `toy.` + 32 random bytes, base64url. */
export const DEVICE_TOKEN_PATTERN = '^toy\\.[A-Za-z0-9_-]{43}$';

/** A pairing message of src/crypto/pairing.ts, base64url (the relay carries them unread, except the toy keys in a toy confirmation). */
const PairingMessage = Base64Url({ minBytes: 3, maxBytes: 2048, description: 'a src/crypto/pairing.ts message' });
/** A guardian's confirmation: version, type, the session id (16–64 bytes), the 32-byte roster head hash and two 32-byte tags. */
const GuardianConfirm = Base64Url({ minBytes: 3 + 16 + 96, maxBytes: 3 + 64 + 96, description: 'the guardian confirmation (version 2) of src/crypto/pairing.ts' });

export const Slot = Type.String({ pattern: '^[0-9]{3}$', description: 'the first 3 digits of the pairing code' });

// ─── The toy's side (no account; the pairing token authenticates) ───────────────────────────────

/** POST /v1/pairings (anonymous, rate-limited per address): body `{}`. 201. */
export const StartPairingRequest = Type.Object({}, { additionalProperties: false });
export const PairingStarted = Type.Object({
  /** The attempt's id; it becomes the toy's id in the roster. */
  pairingId: Id,
  slot: Slot,
  /** Secret: send as `Authorization: Bearer` on the toy's pairing routes. */
  pairingToken: Type.String({ pattern: PAIRING_TOKEN_PATTERN }),
  expiresAt: Timestamp,
  maxRuns: Type.Integer(),
});

export const PairingState = Type.Union([
  /** No run is waiting for the toy. */
  Type.Literal('waiting'),
  /** A guardian started a run: answer it. */
  Type.Literal('run'),
  /** A guardian added the toy to a family: `paired` holds what the toy needs. */
  Type.Literal('paired'),
  /** Runs used up, expired or cancelled: show a new code (start a new attempt). */
  Type.Literal('ended'),
]);

/**
 * GET /v1/pairings/:pairingId (pairing token). In state `paired` each call issues a fresh device
 * token and invalidates the one issued before, until one of them is used.
 */
export const ToyPairingView = Type.Object({
  pairingId: Id,
  state: PairingState,
  expiresAt: Timestamp,
  runsLeft: Type.Integer({ minimum: 0 }),
  run: Type.Optional(Type.Object({ runId: Id, sessionId: Base64Url({ minBytes: 16, maxBytes: 64 }), guardianShare: PairingMessage })),
  paired: Type.Optional(
    Type.Object({
      familyId: Id,
      guardianConfirm: GuardianConfirm,
      deviceToken: Type.String({ pattern: DEVICE_TOKEN_PATTERN }),
    }),
  ),
});

/** POST /v1/pairings/:pairingId/runs/:runId (pairing token): the toy's share and confirmation, once per run. 204. */
export const ToyRunAnswer = Type.Object({ toyShare: PairingMessage, toyConfirm: PairingMessage }, { additionalProperties: false });

/** DELETE /v1/pairings/:pairingId (pairing token): the toy gives up the attempt. 204. */

// ─── The guardian's side (session; guardian of the family) ─────────────────────────────────────

/**
 * POST /v1/families/:familyId/pairings: start a run against the attempt in `slot`. 201.
 * 404 `burrow/not-found` when no attempt holds the slot; 410 `burrow/pairing-ended` when it used
 * its runs or expired; 409 `burrow/conflict` while another run of it is in progress.
 */
export const StartRunRequest = Type.Object(
  {
    slot: Slot,
    /** The child the toy will belong to. */
    childId: Id,
    /** The CPace session id the guardian chose for this run: 16 random bytes (src/crypto/pairing.ts `sessionId`). */
    sessionId: Base64Url({ minBytes: 16, maxBytes: 64 }),
    guardianShare: PairingMessage,
  },
  { additionalProperties: false },
);
export const RunStarted = Type.Object({ runId: Id, pairingId: Id, expiresAt: Timestamp });

export const RunState = Type.Union([
  Type.Literal('waiting-for-toy'),
  Type.Literal('toy-answered'),
  /** The guardian confirmed; the toy may now be added to the roster with `completesPairings`. */
  Type.Literal('confirmed'),
  /** The roster entry adding the toy was committed. */
  Type.Literal('paired'),
  Type.Literal('failed'),
  Type.Literal('expired'),
]);

/** GET /v1/families/:familyId/pairings/:runId (the guardian who started the run). */
export const GuardianRunView = Type.Object({
  runId: Id,
  pairingId: Id,
  childId: Id,
  state: RunState,
  expiresAt: Timestamp,
  toyShare: Type.Optional(PairingMessage),
  toyConfirm: Type.Optional(PairingMessage),
});

/** POST /v1/families/:familyId/pairings/:runId/confirm: the guardian's confirmation, after it verified the toy's. 204. */
export const ConfirmRunRequest = Type.Object({ guardianConfirm: GuardianConfirm }, { additionalProperties: false });

/** POST /v1/families/:familyId/pairings/:runId/fail (body `{}`): the toy's confirmation did not verify (wrong code). 204. */

export const RunParams = Type.Object({ familyId: Id, runId: Id }, { additionalProperties: false });
export const PairingParams = Type.Object({ pairingId: Id }, { additionalProperties: false });
export const ToyRunParams = Type.Object({ pairingId: Id, runId: Id }, { additionalProperties: false });
export const ToyParams = Type.Object({ familyId: Id, toyId: Id }, { additionalProperties: false });

// ─── Toys in a family ───────────────────────────────────────────────────────────────────────────

/** A toy as members see it (relatives: the toys of their children). Never its name in clear. */
export const ToyView = Type.Object({
  toyId: Id,
  childId: Id,
  /** The toy's name, sealed (src/crypto/profile.ts kind 'toy', object id = toyId); absent until a guardian names it. */
  sealedProfile: Type.Optional(Base64Url({ minBytes: 16, maxBytes: 17 * 1024 })),
  pairedAt: Timestamp,
  /** When the toy last authenticated (coarse, at most once a minute). */
  lastSeenAt: Type.Optional(Timestamp),
  /** Set once a roster entry removed the toy (server time; the signed date is the entry's): its name stays readable for past replies. */
  removedAt: Type.Optional(Timestamp),
});
/** GET /v1/families/:familyId/toys */
export const ToyList = Type.Object({ toys: Type.Array(ToyView) });
/** PUT /v1/families/:familyId/toys/:toyId/profile (guardian). 204. */
export const ToyProfileRequest = Type.Object({ sealedProfile: Base64Url({ minBytes: 16, maxBytes: 17 * 1024 }) }, { additionalProperties: false });

// ─── The toy's own routes (device token) ────────────────────────────────────────────────────────

/** GET /v1/toy: who the device token belongs to. */
export const ToySelf = Type.Object({ toyId: Id, familyId: Id, childId: Id, epoch: Type.Integer({ minimum: 0 }) });
/** POST /v1/toy/reset (body `{}`): the toy forgets itself; its device token stops working. 204. */

export type PairingStarted = Static<typeof PairingStarted>;
export type ToyPairingView = Static<typeof ToyPairingView>;
export type GuardianRunView = Static<typeof GuardianRunView>;
export type ToyView = Static<typeof ToyView>;
export type ToySelf = Static<typeof ToySelf>;
