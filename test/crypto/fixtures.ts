/** Test factories for the crypto core: browser-safe (no Node APIs). */
import { generateIdentity, type Identity } from '../../src/crypto/identity.js';
import { childrenNamedBy, planGenerations, scopedContentsOf } from '../../src/crypto/key-scopes.js';
import { appendRosterEntry, createGenesisEntry, nextChildren, scopeKeyOf, type FamilySettings, type Member, type RosterEntry, type ScopeKey, type Toy } from '../../src/crypto/roster.js';
import { generateScopeKey } from '../../src/crypto/scope-key.js';

export interface Person {
  accountId: string;
  identity: Identity;
}

export const settings: FamilySettings = { volumeLimit: 70, retentionDays: 30, quietHours: { start: '19:30', end: '07:00', timeZone: 'Europe/Berlin' } };

export async function person(accountId: string): Promise<Person> {
  return { accountId, identity: await generateIdentity() };
}

export function guardianOf(p: Person): Member {
  return { accountId: p.accountId, role: 'guardian', keys: p.identity.publicKeys };
}

export function relativeOf(p: Person, children: string[], needsApproval = false): Member {
  return needsApproval
    ? { accountId: p.accountId, role: 'relative', keys: p.identity.publicKeys, children, needsApproval }
    : { accountId: p.accountId, role: 'relative', keys: p.identity.publicKeys, children };
}

export function toyOf(p: Person, childId: string): Toy {
  return { toyId: p.accountId, keys: p.identity.publicKeys, childId };
}

/**
 * Every scope key a test family has made, by `${generation}/${scope}`: what the family's members
 * and toys would hold between them once the wraps were opened.
 */
export class KeyBook {
  readonly keys = new Map<string, Uint8Array>();

  /** The key of `scope` of `generation`, or undefined when none was made. */
  get(scope: string, generation: number): Uint8Array | undefined {
    return this.keys.get(`${generation}/${scope}`);
  }

  /**
   * The keys an entry of `epoch` with `contents` after `before` (undefined at genesis) is signed
   * with: a fresh key for each scope `planGenerations` starts, the kept key for the others. Two
   * alternative entries of one epoch share their fresh keys.
   */
  keysFor(before: RosterEntry | undefined, contents: { members: readonly Member[]; toys: readonly Toy[]; children?: readonly string[] | undefined }, epoch: number): ScopeKey[] {
    const plan = planGenerations(
      before === undefined ? undefined : { contents: scopedContentsOf(before), generationOf: (scope) => scopeKeyOf(before, scope)?.generation },
      scopedContentsOf({ ...contents, children: [...new Set(contents.children ?? childrenNamedBy(contents.members, contents.toys))].sort() }),
      epoch,
    );
    return plan.map(({ scope, generation }) => {
      const id = `${generation}/${scope}`;
      if (!this.keys.has(id)) this.keys.set(id, generateScopeKey());
      return { scope, generation, key: this.keys.get(id)! };
    });
  }

  /** A reader's `keyFor(epoch, scope)` over `chain`: the key of the generation the entry of `epoch` names. */
  keyForIn(chain: readonly RosterEntry[]): (epoch: number, scope: string) => Uint8Array | undefined {
    return (epoch, scope) => {
      const entry = chain.find((e) => e.epoch === epoch);
      const signed = entry === undefined ? undefined : scopeKeyOf(entry, scope);
      return signed === undefined ? undefined : this.get(scope, signed.generation);
    };
  }

  /** The key of `scope` that `entry` commits to. */
  keyAt(entry: RosterEntry, scope: string): Uint8Array {
    const signed = scopeKeyOf(entry, scope);
    const key = signed === undefined ? undefined : this.get(scope, signed.generation);
    if (key === undefined) throw new Error(`no key of scope '${scope}' at epoch ${entry.epoch}`);
    return key;
  }
}

/** Creates a genesis entry whose scope keys `book` makes and remembers. */
export function genesisWith(book: KeyBook, options: Omit<Parameters<typeof createGenesisEntry>[0], 'scopeKeys'>): Promise<RosterEntry> {
  const members = [{ accountId: options.creator.accountId, role: 'guardian' as const, keys: options.creator.identity.publicKeys }, ...(options.members ?? []).filter((m) => m.accountId !== options.creator.accountId)];
  return createGenesisEntry({ ...options, scopeKeys: book.keysFor(undefined, { members, toys: options.toys ?? [] }, 0) });
}

/** Appends an entry whose scope keys follow the rotation rule, made and remembered by `book`. */
export function appendWith(book: KeyBook, chain: readonly RosterEntry[], options: Omit<Parameters<typeof appendRosterEntry>[1], 'scopeKeys'>): Promise<RosterEntry> {
  const last = chain[chain.length - 1]!;
  return appendRosterEntry(chain, { ...options, scopeKeys: book.keysFor(last, { ...options, children: nextChildren(last, options) }, last.epoch + 1) });
}

/**
 * A family: two guardians, a grandparent for child-1, an aunt who needs approval, one toy for
 * child-1. Epoch 0 has mum alone (the family-wide scope, generation 0); epoch 1 adds the rest,
 * which keeps the family-wide key and starts child-1's (generation 1). `book` holds the keys.
 */
export async function family() {
  const [mum, dad, gran, aunt, toy, stranger] = await Promise.all(['mum', 'dad', 'gran', 'aunt', 'toy-1', 'stranger'].map(person));
  const book = new KeyBook();
  const genesis = await genesisWith(book, { familyId: 'fam-1', creator: mum!, settings });
  const members = [guardianOf(mum!), guardianOf(dad!), relativeOf(gran!, ['child-1']), relativeOf(aunt!, ['child-1'], true)];
  const second = await appendWith(book, [genesis], { signer: mum!, members, toys: [toyOf(toy!, 'child-1')], settings });
  const chain: RosterEntry[] = [genesis, second];
  return { mum: mum!, dad: dad!, gran: gran!, aunt: aunt!, toy: toy!, stranger: stranger!, chain, members, book };
}
