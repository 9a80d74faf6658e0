/**
 * Families, their signed roster, children and invites: the bodies of `/v1/families/*` and
 * `/v1/invites/*`. Roster entries travel as base64url of `encodeRosterEntry` (src/crypto/roster.ts);
 * sealed profiles as base64url of `sealProfile` (src/crypto/profile.ts). The server stores and
 * checks structure and authorisation; it can open none of the sealed values.
 * See docs/protocol.md, "Families".
 */
import { Type, type Static } from '@sinclair/typebox';
import { Base64Url, Id, PublicIdentity, Timestamp } from './common.js';

/** A family id or child id: chosen by the creating client (128 random bits, base64url), because it is signed into the roster. */
export const ClientId = Id;

/**
 * One roster entry, canonical bytes (src/crypto/roster.ts `encodeRosterEntry`), base64url. A
 * version-2 entry carries a 1216-byte X-Wing key per member and toy: 256 members and 64 toys with
 * short ids and few children come to about 440 KiB.
 */
export const RosterEntryWire = Base64Url({ minBytes: 64, maxBytes: 448 * 1024, description: 'encodeRosterEntry bytes' });

/**
 * The body limit of the two routes that carry an entry and its wrapped keys (POST /v1/families and
 * …/roster): the largest entry, `MAX_WRAPS` X-Wing wraps (1120-byte encapsulations) and 64
 * earlier-generation wraps to a new toy as base64url JSON, a sealed name and room to spare; far
 * above the server's general body limit.
 */
export const ROSTER_BODY_LIMIT = 2560 * 1024;

/**
 * A scope key wrapped to one member or toy (src/crypto/scope-key.ts `WrappedScopeKey`, bytes as
 * base64url): `scope` is a child's id or '' (family-wide), `generation` the epoch the key was made.
 */
export const WrappedKeyWire = Type.Object(
  {
    suite: Type.String({ minLength: 1, maxLength: 64 }),
    recipientId: Type.String({ minLength: 1, maxLength: 128 }),
    scope: Type.String({ maxLength: 128 }),
    generation: Type.Integer({ minimum: 0 }),
    enc: Base64Url({ minBytes: 32, maxBytes: 2048 }),
    ciphertext: Base64Url({ minBytes: 16, maxBytes: 256 }),
  },
  { additionalProperties: false },
);
export type WrappedKeyWire = Static<typeof WrappedKeyWire>;

/** A sealed profile record (src/crypto/profile.ts `sealProfile`), base64url. */
export const SealedProfileWire = Base64Url({ minBytes: 16, maxBytes: 17 * 1024 });
/** A sealed member profile: a display name and an optional small photo (at most 64 KiB, as base64 inside the sealed JSON). */
export const MemberProfileWire = Base64Url({ minBytes: 16, maxBytes: 96 * 1024 });
/** A sealed invite description (src/crypto/invite-description.ts): three names and the guardian's signature. */
const SealedDescriptionWire = Base64Url({ minBytes: 106, maxBytes: 874 });
/** A joiner's name sealed for the inviting guardian (src/crypto/invite-description.ts). */
const SealedJoinerNameWire = Base64Url({ minBytes: 34, maxBytes: 290 });

export const Role = Type.Union([Type.Literal('guardian'), Type.Literal('relative')]);
/** Who reads a family: a member's role, or 'toy' for a toy's device token. */
export const ViewerRole = Type.Union([Type.Literal('guardian'), Type.Literal('relative'), Type.Literal('toy')]);

/** At most this many earlier-generation keys of its child's scope are wrapped to a toy at its pairing (`earlierKeys`). */
export const EARLIER_KEYS_LIMIT = 64;

/**
 * At most this many wraps in one roster change: a fresh key of every scope to each of its holders
 * (crypto/key-scopes.ts `wrapsForChange`). A family at the roster's limits could need more; a
 * family that large rotates in more than one change.
 */
export const MAX_WRAPS = 1024;

/**
 * POST /v1/families: the creator signs epoch 0 naming only themselves, as guardian, with the keys of
 * their account; the family-wide scope's key of epoch 0 is wrapped to them. 201 `FamilyCreated`.
 */
export const CreateFamilyRequest = Type.Object(
  {
    familyId: ClientId,
    genesis: RosterEntryWire,
    /** The first generation of each scope's key, wrapped to each of its holders. */
    wrappedKeys: Type.Array(WrappedKeyWire, { minItems: 1, maxItems: MAX_WRAPS }),
    /** The family's name, sealed with kind 'family-name' and object id = familyId. */
    sealedName: SealedProfileWire,
  },
  { additionalProperties: false },
);
export const FamilyCreated = Type.Object({ familyId: ClientId, epoch: Type.Integer() });

/** GET /v1/families: the families the caller belongs to (at the current epoch). */
export const FamilySummary = Type.Object({
  familyId: ClientId,
  role: Role,
  epoch: Type.Integer({ minimum: 0 }),
  sealedName: SealedProfileWire,
});
export const FamilyList = Type.Object({ families: Type.Array(FamilySummary) });

/** A child, with their sealed profile (name and emoji avatar; nothing else is asked for). */
export const ChildView = Type.Object({
  childId: ClientId,
  sealedProfile: SealedProfileWire,
  updatedAt: Timestamp,
});

/**
 * GET /v1/families/:familyId: everything a member needs to verify the roster and open what they may.
 * `wrappedKeys` holds only the keys wrapped to the caller (every scope and generation they held);
 * `children` holds only the children the caller may see (a relative: their children).
 */
export const FamilyView = Type.Object({
  familyId: ClientId,
  /** 'toy' when a toy reads its family with its device token (its children: its own child only). */
  role: ViewerRole,
  epoch: Type.Integer({ minimum: 0 }),
  roster: Type.Array(RosterEntryWire),
  wrappedKeys: Type.Array(WrappedKeyWire),
  sealedName: SealedProfileWire,
  children: Type.Array(ChildView),
  retentionDays: Type.Integer({ minimum: 1, maximum: 365 }),
  /** Members at the head whose account was deleted; present when there are any, so a guardian can remove them. */
  deletedAccounts: Type.Optional(Type.Array(ClientId)),
  /** The sealed member profiles (display names) of the members at the head who have set one (none for a toy). */
  memberProfiles: Type.Optional(Type.Array(Type.Object({ accountId: Id, sealedProfile: MemberProfileWire, updatedAt: Timestamp }))),
});

/** PUT /v1/families/:familyId/profile: the caller's own sealed member profile (their display name), signed by them. */
export const UpdateMemberProfileRequest = Type.Object({ sealedProfile: MemberProfileWire }, { additionalProperties: false });
export const MemberProfileView = Type.Object({ accountId: Id, sealedProfile: MemberProfileWire, updatedAt: Timestamp });

/**
 * POST /v1/families/:familyId/roster: a guardian appends the next entry (epoch = head + 1,
 * previousHash = hash of the head, signed by the caller who is a guardian at the head) and the
 * wraps the change needs (crypto/key-scopes.ts `wrapsForChange`): each fresh scope key to all its
 * holders, each kept one to its new holders only. A member new to the roster must have accepted
 * an invite of this family (`completesInvite`), and their keys must be their account's keys.
 * Answers 409 `burrow/stale-roster` when the head moved on; the client re-reads and retries.
 */
export const AppendRosterRequest = Type.Object(
  {
    entry: RosterEntryWire,
    wrappedKeys: Type.Array(WrappedKeyWire, { maxItems: MAX_WRAPS }),
    /** Invites whose joiners this entry adds; each becomes used. */
    completesInvites: Type.Optional(Type.Array(Id, { maxItems: 16 })),
    /**
     * Confirmed pairing runs (src/protocol/toys.ts) whose toys this entry adds: each new toy's id is
     * the run's pairingId, its keys those of the run's toy confirmation, its child the run's child.
     */
    completesPairings: Type.Optional(Type.Array(Id, { maxItems: 4 })),
    /**
     * Earlier generations of its child's scope key wrapped to a toy this entry adds (one of
     * `completesPairings`): those of messages still waiting for that toy's child, which the
     * guardian's device chose and wrapped (src/client/toys.ts `earlierKeysForNewToy`). The toy
     * checks each against the commitment the signed entries carry; the server only stores them.
     */
    earlierKeys: Type.Optional(Type.Array(WrappedKeyWire, { maxItems: EARLIER_KEYS_LIMIT })),
    /** The family name re-sealed under the new epoch, when the client rotates it. */
    sealedName: Type.Optional(SealedProfileWire),
  },
  { additionalProperties: false },
);
export const RosterAppended = Type.Object({ familyId: ClientId, epoch: Type.Integer() });

/** GET /v1/families/:familyId/roster?afterEpoch=N: entries after epoch N (all when absent), oldest first. */
export const RosterQuery = Type.Object(
  { afterEpoch: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$' })) },
  { additionalProperties: false },
);
export const RosterChain = Type.Object({ familyId: ClientId, entries: Type.Array(RosterEntryWire) });

/** DELETE /v1/families/:familyId: a guardian deletes the family and everything in it. */
export const DeleteFamilyRequest = Type.Object(
  { confirm: Type.Literal('delete this family') },
  { additionalProperties: false },
);

/** POST /v1/families/:familyId/children (guardian). */
export const CreateChildRequest = Type.Object(
  { childId: ClientId, sealedProfile: SealedProfileWire },
  { additionalProperties: false },
);
/** PUT /v1/families/:familyId/children/:childId (guardian). */
export const UpdateChildRequest = Type.Object({ sealedProfile: SealedProfileWire }, { additionalProperties: false });
/** GET /v1/families/:familyId/children */
export const ChildList = Type.Object({ children: Type.Array(ChildView) });

/**
 * Invites. The link a guardian shares is `<origin>/join#<inviteId>.<secret>`: the 128-bit secret
 * is in the fragment and never reaches the server. From it both sides derive an invite key
 * (src/crypto/invite.ts): the guardian's proof MACs the guardian's keys and the invite's terms
 * (so the invitee knows whom they join), the joiner's proof MACs the joiner's account id and keys
 * (so the guardian knows whom they add). The server sees neither the secret nor the key.
 */
export const InviteTerms = Type.Object(
  {
    role: Role,
    /** Children a relative may message (ignored for guardians). */
    children: Type.Array(ClientId, { maxItems: 64 }),
    needsApproval: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type InviteTerms = Static<typeof InviteTerms>;

/** POST /v1/families/:familyId/invites (guardian) → 201 `InviteCreated`. */
export const CreateInviteRequest = Type.Object(
  {
    terms: InviteTerms,
    /** Lifetime; default 7 days, at most 30. */
    expiresInMs: Type.Optional(Type.Integer({ minimum: 60_000, maximum: 30 * 24 * 3600_000 })),
    /** 0x03 ‖ the guardian's verified roster head hash ‖ MAC under the invite key over the guardian's id and keys, the family id, invite id, terms and that head hash (src/crypto/invite.ts). */
    guardianProof: Base64Url({ minBytes: 65, maxBytes: 65 }),
    /** The invite id the client chose (it is MACed into the proof, so the client picks it). */
    inviteId: Id,
    /** Who invites, whom for and to which family, signed by the guardian and sealed under a key from the link's secret (src/crypto/invite-description.ts). */
    sealedDescription: Type.Optional(SealedDescriptionWire),
  },
  { additionalProperties: false },
);
export const InviteCreated = Type.Object({ inviteId: Id, expiresAt: Timestamp });

export const InviteStatus = Type.Union([
  Type.Literal('open'),
  Type.Literal('accepted'),
  Type.Literal('used'),
  Type.Literal('revoked'),
  Type.Literal('expired'),
]);

/** GET /v1/invites/:inviteId (any signed-in account holding the link) → what the invitee verifies. */
export const InviteView = Type.Object({
  inviteId: Id,
  familyId: ClientId,
  terms: InviteTerms,
  expiresAt: Timestamp,
  status: InviteStatus,
  guardian: Type.Object({ accountId: Id, identity: PublicIdentity }),
  guardianProof: Base64Url({ minBytes: 65, maxBytes: 65 }),
  /** As the guardian's client sent it; the invitee's client opens it with the link's secret. */
  sealedDescription: Type.Optional(SealedDescriptionWire),
});

/** POST /v1/invites/:inviteId/accept: the joiner (the caller) proves they hold the link. Works once. */
export const AcceptInviteRequest = Type.Object(
  {
    joinerProof: Base64Url({ minBytes: 32, maxBytes: 32 }),
    /** The name the joiner chose, sealed for the inviting guardian under a key from the link's secret. */
    sealedName: Type.Optional(SealedJoinerNameWire),
  },
  { additionalProperties: false },
);

/** GET /v1/families/:familyId/invites (guardian): invites with their joiners, for the guardian's client to verify and sign in. */
export const GuardianInviteView = Type.Object({
  inviteId: Id,
  terms: InviteTerms,
  createdBy: Id,
  createdAt: Timestamp,
  expiresAt: Timestamp,
  status: InviteStatus,
  /** As the guardian's client sent it: the client that kept the secret opens it (whom the invite is for). */
  sealedDescription: Type.Optional(SealedDescriptionWire),
  joiner: Type.Optional(
    Type.Object({
      accountId: Id,
      identity: PublicIdentity,
      joinerProof: Base64Url({ minBytes: 32, maxBytes: 32 }),
      acceptedAt: Timestamp,
      /** The joiner's chosen name, sealed under a key from the link's secret. */
      sealedName: Type.Optional(SealedJoinerNameWire),
      /** The email the joiner's account registered with (the server holds it for every account), for the guardian letting them in. */
      email: Type.Optional(Type.String({ maxLength: 320 })),
    }),
  ),
});
export const GuardianInviteList = Type.Object({ invites: Type.Array(GuardianInviteView) });

/** Path parameters. */
export const FamilyParams = Type.Object({ familyId: ClientId }, { additionalProperties: false });
export const ChildParams = Type.Object({ familyId: ClientId, childId: ClientId }, { additionalProperties: false });
export const FamilyInviteParams = Type.Object({ familyId: ClientId, inviteId: Id }, { additionalProperties: false });
export const InviteParams = Type.Object({ inviteId: Id }, { additionalProperties: false });
