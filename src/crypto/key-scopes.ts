/**
 * Key scopes: which conversation a key opens and who may hold it (issue #16).
 *
 * A family's keys are split by conversation instead of one family key per epoch:
 *
 * - the family-wide scope (`FAMILY_SCOPE`, the empty string): the family name, member and toy
 *   profiles and messages between adults only. Held by every member, and by no toy: a toy plays
 *   only its own child's conversation, so the family's least protected device (the one that is
 *   lost, resold or opened up) carries nothing family-wide.
 * - one scope per child (the child's id): every message to the child or the child's toys, their
 *   toys' replies, and the child's profile. Held by the guardians, the relatives whose `children`
 *   include the child, and the child's toys.
 *
 * Each scope has its own key generation. A roster change starts a new generation only for the
 * scopes that lose a holder (`scopesToRotate`): removing a toy rotates its child's key alone,
 * narrowing a relative from {A, B} to {A} rotates B's alone, removing a relative rotates the
 * family-wide key and the keys of their children; adding someone rotates nothing, they are given
 * wraps of the current generations (`wrapsForChange`). A holder whose public keys changed counts as
 * lost: the key the old keys could unwrap must not stay in use.
 *
 * Everything here is a pure function of roster contents; nothing depends on a server field.
 */
import { fail, ok, type CryptoResult } from './result.js';
import { bytesEqual } from './bytes.js';
import type { PublicIdentityKeys } from './identity.js';

/** A roster member as scoping reads it (roster.ts `Member` is one). */
interface Member {
  readonly accountId: string;
  readonly role: 'guardian' | 'relative';
  readonly keys: PublicIdentityKeys;
  readonly children?: readonly string[] | undefined;
}

/** A roster toy as scoping reads it (roster.ts `Toy` is one). */
interface Toy {
  readonly toyId: string;
  readonly keys: PublicIdentityKeys;
  readonly childId: string;
}

/** The family-wide scope's id. Child ids are never empty, so it cannot name a child. */
export const FAMILY_SCOPE = '';

/** The parts of a roster entry that decide who holds which scope's key. */
export interface ScopedContents {
  readonly members: readonly Member[];
  readonly toys: readonly Toy[];
  /** The children the entry gives a conversation key (each child id once). */
  readonly children: readonly string[];
}

/** A member or toy with the public keys a wrap is made for. */
export interface ScopeHolder {
  id: string;
  keys: PublicIdentityKeys;
}

/** Every child a relative of `members` is allowed or a toy of `toys` belongs to, each once, sorted. */
export function childrenNamedBy(members: readonly Member[], toys: readonly Toy[]): string[] {
  const out = new Set<string>();
  for (const m of members) if (m.role === 'relative') for (const child of m.children ?? []) out.add(child);
  for (const t of toys) out.add(t.childId);
  return [...out].sort();
}

/** The parts of an entry that decide its scopes and their holders: its signed members, toys and children. */
export function scopedContentsOf(entry: { readonly members: readonly Member[]; readonly toys: readonly Toy[]; readonly children: readonly string[] }): ScopedContents {
  return { members: entry.members, toys: entry.toys, children: entry.children };
}

/** The entry's scopes in canonical order: the family-wide scope, then the children by id. */
export function scopesOf(contents: ScopedContents): string[] {
  return [FAMILY_SCOPE, ...[...new Set(contents.children)].sort()];
}

/** Whether `member` may talk with `childId`: every guardian, and relatives who were given that child. */
export function memberMayTalkWith(member: Member, childId: string): boolean {
  return member.role === 'guardian' || (member.children ?? []).includes(childId);
}

/**
 * Who holds `scope`'s key in `contents`, in roster order (members, then toys). An unknown scope
 * (a child the entry does not list) has no holders: deny by default.
 */
export function scopeHolders(contents: ScopedContents, scope: string): ScopeHolder[] {
  if (scope === FAMILY_SCOPE) return contents.members.map((m) => ({ id: m.accountId, keys: m.keys }));
  if (!contents.children.includes(scope)) return [];
  return [
    ...contents.members.filter((m) => memberMayTalkWith(m, scope)).map((m) => ({ id: m.accountId, keys: m.keys })),
    ...contents.toys.filter((t) => t.childId === scope).map((t) => ({ id: t.toyId, keys: t.keys })),
  ];
}

/** The scopes whose keys `id` (an account or toy id) holds in `contents`, in canonical order. */
export function scopesHeldBy(contents: ScopedContents, id: string): string[] {
  return scopesOf(contents).filter((scope) => scopeHolders(contents, scope).some((h) => h.id === id));
}

/**
 * The one conversation a message belongs to, as `contents` (the sender's entry) describes sender
 * and recipients: a toy's message is always its own child's; a member's is the child's when any
 * recipient is a child or one of a child's toys (they must all be the same child's), else the
 * family-wide scope (adults only). Every adult recipient must be allowed the child. Anything else —
 * two children's conversations in one message, an adult not allowed the child, a recipient or
 * sender the entry does not know — is `envelope/wrong-scope`: such a message has no key every
 * recipient may hold.
 */
export function messageScope(contents: ScopedContents, senderId: string, recipients: readonly string[]): CryptoResult<string> {
  const children = new Set<string>();
  const senderToy = contents.toys.find((t) => t.toyId === senderId);
  if (senderToy !== undefined) children.add(senderToy.childId);
  else if (!contents.members.some((m) => m.accountId === senderId)) return fail('envelope/wrong-scope');
  const adults: Member[] = [];
  if (recipients.length === 0) return fail('envelope/wrong-scope');
  for (const id of recipients) {
    const member = contents.members.find((m) => m.accountId === id);
    const toy = contents.toys.find((t) => t.toyId === id);
    if (member !== undefined) adults.push(member);
    else if (toy !== undefined) children.add(toy.childId);
    else if (contents.children.includes(id)) children.add(id);
    else return fail('envelope/wrong-scope');
  }
  if (children.size > 1) return fail('envelope/wrong-scope');
  const [child] = children;
  if (child === undefined) return ok(FAMILY_SCOPE);
  if (!contents.children.includes(child) || !adults.every((m) => memberMayTalkWith(m, child))) return fail('envelope/wrong-scope');
  return ok(child);
}

function sameKeys(a: PublicIdentityKeys, b: PublicIdentityKeys): boolean {
  if (!bytesEqual(a.signingKey, b.signingKey) || !bytesEqual(a.agreementKey, b.agreementKey)) return false;
  if (a.kemKey === undefined || b.kemKey === undefined) return a.kemKey === b.kemKey;
  return bytesEqual(a.kemKey, b.kemKey);
}

/**
 * The scopes of `after` that must start a new generation: those `before` also had and that lose a
 * holder (gone from the scope, or holding it under other public keys). A scope `before` did not
 * have starts at its first generation anyway; a scope that only gains holders keeps its key.
 */
export function scopesToRotate(before: ScopedContents, after: ScopedContents): string[] {
  const existing = new Set(scopesOf(before));
  return scopesOf(after).filter((scope) => {
    if (!existing.has(scope)) return false;
    const staying = scopeHolders(after, scope);
    return scopeHolders(before, scope).some((h) => !staying.some((s) => s.id === h.id && sameKeys(s.keys, h.keys)));
  });
}

/** One scope's key generation in an entry: the epoch at which that key was made. */
export interface ScopeGeneration {
  scope: string;
  generation: number;
  /** True when the entry starts this generation (a new scope, or one that lost a holder). */
  fresh: boolean;
}

/**
 * The generation of each scope of `after`, the entry of `epoch`: a fresh generation (`epoch`
 * itself) for a scope that is new or loses a holder, the generation `before` had otherwise.
 * `before` is undefined for a family's first entry, where every scope is fresh.
 */
export function planGenerations(
  before: { contents: ScopedContents; generationOf: (scope: string) => number | undefined } | undefined,
  after: ScopedContents,
  epoch: number,
): ScopeGeneration[] {
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new TypeError('epoch must be a non-negative integer');
  const rotate = new Set(before === undefined ? [] : scopesToRotate(before.contents, after));
  return scopesOf(after).map((scope) => {
    const previous = before?.generationOf(scope);
    if (previous === undefined || rotate.has(scope)) return { scope, generation: epoch, fresh: true };
    return { scope, generation: previous, fresh: false };
  });
}

/** One key wrap a roster change needs: `scope`'s key of `generation`, to `recipient`. */
export interface NeededWrap {
  scope: string;
  generation: number;
  recipient: ScopeHolder;
}

/**
 * The wraps a roster change needs: a fresh generation goes to every holder; a kept one only to
 * holders who did not hold it before (or held it under other keys). Nothing else: a wrap to
 * anyone else would hand them a conversation the roster does not give them.
 */
export function wrapsForChange(before: ScopedContents | undefined, after: ScopedContents, plan: readonly ScopeGeneration[]): NeededWrap[] {
  const out: NeededWrap[] = [];
  for (const { scope, generation, fresh } of plan) {
    const earlier = before === undefined || fresh ? [] : scopeHolders(before, scope);
    for (const recipient of scopeHolders(after, scope)) {
      if (earlier.some((h) => h.id === recipient.id && sameKeys(h.keys, recipient.keys))) continue;
      out.push({ scope, generation, recipient });
    }
  }
  return out;
}
