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
  sealed_identity: string;
  recovery_sealed_identity: string;
  /** SHA-256 of the client's recovery proof. */
  recovery_verifier: string;
  created_at: number;
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

/** Every table, for `Kysely<Database>`. Later features add theirs here. */
export interface Database {
  accounts: AccountsTable;
  sessions: SessionsTable;
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
