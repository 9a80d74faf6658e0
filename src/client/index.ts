/** Burrow's client library: the one entry point the web app, the toy and the CLI import. */
export * from './api.js';
export * from './account.js';
export * from './password-policy.js';
export * from './recovery-code.js';
export * from './session-store.js';
export * from './client-error.js';
export * from './key-store.js';
export * from './families.js';
export * from './invites.js';
export * from './children.js';
export * from './messages.js';
export * from './receipts.js';
export * from './live.js';
export * from './vault.js';
export * from './toys.js';
export * from './toy-runtime.js';
export * from './transport.js';
