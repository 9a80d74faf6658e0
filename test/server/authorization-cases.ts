/**
 * The authorisation cases of every authenticated route, keyed `'METHOD /path'` exactly as the route
 * registry records it. test/adversarial/authorization-matrix.test.ts fails for any authenticated route
 * that has no entry here, and runs every case against one seeded world (plus an expired session, a
 * revoked toy and another family's toy, whose expectations follow from each route's declaration):
 *
 * - `anonymous`: no session → 401.
 * - `otherFamily`: a guardian of another family reaching family A's ids → 404 (existence is not leaked).
 * - `relativeBeyondChildren`: a relative of A going past the children they were given → 404 for a
 *   child outside their set, 403 for a guardian-only action on what they can see.
 * - `removedMember`: someone removed from A's roster → 404, at once.
 *
 * A case that cannot apply to a route says why (`notApplicable`), so the reason is reviewed with it.
 * Features add their routes' entries here (e.g. messages: build what a case needs inside `request`).
 */
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { sealMessage } from '../../src/crypto/envelope.js';
import { hashRosterEntry } from '../../src/crypto/roster.js';
import { b64, startTestServer, type TestServer } from './helpers.js';
import {
  addChild,
  appendBody,
  appendEntry,
  createFamily,
  createFamilyBody,
  createInvite,
  join,
  newClientId,
  newPerson,
  sealedChild,
  type Person,
  type TestFamily,
} from './families/fixtures.js';
import { startAttempt } from './toys/fixtures.js';
import { sealingKey } from '../support/scope-keys.js';

export type Caller = 'anonymous' | 'otherFamily' | 'relativeBeyondChildren' | 'removedMember';
export const CALLERS: readonly Caller[] = ['anonymous', 'otherFamily', 'relativeBeyondChildren', 'removedMember'];

/** The seeded world every case runs in. */
export interface AuthzWorld {
  server: TestServer;
  /** Family A: `guardian`, and `relative` limited to `relativeChild`; `removed` was a relative and was removed. */
  family: TestFamily;
  guardian: Person;
  relative: Person;
  removed: Person;
  relativeChild: string;
  /** A child of A that the relative was not given. */
  otherChild: string;
  /** An open invite of A. */
  inviteId: string;
  /** Family B and its guardian. */
  otherFamily: TestFamily;
  otherGuardian: Person;
}

export interface CaseRequest {
  url: string;
  payload?: unknown;
}

export type Expectation =
  | { status: number; check?: (answer: LightMyRequestResponse, world: AuthzWorld) => void | Promise<void> }
  | { notApplicable: string };

export interface RouteAuthorization {
  /** The request for this route aimed at family A's objects, as `caller` would send it. */
  request(world: AuthzWorld, caller: Caller): CaseRequest | Promise<CaseRequest>;
  /** Sends the request another way (e.g. a WebSocket upgrade); default: `app.inject`. */
  send?(world: AuthzWorld, request: CaseRequest, options: { headers: Record<string, string>; method: string; caller: Caller }): Promise<LightMyRequestResponse>;
  cases: Record<Caller, Expectation>;
}

/** The person behind a caller (undefined for anonymous). */
export function personOf(world: AuthzWorld, caller: Caller): Person | undefined {
  switch (caller) {
    case 'anonymous':
      return undefined;
    case 'otherFamily':
      return world.otherGuardian;
    case 'relativeBeyondChildren':
      return world.relative;
    case 'removedMember':
      return world.removed;
  }
}

/** Seeds the world: family A with a guardian, a limited relative, a removed relative, two children and an open invite; family B. */
export async function seedAuthzWorld(): Promise<AuthzWorld> {
  const server = await startTestServer();
  const app = server.app;
  const [guardian, relative, removed, otherGuardian] = await Promise.all([newPerson(app), newPerson(app), newPerson(app), newPerson(app)]);
  const family = await createFamily(app, guardian);
  const relativeChild = await addChild(app, family, guardian);
  const otherChild = await addChild(app, family, guardian);
  await join(app, family, guardian, relative, { role: 'relative', children: [relativeChild], needsApproval: false });
  await join(app, family, guardian, removed, { role: 'relative', children: [relativeChild], needsApproval: false });
  const head = family.chain[family.chain.length - 1]!;
  const removal = await appendEntry(app, family, guardian, head.members.filter((m) => m.accountId !== removed.accountId));
  if (removal.statusCode !== 201) throw new Error(`removal answered ${removal.statusCode}`);
  const inviteId = await createInvite(app, family, guardian, { role: 'guardian', children: [], needsApproval: false });
  const otherFamily = await createFamily(app, otherGuardian);
  await addChild(app, otherFamily, otherGuardian);
  return { server, family, guardian, relative, removed, relativeChild, otherChild, inviteId, otherFamily, otherGuardian };
}

const unauthenticated: Expectation = { status: 401 };
const notFound: Expectation = { status: 404 };
const forbidden: Expectation = { status: 403 };
const ownAccountOnly: Expectation = { notApplicable: 'acts on the caller’s own account or sessions, never on a family' };

function familyIdsOf(answer: LightMyRequestResponse): string[] {
  return answer.json<{ families: Array<{ familyId: string }> }>().families.map((f) => f.familyId);
}

function childIdsOf(answer: LightMyRequestResponse): string[] {
  return answer.json<{ children: Array<{ childId: string }> }>().children.map((c) => c.childId);
}

const A = (world: AuthzWorld) => `/v1/families/${world.family.familyId}`;

/** A real envelope from `sender` (any person, member or not) into family A at its head epoch. */
async function envelopeInA(world: AuthzWorld, sender: Person, recipients: string[]): Promise<{ messageId: string; bytes: Uint8Array }> {
  const epoch = world.family.chain.length - 1;
  const sealed = await sealMessage({
    familyId: world.family.familyId,
    epoch,
    rosterHead: await hashRosterEntry(world.family.chain[epoch]!),
    ...sealingKey(world.family.chain[epoch]!, world.family.keys, sender.accountId, recipients),
    sender: { accountId: sender.accountId, identity: sender.identity },
    recipients,
    audio: randomBytes(500),
    audioType: 'audio/webm',
    durationMs: 1000,
    createdAt: 1_700_000_000_000,
  });
  return { messageId: toBase64Url(sealed.header.messageId), bytes: sealed.bytes };
}

const guardianMessages = new WeakMap<AuthzWorld, string>();
/** The id of a message the guardian sent to the child the relative was not given (uploaded once per world). */
async function messageToOtherChild(world: AuthzWorld): Promise<string> {
  const known = guardianMessages.get(world);
  if (known !== undefined) return known;
  const { messageId, bytes } = await envelopeInA(world, world.guardian, [world.otherChild]);
  const answer = await world.server.app.inject({ method: 'POST', url: `${A(world)}/messages`, headers: { authorization: `Bearer ${world.guardian.token}`, 'content-type': 'application/octet-stream' }, payload: Buffer.from(bytes) });
  if (answer.statusCode !== 201) throw new Error(`seeding a message answered ${answer.statusCode}: ${answer.body}`);
  guardianMessages.set(world, messageId);
  return messageId;
}

/** A request about the guardian's message to the other child. */
function aboutMessage(suffix: string, payload?: unknown) {
  return async (world: AuthzWorld): Promise<CaseRequest> => ({ url: `${A(world)}/messages/${await messageToOtherChild(world)}${suffix}`, ...(payload === undefined ? {} : { payload }) });
}

/** Every member case of a route about the guardian's message to the other child: nobody but A's guardians may reach it. */
const messageCases: Record<Caller, Expectation> = { anonymous: { status: 401 }, otherFamily: { status: 404 }, relativeBeyondChildren: { status: 404 }, removedMember: { status: 404 } };

const guardianRuns = new WeakMap<AuthzWorld, string>();
/** A pairing run family A's guardian started (once per world), waiting for its toy. */
async function runOfGuardian(world: AuthzWorld): Promise<string> {
  const known = guardianRuns.get(world);
  if (known !== undefined) return known;
  const toy = await startAttempt(world.server.app);
  const answer = await world.server.app.inject({
    method: 'POST',
    url: `${A(world)}/pairings`,
    headers: { authorization: `Bearer ${world.guardian.token}` },
    payload: { slot: toy.started.slot, childId: world.otherChild, sessionId: b64(16), guardianShare: b64(40) },
  });
  if (answer.statusCode !== 201) throw new Error(`seeding a run answered ${answer.statusCode}: ${answer.body}`);
  const runId = answer.json<{ runId: string }>().runId;
  guardianRuns.set(world, runId);
  return runId;
}

/** A request about the guardian's pairing run. */
function aboutRun(suffix: string, payload?: unknown) {
  return async (world: AuthzWorld): Promise<CaseRequest> => ({ url: `${A(world)}/pairings/${await runOfGuardian(world)}${suffix}`, ...(payload === undefined ? {} : { payload }) });
}

/** Only the guardian who started a run reaches it: relatives are refused as for any guardian-only route, the others see nothing. */
const runCases: Record<Caller, Expectation> = { anonymous: { status: 401 }, otherFamily: { status: 404 }, relativeBeyondChildren: { status: 403 }, removedMember: { status: 404 } };

function messageIdsOf(answer: LightMyRequestResponse): string[] {
  return answer.json<{ messages: Array<{ messageId: string }> }>().messages.map((m) => m.messageId);
}

export const authorizationCases: Record<string, RouteAuthorization> = {
  // Accounts and sessions: not family-scoped; only the caller's own.
  'POST /v1/accounts/logout': { request: () => ({ url: '/v1/accounts/logout' }), cases: { anonymous: unauthenticated, otherFamily: ownAccountOnly, relativeBeyondChildren: ownAccountOnly, removedMember: ownAccountOnly } },
  'GET /v1/accounts/me': { request: () => ({ url: '/v1/accounts/me' }), cases: { anonymous: unauthenticated, otherFamily: ownAccountOnly, relativeBeyondChildren: ownAccountOnly, removedMember: ownAccountOnly } },
  'DELETE /v1/accounts/me': { request: () => ({ url: '/v1/accounts/me', payload: { confirm: 'delete my account' } }), cases: { anonymous: unauthenticated, otherFamily: ownAccountOnly, relativeBeyondChildren: ownAccountOnly, removedMember: ownAccountOnly } },
  // The vault routes name no account: each caller reaches only their own vault, so the cross-account cases cannot apply.
  'GET /v1/accounts/me/vault': { request: () => ({ url: '/v1/accounts/me/vault' }), cases: { anonymous: unauthenticated, otherFamily: ownAccountOnly, relativeBeyondChildren: ownAccountOnly, removedMember: ownAccountOnly } },
  'PUT /v1/accounts/me/vault': { request: () => ({ url: '/v1/accounts/me/vault', payload: { revision: 1, sealed: `AQ${'A'.repeat(54)}` } }), cases: { anonymous: unauthenticated, otherFamily: ownAccountOnly, relativeBeyondChildren: ownAccountOnly, removedMember: ownAccountOnly } },
  // Push subscriptions name no account either: each caller lists and deletes only their own (a stranger's id is 404, test/server/push).
  'GET /v1/accounts/me/push-subscriptions': { request: () => ({ url: '/v1/accounts/me/push-subscriptions' }), cases: { anonymous: unauthenticated, otherFamily: ownAccountOnly, relativeBeyondChildren: ownAccountOnly, removedMember: ownAccountOnly } },
  'POST /v1/accounts/me/push-subscriptions': {
    request: () => ({ url: '/v1/accounts/me/push-subscriptions', payload: { endpoint: 'https://push.example.com/send/abc', keys: { p256dh: `BA${'A'.repeat(85)}`, auth: 'A'.repeat(22) } } }),
    cases: { anonymous: unauthenticated, otherFamily: ownAccountOnly, relativeBeyondChildren: ownAccountOnly, removedMember: ownAccountOnly },
  },
  'DELETE /v1/accounts/me/push-subscriptions/:subscriptionId': { request: () => ({ url: `/v1/accounts/me/push-subscriptions/${b64(16)}` }), cases: { anonymous: unauthenticated, otherFamily: ownAccountOnly, relativeBeyondChildren: ownAccountOnly, removedMember: ownAccountOnly } },
  'GET /v1/sessions': { request: () => ({ url: '/v1/sessions' }), cases: { anonymous: unauthenticated, otherFamily: ownAccountOnly, relativeBeyondChildren: ownAccountOnly, removedMember: ownAccountOnly } },
  'DELETE /v1/sessions/:sessionId': {
    // Someone else's session (the guardian's) is 404 to every other caller.
    request: (world) => ({ url: `/v1/sessions/${world.guardian.sessionId}` }),
    cases: { anonymous: unauthenticated, otherFamily: notFound, relativeBeyondChildren: notFound, removedMember: notFound },
  },
  'POST /v1/sessions/revoke-all': { request: () => ({ url: '/v1/sessions/revoke-all' }), cases: { anonymous: unauthenticated, otherFamily: ownAccountOnly, relativeBeyondChildren: ownAccountOnly, removedMember: ownAccountOnly } },

  // Families and the roster.
  'POST /v1/families': {
    request: async (world, caller) => ({ url: '/v1/families', payload: (await createFamilyBody(personOf(world, caller) ?? world.guardian)).body }),
    cases: {
      anonymous: unauthenticated,
      otherFamily: { notApplicable: 'creates a new family; there is no existing object to reach' },
      relativeBeyondChildren: { notApplicable: 'creates a new family; there is no existing object to reach' },
      removedMember: { notApplicable: 'creates a new family; there is no existing object to reach' },
    },
  },
  'GET /v1/families': {
    request: () => ({ url: '/v1/families' }),
    cases: {
      anonymous: unauthenticated,
      otherFamily: { status: 200, check: (answer, world) => { expect(familyIdsOf(answer)).toEqual([world.otherFamily.familyId]); } },
      relativeBeyondChildren: { status: 200, check: (answer, world) => { expect(familyIdsOf(answer)).toEqual([world.family.familyId]); } },
      removedMember: { status: 200, check: (answer) => { expect(familyIdsOf(answer)).toEqual([]); } },
    },
  },
  'GET /v1/families/:familyId': {
    request: (world) => ({ url: A(world) }),
    cases: {
      anonymous: unauthenticated,
      otherFamily: notFound,
      relativeBeyondChildren: { status: 200, check: (answer, world) => { expect(childIdsOf(answer)).toEqual([world.relativeChild]); } },
      removedMember: notFound,
    },
  },
  'GET /v1/families/:familyId/roster': {
    request: (world) => ({ url: `${A(world)}/roster` }),
    cases: { anonymous: unauthenticated, otherFamily: notFound, relativeBeyondChildren: { notApplicable: 'every member may read the whole roster: it is what they verify' }, removedMember: notFound },
  },
  'POST /v1/families/:familyId/roster': {
    request: async (world) => ({ url: `${A(world)}/roster`, payload: (await appendBody(world.family, world.guardian, world.family.chain[world.family.chain.length - 1]!.members)).body }),
    cases: { anonymous: unauthenticated, otherFamily: notFound, relativeBeyondChildren: forbidden, removedMember: notFound },
  },
  'DELETE /v1/families/:familyId': {
    request: (world) => ({ url: A(world), payload: { confirm: 'delete this family' } }),
    cases: { anonymous: unauthenticated, otherFamily: notFound, relativeBeyondChildren: forbidden, removedMember: notFound },
  },
  'GET /v1/families/:familyId/log': {
    request: (world) => ({ url: `${A(world)}/log` }),
    cases: { anonymous: unauthenticated, otherFamily: notFound, relativeBeyondChildren: forbidden, removedMember: notFound },
  },
  'POST /v1/families/:familyId/log/refusals': {
    request: (world) => ({ url: `${A(world)}/log/refusals`, payload: { code: 'family-key/commitment-mismatch', epoch: 1 } }),
    cases: {
      anonymous: unauthenticated,
      otherFamily: notFound,
      relativeBeyondChildren: { notApplicable: 'every member and toy of the family may report what its own device refused; it names no child' },
      removedMember: notFound,
    },
  },

  // Children.
  'GET /v1/families/:familyId/children': {
    request: (world) => ({ url: `${A(world)}/children` }),
    cases: {
      anonymous: unauthenticated,
      otherFamily: notFound,
      relativeBeyondChildren: { status: 200, check: (answer, world) => { expect(childIdsOf(answer)).toEqual([world.relativeChild]); } },
      removedMember: notFound,
    },
  },
  'POST /v1/families/:familyId/children': {
    request: async (world) => {
      const childId = newClientId();
      return { url: `${A(world)}/children`, payload: { childId, sealedProfile: await sealedChild(world.family, childId) } };
    },
    cases: { anonymous: unauthenticated, otherFamily: notFound, relativeBeyondChildren: forbidden, removedMember: notFound },
  },
  'PUT /v1/families/:familyId/children/:childId': {
    request: async (world) => ({ url: `${A(world)}/children/${world.otherChild}`, payload: { sealedProfile: await sealedChild(world.family, world.otherChild, 'Renamed') } }),
    cases: { anonymous: unauthenticated, otherFamily: notFound, relativeBeyondChildren: notFound, removedMember: notFound },
  },
  'PUT /v1/families/:familyId/profile': {
    request: async (world) => ({ url: `${A(world)}/profile`, payload: { sealedProfile: await sealedChild(world.family, world.relativeChild, 'Renamed') } }),
    cases: {
      anonymous: unauthenticated,
      otherFamily: notFound,
      relativeBeyondChildren: { notApplicable: "a member writes only their own profile: there is nothing beyond a relative's children to reach" },
      removedMember: notFound,
    },
  },
  'DELETE /v1/families/:familyId/children/:childId': {
    request: (world) => ({ url: `${A(world)}/children/${world.otherChild}` }),
    cases: { anonymous: unauthenticated, otherFamily: notFound, relativeBeyondChildren: notFound, removedMember: notFound },
  },

  // Invites.
  'POST /v1/families/:familyId/invites': {
    request: (world) => ({ url: `${A(world)}/invites`, payload: { inviteId: newClientId(), terms: { role: 'guardian', children: [], needsApproval: false }, guardianProof: b64(65) } }),
    cases: { anonymous: unauthenticated, otherFamily: notFound, relativeBeyondChildren: forbidden, removedMember: notFound },
  },
  'GET /v1/families/:familyId/invites': {
    request: (world) => ({ url: `${A(world)}/invites` }),
    cases: { anonymous: unauthenticated, otherFamily: notFound, relativeBeyondChildren: forbidden, removedMember: notFound },
  },
  'DELETE /v1/families/:familyId/invites/:inviteId': {
    request: (world) => ({ url: `${A(world)}/invites/${world.inviteId}` }),
    cases: { anonymous: unauthenticated, otherFamily: notFound, relativeBeyondChildren: forbidden, removedMember: notFound },
  },
  'GET /v1/invites/:inviteId': {
    // An unknown id: 404 to everyone signed in (a known one is readable by whoever holds its link).
    request: () => ({ url: `/v1/invites/${newClientId()}` }),
    cases: {
      anonymous: unauthenticated,
      otherFamily: notFound,
      relativeBeyondChildren: { notApplicable: 'an invite id is a 128-bit capability shared by link; holding it is the authorisation' },
      removedMember: notFound,
    },
  },
  'POST /v1/invites/:inviteId/accept': {
    request: () => ({ url: `/v1/invites/${newClientId()}/accept`, payload: { joinerProof: b64(32) } }),
    cases: {
      anonymous: unauthenticated,
      otherFamily: notFound,
      relativeBeyondChildren: { notApplicable: 'an invite id is a 128-bit capability shared by link; holding it is the authorisation' },
      removedMember: notFound,
    },
  },

  // Voice messages: the guardian's message to the child the relative was not given.
  'POST /v1/families/:familyId/messages': {
    request: () => ({ url: '' }),
    // Each caller uploads an envelope of their own, at A's head epoch, to the child the relative was not given.
    async send(world, _request, { headers, caller }) {
      const { bytes } = await envelopeInA(world, personOf(world, caller) ?? world.guardian, [world.otherChild]);
      return world.server.app.inject({ method: 'POST', url: `${A(world)}/messages`, headers: { ...headers, 'content-type': 'application/octet-stream' }, payload: Buffer.from(bytes) });
    },
    cases: messageCases,
  },
  'GET /v1/families/:familyId/messages': {
    request: async (world) => {
      await messageToOtherChild(world);
      return { url: `${A(world)}/messages` };
    },
    cases: {
      anonymous: unauthenticated,
      otherFamily: notFound,
      relativeBeyondChildren: { status: 200, check: async (answer, world) => { expect(messageIdsOf(answer)).not.toContain(await messageToOtherChild(world)); } },
      removedMember: notFound,
    },
  },
  'GET /v1/families/:familyId/messages/:messageId': { request: aboutMessage(''), cases: messageCases },
  'GET /v1/families/:familyId/messages/:messageId/envelope': { request: aboutMessage('/envelope'), cases: messageCases },
  'POST /v1/families/:familyId/messages/:messageId/receipts': { request: aboutMessage('/receipts', { kind: 'played', signedAt: 1, rosterEpoch: 0, rosterHead: toBase64Url(randomBytes(32)), signature: toBase64Url(randomBytes(64)) }), cases: messageCases },
  'POST /v1/families/:familyId/messages/:messageId/approvals': { request: aboutMessage('/approvals', { signature: toBase64Url(randomBytes(64)), rosterEpoch: 0, rosterHead: toBase64Url(randomBytes(32)) }), cases: messageCases },
  // Declines: a guardian's signed decision; the relative's 403 on a message they can see is in test/server/messages.
  'POST /v1/families/:familyId/messages/:messageId/declines': { request: aboutMessage('/declines', { signature: toBase64Url(randomBytes(64)), rosterEpoch: 0, rosterHead: toBase64Url(randomBytes(32)) }), cases: messageCases },
  'PUT /v1/families/:familyId/messages/:messageId/saved': { request: aboutMessage('/saved', { saved: true }), cases: messageCases },
  'DELETE /v1/families/:familyId/messages/:messageId': { request: aboutMessage(''), cases: messageCases },

  // Live events: one channel per account, carrying only the events of the caller's families.
  'GET /v1/live': {
    request: () => ({ url: '/v1/live' }),
    cases: {
      anonymous: unauthenticated,
      otherFamily: { notApplicable: 'not addressed to a family: the channel carries only the caller\'s own families\' events (test/server/live: a relative gets only their children\'s, a removed member stops getting events)' },
      relativeBeyondChildren: { notApplicable: 'not addressed to a family: which events a relative gets is tested in test/server/live' },
      removedMember: { notApplicable: 'not addressed to a family: a removed member stops getting events, tested in test/server/live' },
    },
  },

  // Toys: the guardian's side of the pairing relay, the family's toys, and the toy's own routes.
  'POST /v1/families/:familyId/pairings': {
    request: async (world) => {
      const toy = await startAttempt(world.server.app);
      return { url: `${A(world)}/pairings`, payload: { slot: toy.started.slot, childId: world.relativeChild, sessionId: b64(16), guardianShare: b64(40) } };
    },
    cases: { anonymous: unauthenticated, otherFamily: notFound, relativeBeyondChildren: forbidden, removedMember: notFound },
  },
  'GET /v1/families/:familyId/pairings/:runId': { request: aboutRun(''), cases: runCases },
  'POST /v1/families/:familyId/pairings/:runId/confirm': { request: aboutRun('/confirm', { guardianConfirm: b64(131) }), cases: runCases },
  'POST /v1/families/:familyId/pairings/:runId/fail': { request: aboutRun('/fail', {}), cases: runCases },
  'GET /v1/families/:familyId/toys': {
    request: (world) => ({ url: `${A(world)}/toys` }),
    cases: {
      anonymous: unauthenticated,
      otherFamily: notFound,
      relativeBeyondChildren: { status: 200, check: (answer, world) => { expect(answer.json<{ toys: Array<{ childId: string }> }>().toys.every((t) => t.childId === world.relativeChild)).toBe(true); } },
      removedMember: notFound,
    },
  },
  'PUT /v1/families/:familyId/toys/:toyId/profile': {
    request: (world) => ({ url: `${A(world)}/toys/${newClientId()}/profile`, payload: { sealedProfile: b64(40) } }),
    cases: { anonymous: unauthenticated, otherFamily: notFound, relativeBeyondChildren: forbidden, removedMember: notFound },
  },
  // The toy's own routes take a device token only: every session, whoever's, is 401 (test/server/toys covers toys).
  'GET /v1/toy': { request: () => ({ url: '/v1/toy' }), cases: { anonymous: unauthenticated, otherFamily: unauthenticated, relativeBeyondChildren: unauthenticated, removedMember: unauthenticated } },
  'POST /v1/toy/reset': { request: () => ({ url: '/v1/toy/reset', payload: {} }), cases: { anonymous: unauthenticated, otherFamily: unauthenticated, relativeBeyondChildren: unauthenticated, removedMember: unauthenticated } },
};
