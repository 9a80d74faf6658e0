/**
 * Where a client keeps its signed-in state. The client library never touches storage itself: the
 * CLI keeps a 0600 profile directory, the web app IndexedDB, tests memory.
 */
import type { PublicIdentity } from '../protocol/common.js';

/** Everything a signed-in client needs to resume: treat the whole record as secret. */
export interface StoredSession {
  /** The server's base URL. */
  serverUrl: string;
  accountId: string;
  sessionId: string;
  /** The bearer token; absent in cookie mode, where the browser holds it. */
  token?: string;
  /** The account's public identity keys, base64url. */
  identity: PublicIdentity;
  /** The identity's private keys, serialised by `exportIdentitySecret`. */
  identitySecret: Uint8Array;
}

/** A place to keep one signed-in session. */
export interface SessionStore {
  load(): Promise<StoredSession | undefined>;
  save(session: StoredSession): Promise<void>;
  /** Forgets the session and the identity secret. */
  clear(): Promise<void>;
}

/** A session store that lives only as long as the process or page. */
export class MemorySessionStore implements SessionStore {
  #session: StoredSession | undefined;

  load(): Promise<StoredSession | undefined> {
    return Promise.resolve(this.#session === undefined ? undefined : { ...this.#session, identitySecret: this.#session.identitySecret.slice() });
  }

  save(session: StoredSession): Promise<void> {
    this.#session = { ...session, identitySecret: session.identitySecret.slice() };
    return Promise.resolve();
  }

  clear(): Promise<void> {
    this.#session?.identitySecret.fill(0);
    this.#session = undefined;
    return Promise.resolve();
  }
}
