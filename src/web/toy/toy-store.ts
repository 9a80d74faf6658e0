/**
 * Where the virtual toy keeps itself between page loads: one IndexedDB database of this origin.
 * Its identity's private keys are stored as non-extractable WebCrypto keys (IndexedDB keeps
 * CryptoKey objects as they are; script can use them but never read them). The device token,
 * the roster head it trusts, the family keys it unwrapped and its queued replies are kept as they
 * are: they are the toy's secrets, as the reference toy's 0600 state files are. Nothing goes to
 * localStorage or into a URL.
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
