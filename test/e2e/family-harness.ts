/**
 * Factories for family end-to-end tests. They live in test/support/members.ts, the one set of
 * test-member types; this module keeps the older import path working.
 */
export { recordLive, registerMember, registerSignInMember, sameStretchingAs, wavWith, type TestMember } from '../support/members.js';
