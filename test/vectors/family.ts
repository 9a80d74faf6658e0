/**
 * The fixed family every vector file uses: Mum (guardian, creator), Gran (a relative whose messages
 * need approval), two children and a toy of each, over four epochs — 0: Mum alone; 1: Gran (allowed
 * both children) and the two toys join; 2: Gran is narrowed to the first child; 3: Gran is removed.
 * Keys, ids, times and scope keys are fixed; each scope's generations follow the rotation rule
 * (key-scopes.ts `planGenerations`).
 */
import { childrenNamedBy, planGenerations, scopedContentsOf } from '../../src/crypto/key-scopes.js';
import { appendRosterEntry, createGenesisEntry, hashRosterEntry, nextChildren, scopeKeyOf, type FamilySettings, type Member, type RosterEntry, type ScopeKey, type Toy } from '../../src/crypto/roster.js';
import type { Identity } from '../../src/crypto/identity.js';
import { fixedBytes, fixedId, fixedIdentity, withFixedRandom } from './support.js';

export const FAMILY_ID = fixedId('family');
export const CHILD_ID = fixedId('child');
export const SIBLING_ID = fixedId('sibling');
export const MUM_ID = fixedId('mum');
export const GRAN_ID = fixedId('gran');
export const TOY_ID = fixedId('toy');
export const SIBLING_TOY_ID = fixedId('sibling-toy');
/** 2026-01-01T00:00:00Z, and the times after it the vectors use. */
export const T0 = 1_767_225_600_000;
/** The head of the vector family's chain. */
export const HEAD = 3;

export const SETTINGS: FamilySettings = { volumeLimit: 70, retentionDays: 30, quietHours: { start: '19:30', end: '07:00', timeZone: 'Europe/Berlin' } };

/** The fixed key of `scope` ('' for the family-wide scope) at `generation`: fixed("scope-key/<generation>/<scope>"). */
export function fixedScopeKey(scope: string, generation: number): Uint8Array {
  return fixedBytes(`scope-key/${generation}/${scope}`);
}

export interface VectorFamily {
  mum: Identity;
  gran: Identity;
  toy: Identity;
  siblingToy: Identity;
  chain: RosterEntry[];
  hashes: Uint8Array[];
  /** The key of `scope` as the entry of `epoch` names it (its generation there), or undefined. */
  keyFor(epoch: number, scope: string): Uint8Array | undefined;
}

let cached: Promise<VectorFamily> | undefined;

/** The scope keys an entry with these contents needs after `chain` (fresh ones where the rotation rule says). */
function scopeKeysFor(chain: readonly RosterEntry[], members: Member[], toys: Toy[]): ScopeKey[] {
  const last = chain[chain.length - 1];
  const before = last === undefined ? undefined : { contents: scopedContentsOf(last), generationOf: (scope: string) => scopeKeyOf(last, scope)?.generation };
  const children = last === undefined ? childrenNamedBy(members, toys) : nextChildren(last, { members, toys });
  return planGenerations(before, scopedContentsOf({ members, toys, children }), chain.length).map(({ scope, generation }) => ({ scope, generation, key: fixedScopeKey(scope, generation) }));
}

async function build(): Promise<VectorFamily> {
  const [mum, gran, toy, siblingToy] = await Promise.all([fixedIdentity('mum'), fixedIdentity('gran'), fixedIdentity('toy'), fixedIdentity('sibling-toy')]);
  const signer = { accountId: MUM_ID, identity: mum };
  const mumMember: Member = { accountId: MUM_ID, role: 'guardian', keys: mum.publicKeys };
  const toys: Toy[] = [
    { toyId: TOY_ID, keys: toy.publicKeys, childId: CHILD_ID },
    { toyId: SIBLING_TOY_ID, keys: siblingToy.publicKeys, childId: SIBLING_ID },
  ];
  const granWith = (children: string[]): Member => ({ accountId: GRAN_ID, role: 'relative', keys: gran.publicKeys, children, needsApproval: true });
  const chain: RosterEntry[] = [];
  chain.push(await createGenesisEntry({ familyId: FAMILY_ID, creator: signer, settings: SETTINGS, scopeKeys: scopeKeysFor(chain, [mumMember], []), createdAt: T0 }));
  const steps: { members: Member[]; settings: FamilySettings }[] = [
    { members: [mumMember, granWith([CHILD_ID, SIBLING_ID])], settings: SETTINGS },
    { members: [mumMember, granWith([CHILD_ID])], settings: SETTINGS },
    { members: [mumMember], settings: { ...SETTINGS, toyToToy: true } },
  ];
  for (const [i, { members, settings }] of steps.entries()) {
    chain.push(await appendRosterEntry(chain, { signer, members, toys, settings, scopeKeys: scopeKeysFor(chain, members, toys), createdAt: T0 + 60_000 * (i + 1) }));
  }
  const hashes = await Promise.all(chain.map((entry) => hashRosterEntry(entry)));
  const keyFor = (epoch: number, scope: string): Uint8Array | undefined => {
    const signed = chain[epoch] === undefined ? undefined : scopeKeyOf(chain[epoch]!, scope);
    return signed === undefined ? undefined : fixedScopeKey(scope, signed.generation);
  };
  return { mum, gran, toy, siblingToy, chain, hashes, keyFor };
}

/**
 * The family, built once per run. Ed25519 signatures are deterministic, and the nonces sealing the
 * quiet hours in each entry come from a fixed stream, so every run builds the same bytes.
 */
export function vectorFamily(): Promise<VectorFamily> {
  cached ??= withFixedRandom('family', build);
  return cached;
}
