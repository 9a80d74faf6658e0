/**
 * The known-answer vector generator: one module per construction (test/vectors/constructions), each
 * producing one file of docs/vectors. `npm run vectors` writes them; vectors.test.ts (in npm test)
 * regenerates them in memory and compares. Adding or regenerating a construction is a change to
 * its module and this list only.
 */
import { approval } from './constructions/approval.js';
import { envelope } from './constructions/envelope.js';
import { familyLog } from './constructions/family-log.js';
import { identity } from './constructions/identity.js';
import { invite } from './constructions/invite.js';
import { inviteDescription } from './constructions/invite-description.js';
import { pairing } from './constructions/pairing.js';
import { profile } from './constructions/profile.js';
import { receipt } from './constructions/receipt.js';
import { rosterEntry } from './constructions/roster-entry.js';
import { scopeKeyCommitmentConstruction } from './constructions/scope-key-commitment.js';
import { scopeKeyWrap } from './constructions/scope-key-wrap.js';
import { vault } from './constructions/vault.js';
import type { Construction, VectorFile } from './support.js';

export const CONSTRUCTIONS: readonly Construction[] = [identity, rosterEntry, scopeKeyCommitmentConstruction, scopeKeyWrap, envelope, approval, receipt, profile, invite, inviteDescription, vault, familyLog, pairing];

/** A vector file as committed: two-space JSON and a final newline. */
export function serialise(file: VectorFile): string {
  return `${JSON.stringify(file, null, 2)}\n`;
}
