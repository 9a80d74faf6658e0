/** The end-to-end crypto core: pure, isomorphic, no I/O. */
export * from './result.js';
export * from './kdf.js';
export * from './aead.js';
export * from './identity.js';
