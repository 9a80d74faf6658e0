/**
 * The scope keys a member's device or a toy holds (crypto/key-scopes.ts, crypto/scope-key.ts), by
 * scope and generation, and the one way keys get in: a wrap the server relays is unwrapped and
 * kept only if the verified roster commits to the key inside. Members and toys share this code; the
 * only difference is who the wraps are for.
 */
import { fromBase64Url, toBase64Url } from '../crypto/bytes.js';
import type { Identity } from '../crypto/identity.js';
import type { RosterEntry, VerifiedRoster } from '../crypto/roster.js';
import { scopeKeyOf } from '../crypto/roster.js';
import { bytesEqual } from '../crypto/bytes.js';
import { commitmentsOf, scopeKeyCommitment, unwrapAndCheckScopeKey, type WrappedScopeKey } from '../crypto/scope-key.js';
import type { WrappedKeyWire } from '../protocol/families.js';

/** Held scope keys by `scopeKeyId`. Secret. */
export type ScopeKeys = Record<string, Uint8Array>;

/** The id a key is held under: its generation and scope ('' is the family-wide scope). */
export function scopeKeyId(scope: string, generation: number): string {
  return `${generation}/${scope}`;
}

function parseScopeKeyId(id: string): { scope: string; generation: number } | undefined {
  const slash = id.indexOf('/');
  const generation = Number(id.slice(0, slash));
  return slash > 0 && Number.isSafeInteger(generation) && generation >= 0 ? { scope: id.slice(slash + 1), generation } : undefined;
}

/** The held key of `scope` as the entry of `epoch` names it (its generation there), or undefined. */
export function keyAt(roster: { entryAt(epoch: number): RosterEntry | undefined }, keys: ScopeKeys, epoch: number, scope: string): Uint8Array | undefined {
  const entry = roster.entryAt(epoch);
  const signed = entry === undefined ? undefined : scopeKeyOf(entry, scope);
  return signed === undefined ? undefined : keys[scopeKeyId(scope, signed.generation)];
}

export function wrapToWire(wrap: WrappedScopeKey): WrappedKeyWire {
  return { suite: wrap.suite, recipientId: wrap.recipientId, scope: wrap.scope, generation: wrap.generation, enc: toBase64Url(wrap.enc), ciphertext: toBase64Url(wrap.ciphertext) };
}

export function wrapFromWire(wire: WrappedKeyWire): WrappedScopeKey {
  return { suite: wire.suite as WrappedScopeKey['suite'], recipientId: wire.recipientId, scope: wire.scope, generation: wire.generation, enc: fromBase64Url(wire.enc), ciphertext: fromBase64Url(wire.ciphertext) };
}

/** What `acceptWraps` kept and refused. */
export interface AcceptedKeys {
  keys: ScopeKeys;
  /** Keys the server offered that the signed roster does not commit to: refused, never used. */
  refused: Array<{ scope: string; generation: number }>;
}

/**
 * The keys `held` already had that the verified entries still commit to (a key kept from a roster
 * change whose entry never made it — another guardian's won the epoch — is dropped), plus every
 * wrap to `recipientId` whose key a verified entry commits to. `wanted` says which wraps to open at
 * all (a toy takes only its child's scope).
 */
export async function acceptWraps(options: {
  roster: VerifiedRoster;
  held: ScopeKeys;
  wraps: readonly WrappedKeyWire[];
  recipientId: string;
  identity: Identity;
  wanted?: (scope: string, generation: number) => boolean;
}): Promise<AcceptedKeys> {
  const { roster, recipientId, identity } = options;
  const commitments = commitmentsOf(roster.entries);
  const keys: ScopeKeys = {};
  for (const [id, key] of Object.entries(options.held)) {
    const parsed = parseScopeKeyId(id);
    if (parsed === undefined) continue;
    const signed = commitments.find((c) => c.scope === parsed.scope && c.generation === parsed.generation);
    // Keys of generations older than the verified chain stay: nothing here says otherwise.
    if (signed !== undefined && !bytesEqual(await scopeKeyCommitment({ familyId: roster.familyId, ...parsed, key }), signed.commitment)) continue;
    keys[id] = key;
  }
  const refused: AcceptedKeys['refused'] = [];
  for (const wire of options.wraps) {
    const id = scopeKeyId(wire.scope, wire.generation);
    if (wire.recipientId !== recipientId || keys[id] !== undefined) continue;
    if (options.wanted !== undefined && !options.wanted(wire.scope, wire.generation)) continue;
    const unwrapped = await unwrapAndCheckScopeKey({ wrap: wrapFromWire(wire), familyId: roster.familyId, recipientId, identity, commitments });
    if (unwrapped.ok) keys[id] = unwrapped.value;
    else if (unwrapped.code === 'scope-key/commitment-mismatch') refused.push({ scope: wire.scope, generation: wire.generation });
  }
  return { keys, refused };
}
