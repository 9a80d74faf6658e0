/**
 * Head commitments: envelopes, approvals and receipts carry the epoch and hash (`hashRosterEntry`)
 * of their author's verified roster head, so two devices that were shown different chains find
 * out on the next thing one of them signs (equivocation, as in Keybase's sigchains or the tree
 * hash MLS puts in every commit's confirmation). This module compares such a commitment with the
 * reader's own verified roster.
 */
import { bytesEqual } from './bytes.js';
import { hashRosterEntry, type RosterEntry, type VerifiedRoster } from './roster.js';

/** Length of a roster head hash (SHA-256). */
export const ROSTER_HEAD_LENGTH = 32;

/**
 * How a commitment to (epoch, head) relates to the reader's verified roster:
 * - `same`: the reader holds that very entry;
 * - `behind`: the epoch is newer than the reader's head — the reader must fetch the roster before it trusts its older view;
 * - `fork`: the reader holds a different entry for that epoch — someone was shown another chain;
 * - `unknown`: the epoch is older than anything the reader verified (it anchored later), so nothing contradicts it.
 */
export type HeadRelation = 'same' | 'behind' | 'fork' | 'unknown';

// Entries of a verified roster never change, so their hashes are computed once per entry object.
const hashes = new WeakMap<RosterEntry, Promise<Uint8Array>>();

/** The hash of the reader's entry at `epoch`, cached per entry; undefined when it holds none. */
export function rosterHashAt(roster: VerifiedRoster, epoch: number): Promise<Uint8Array> | undefined {
  const entry = roster.entryAt(epoch);
  if (entry === undefined) return undefined;
  let hash = hashes.get(entry);
  if (hash === undefined) {
    hash = hashRosterEntry(entry);
    hashes.set(entry, hash);
  }
  return hash;
}

/** Compares a signed head commitment with the reader's verified roster (see `HeadRelation`). */
export async function compareRosterHead(roster: VerifiedRoster, epoch: number, head: Uint8Array): Promise<HeadRelation> {
  if (epoch > roster.epoch) return 'behind';
  const mine = rosterHashAt(roster, epoch);
  if (mine === undefined) return 'unknown';
  return bytesEqual(await mine, head) ? 'same' : 'fork';
}

/**
 * The signing key of a member or toy as the reader last knew it at or before `epoch` (the newest
 * entry up to it that lists `id`), to authenticate a commitment from an author whose epoch the
 * reader cannot judge — a newer head, or an entry it holds differently.
 */
export function signingKeyKnownAt(roster: VerifiedRoster, epoch: number, id: string): Uint8Array | undefined {
  for (let i = roster.entries.length - 1; i >= 0; i--) {
    const entry = roster.entries[i]!;
    if (entry.epoch > epoch) continue;
    const member = entry.members.find((m) => m.accountId === id);
    if (member) return member.keys.signingKey;
    const toy = entry.toys.find((t) => t.toyId === id);
    if (toy) return toy.keys.signingKey;
  }
  return undefined;
}
