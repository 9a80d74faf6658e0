/**
 * Where the virtual toy keeps itself between page loads: one IndexedDB database of this origin.
 * Its identity's secret and its device token are stored sealed under a device key that is a
 * non-extractable WebCrypto key (IndexedDB keeps CryptoKey objects as they are: script can use
 * them but never read them); in memory the identity's Ed25519 and X25519 keys are non-extractable
 * CryptoKeys too. The roster chain it trusts, the family keys it unwrapped, its inbox and its
 * queued replies are kept as they are: they are the toy's secrets, as the reference toy's 0600
 * state files are. Nothing goes to localStorage or into a URL.
 */

const DB_NAME = 'burrow-virtual-toy';
const STORE = 'state';

let opening: Promise<IDBDatabase> | undefined;

function database(): Promise<IDBDatabase> {
  opening ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(STORE);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB did not open'));
    request.onblocked = () => reject(new Error('IndexedDB is blocked by another tab of the toy'));
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

/** The toy's persistent key-value store (structured-clone values: bytes, CryptoKeys, plain objects). */
export const toyStore = {
  get<T>(key: string): Promise<T | undefined> {
    return run<T>('readonly', (store) => store.get(key) as IDBRequest<T>);
  },
  async put(key: string, value: unknown): Promise<void> {
    await run('readwrite', (store) => store.put(value, key));
  },
  async delete(key: string): Promise<void> {
    await run('readwrite', (store) => store.delete(key));
  },
  /** Forgets everything: keys, token, messages, queue. */
  async clear(): Promise<void> {
    await run('readwrite', (store) => store.clear());
  },
};

/** A sealed secret: AES-256-GCM under the toy's device key, bound to what it is (`label`). */
export interface SealedSecret {
  iv: Uint8Array;
  ciphertext: Uint8Array;
}

const encoder = new TextEncoder();

/**
 * The toy's device key: AES-256-GCM, generated in this browser as non-extractable and kept in
 * IndexedDB as a CryptoKey, so script can seal and open with it but no one can read it out.
 */
async function deviceKey(): Promise<CryptoKey> {
  const existing = await toyStore.get<CryptoKey>('device-key');
  if (existing !== undefined) return existing;
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  await toyStore.put('device-key', key);
  return key;
}

/**
 * Seals a secret that cannot itself be a non-extractable CryptoKey (the identity's secret, whose
 * X-Wing part is no WebCrypto key; the device token) under the device key. Nonce: 96 random bits
 * per seal, far below GCM's limit for the handful of seals a toy makes.
 */
export async function sealSecret(label: string, secret: Uint8Array): Promise<SealedSecret> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: encoder.encode(`burrow/virtual-toy/${label}`) }, await deviceKey(), secret.slice());
  return { iv, ciphertext: new Uint8Array(ciphertext) };
}

/** Opens `sealSecret` output; undefined when it does not open (another device key, damaged). */
export async function openSecret(label: string, sealed: SealedSecret): Promise<Uint8Array | undefined> {
  try {
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv.slice(), additionalData: encoder.encode(`burrow/virtual-toy/${label}`) }, await deviceKey(), sealed.ciphertext.slice());
    return new Uint8Array(plain);
  } catch {
    return undefined;
  }
}
