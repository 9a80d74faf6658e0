/**
 * Factories for the toys tests: a toy that starts a pairing attempt and answers runs with the real
 * pairing crypto (src/crypto/pairing.ts), a guardian's client that guesses a code, confirms and
 * appends the roster entry adding the toy (completesPairings), and a paired toy's device token.
 */
import type { LightMyRequestResponse } from 'fastify';
import { fromBase64Url, randomBytes, toBase64Url } from '../../../src/crypto/bytes.js';
import { generateIdentity, type Identity, type PublicIdentityKeys } from '../../../src/crypto/identity.js';
import { pairingCodeForSlot, startGuardianPairing, startToyPairing, type ToyPairing } from '../../../src/crypto/pairing.js';
import { appendRosterEntry, encodeRosterEntry, hashRosterEntry, type Toy } from '../../../src/crypto/roster.js';
import type { BurrowApp } from '../../../src/server/http/types.js';
import type { GuardianRunView, PairingStarted, ToyPairingView } from '../../../src/protocol/toys.js';
import { bearer, post } from '../helpers.js';
import { planScopeKeys, ringOf, wrapsForEntry } from '../../support/scope-keys.js';
import { SETTINGS, wireKeys, type Person, type TestFamily } from '../families/fixtures.js';

/** A toy during pairing: its attempt, its code and its identity (made fresh per attempt). */
export interface PairingToy {
  started: PairingStarted;
  code: string;
  identity: Identity;
  /** The CPace state of the run it answered last. */
  pairing?: ToyPairing;
}

export async function startAttempt(app: BurrowApp, headers: Record<string, string> = {}): Promise<PairingToy> {
  const answer = await app.inject({ method: 'POST', url: '/v1/pairings', payload: {}, headers });
  if (answer.statusCode !== 201) throw new Error(`POST /v1/pairings answered ${answer.statusCode}: ${answer.body}`);
  const started = answer.json<PairingStarted>();
  return { started, code: pairingCodeForSlot(started.slot), identity: await generateIdentity() };
}

export function poll(app: BurrowApp, toy: PairingToy, token = toy.started.pairingToken): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url: `/v1/pairings/${toy.started.pairingId}`, headers: bearer(token) });
}

/** Polls once and answers the run it finds, as the toy would (a wrong `code` answers as a toy showing other digits). */
export async function answerRun(app: BurrowApp, toy: PairingToy): Promise<{ runId: string; answer: LightMyRequestResponse; toyShare: string; toyConfirm: string }> {
  const view = (await poll(app, toy)).json<ToyPairingView>();
  if (view.state !== 'run' || view.run === undefined) throw new Error(`the toy sees state ${view.state}, not a run`);
  const pairing = startToyPairing({ code: toy.code, toyKeys: toy.identity.publicKeys, sessionId: fromBase64Url(view.run.sessionId) });
  const confirm = await pairing.receiveGuardianShare(fromBase64Url(view.run.guardianShare));
  if (!confirm.ok) throw new Error(`the toy refused the guardian's share: ${confirm.code}`);
  toy.pairing = pairing;
  const body = { toyShare: toBase64Url(pairing.share), toyConfirm: toBase64Url(confirm.value.message) };
  const answer = await post(app, `/v1/pairings/${toy.started.pairingId}/runs/${view.run.runId}`, body, bearer(toy.started.pairingToken));
  return { runId: view.run.runId, answer, ...body };
}

/** The guardian's side of one run: start it with `code`, have the toy answer, verify, and confirm (or fail). */
export async function guessCode(app: BurrowApp, family: TestFamily, guardian: Person, toy: PairingToy, childId: string, code: string): Promise<{ runId: string; toyKeys?: PublicIdentityKeys }> {
  const sessionId = randomBytes(16);
  const pairing = startGuardianPairing({ code, sessionId, headHash: await hashRosterEntry(family.chain.at(-1)!) });
  const start = await post(app, `/v1/families/${family.familyId}/pairings`, { slot: code.slice(0, 3), childId, sessionId: toBase64Url(sessionId), guardianShare: toBase64Url(pairing.share) }, bearer(guardian.token));
  if (start.statusCode !== 201) throw new Error(`starting a run answered ${start.statusCode}: ${start.body}`);
  const { runId } = start.json<{ runId: string }>();
  const answered = await answerRun(app, toy);
  if (answered.answer.statusCode !== 204) throw new Error(`the toy's answer got ${answered.answer.statusCode}: ${answered.answer.body}`);
  const run = (await app.inject({ method: 'GET', url: `/v1/families/${family.familyId}/pairings/${runId}`, headers: bearer(guardian.token) })).json<GuardianRunView>();
  if (run.state !== 'toy-answered' || run.toyShare === undefined || run.toyConfirm === undefined) throw new Error(`the run is ${run.state}`);
  const confirm = await pairing.receiveToyShare(fromBase64Url(run.toyShare));
  if (!confirm.ok) throw new Error(`the guardian refused the toy's share: ${confirm.code}`);
  const keys = await pairing.receiveToyConfirmation(fromBase64Url(run.toyConfirm));
  if (!keys.ok) {
    const failed = await post(app, `/v1/families/${family.familyId}/pairings/${runId}/fail`, {}, bearer(guardian.token));
    if (failed.statusCode !== 204) throw new Error(`fail answered ${failed.statusCode}`);
    return { runId };
  }
  const confirmed = await post(app, `/v1/families/${family.familyId}/pairings/${runId}/confirm`, { guardianConfirm: toBase64Url(confirm.value.message) }, bearer(guardian.token));
  if (confirmed.statusCode !== 204) throw new Error(`confirm answered ${confirmed.statusCode}: ${confirmed.body}`);
  return { runId, toyKeys: keys.value.toyKeys };
}

/**
 * The body of a roster append that sets the toys to `toys` (members unchanged), signed by
 * `guardian`, with exactly the wraps the change needs; `keys` are the entry's keys as a ring.
 */
export async function toysEntryBody(family: TestFamily, guardian: Person, toys: Toy[], completesPairings?: string[]) {
  const head = family.chain[family.chain.length - 1]!;
  const contents = { members: [...head.members], toys };
  const scopeKeys = planScopeKeys(head, contents, family.keys);
  const entry = await appendRosterEntry(family.chain, { signer: { accountId: guardian.accountId, identity: guardian.identity }, ...contents, settings: SETTINGS, scopeKeys });
  const keys = ringOf(scopeKeys);
  const wrappedKeys = wireKeys(await wrapsForEntry(head, entry, keys));
  return { body: { entry: toBase64Url(encodeRosterEntry(entry)), wrappedKeys, ...(completesPairings === undefined ? {} : { completesPairings }) }, entry, keys };
}

/** Appends an entry with `toys`; records it in `family` when the server takes it. */
export async function setToys(app: BurrowApp, family: TestFamily, guardian: Person, toys: Toy[], completesPairings?: string[]): Promise<LightMyRequestResponse> {
  const { body, entry, keys } = await toysEntryBody(family, guardian, toys, completesPairings);
  const answer = await post(app, `/v1/families/${family.familyId}/roster`, body, bearer(guardian.token));
  if (answer.statusCode === 201) {
    family.chain.push(entry);
    Object.assign(family.keys, keys);
  }
  return answer;
}

/** A toy paired all the way: in the roster, with its device token (not yet used). */
export interface PairedToy extends PairingToy {
  toyId: string;
  childId: string;
  deviceToken: string;
  /** The head hash the guardian confirmed, as the toy verified it. */
  anchorHash: Uint8Array;
}

/** Pairs a new toy to `childId` of `family` through the relay with the right code, then fetches its device token. */
export async function pairToy(app: BurrowApp, family: TestFamily, guardian: Person, childId: string): Promise<PairedToy> {
  const toy = await startAttempt(app);
  const { runId, toyKeys } = await guessCode(app, family, guardian, toy, childId, toy.code);
  if (toyKeys === undefined) throw new Error('the right code did not pair');
  const head = family.chain[family.chain.length - 1]!;
  const added = await setToys(app, family, guardian, [...head.toys, { toyId: toy.started.pairingId, keys: toyKeys, childId }], [runId]);
  if (added.statusCode !== 201) throw new Error(`adding the toy answered ${added.statusCode}: ${added.body}`);
  const view = (await poll(app, toy)).json<ToyPairingView>();
  if (view.state !== 'paired' || view.paired === undefined) throw new Error(`the toy sees ${view.state} after pairing`);
  const anchor = await toy.pairing!.receiveGuardianConfirmation(fromBase64Url(view.paired.guardianConfirm));
  if (!anchor.ok) throw new Error(`the toy refused the guardian's confirmation: ${anchor.code}`);
  return { ...toy, toyId: toy.started.pairingId, childId, deviceToken: view.paired.deviceToken, anchorHash: anchor.value.headHash };
}
