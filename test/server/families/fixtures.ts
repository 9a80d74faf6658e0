/**
 * Factories for the families tests: accounts whose registered keys are real identities, families
 * created with real signed genesis entries, children with real sealed profiles, invites, and
 * roster appends signed and wrapped with the crypto core.
 */
import * as opaque from '@serenity-kit/opaque';
import type { LightMyRequestResponse } from 'fastify';
import { randomBytes, toBase64Url } from '../../../src/crypto/bytes.js';
import { generateIdentity, type Identity } from '../../../src/crypto/identity.js';
import { profileScope, sealProfile } from '../../../src/crypto/profile.js';
import { FAMILY_SCOPE } from '../../../src/crypto/key-scopes.js';
import { appendRosterEntry, createGenesisEntry, encodeRosterEntry, type FamilySettings, type Member, type RosterEntry, type Toy } from '../../../src/crypto/roster.js';
import type { WrappedScopeKey } from '../../../src/crypto/scope-key.js';
import { wrapToWire, type ScopeKeys } from '../../../src/client/key-ring.js';
import { keyOfScope, planScopeKeys, ringOf, wrapsForEntry } from '../../support/scope-keys.js';
import type { BurrowApp } from '../../../src/server/http/types.js';
import { b64, bearer, post, sha256b64, TEST_KEY_STRETCHING } from '../helpers.js';

export const SETTINGS: FamilySettings = { volumeLimit: 80, retentionDays: 30 };

/** A signed-in account whose registered public keys are `identity`'s. */
export interface Person {
  accountId: string;
  sessionId: string;
  token: string;
  identity: Identity;
}

/** A family as its creating client knows it: the chain and every scope key of every generation. */
export interface TestFamily {
  familyId: string;
  chain: RosterEntry[];
  keys: ScopeKeys;
}

/** `scope`'s key as the entry of `epoch` (default: the head) names it. */
export function scopeKey(family: TestFamily, scope: string = FAMILY_SCOPE, epoch = family.chain.length - 1): Uint8Array {
  return keyOfScope(family.chain[epoch]!, family.keys, scope);
}

export function newClientId(): string {
  return toBase64Url(randomBytes(16));
}

/** Registers an account through the real OPAQUE flow, with a real identity's public keys. */
export async function newPerson(app: BurrowApp, options: { registrationPass?: string } = {}): Promise<Person> {
  await opaque.ready;
  const identity = await generateIdentity();
  const email = `person-${b64(6)}@example.org`;
  const password = `pw-${b64(9)}`;
  const pass = options.registrationPass === undefined ? {} : { registrationPass: options.registrationPass };
  const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({ password });
  const start = await post(app, '/v1/accounts/register/start', { email, registrationRequest, ...pass });
  if (start.statusCode !== 200) throw new Error(`register/start answered ${start.statusCode}`);
  const { registrationRecord } = opaque.client.finishRegistration({ clientRegistrationState, registrationResponse: start.json<{ registrationResponse: string }>().registrationResponse, password, keyStretching: TEST_KEY_STRETCHING });
  const finish = await post(app, '/v1/accounts/register/finish', {
    ...pass,
    email,
    registrationRecord,
    identity: identityWire(identity),
    sealedIdentity: b64(96),
    recoverySealedIdentity: b64(96),
    recoveryVerifier: sha256b64(b64(32)),
    tokenDelivery: 'bearer',
    sessionLabel: 'test',
  });
  if (finish.statusCode !== 201) throw new Error(`register/finish answered ${finish.statusCode}: ${finish.body}`);
  const body = finish.json<{ accountId: string; sessionId: string; token: string }>();
  return { accountId: body.accountId, sessionId: body.sessionId, token: body.token, identity };
}

/** An identity's public keys as registration sends them (with its X-Wing key, as new identities have one). */
export function identityWire(identity: Identity): { signingKey: string; agreementKey: string; kemKey?: string } {
  const wire: { signingKey: string; agreementKey: string; kemKey?: string } = { signingKey: toBase64Url(identity.publicKeys.signingKey), agreementKey: toBase64Url(identity.publicKeys.agreementKey) };
  if (identity.publicKeys.kemKey !== undefined) wire.kemKey = toBase64Url(identity.publicKeys.kemKey);
  return wire;
}

export function wireKeys(keys: readonly WrappedScopeKey[]) {
  return keys.map(wrapToWire);
}

export function memberOf(person: Person, role: Member['role'], extra: { children?: string[]; needsApproval?: boolean } = {}): Member {
  return { accountId: person.accountId, role, keys: person.identity.publicKeys, ...extra };
}

/** The body of POST /v1/families for `creator` (tests tamper with it). */
export async function createFamilyBody(creator: Person, familyId = newClientId()) {
  const scopeKeys = planScopeKeys(undefined, { members: [memberOf(creator, 'guardian')], toys: [] });
  const genesis = await createGenesisEntry({ familyId, creator: { accountId: creator.accountId, identity: creator.identity }, settings: SETTINGS, scopeKeys });
  const keys = ringOf(scopeKeys);
  const wrappedKeys = wireKeys(await wrapsForEntry(undefined, genesis, keys));
  const key = keyOfScope(genesis, keys);
  const sealedName = toBase64Url(await sealProfile({ familyId, epoch: 0, key, kind: 'family-name', objectId: familyId, data: { name: 'The Testers' }, signer: creator.identity }));
  return { body: { familyId, genesis: toBase64Url(encodeRosterEntry(genesis)), wrappedKeys, sealedName }, genesis, key, keys };
}

export async function createFamily(app: BurrowApp, creator: Person): Promise<TestFamily> {
  const { body, genesis, keys } = await createFamilyBody(creator);
  const answer = await post(app, '/v1/families', body, bearer(creator.token));
  if (answer.statusCode !== 201) throw new Error(`create family answered ${answer.statusCode}: ${answer.body}`);
  return { familyId: body.familyId, chain: [genesis], keys };
}

let profileSigner: Promise<Identity> | undefined;

/**
 * A child's sealed profile (under the child's scope once the head has one, family-wide before); the
 * server neither can nor does check its signer, so any identity signs it.
 */
export async function sealedChild(family: TestFamily, childId: string, name = 'Mia'): Promise<string> {
  const epoch = family.chain.length - 1;
  const head = family.chain[epoch]!;
  profileSigner ??= generateIdentity();
  const key = keyOfScope(head, family.keys, profileScope(head, 'child', childId));
  return toBase64Url(await sealProfile({ familyId: family.familyId, epoch, key, kind: 'child', objectId: childId, data: { name, avatar: '🦊' }, signer: await profileSigner }));
}

export async function addChild(app: BurrowApp, family: TestFamily, guardian: Person): Promise<string> {
  const childId = newClientId();
  const answer = await post(app, `/v1/families/${family.familyId}/children`, { childId, sealedProfile: await sealedChild(family, childId) }, bearer(guardian.token));
  if (answer.statusCode !== 201) throw new Error(`add child answered ${answer.statusCode}: ${answer.body}`);
  return childId;
}

export interface Terms {
  role: 'guardian' | 'relative';
  children: string[];
  needsApproval: boolean;
}

export async function createInvite(app: BurrowApp, family: TestFamily, guardian: Person, terms: Terms, extra: { expiresInMs?: number } = {}): Promise<string> {
  const inviteId = newClientId();
  const answer = await post(app, `/v1/families/${family.familyId}/invites`, { inviteId, terms, guardianProof: b64(65), ...extra }, bearer(guardian.token));
  if (answer.statusCode !== 201) throw new Error(`create invite answered ${answer.statusCode}: ${answer.body}`);
  return inviteId;
}

export function acceptInvite(app: BurrowApp, inviteId: string, joiner: Person): Promise<LightMyRequestResponse> {
  return post(app, `/v1/invites/${inviteId}/accept`, { joinerProof: b64(32) }, bearer(joiner.token));
}

/**
 * Signs the next entry as `signer` with `members` (and `toys`, default: the head's), with fresh
 * keys for the scopes that need one and exactly the wraps the change needs, and returns the
 * request body (tests may tamper) and the keys (`keys`, as a ring).
 */
export async function appendBody(family: TestFamily, signer: Person, members: Member[], completesInvites?: string[], toys?: Toy[], children?: string[]) {
  const head = family.chain[family.chain.length - 1]!;
  const contents = { members, toys: toys ?? head.toys.map((t) => ({ ...t })), ...(children === undefined ? {} : { children }) };
  const scopeKeys = planScopeKeys(head, contents, family.keys);
  const entry = await appendRosterEntry(family.chain, { signer: { accountId: signer.accountId, identity: signer.identity }, ...contents, settings: SETTINGS, scopeKeys });
  const keys = ringOf(scopeKeys);
  const wrappedKeys = wireKeys(await wrapsForEntry(head, entry, keys));
  return { body: { entry: toBase64Url(encodeRosterEntry(entry)), wrappedKeys, ...(completesInvites === undefined ? {} : { completesInvites }) }, entry, keys };
}

/** Appends an entry and, when the server takes it, records it in `family`. */
export async function appendEntry(app: BurrowApp, family: TestFamily, signer: Person, members: Member[], completesInvites?: string[], children?: string[]): Promise<LightMyRequestResponse> {
  const { body, entry, keys } = await appendBody(family, signer, members, completesInvites, undefined, children);
  const answer = await post(app, `/v1/families/${family.familyId}/roster`, body, bearer(signer.token));
  if (answer.statusCode === 201) {
    family.chain.push(entry);
    Object.assign(family.keys, keys);
  }
  return answer;
}

/** Invites, accepts and signs a joiner into the family; returns the joiner's member record. */
export async function join(app: BurrowApp, family: TestFamily, guardian: Person, joiner: Person, terms: Terms): Promise<Member> {
  const inviteId = await createInvite(app, family, guardian, terms);
  const accepted = await acceptInvite(app, inviteId, joiner);
  if (accepted.statusCode !== 204) throw new Error(`accept answered ${accepted.statusCode}: ${accepted.body}`);
  const member = memberOf(joiner, terms.role, terms.role === 'relative' ? { children: terms.children, needsApproval: terms.needsApproval } : {});
  const head = family.chain[family.chain.length - 1]!;
  const answer = await appendEntry(app, family, guardian, [...head.members, member], [inviteId]);
  if (answer.statusCode !== 201) throw new Error(`append answered ${answer.statusCode}: ${answer.body}`);
  return member;
}

export function get(app: BurrowApp, url: string, person: Person): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url, headers: bearer(person.token) });
}

export function del(app: BurrowApp, url: string, person: Person, payload?: unknown): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'DELETE', url, headers: bearer(person.token), ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
}
