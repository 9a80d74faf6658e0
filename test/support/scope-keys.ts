/**
 * Scope keys for tests that sign roster entries themselves: the keys an entry must commit to
 * (fresh where key-scopes.ts `planGenerations` says so, the held ones otherwise) and the wraps the
 * server wants with it (`wrapsNeededBy`), made the way the client library makes them.
 */
import { childrenNamedBy, FAMILY_SCOPE, messageScope, planGenerations, scopedContentsOf } from '../../src/crypto/key-scopes.js';
import { nextChildren, scopeKeyOf, wrapsNeededBy, type Member, type RosterEntry, type ScopeKey, type Toy } from '../../src/crypto/roster.js';
import { generateScopeKey, wrapScopeKey, type WrappedScopeKey } from '../../src/crypto/scope-key.js';
import { scopeKeyId, type ScopeKeys } from '../../src/client/key-ring.js';

/**
 * The keys the entry after `previous` (undefined: a genesis) with `contents` commits to: a fresh key
 * for every scope that is new or loses a holder, the key `held` has for every other one.
 */
export function planScopeKeys(previous: RosterEntry | undefined, contents: { members: readonly Member[]; toys: readonly Toy[]; children?: readonly string[] }, held: ScopeKeys = {}): ScopeKey[] {
  const before = previous === undefined ? undefined : { contents: scopedContentsOf(previous), generationOf: (scope: string) => scopeKeyOf(previous, scope)?.generation };
  // The children the entry will list: as given, else as createGenesisEntry / appendRosterEntry choose them.
  const children = contents.children ?? (previous === undefined ? childrenNamedBy(contents.members, contents.toys) : nextChildren(previous, contents));
  const plan = planGenerations(before, scopedContentsOf({ members: contents.members, toys: contents.toys, children }), previous === undefined ? 0 : previous.epoch + 1);
  return plan.map(({ scope, generation, fresh }) => {
    const key = fresh ? generateScopeKey() : held[scopeKeyId(scope, generation)];
    if (key === undefined) throw new Error(`no held key of scope '${scope}' generation ${generation}`);
    return { scope, generation, key };
  });
}

/** Exactly the wraps `entry` needs after `previous` (`wrapsNeededBy`), made from `keys`. */
export async function wrapsForEntry(previous: RosterEntry | undefined, entry: RosterEntry, keys: readonly ScopeKey[] | ScopeKeys): Promise<WrappedScopeKey[]> {
  const ring = Array.isArray(keys) ? ringOf(keys as readonly ScopeKey[]) : (keys as ScopeKeys);
  const out: WrappedScopeKey[] = [];
  for (const need of wrapsNeededBy(previous, entry)) {
    const key = ring[scopeKeyId(need.scope, need.generation)];
    if (key === undefined) throw new Error(`no key of scope '${need.scope}' generation ${need.generation}`);
    out.push(await wrapScopeKey({ familyId: entry.familyId, scope: need.scope, generation: need.generation, key, recipient: { id: need.recipient.id, agreementKey: need.recipient.keys.agreementKey, kemKey: need.recipient.keys.kemKey } }));
  }
  return out;
}

/** The keys as a key ring (`ScopeKeys`, by `scopeKeyId`). */
export function ringOf(keys: readonly ScopeKey[]): ScopeKeys {
  return Object.fromEntries(keys.map((k) => [scopeKeyId(k.scope, k.generation), k.key]));
}

/** The key of `scope` as `entry` names it (its generation there), from `ring`; throws when absent. */
export function keyOfScope(entry: RosterEntry, ring: ScopeKeys, scope: string = FAMILY_SCOPE): Uint8Array {
  const signed = scopeKeyOf(entry, scope);
  const key = signed === undefined ? undefined : ring[scopeKeyId(scope, signed.generation)];
  if (key === undefined) throw new Error(`no key of scope '${scope}' at epoch ${entry.epoch}`);
  return key;
}

/**
 * The scope a message from `senderId` to `recipients` is sealed under at `entry` (key-scopes.ts
 * `messageScope`), or the family-wide one when the entry gives it none (tests of what the server
 * refuses send such messages too: the server cannot tell scopes apart).
 */
export function sealingScope(entry: RosterEntry, senderId: string, recipients: readonly string[]): string {
  const scope = messageScope(scopedContentsOf(entry), senderId, recipients);
  return scope.ok ? scope.value : FAMILY_SCOPE;
}

/** The key and scope to seal a message from `senderId` to `recipients` with at `entry`: `{ scope, key }`. */
export function sealingKey(entry: RosterEntry, ring: ScopeKeys, senderId: string, recipients: readonly string[]): { scope: string; key: Uint8Array } {
  const scope = sealingScope(entry, senderId, recipients);
  return { scope, key: keyOfScope(entry, ring, scope) };
}
