/**
 * Where the virtual toy keeps itself between page loads: one IndexedDB database of this origin,
 * `burrow-virtual-toy`. Every record is sealed (AES-256-GCM) under a device key that is a
 * non-extractable WebCrypto key, with the record's name as additional data: the roster chain and
 * family keys it trusts, its inbox, envelopes and queued replies, and its device record (whose
 * token and identity secret are sealed once more under their own labels). In memory the identity's
 * Ed25519 and X25519 keys are non-extractable CryptoKeys. Nothing goes to localStorage or a URL.
 *
 * What the sealing does and does not do, exactly as for the family app (src/web/lib/browser-stores.ts):
 * a copy of the records without the device key opens nothing, but script running on this origin can
 * use the key (not read it) and so open every record, and Chromium keeps the key's bytes in the
 * profile's IndexedDB files. Signing out of the family app in this browser deletes this database
 * too (`deleteVirtualToyDatabase`), and an open toy page lets go of it and starts over, so nothing
 * of a toy stays readable here after sign-out. The toy on its own origin would keep the app's
 * script from it altogether; it shares the app's origin today (docs/threat-model.md).
 */

/** The toy's database name; the family app deletes it at sign-out (lib/browser-stores.ts spells it too). */
export const VIRTUAL_TOY_DB = 'burrow-virtual-toy';
const STORE = 'state';
const DEVICE_KEY = 'device-key';

let opening: Promise<IDBDatabase> | undefined;
/** Set when the family app signed out and deleted the database: nothing here opens it again. */
let signedOut = false;

function database(): Promise<IDBDatabase> {
  // A round still in flight when the app signed out (a live event, a download) would otherwise
  // create the database afresh and leave a device key or records behind until the page reloads.
  if (signedOut) return Promise.reject(new Error('the family app signed out on this device: the toy keeps nothing more here'));
  opening ??= new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(VIRTUAL_TOY_DB, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(STORE);
    };
    request.onsuccess = () => {
      const db = request.result;
      // The family app signed out and deletes this database: let go of it, forget the device in
      // memory too (a fresh page), so the toy's secrets do not outlive the sign-out here.
      db.onversionchange = () => {
        signedOut = true;
        db.close();
        opening = undefined;
        if (typeof location !== 'undefined' && location.pathname.startsWith('/toy')) location.reload();
      };
      resolve(db);
    };
    request.onerror = () => reject(request.error ?? new Error('IndexedDB did not open'));
    request.onblocked = () => reject(new Error('IndexedDB is blocked by another tab of the toy'));
  }).catch((error: unknown) => {
    opening = undefined;
    throw error;
  });
  return opening;
}

function run<T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest<T> | undefined): Promise<T | undefined> {
  return database().then(
    (db) =>
      new Promise<T | undefined>((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const request = act(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(request?.result);
        tx.onerror = () => reject(tx.error ?? new Error('IndexedDB failed'));
        tx.onabort = () => reject(tx.error ?? new Error('IndexedDB aborted'));
      }),
  );
}

/** A sealed secret or record: AES-256-GCM under the toy's device key, bound to what it is (`label`). */
export interface SealedSecret {
  iv: Uint8Array;
  ciphertext: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The toy's device key: AES-256-GCM, generated in this browser as non-extractable and kept in
 * IndexedDB as a CryptoKey, so script can seal and open with it but no one can read it out.
 */
async function deviceKey(): Promise<CryptoKey> {
  const existing = await run<CryptoKey>('readonly', (store) => store.get(DEVICE_KEY) as IDBRequest<CryptoKey>);
  if (existing instanceof CryptoKey) return existing;
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  await run('readwrite', (store) => store.put(key, DEVICE_KEY));
  return key;
}

/**
 * Seals a secret that cannot itself be a non-extractable CryptoKey (the identity's secret, whose
 * X-Wing part is no WebCrypto key; the device token; every stored record) under the device key.
 * Nonce: 96 random bits per seal; a toy seals a few records per message, far below GCM's 2^32 limit
 * for random nonces under one key.
 */
export async function sealSecret(label: string, secret: Uint8Array): Promise<SealedSecret> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: encoder.encode(`burrow/virtual-toy/${label}`) }, await deviceKey(), secret.slice());
  return { iv, ciphertext: new Uint8Array(ciphertext) };
}

/** Opens `sealSecret` output; undefined when it does not open (another device key, damaged). */
export async function openSecret(label: string, sealed: SealedSecret): Promise<Uint8Array | undefined> {
  if (!(sealed?.iv instanceof Uint8Array) || !(sealed.ciphertext instanceof Uint8Array)) return undefined;
  try {
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv.slice(), additionalData: encoder.encode(`burrow/virtual-toy/${label}`) }, await deviceKey(), sealed.ciphertext.slice());
    return new Uint8Array(plain);
  } catch {
    return undefined;
  }
}

// Records are JSON with byte arrays tagged, so that they can be sealed as bytes.
const BYTES_TAG = '\u0000bytes';

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function encodeRecord(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value, (_key, v: unknown) => (v instanceof Uint8Array ? { [BYTES_TAG]: toBase64(v) } : v)));
}

function decodeRecord(bytes: Uint8Array): unknown {
  return JSON.parse(decoder.decode(bytes), (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)[BYTES_TAG] === 'string') return Uint8Array.from(atob((v as Record<string, string>)[BYTES_TAG]!), (c) => c.charCodeAt(0));
    return v;
  });
}

/** The toy's persistent store: plain values (bytes, plain objects), each record sealed under the device key. */
export const toyStore = {
  /** The record `key`, opened; undefined when absent or when it does not open. */
  async get<T>(key: string): Promise<T | undefined> {
    const sealed = await run<SealedSecret>('readonly', (store) => store.get(`record:${key}`) as IDBRequest<SealedSecret>);
    if (sealed === undefined) return undefined;
    const bytes = await openSecret(`record/${key}`, sealed);
    if (bytes === undefined) return undefined;
    try {
      return decodeRecord(bytes) as T;
    } catch {
      return undefined;
    }
  },
  /** Seals `value` and stores it as `key`. */
  async put(key: string, value: unknown): Promise<void> {
    const sealed = await sealSecret(`record/${key}`, encodeRecord(value));
    await run('readwrite', (store) => store.put(sealed, `record:${key}`));
  },
  /** Deletes the record `key`. */
  async delete(key: string): Promise<void> {
    await run('readwrite', (store) => store.delete(`record:${key}`));
  },
  /** Forgets everything: the device key first (every sealed record with it), then the records. */
  async clear(): Promise<void> {
    await run('readwrite', (store) => store.delete(DEVICE_KEY));
    await run('readwrite', (store) => store.clear());
  },
};
