/** The end-to-end crypto core: pure, isomorphic, no I/O. */
export * from './result.js';
export * from './kdf.js';
export * from './aead.js';
export * from './identity.js';
export * from './canonical.js';
export * from './signature.js';
export * from './roster.js';
export * from './family-key.js';
export * from './key-commitment.js';
export * from './envelope.js';
export * from './profile.js';
export * from './invite.js';
export * from './cpace.js';
export * from './pairing.js';
export * from './xwing.js';
export * from './vault.js';
