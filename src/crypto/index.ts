/**
 * The end-to-end crypto core's public API: pure, isomorphic, no I/O. The operations of the protocol
 * (identities, rosters, key scopes and scope keys, envelopes, receipts, profiles, invites, pairing, vaults, the
 * family log) and the byte helpers they take and give. The primitives beneath them (AEAD,
 * canonical encoding, labelled signatures, CPace, X-Wing, WebCrypto access) stay inside src/crypto.
 */
export * from './result.js';
export * from './bytes.js';
export * from './kdf.js';
export * from './identity.js';
export * from './roster.js';
export * from './sealed-settings.js';
export * from './wrap-suites.js';
export * from './roster-head.js';
export * from './key-scopes.js';
export * from './scope-key.js';
export * from './envelope.js';
export * from './receipt.js';
export * from './profile.js';
export * from './invite.js';
export * from './invite-description.js';
export * from './pairing.js';
export * from './vault.js';
export * from './family-log.js';
