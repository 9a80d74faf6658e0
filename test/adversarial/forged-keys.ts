/**
 * Scope keys for the attacks here: what a forger (a removed guardian signing a fork, a hostile
 * server) signs and wraps, and the scope and key a sender who kept an opened family seals with.
 */
import type { OpenedFamily } from '../../src/client/families.js';
import { wrapToWire } from '../../src/client/key-ring.js';
import { childrenNamedBy, messageScope, scopeHolders, scopedContentsOf, scopesOf } from '../../src/crypto/key-scopes.js';
import { nextChildren, type Member, type RosterEntry, type ScopeKey, type Toy } from '../../src/crypto/roster.js';
import { generateScopeKey, wrapScopeKey } from '../../src/crypto/scope-key.js';
import type { WrappedKeyWire } from '../../src/protocol/families.js';

/**
 * A fresh key of generation `epoch` for every scope of an entry with `contents` at `epoch`: always
 * allowed by the rotation rule. Its children are those `appendRosterEntry` lists after `previous`
 * (or, without it, those `signRosterEntry` lists by default: the ones its relatives and toys name).
 */
export function freshScopeKeys(contents: { members: readonly Member[]; toys: readonly Toy[] }, epoch: number, previous?: RosterEntry): ScopeKey[] {
  const children = previous === undefined ? childrenNamedBy(contents.members, contents.toys) : nextChildren(previous, contents);
  return scopesOf(scopedContentsOf({ ...contents, children })).map((scope) => ({ scope, generation: epoch, key: generateScopeKey() }));
}

/** Every scope key of `keys` wrapped to every holder `entry` gives that scope, as the server relays them. */
export async function wrapsToAllHolders(entry: RosterEntry, keys: readonly ScopeKey[]): Promise<WrappedKeyWire[]> {
  const contents = scopedContentsOf(entry);
  const out: WrappedKeyWire[] = [];
  for (const { scope, generation, key } of keys) {
    for (const holder of scopeHolders(contents, scope)) {
      const recipient = { id: holder.id, agreementKey: holder.keys.agreementKey, kemKey: holder.keys.kemKey };
      out.push(wrapToWire(await wrapScopeKey({ familyId: entry.familyId, scope, generation, key, recipient })));
    }
  }
  return out;
}

/** The key of `scope` in `keys`; throws when absent. */
export function keyOf(keys: readonly ScopeKey[], scope: string): Uint8Array {
  const found = keys.find((k) => k.scope === scope);
  if (found === undefined) throw new Error(`no key of scope '${scope}'`);
  return found.key;
}

/**
 * The scope a message from `senderId` to `recipients` belongs to at the head of `family` (a member's
 * opened view, possibly kept from before a change) and the key `family` holds for it there.
 */
export function headSealing(family: OpenedFamily, senderId: string, recipients: readonly string[]): { scope: string; key: Uint8Array } {
  const scope = messageScope(scopedContentsOf(family.roster.head), senderId, recipients);
  if (!scope.ok) throw new Error(`no scope for a message from ${senderId}: ${scope.code}`);
  const key = family.headKeyOf(scope.value);
  if (key === undefined) throw new Error(`the family view holds no key of scope '${scope.value}'`);
  return { scope: scope.value, key };
}
