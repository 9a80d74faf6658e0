/**
 * The SQL schema as Kysely sees it, shared by the SQLite and PostgreSQL adapters. Portable
 * choices: ids and binary values are base64url text, times are integer milliseconds (bigint).
 * The PostgreSQL adapter must parse int8 as a JavaScript number so both adapters agree.
 */
import type { Insertable, Kysely, Selectable } from 'kysely';

export interface AccountsTable {
  id: string;
  /** base64url HMAC-SHA-256 of the normalised email under a key from the secrets file. */
  email_lookup: string;
  /** The normalised email, AES-256-GCM under a key from the secrets file. */
  email_sealed: string;
  /** The OPAQUE registration record (RFC 9807 §5.1.3); useless without the server setup. */
  opaque_record: string;
  signing_key: string;
  agreement_key: string;
  /** base64url X-Wing public key (1216 bytes); null or absent for accounts registered before X-Wing. */
  kem_key?: string | null;
  sealed_identity: string;
  recovery_sealed_identity: string;
  /** SHA-256 of the client's recovery proof. */
  recovery_verifier: string;
  created_at: number;
  /** When an operator disabled the account (`burrow admin disable`); null or absent while it is enabled. */
  disabled_at?: number | null;
}

export interface SessionsTable {
  id: string;
  account_id: string;
  /** base64url SHA-256 of the 256-bit session token; the token itself is never stored. */
  token_hash: string;
  label: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

export interface FamiliesTable {
  id: string;
  created_at: number;
  created_by: string;
  /** The head epoch of the roster. */
  epoch: number;
  /** base64url `hashRosterEntry` of the head entry. */
  head_hash: string;
  /** From the head entry's settings. */
  retention_days: number;
  /** base64url sealed profile (kind 'family-name'). */
  sealed_name: string;
}

export interface RosterEntriesTable {
  family_id: string;
  epoch: number;
  /** base64url `encodeRosterEntry` bytes. */
  entry: string;
  hash: string;
}

/** Exactly the members of the head entry; rewritten on every append. */
export interface FamilyMembersTable {
  family_id: string;
  account_id: string;
  role: 'guardian' | 'relative';
  /** JSON array of child ids (empty for guardians). */
  children: string;
  /** 0 or 1. */
  needs_approval: number;
}

/** Exactly the toys of the head entry. */
export interface FamilyToysTable {
  family_id: string;
  toy_id: string;
  child_id: string;
}

export interface WrappedKeysTable {
  family_id: string;
  /** The key scope: a child's id, or '' for the family-wide scope. */
  scope: string;
  /** The epoch at which the scope's key was made. */
  generation: number;
  recipient_id: string;
  suite: string;
  enc: string;
  ciphertext: string;
}

export interface ChildrenTable {
  family_id: string;
  id: string;
  sealed_profile: string;
  created_at: number;
  updated_at: number;
}

/** One-time registration codes an operator issued (`burrow admin code`), stored as SHA-256 only. */
export interface RegistrationCodesTable {
  code_hash: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

/** What operators did to accounts (`burrow admin …`): ids and times, never an email. */
export interface OperatorLogTable {
  id: string;
  at: number;
  action: 'code-issued' | 'account-disabled' | 'account-enabled' | 'account-deleted' | 'emails-shown';
  account_id: string | null;
}

export interface InvitesTable {
  id: string;
  family_id: string;
  role: 'guardian' | 'relative';
  /** JSON array of child ids. */
  children: string;
  needs_approval: number;
  guardian_proof: string;
  /** The sealed invite description (src/crypto/invite-description.ts), base64url; the server cannot open it. */
  sealed_description: string | null;
  created_by: string;
  created_at: number;
  expires_at: number;
  /** 'open' | 'accepted' | 'used' | 'revoked' ('expired' is computed from expires_at). */
  status: 'open' | 'accepted' | 'used' | 'revoked';
  joiner_account_id: string | null;
  joiner_proof: string | null;
  accepted_at: number | null;
  /** The joiner's chosen name, sealed under a key from the link's secret (src/crypto/invite-description.ts); the server cannot open it. */
  joiner_sealed_name?: string | null;
}

/** A member's own sealed display name in one family (src/crypto/profile.ts, kind `member`). */
export interface MemberProfilesTable {
  family_id: string;
  account_id: string;
  sealed_profile: string;
  updated_at: number;
}

export interface MessagesTable {
  /** The envelope's 16-byte message id, base64url. */
  id: string;
  family_id: string;
  sender_id: string;
  sender_kind: 'member' | 'toy';
  /** JSON array of the header's recipient ids (also in message_recipients, for filtering). */
  recipients: string;
  epoch: number;
  size: number;
  /** base64url SHA-256 of the envelope's ciphertext (what approvals sign). */
  ciphertext_hash: string;
  /** The blob's random name; never shown to a client. */
  blob_name: string;
  received_at: number;
  /** Null while saved. */
  expires_at: number | null;
  /** 0 or 1. */
  saved: number;
  /** 0 or 1: the sender needed a guardian's approval when it was sent. */
  needs_approval: number;
}

export interface MessageRecipientsTable {
  message_id: string;
  recipient_id: string;
}

export interface MessageReceiptsTable {
  message_id: string;
  by_id: string;
  kind: 'delivered' | 'played';
  at: number;
  /** The signer's time, its verified head (epoch, base64url hash) and its base64url signature (src/crypto/receipt.ts). */
  signed_at: number;
  roster_epoch: number;
  roster_head: string;
  signature: string;
}

export interface MessageApprovalsTable {
  message_id: string;
  guardian_id: string;
  /** base64url Ed25519 signature (src/crypto/envelope.ts `approveMessage`). */
  signature: string;
  at: number;
  /** The guardian's verified head the approval commits to: epoch and base64url hash. */
  roster_epoch: number;
  roster_head: string;
}

/** A guardian's signed decline of a message (src/crypto/envelope.ts `declineMessage`), as approvals. */
export type MessageDeclinesTable = MessageApprovalsTable;

/** A report from a security researcher, received at `POST /v1/security/reports`. */
export interface SecurityReportsTable {
  id: string;
  received_at: number;
  summary: string;
  details: string;
  /** The reporter's contact, AES-256-GCM under the email seal key (associated data `security-report:<id>`); null when none was given. */
  contact_sealed: string | null;
  status: 'open' | 'acked';
  acked_at: number | null;
}

/** One breach notice sent to one member by `burrow notify`. */
export interface NoticesTable {
  id: string;
  /** base64url SHA-256 of the template that was sent. */
  template_sha256: string;
  recipient_account_id: string;
  sent_at: number;
  /** 'smtp' or 'outbox'. */
  channel: string;
}

/** A fixed rate-limit window shared by every node; `key` is a keyed hash of the limited thing. */
export interface RateWindowsTable {
  key: string;
  count: number;
  reset_at: number;
}

/** Failed logins per account (keyed hash), for the slow-down every node applies. */
export interface LoginFailuresTable {
  key: string;
  count: number;
  last_at: number;
}

/** A started OPAQUE login; `id` is a hash of the login id, `sealed` the state under a key derived from the cookie key. */
export interface LoginStatesTable {
  id: string;
  sealed: string;
  expires_at: number;
}

/** An account's sealed vault (its trust anchors, end-to-end encrypted) and the revision of the last write. */
export interface AccountVaultsTable {
  account_id: string;
  revision: number;
  /** base64url AES-256-GCM box the server cannot open. */
  sealed: string;
  updated_at: number;
}

/** A Web Push subscription of one signed-in device (src/server/push/): where and how to reach it, nothing else. */
export interface PushSubscriptionsTable {
  id: string;
  account_id: string;
  /** The session (device) it belongs to: it goes when the session ends. */
  session_id: string;
  /** The push service's URL for this browser (a capability: never logged). */
  endpoint: string;
  /** base64url P-256 public key of the browser (RFC 8291 ua_public). */
  p256dh: string;
  /** base64url 16-byte authentication secret (RFC 8291 auth_secret). */
  auth: string;
  created_at: number;
}

/** A toy's pairing attempt (src/server/toys/): the toy's id is the attempt's id. */
export interface PairingAttemptsTable {
  id: string;
  /** The 3 digits the server chose; shown as the start of the toy's code. */
  slot: string;
  /** The slot while the attempt holds it (unique); null once the attempt ended or expired. */
  held_slot: string | null;
  /** base64url SHA-256 of the pairing token. */
  token_hash: string;
  /** 'waiting' (runs may start), 'paired' (added to `family_id`), 'ended' (used up or cancelled); expiry is computed from expires_at. */
  state: 'waiting' | 'paired' | 'ended';
  runs_started: number;
  created_at: number;
  expires_at: number;
  family_id: string | null;
  /** The confirmation of the run that paired the toy, for the toy to verify. */
  guardian_confirm: string | null;
}

/** One run (code guess) of a pairing attempt, started by a guardian of `family_id`. */
export interface PairingRunsTable {
  id: string;
  pairing_id: string;
  /** 1, 2, 3: at most `PAIRING_LIMITS.maxRuns` per attempt (unique with pairing_id). */
  seq: number;
  family_id: string;
  account_id: string;
  child_id: string;
  session_id: string;
  guardian_share: string;
  toy_share: string | null;
  toy_confirm: string | null;
  guardian_confirm: string | null;
  /** 'expired' is computed from expires_at for the unfinished states. */
  state: 'waiting-for-toy' | 'toy-answered' | 'confirmed' | 'paired' | 'failed';
  created_at: number;
  expires_at: number;
}

/** A paired toy: its device token (hash), sealed name and last sighting; removed with the toy. */
export interface ToyDevicesTable {
  family_id: string;
  toy_id: string;
  child_id: string;
  /** base64url SHA-256 of the current device token; null after a reset or before the toy fetched one. */
  token_hash: string | null;
  /** 0 until the toy first used a device token (until then each pairing poll reissues it), then 1. */
  token_used: number;
  /** base64url sealed profile (kind 'toy', object id = toy id). */
  sealed_profile: string | null;
  paired_at: number;
  last_seen_at: number | null;
  /** When a roster entry removed the toy: the row stays (token gone) so its sealed name stays readable. */
  removed_at: number | null;
}

/** Every table, for `Kysely<Database>`. Later features add theirs here. */
export interface Database {
  accounts: AccountsTable;
  sessions: SessionsTable;
  families: FamiliesTable;
  roster_entries: RosterEntriesTable;
  family_members: FamilyMembersTable;
  family_toys: FamilyToysTable;
  wrapped_keys: WrappedKeysTable;
  children: ChildrenTable;
  invites: InvitesTable;
  member_profiles: MemberProfilesTable;
  registration_codes: RegistrationCodesTable;
  operator_log: OperatorLogTable;
  messages: MessagesTable;
  message_recipients: MessageRecipientsTable;
  message_receipts: MessageReceiptsTable;
  message_approvals: MessageApprovalsTable;
  message_declines: MessageDeclinesTable;
  security_reports: SecurityReportsTable;
  notices: NoticesTable;
  rate_windows: RateWindowsTable;
  login_failures: LoginFailuresTable;
  login_states: LoginStatesTable;
  account_vaults: AccountVaultsTable;
  pairing_attempts: PairingAttemptsTable;
  pairing_runs: PairingRunsTable;
  toy_devices: ToyDevicesTable;
  push_subscriptions: PushSubscriptionsTable;
}

export type AccountRow = Selectable<AccountsTable>;
export type NewAccountRow = Insertable<AccountsTable>;
export type SessionRow = Selectable<SessionsTable>;

/** An opened store: the Kysely handle plus what the server needs to know about it. */
export interface SqlStore {
  readonly db: Kysely<Database>;
  readonly dialect: 'sqlite' | 'postgres';
  /** Closes the connection(s); the store is unusable afterwards. */
  close(): Promise<void>;
}
