/**
 * Who an id is, in words, from a verified family: a member by the name in their own signed profile,
 * a child by their sealed profile, a toy as its child's toy. One place for every front end (web
 * app, export, CLI), so no screen falls back to showing raw ids. Names are untrusted text: front
 * ends that render markup check them (src/web/lib/profile-text.ts) and isolate them (`<bdi>`).
 */
import type { OpenedFamily } from './families.js';
import type { CheckedReceipt } from './receipts.js';

/** A member, child or toy of `family` in words; `me` (this account) is "You" when given. */
export function nameOf(family: Pick<OpenedFamily, 'roster' | 'children' | 'members'>, id: string, options: { me?: string } = {}): string {
  if (options.me !== undefined && id === options.me) return 'You';
  const member = family.members.find((m) => m.accountId === id);
  if (member !== undefined) return member.name ?? (member.role === 'guardian' ? 'A guardian' : 'A relative');
  const child = family.children.find((c) => c.childId === id);
  if (child !== undefined) return child.name ?? 'A child';
  const toy = family.roster.toys.find((t) => t.toyId === id);
  if (toy !== undefined) {
    const owner = family.children.find((c) => c.childId === toy.childId)?.name;
    return owner === undefined ? 'A toy' : `${owner}'s toy`;
  }
  return 'Someone no longer in the family';
}

/**
 * On which toys a message played, from receipts verified against the roster: "on Mia's toy"
 * (several joined with "and"); empty when no toy of the roster signed a "played" receipt. A member
 * listening is not the toy playing it (src/client/receipts.ts), so only toys are named.
 */
export function playedBy(family: Pick<OpenedFamily, 'roster' | 'children' | 'members'>, receipts: readonly CheckedReceipt[], me: string): string {
  const who = [...new Set(receipts.filter((r) => r.verified && r.kind === 'played' && r.by !== me && family.roster.toys.some((t) => t.toyId === r.by)).map((r) => r.by))];
  return who.map((id) => `on ${nameOf(family, id)}`).join(' and ');
}
