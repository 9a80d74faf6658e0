/**
 * The browser's KeyStore and SessionStore, on IndexedDB.
 *
 * What is kept, and why only this:
 * - A device key: an AES-256-GCM CryptoKey generated here as NON-extractable and stored as a
 *   CryptoKey object (IndexedDB keeps it by structured clone). Script on this origin can use it but
 *   no script, extension page or copy of the storage can read its bytes through WebCrypto.
 * - The session (StoredSession): the server URL, account id, session id and public identity, and the
 *   identity's private keys. The private keys are stored only sealed under the device key. They
 *   cannot themselves be non-extractable CryptoKeys: the account vault's key is derived from the
 *   identity secret (src/crypto/vault.ts), so `resumeSession` must be able to rebuild an
 *   extractable identity. No token: in cookie mode the server holds the session in an HttpOnly,
 *   SameSite=Strict cookie that script never sees. The password, the OPAQUE export key and the
 *   recovery code are never stored.
 * - Per family (KeyStore): the trust anchor, the family keys by epoch, pending and created invites,
 *   the security-log checkpoint, sealed under the device key as one record each; live cursors too.
 *
 * Nothing goes to localStorage, sessionStorage or a URL. Signing out deletes the device key first
 * (crypto-shredding every sealed record even if a delete fails) and then the records. A reload
 * resumes from the session record; the server's cookie decides whether it is still valid.
 */
import { fromUtf8, utf8 } from '../../crypto/bytes.js';
import type { FamilyState, FamilyStateJson, KeyStore } from '../../client/key-store.js';
import { familyStateFromJson, familyStateToJson } from '../../client/key-store.js';
import type { SessionStore, StoredSession } from '../../client/session-store.js';

const DB_NAME = 'burrow';
const DB_VERSION = 1;
const STORE = 'records';
const DEVICE_KEY = 'device-key';
const SESSION = 'session';
const CURSORS = 'cursors';
const FAMILY_PREFIX = 'family:';

function promised<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
  });
}

let opening: Promise<IDBDatabase> | undefined;

function database(): Promise<IDBDatabase> {
  opening ??= new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB did not open'));
    request.onblocked = () => reject(new Error('IndexedDB is blocked by another tab'));
  }).catch((error: unknown) => {
    opening = undefined;
    throw error;
  });
  return opening;
}

async function get<T>(key: string): Promise<T | undefined> {
  const db = await database();
  return (await promised(db.transaction(STORE, 'readonly').objectStore(STORE).get(key))) as T | undefined;
}

async function put(key: string, value: unknown): Promise<void> {
  const db = await database();
  await promised(db.transaction(STORE, 'readwrite').objectStore(STORE).put(value, key));
}

async function remove(key: string): Promise<void> {
  const db = await database();
  await promised(db.transaction(STORE, 'readwrite').objectStore(STORE).delete(key));
}

async function keysWithPrefix(prefix: string): Promise<string[]> {
  const db = await database();
  const range = IDBKeyRange.bound(prefix, `${prefix}\uffff`);
  const keys = await promised(db.transaction(STORE, 'readonly').objectStore(STORE).getAllKeys(range));
  return keys.map(String);
}

/** A sealed record: AES-256-GCM under the device key, with the record's name as additional data. */
interface Sealed {
  iv: Uint8Array<ArrayBuffer>;
  ciphertext: ArrayBuffer;
}

let deviceKey: Promise<CryptoKey> | undefined;

async function loadOrCreateDeviceKey(): Promise<CryptoKey> {
  const existing = await get<CryptoKey>(DEVICE_KEY);
  if (existing instanceof CryptoKey) return existing;
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  await put(DEVICE_KEY, key);
  return key;
}

function theDeviceKey(): Promise<CryptoKey> {
  deviceKey ??= loadOrCreateDeviceKey().catch((error: unknown) => {
    deviceKey = undefined;
    throw error;
  });
  return deviceKey;
}

async function seal(name: string, plaintext: Uint8Array): Promise<Sealed> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: utf8(name) as Uint8Array<ArrayBuffer> }, await theDeviceKey(), plaintext as Uint8Array<ArrayBuffer>);
  return { iv, ciphertext };
}

/** Opens a sealed record; undefined when it does not open (device key gone or record damaged). */
async function open(name: string, sealed: Sealed | undefined): Promise<Uint8Array | undefined> {
  if (sealed === undefined || !(sealed.iv instanceof Uint8Array) || !(sealed.ciphertext instanceof ArrayBuffer)) return undefined;
  try {
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv, additionalData: utf8(name) as Uint8Array<ArrayBuffer> }, await theDeviceKey(), sealed.ciphertext));
  } catch {
    return undefined;
  }
}

async function putSealedJson(name: string, value: unknown): Promise<void> {
  await put(name, await seal(name, utf8(JSON.stringify(value))));
}

async function getSealedJson<T>(name: string): Promise<T | undefined> {
  const bytes = await open(name, await get<Sealed>(name));
  if (bytes === undefined) return undefined;
  try {
    return JSON.parse(fromUtf8(bytes)) as T;
  } catch {
    return undefined;
  }
}

/** Everything signed-in on this browser, forgotten: the device key first, then every record. */
export async function forgetEverything(): Promise<void> {
  const db = await database();
  await remove(DEVICE_KEY);
  deviceKey = undefined;
  await promised(db.transaction(STORE, 'readwrite').objectStore(STORE).clear());
}

interface SessionRecord {
  serverUrl: string;
  accountId: string;
  sessionId: string;
  identity: StoredSession['identity'];
  secret: Sealed;
}

/** The signed-in session of this browser profile (see the module comment). */
export class BrowserSessionStore implements SessionStore {
  async load(): Promise<StoredSession | undefined> {
    const record = await get<SessionRecord>(SESSION);
    if (record === undefined) return undefined;
    const identitySecret = await open(`${SESSION}:${record.accountId}`, record.secret);
    if (identitySecret === undefined) return undefined;
    return { serverUrl: record.serverUrl, accountId: record.accountId, sessionId: record.sessionId, identity: record.identity, identitySecret };
  }

  async save(session: StoredSession): Promise<void> {
    // A different account signing in on this browser starts from a clean slate.
    const previous = await get<SessionRecord>(SESSION);
    if (previous !== undefined && previous.accountId !== session.accountId) await forgetEverything();
    const record: SessionRecord = {
      serverUrl: session.serverUrl,
      accountId: session.accountId,
      sessionId: session.sessionId,
      identity: session.identity,
      secret: await seal(`${SESSION}:${session.accountId}`, session.identitySecret),
    };
    await put(SESSION, record);
  }

  async clear(): Promise<void> {
    await forgetEverything();
  }
}

/** Family trust state and live cursors of this browser profile, sealed under the device key. */
export class IndexedDbKeyStore implements KeyStore {
  async loadFamily(familyId: string): Promise<FamilyState | undefined> {
    const json = await getSealedJson<FamilyStateJson>(FAMILY_PREFIX + familyId);
    if (json === undefined) return undefined;
    try {
      return familyStateFromJson(json);
    } catch {
      return undefined;
    }
  }

  async saveFamily(state: FamilyState): Promise<void> {
    await putSealedJson(FAMILY_PREFIX + state.familyId, familyStateToJson(state));
  }

  async forgetFamily(familyId: string): Promise<void> {
    await remove(FAMILY_PREFIX + familyId);
  }

  async listFamilies(): Promise<string[]> {
    return (await keysWithPrefix(FAMILY_PREFIX)).map((key) => key.slice(FAMILY_PREFIX.length));
  }

  async loadCursors(): Promise<Record<string, string>> {
    return (await getSealedJson<Record<string, string>>(CURSORS)) ?? {};
  }

  async saveCursors(cursors: Record<string, string>): Promise<void> {
    await putSealedJson(CURSORS, cursors);
  }
}
