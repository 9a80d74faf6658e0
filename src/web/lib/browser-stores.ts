/**
 * The browser's KeyStore and SessionStore, on IndexedDB.
 *
 * What is kept, and why only this:
 * - A device key: an AES-256-GCM CryptoKey generated here as NON-extractable and stored as a
 *   CryptoKey object (IndexedDB keeps it by structured clone). What that protects, exactly:
 *   - It does: no script can read the key's bytes through WebCrypto (exportKey refuses), so the
 *     sealed records are useless to anything that gets the records without the key (a synced or
 *     backed-up copy of the records alone, a bug that leaks a record), and signing out deletes the
 *     key with the whole database.
 *   - It does not: script running on this origin (an XSS, a malicious extension, a document of this
 *     origin built from a message) can USE the key while it runs and so open every record here —
 *     the identity secret and the family keys — and send them away. And Chromium writes the key's
 *     bytes into the profile's IndexedDB files in the clear: whoever copies the browser profile (a
 *     backup, a stolen unlocked laptop, malware) opens the identity offline, without the password,
 *     and so does a copy taken before sign-out, or made of disk blocks the sign-out freed.
 *   Not chosen: wrapping the identity under a key derived from OPAQUE's export key, which a copied
 *   profile could not open without the password. The export key exists only at sign-in, so every
 *   reload and every new tab would have to ask for the password again; a phone-first app that does
 *   that gets its password saved in the browser, on the same profile. docs/threat-model.md says
 *   what holds against a malicious family member with script in the app.
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
 * (crypto-shredding every sealed record even if a delete fails), then the records, then the whole
 * database, and the virtual toy's database of this origin with it (src/web/toy/toy-store.ts). A reload
 * resumes from the session record; the server's cookie decides whether it is still valid.
 */
import { fromUtf8, utf8 } from '../../crypto/index.js';
import { type FamilyState, type FamilyStateJson, type KeyStore, familyStateFromJson, familyStateToJson, type SessionStore, type StoredSession } from '../../client/index.js';

const DB_NAME = 'burrow';
/** The virtual toy's database on this origin (src/web/toy/toy-store.ts), deleted at sign-out too. */
const VIRTUAL_TOY_DB = 'burrow-virtual-toy';
const DB_VERSION = 1;
const STORE = 'records';
const DEVICE_KEY = 'device-key';
const SESSION = 'session';
const CURSORS = 'cursors';
const DISPLAY_NAME = 'display-name';
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
    request.onsuccess = () => {
      const db = request.result;
      // Another tab signs out and deletes the database: let go of it so the deletion goes ahead.
      db.onversionchange = () => {
        db.close();
        opening = undefined;
        deviceKey = undefined;
      };
      resolve(db);
    };
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

/** Counts sign-outs in this page: a write begun before one is dropped after it. */
let generation = 0;

/**
 * Seals and stores `bytes` as `name` only under the device key that exists now, never a new one,
 * and not at all if a sign-out happened meanwhile (a request that finishes after sign-out must
 * not leave a record, nor a key, behind).
 */
async function putIfSignedIn(name: string, bytes: Uint8Array): Promise<void> {
  const started = generation;
  const key = await get<CryptoKey>(DEVICE_KEY);
  if (!(key instanceof CryptoKey) || started !== generation) return;
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: utf8(name) as Uint8Array<ArrayBuffer> }, key, bytes as Uint8Array<ArrayBuffer>);
  if (started !== generation) return;
  await put(name, { iv, ciphertext } satisfies Sealed);
}

/** Stores bytes sealed under the device key as the record `name` (for the offline copies and outbox); nothing once signed out. */
export async function putSealedBytes(name: string, bytes: Uint8Array): Promise<void> {
  await putIfSignedIn(name, bytes);
}

/** The bytes of the sealed record `name`; undefined when absent or when it does not open. */
export async function getSealedBytes(name: string): Promise<Uint8Array | undefined> {
  const sealed = await get<Sealed>(name);
  return sealed === undefined ? undefined : open(name, sealed);
}

/** Deletes the record `name`. */
export async function deleteRecord(name: string): Promise<void> {
  await remove(name);
}

/** The names of the records starting with `prefix`. */
export async function recordNames(prefix: string): Promise<string[]> {
  return keysWithPrefix(prefix);
}

/** Stores a JSON value sealed under the device key as the record `name`; nothing once signed out. */
export async function putSealedRecord(name: string, value: unknown): Promise<void> {
  await putIfSignedIn(name, utf8(JSON.stringify(value)));
}

/** The JSON value of the sealed record `name`, if it opens (never makes a device key). */
export async function getSealedRecord<T>(name: string): Promise<T | undefined> {
  if ((await get<Sealed>(name)) === undefined) return undefined;
  return getSealedJson<T>(name);
}

/** An invite link opened on this device and not used yet (sealed like every other record). */
const INVITE_LINK = 'invite-link';
/** How long an opened, unused invite link is kept for (no invite lives longer). */
const INVITE_LINK_KEPT_MS = 14 * 24 * 60 * 60 * 1000;

/**
 * Keeps an invite link this device opened until it is used, so closing the tab halfway (while
 * creating the account, say) does not lose it: sealed under the device key, never in Web Storage.
 */
export async function keepInviteLink(link: string): Promise<void> {
  await putSealedJson(INVITE_LINK, { link, keptAt: Date.now() });
}

/** The invite link this device opened and has not used, if any (and not older than an invite lives). */
export async function keptInviteLink(): Promise<string | undefined> {
  const kept = await getSealedJson<{ link?: unknown; keptAt?: unknown }>(INVITE_LINK);
  if (kept === undefined || typeof kept.link !== 'string' || typeof kept.keptAt !== 'number') return undefined;
  if (Date.now() - kept.keptAt > INVITE_LINK_KEPT_MS) {
    await remove(INVITE_LINK);
    return undefined;
  }
  return kept.link;
}

/** Forgets the kept invite link (used, or set aside by the person). */
export async function forgetInviteLink(): Promise<void> {
  await remove(INVITE_LINK);
}

/**
 * Deletes a database. Other tabs holding it close it when asked (`onversionchange`); if one does
 * not, the deletion waits for it in the browser and this returns once it is queued ('blocked').
 */
function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onblocked = () => resolve();
    request.onerror = () => reject(request.error ?? new Error('IndexedDB did not delete'));
  });
}

const PREFERENCE_PREFIX = 'preference:';

/** A small, non-secret choice of this browser's user (e.g. a dismissed checklist); forgotten on sign-out with the rest. */
export async function loadPreference(name: string): Promise<boolean> {
  return (await get<boolean>(`${PREFERENCE_PREFIX}${name}`)) === true;
}

export async function savePreference(name: string, value: boolean): Promise<void> {
  await put(`${PREFERENCE_PREFIX}${name}`, value);
}

/**
 * Everything signed-in on this browser, forgotten: the device key first, then every record, then
 * the database itself, and the virtual toy's database of this origin.
 */
export async function forgetEverything(): Promise<void> {
  generation++;
  const db = await database();
  await remove(DEVICE_KEY);
  deviceKey = undefined;
  await promised(db.transaction(STORE, 'readwrite').objectStore(STORE).clear());
  db.close();
  opening = undefined;
  await deleteDatabase(DB_NAME);
  await deleteDatabase(VIRTUAL_TOY_DB);
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

  /** The name this person chose at sign-up or join, offered (editable) when they create or join a family on this device. */
  async loadDisplayName(): Promise<string | undefined> {
    const json = await getSealedJson<{ name?: unknown }>(DISPLAY_NAME);
    return typeof json?.name === 'string' ? json.name : undefined;
  }

  async saveDisplayName(name: string): Promise<void> {
    await putSealedJson(DISPLAY_NAME, { name });
  }
}
