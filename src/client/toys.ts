/**
 * Toys from the client library's side (issue #5, src/protocol/toys.ts, docs/protocol.md "Pairing a toy").
 *
 * A guardian adds a toy with the 8-digit code it shows (`addToy`): CPace (src/crypto/pairing.ts)
 * through the server as a relay authenticates the toy's public keys to the guardian and the
 * guardian's verified roster head hash to the toy; the guardian then signs a roster entry adding the toy
 * (`completesPairings`), which wraps the new epoch's family key to it. `removeToy`, `listToys`
 * and `setToySettings` manage toys afterwards; every decision comes from the verified roster.
 *
 * A toy pairs with `pairToy` (attempts from `startToyPairingAttempt` → `waitUntilPaired` →
 * `PairedToy`): fresh keys per attempt, the code = the server's 3-digit slot ‖ 5 digits the toy
 * chose, at most 3 runs and 10 minutes per code by the toy's own count and clock, then a new code.
 * The head hash it learns through the PAKE anchors the chain it verifies and stores at once; from
 * then on only a chain extending it is accepted (src/client/toy-runtime.ts).
 *
 * Isomorphic: global `fetch` and WebCrypto only, no `node:` imports.
 */
import { Value } from '@sinclair/typebox/value';
import { bytesEqual, fromBase64Url, randomBytes, toBase64Url } from '../crypto/bytes.js';
import { generateIdentity, type Identity, type PublicIdentityKeys } from '../crypto/identity.js';
import { openAndVerifyMessage, parseEnvelopeHeader } from '../crypto/envelope.js';
import { wrapScopeKey, type WrappedScopeKey } from '../crypto/scope-key.js';
import { FAMILY_SCOPE } from '../crypto/key-scopes.js';
import { normalizePairingCode, pairingCodeForSlot, startGuardianPairing, startToyPairing, type ToyPairing } from '../crypto/pairing.js';
import { openProfile, sealProfile } from '../crypto/profile.js';
import { decodeRosterEntry, scopeKeyOf, verifyRoster, type FamilySettings, type RosterEntry, type VerifiedRoster } from '../crypto/roster.js';
import { EARLIER_KEYS_LIMIT, FamilyView } from '../protocol/families.js';
import { GuardianRunView, PAIRING_LIMITS, PairingStarted, RunStarted, ToyList, ToyPairingView } from '../protocol/toys.js';
import { ApiError, BurrowApi, NetworkError } from './api.js';
import { ClientError } from './client-error.js';
import { downloadEnvelope, listAllMessages } from './messages.js';
import { checkReceipts, playedOnToyOf } from './receipts.js';
import { reportRefusal } from './refusal-report.js';
import { assertFamilyId, changeRoster, loadFamily, setSettings, type ClientContext, type OpenedFamily } from './families.js';

const ID = /^[A-Za-z0-9_-]{22}$/;
const NAME_LIMIT = 64;

function assertId(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || !ID.test(value)) throw new TypeError(`${name} must be a 22-character id`);
}

/** Waits `ms`, or rejects at once when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Decodes a chain of roster entries from the wire; a malformed one is the server's lie. */
export function decodeRosterChain(entries: readonly string[]): RosterEntry[] {
  return entries.map((wire) => {
    const decoded = decodeRosterEntry(fromBase64Url(wire));
    if (!decoded.ok) throw new ClientError('client/roster-untrusted', `the server sent a malformed roster entry (${decoded.code})`);
    return decoded.value;
  });
}

// ─── The guardian's side ────────────────────────────────────────────────────────────────────────

/** A toy as a member sees it: from the verified roster, with what the server says about it. */
export interface ToyInfo {
  toyId: string;
  childId: string;
  /** The toy's name, opened; undefined when unnamed or unreadable. */
  name: string | undefined;
  pairedAt: number | undefined;
  lastSeenAt: number | undefined;
}

/**
 * Adds a toy to a family (guardian): runs the pairing with the toy that shows `code` through the
 * server, then signs a roster entry adding the toy (bound to `childId`) with the keys the PAKE
 * authenticated, which wraps a fresh family key to it. A wrong code fails this run (the toy's
 * attempt allows `PAIRING_LIMITS.maxRuns`) with `client/wrong-code`.
 */
export async function addToy(
  ctx: ClientContext,
  options: { familyId: string; code: string; childId: string; name?: string; signal?: AbortSignal; pollMs?: number },
): Promise<{ toyId: string; family: OpenedFamily }> {
  const { familyId, childId, signal } = options;
  assertFamilyId(familyId);
  assertId(childId, 'childId');
  const code = normalizePairingCode(options.code);
  if (code === null) throw new TypeError('the code must be the 8 digits the toy shows');
  const name = options.name === undefined ? undefined : options.name.trim();
  if (name !== undefined && (name.length === 0 || name.length > NAME_LIMIT)) throw new TypeError(`name must be 1 to ${NAME_LIMIT} characters`);
  const pollMs = options.pollMs ?? PAIRING_LIMITS.pollMs;

  const family = await loadFamily(ctx, familyId);
  if (family.self.role !== 'guardian') throw new ClientError('client/not-a-guardian', 'only a guardian can add a toy');
  if (!family.children.some((c) => c.childId === childId)) throw new ClientError('client/unknown-recipient', 'no such child in this family (see "burrow child list")');
  // The messages waiting for the child are downloaded and verified now, before the run's clock
  // starts; the roster append then only looks at messages that arrived since.
  const verified: VerifiedWaiting = new Map();
  await waitingEpochs(ctx, family, childId, verified);
  // The toy trusts the family from the head this guardian verified: a chain forked before it
  // (by a guardian removed since, say) does not hold that entry and never verifies on the toy.
  const sessionId = randomBytes(16);
  const pairing = startGuardianPairing({ code, sessionId, headHash: family.roster.headHash });

  const base = `/v1/families/${familyId}/pairings`;
  let run;
  try {
    run = await ctx.api.call('POST', base, RunStarted, { slot: code.slice(0, PAIRING_LIMITS.slotDigits), childId, sessionId: toBase64Url(sessionId), guardianShare: toBase64Url(pairing.share) });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) throw new ClientError('client/wrong-code', 'no toy is waiting with this code: check the code the toy shows');
    if (error instanceof ApiError && error.status === 410) throw new ClientError('client/pairing-ended', "this code can no longer be used: have the toy show a new code (\"burrow toy pair\") and enter that");
    if (error instanceof ApiError && error.status === 409) throw new ClientError('client/pairing-failed', 'someone else is pairing with this toy right now: wait a minute and try again');
    throw error;
  }
  const runPath = `${base}/${run.runId}`;
  const fail = async (): Promise<void> => {
    await ctx.api.call('POST', `${runPath}/fail`, undefined, {}).catch(() => undefined);
  };

  // Wait for the toy's answer (its share and its confirmation, which carries its keys).
  let view;
  for (;;) {
    view = await ctx.api.call('GET', runPath, GuardianRunView);
    if (view.state !== 'waiting-for-toy') break;
    if (Date.now() > run.expiresAt + 5_000) {
      view = undefined;
      break;
    }
    try {
      await sleep(pollMs, signal);
    } catch (error) {
      await fail();
      throw error;
    }
  }
  if (view === undefined || view.state !== 'toy-answered' || view.toyShare === undefined || view.toyConfirm === undefined) {
    throw new ClientError('client/pairing-failed', 'the toy did not answer in time: check it is on and showing the code, then try again');
  }
  if (view.pairingId !== run.pairingId || view.childId !== childId) {
    await fail();
    throw new ClientError('client/pairing-failed', 'the server answered for another pairing');
  }
  const shared = await pairing.receiveToyShare(fromBase64Url(view.toyShare));
  if (!shared.ok) {
    await fail();
    throw new ClientError('client/pairing-failed', `the toy's first pairing message was refused (${shared.code}); try again`);
  }
  const confirmed = await pairing.receiveToyConfirmation(fromBase64Url(view.toyConfirm));
  if (!confirmed.ok) {
    await fail();
    if (confirmed.code === 'pairing/wrong-code') throw new ClientError('client/wrong-code', 'the code does not match the toy\'s: check it and try again (after 3 wrong codes the toy must show a new one)');
    throw new ClientError('client/pairing-failed', `the toy's confirmation was refused (${confirmed.code}); try again`);
  }
  const toyKeys: PublicIdentityKeys = confirmed.value.toyKeys;
  await ctx.api.call('POST', `${runPath}/confirm`, undefined, { guardianConfirm: toBase64Url(shared.value.message) });

  const toyId = run.pairingId;
  const after = await changeRoster(ctx, familyId, async (current) => {
    if (current.roster.toys.some((t) => t.toyId === toyId) || current.roster.members.some((m) => m.accountId === toyId)) {
      throw new ClientError('client/pairing-failed', 'this toy is already in the family');
    }
    return {
      members: current.roster.members.map((m) => ({ ...m, children: [...(m.children ?? [])] })),
      toys: [...current.roster.toys, { toyId, keys: toyKeys, childId }],
      settings: current.settings,
      completesPairings: [run.runId],
      // The messages that waited for this child's first (or next) toy play on it too.
      earlierKeys: await earlierKeysForNewToy(ctx, current, { toyId, toyKeys, childId }, verified),
    };
  });
  if (name !== undefined) await nameToy(ctx, after, toyId, name);
  return { toyId, family: after };
}

/** What a guardian's device verified of the messages in a child's conversation: the signed epoch by message id, null for one that did not verify or is not for the child. */
export type VerifiedWaiting = Map<string, number | null>;

/**
 * The epochs of messages still waiting for a child's toy, as this device verified them: messages
 * in the child's conversation that it downloaded and checked against the verified roster (signed
 * by a member, addressed to the child in the signed header, within the signed retention; one
 * awaiting a guardian's approval counts), that no toy of the child has played by a signed receipt
 * this device verified, and whose key this guardian holds. The server's listing (epoch, sender,
 * recipients) only proposes candidates. `verified` caches what was downloaded and checked, so a
 * second call (the roster append retried) downloads only messages new since.
 */
export async function waitingEpochs(ctx: ClientContext, family: OpenedFamily, childId: string, verified: VerifiedWaiting = new Map()): Promise<Set<number>> {
  const candidates = (await listAllMessages(ctx, { familyId: family.familyId, conversation: childId }))
    .filter((view) => view.senderKind === 'member' && family.keyFor(view.epoch, childId) !== undefined)
    .reverse();
  const epochs = new Set<number>();
  for (const view of candidates) {
    if (epochs.size >= EARLIER_KEYS_LIMIT) break;
    if (playedOnToyOf(family.roster, await checkReceipts(family.roster, view), [childId])) continue;
    if (!verified.has(view.messageId)) {
      if (epochs.has(view.epoch)) continue;
      verified.set(view.messageId, await verifiedEpochFor(ctx, family, view.messageId, childId));
    }
    const epoch = verified.get(view.messageId);
    if (epoch !== null && epoch !== undefined) epochs.add(epoch);
  }
  return epochs;
}

/** The signed epoch of a message this device downloads and verifies as addressed to `childId`, else null. */
async function verifiedEpochFor(ctx: ClientContext, family: OpenedFamily, messageId: string, childId: string): Promise<number | null> {
  let envelope: Uint8Array;
  try {
    envelope = await downloadEnvelope(ctx, { familyId: family.familyId, messageId });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
  const opened = await openAndVerifyMessage(envelope, {
    roster: family.roster,
    keyFor: family.keyFor,
    expected: { familyId: family.familyId, messageId: fromBase64Url(messageId) },
    age: { now: Date.now(), retentionDays: family.roster.settings.retentionDays },
  });
  if (!opened.ok && opened.code !== 'envelope/needs-approval') return null;
  const header = parseEnvelopeHeader(envelope);
  return header.ok && header.value.recipients.includes(childId) ? header.value.epoch : null;
}

/**
 * The earlier generations of its child's conversation key a toy being paired needs for the
 * messages still waiting for its child (`waitingEpochs`; never the rest of the history, never
 * another scope's key), wrapped to the toy's keys by this guardian's device with HPKE like every
 * scope key: the server only stores them, and the toy checks each against the commitments of the
 * signed entries. The current generation reaches the toy with the roster change itself.
 */
export async function earlierKeysForNewToy(
  ctx: ClientContext,
  family: OpenedFamily,
  toy: { toyId: string; toyKeys: PublicIdentityKeys; childId: string },
  verified: VerifiedWaiting = new Map(),
): Promise<WrappedScopeKey[]> {
  const epochs = await waitingEpochs(ctx, family, toy.childId, verified);
  const recipient = { id: toy.toyId, agreementKey: toy.toyKeys.agreementKey, kemKey: toy.toyKeys.kemKey };
  const current = scopeKeyOf(family.roster.head, toy.childId)?.generation;
  const generations = new Map<number, Uint8Array>();
  for (const epoch of epochs) {
    const generation = family.roster.entryAt(epoch) === undefined ? undefined : scopeKeyOf(family.roster.entryAt(epoch)!, toy.childId)?.generation;
    const key = family.keyFor(epoch, toy.childId);
    if (generation !== undefined && generation !== current && key !== undefined) generations.set(generation, key);
  }
  const out: WrappedScopeKey[] = [];
  for (const [generation, key] of [...generations].sort((a, b) => a[0] - b[0])) {
    out.push(await wrapScopeKey({ familyId: family.familyId, scope: toy.childId, generation, key, recipient }));
  }
  return out;
}

async function nameToy(ctx: ClientContext, family: OpenedFamily, toyId: string, name: string): Promise<void> {
  const sealed = await sealProfile({ familyId: family.familyId, epoch: family.roster.epoch, key: family.headKeyOf(FAMILY_SCOPE)!, kind: 'toy', objectId: toyId, data: { name }, signer: ctx.me.identity });
  await ctx.api.call('PUT', `/v1/families/${family.familyId}/toys/${toyId}/profile`, undefined, { sealedProfile: toBase64Url(sealed) });
}

/** Removes a toy (guardian): a new epoch whose key is not wrapped to it; the server ends its device token at once. */
export async function removeToy(ctx: ClientContext, options: { familyId: string; toyId: string }): Promise<OpenedFamily> {
  assertFamilyId(options.familyId);
  assertId(options.toyId, 'toyId');
  return changeRoster(ctx, options.familyId, (family) => {
    if (!family.roster.toys.some((t) => t.toyId === options.toyId)) throw new ClientError('client/unknown-member', 'no such toy in this family (see "burrow family toys")');
    return {
      members: family.roster.members.map((m) => ({ ...m, children: [...(m.children ?? [])] })),
      toys: family.roster.toys.filter((t) => t.toyId !== options.toyId),
      settings: family.settings,
    };
  });
}

/** The family's toys this member may see: those of the verified roster (relatives: of their children), named where the name opens. */
export async function listToys(ctx: ClientContext, options: { familyId: string }): Promise<ToyInfo[]> {
  assertFamilyId(options.familyId);
  const family = await loadFamily(ctx, options.familyId);
  const { toys } = await ctx.api.call('GET', `/v1/families/${options.familyId}/toys`, ToyList);
  const mine = family.self.role === 'guardian' ? undefined : new Set(family.self.children ?? []);
  const out: ToyInfo[] = [];
  for (const toy of family.roster.toys) {
    if (mine !== undefined && !mine.has(toy.childId)) continue;
    const server = toys.find((t) => t.toyId === toy.toyId);
    let name: string | undefined;
    if (server?.sealedProfile !== undefined) {
      const opened = await openProfile<{ name?: unknown }>({ sealed: fromBase64Url(server.sealedProfile), familyId: family.familyId, kind: 'toy', objectId: toy.toyId, head: family.roster, keyFor: family.keyFor });
      if (opened.ok && typeof opened.value.data.name === 'string') name = opened.value.data.name;
    }
    out.push({ toyId: toy.toyId, childId: toy.childId, name, pairedAt: server?.pairedAt, lastSeenAt: server?.lastSeenAt });
  }
  return out;
}

/**
 * The names the family gave its toys, removed ones included (the server keeps a removed toy's sealed
 * name), for labelling past replies; only names that open under a guardian's signature.
 */
export async function toyNames(ctx: ClientContext, family: OpenedFamily): Promise<Map<string, string>> {
  const { toys } = await ctx.api.call('GET', `/v1/families/${family.familyId}/toys`, ToyList);
  const names = new Map<string, string>();
  for (const toy of toys) {
    if (toy.sealedProfile === undefined) continue;
    const opened = await openProfile<{ name?: unknown }>({ sealed: fromBase64Url(toy.sealedProfile), familyId: family.familyId, kind: 'toy', objectId: toy.toyId, head: family.roster, keyFor: family.keyFor });
    if (opened.ok && typeof opened.value.data.name === 'string') names.set(toy.toyId, opened.value.data.name);
  }
  return names;
}

/** Changes what toys do (guardian): the volume limit, the quiet hours and toy-to-toy, signed into a new roster entry. */
export async function setToySettings(
  ctx: ClientContext,
  options: { familyId: string; volumeLimit?: number; quietHours?: FamilySettings['quietHours'] | null; toyToToy?: boolean },
): Promise<OpenedFamily> {
  if (options.toyToToy !== undefined && typeof options.toyToToy !== 'boolean') throw new TypeError('toyToToy must be true or false');
  if (options.volumeLimit !== undefined && (!Number.isInteger(options.volumeLimit) || options.volumeLimit < 0 || options.volumeLimit > 100)) throw new TypeError('volumeLimit must be a whole number from 0 to 100');
  return setSettings(ctx, {
    familyId: options.familyId,
    settings: {
      ...(options.volumeLimit === undefined ? {} : { volumeLimit: options.volumeLimit }),
      ...(options.quietHours === undefined ? {} : { quietHours: options.quietHours }),
      ...(options.toyToToy === undefined ? {} : { toyToToy: options.toyToToy }),
    },
  });
}

// ─── The toy's side ─────────────────────────────────────────────────────────────────────────────

/** What a toy holds once paired. Secret: the device token and the identity's private keys. */
export interface PairedToy {
  baseUrl: string;
  toyId: string;
  familyId: string;
  /** `toy.…`: the bearer token of the toy's routes. */
  deviceToken: string;
  identity: Identity;
  /** The hash of the guardian's verified roster head, authenticated by the PAKE: the toy's first trust anchor. */
  anchorHash: Uint8Array;
  /** The roster verified from `anchorHash` at pairing time: the toy stores it at once and never accepts a head that does not extend it. */
  roster: VerifiedRoster;
}

/** The toy's own limits per code, counted by the toy itself whatever the relay says. */
export const TOY_PAIRING_LIMITS = {
  /** Runs (one code guess each, as a relay can test every confirmation) the toy answers per code. */
  maxRuns: PAIRING_LIMITS.maxRuns,
  /** How long, by the toy's own clock, a code lives. */
  attemptMs: PAIRING_LIMITS.attemptTtlMs,
} as const;

/** A pairing attempt in progress on the toy. */
export interface ToyPairingAttempt {
  /** The 8 digits to show or speak. */
  readonly code: string;
  readonly pairingId: string;
  /** When the code stops working, by the toy's own clock (the server's expiry is not used). */
  readonly expiresAt: number;
  /** Runs the toy will still answer with this code (its own count, never the server's). */
  readonly runsLeft: number;
  /**
   * Answers the guardians' runs and resolves once a guardian added the toy and the toy verified the
   * family from the roster head the PAKE authenticated. Answers at most `TOY_PAIRING_LIMITS.maxRuns`
   * runs and only until `expiresAt` by the toy's own clock; rejects with `client/pairing-ended` when
   * the attempt ends (runs used up, expired, or ended by the server), `client/pairing-failed` on a
   * confirmation or roster that does not verify.
   */
  waitUntilPaired(options?: { signal?: AbortSignal; pollMs?: number; onRun?: (run: { runId: string; runsLeft: number }) => void }): Promise<PairedToy>;
  /** Gives the attempt up (best effort). */
  cancel(): Promise<void>;
}

/**
 * Starts a pairing attempt: fresh keys, a slot from the server, the code to show. `now` is the
 * toy's clock (injectable for tests): the attempt ends `TOY_PAIRING_LIMITS.attemptMs` after it
 * started by that clock, whatever expiry or runs left the server reports.
 */
export async function startToyPairingAttempt(options: { baseUrl: string; fetch?: typeof globalThis.fetch; identity?: Identity; now?: () => number; allowInsecureHttp?: boolean }): Promise<ToyPairingAttempt> {
  const now = options.now ?? Date.now;
  const anonymous = new BurrowApi({ baseUrl: options.baseUrl, ...(options.fetch === undefined ? {} : { fetch: options.fetch }), ...(options.allowInsecureHttp === true ? { allowInsecureHttp: true } : {}) });
  const identity = options.identity ?? (await generateIdentity({ extractable: true }));
  const started = await anonymous.call('POST', '/v1/pairings', PairingStarted, {});
  if (!Value.Check(PairingStarted, started)) throw new ClientError('client/pairing-failed', 'the server answered the pairing request with something unexpected');
  const expiresAt = now() + TOY_PAIRING_LIMITS.attemptMs;
  const code = pairingCodeForSlot(started.slot);
  const api = anonymous.withToken(started.pairingToken);
  const path = `/v1/pairings/${started.pairingId}`;
  // One CPace session per run the toy answered, newest last; each counts against the code's runs.
  const answered: Array<{ runId: string; pairing: ToyPairing }> = [];
  let runsUsed = 0;
  const seen = new Set<string>();
  const expired = (): boolean => now() >= expiresAt;

  async function answerRun(run: { runId: string; sessionId: string; guardianShare: string }): Promise<void> {
    seen.add(run.runId);
    let pairing: ToyPairing;
    try {
      pairing = startToyPairing({ code, toyKeys: identity.publicKeys, sessionId: fromBase64Url(run.sessionId) });
    } catch {
      return; // A malformed session id: let the run expire.
    }
    const result = await pairing.receiveGuardianShare(fromBase64Url(run.guardianShare));
    if (!result.ok) return;
    // The confirmation lets whoever made the guardian share test one guess of the code: count it
    // before it leaves, whether or not the server takes it.
    runsUsed++;
    answered.push({ runId: run.runId, pairing });
    try {
      await api.call('POST', `${path}/runs/${run.runId}`, undefined, { toyShare: toBase64Url(pairing.share), toyConfirm: toBase64Url(result.value.message) });
    } catch (error) {
      if (!(error instanceof ApiError && (error.status === 409 || error.status === 404))) throw error;
    }
  }

  // The guardian's head hash, once a guardian's confirmation verified (a confirmation verifies only once).
  let anchor: Uint8Array | undefined;

  async function finish(paired: { familyId: string; guardianConfirm: string; deviceToken: string }): Promise<PairedToy> {
    for (const { pairing } of anchor === undefined ? [...answered].reverse() : []) {
      const result = await pairing.receiveGuardianConfirmation(fromBase64Url(paired.guardianConfirm));
      if (result.ok) {
        anchor = result.value.headHash;
        break;
      }
    }
    if (anchor === undefined) throw new ClientError('client/pairing-failed', "the guardian's confirmation did not verify: start pairing again");
    assertFamilyId(paired.familyId);
    const device = anonymous.withToken(paired.deviceToken);
    const view = await device.call('GET', `/v1/families/${paired.familyId}`, FamilyView);
    if (view.familyId !== paired.familyId) throw new ClientError('client/roster-untrusted', 'the server answered for another family');
    // Anchored at the head the guardian verified: a chain that does not hold it (a fork) never verifies.
    const chain = decodeRosterChain(view.roster);
    const verified = await verifyRoster(chain, { headHash: anchor });
    if (!verified.ok) {
      // Best effort: the family's guardians see the attempt in the security log (a hostile server can drop it).
      const epoch = chain.at(-1)?.epoch;
      await reportRefusal(device, { familyId: paired.familyId, code: verified.code === 'roster/not-anchored' ? 'pairing/roster-not-anchored' : 'pairing/roster-refused', ...(epoch === undefined ? {} : { epoch }) });
      throw new ClientError('client/roster-untrusted', `the family's roster does not verify from the head the guardian confirmed (${verified.code})`);
    }
    const self = verified.value.toys.find((t) => t.toyId === started.pairingId);
    if (self === undefined || !bytesEqual(self.keys.signingKey, identity.publicKeys.signingKey) || !bytesEqual(self.keys.agreementKey, identity.publicKeys.agreementKey)) {
      throw new ClientError('client/roster-untrusted', "the family's roster does not hold this toy with its keys");
    }
    return { baseUrl: anonymous.baseUrl, toyId: started.pairingId, familyId: paired.familyId, deviceToken: paired.deviceToken, identity, anchorHash: anchor, roster: verified.value };
  }

  const ended = (why: string): ClientError => new ClientError('client/pairing-ended', `${why}: start pairing again for a new code`);

  return {
    code,
    pairingId: started.pairingId,
    expiresAt,
    get runsLeft() {
      return Math.max(0, TOY_PAIRING_LIMITS.maxRuns - runsUsed);
    },
    async waitUntilPaired(waitOptions = {}) {
      const pollMs = waitOptions.pollMs ?? PAIRING_LIMITS.pollMs;
      for (;;) {
        if (expired()) throw ended('the code expired');
        let view;
        try {
          view = await api.call('GET', path, ToyPairingView);
        } catch (error) {
          if (error instanceof ApiError && (error.status === 401 || error.status === 404 || error.status === 410)) throw ended('the pairing attempt ended');
          // The network or the server hiccupped: poll again until the code expires by the toy's clock.
          if (!(error instanceof NetworkError || (error instanceof ApiError && (error.status >= 500 || error.status === 429)))) throw error;
          await sleep(pollMs, waitOptions.signal);
          continue;
        }
        if (expired()) throw ended('the code expired');
        // The server's runsLeft and expiresAt are ignored: the toy counts runs and time itself.
        if (view.state === 'ended') throw ended('the pairing attempt ended');
        if (view.state === 'run' && view.run !== undefined && !seen.has(view.run.runId)) {
          // A new run after the last one the toy answers means that one failed: the code is used up.
          if (runsUsed >= TOY_PAIRING_LIMITS.maxRuns) throw ended('three wrong codes were entered');
          await answerRun(view.run);
          waitOptions.onRun?.({ runId: view.run.runId, runsLeft: Math.max(0, TOY_PAIRING_LIMITS.maxRuns - runsUsed) });
        }
        if (view.state === 'paired' && view.paired !== undefined) {
          try {
            return await finish(view.paired);
          } catch (error) {
            // The family could not be read just now: the next poll issues a fresh device token.
            if (!(error instanceof NetworkError || (error instanceof ApiError && error.status >= 500))) throw error;
          }
        }
        await sleep(pollMs, waitOptions.signal);
      }
    },
    async cancel() {
      await api.call('DELETE', path, undefined).catch(() => undefined);
    },
  };
}

/** A code the toy shows, with its own expiry; each new attempt brings a new one. */
export interface ToyPairingCode {
  code: string;
  pairingId: string;
  expiresAt: number;
  runsLeft: number;
}

/**
 * Pairs a toy end to end: starts an attempt, shows its code (`onCode`), answers runs, and when the
 * attempt ends (its 3 runs or 10 minutes by the toy's own clock, or a confirmation or roster that
 * does not verify) starts a new attempt with new keys and a new code, until paired or `signal`
 * aborts. `maxAttempts` bounds the codes shown (unbounded by default).
 */
export async function pairToy(options: {
  baseUrl: string;
  fetch?: typeof globalThis.fetch;
  now?: () => number;
  newIdentity?: () => Promise<Identity>;
  onCode: (code: ToyPairingCode) => void;
  onRun?: (run: { runId: string; runsLeft: number; code: ToyPairingCode }) => void;
  onAttemptEnded?: (error: ClientError) => void;
  signal?: AbortSignal;
  pollMs?: number;
  maxAttempts?: number;
  /** Allow plain http to a server beyond loopback (the device token would cross the network in clear). */
  allowInsecureHttp?: boolean;
}): Promise<PairedToy> {
  for (let attempts = 0; options.maxAttempts === undefined || attempts < options.maxAttempts; attempts++) {
    const identity = options.newIdentity === undefined ? undefined : await options.newIdentity();
    const attempt = await startToyPairingAttempt({
      baseUrl: options.baseUrl,
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      ...(identity === undefined ? {} : { identity }),
      ...(options.now === undefined ? {} : { now: options.now }),
      ...(options.allowInsecureHttp === true ? { allowInsecureHttp: true } : {}),
    });
    const shown = (): ToyPairingCode => ({ code: attempt.code, pairingId: attempt.pairingId, expiresAt: attempt.expiresAt, runsLeft: attempt.runsLeft });
    options.onCode(shown());
    try {
      return await attempt.waitUntilPaired({
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
        onRun: ({ runId, runsLeft }) => options.onRun?.({ runId, runsLeft, code: shown() }),
      });
    } catch (error) {
      if (options.signal?.aborted) {
        await attempt.cancel();
        throw error;
      }
      if (!(error instanceof ClientError) || !['client/pairing-ended', 'client/pairing-failed', 'client/roster-untrusted'].includes(error.code)) throw error;
      await attempt.cancel();
      options.onAttemptEnded?.(error);
    }
  }
  throw new ClientError('client/pairing-ended', 'no guardian paired the toy with any of its codes: start pairing again');
}
