/**
 * The fixed family every vector file uses: Mum (guardian, creator), Gran (a relative of one child,
 * whose messages need approval) and a toy of that child, over three epochs — 0: Mum alone;
 * 1: Gran and the toy join; 2: Gran is removed. Keys, ids, times and family keys are fixed.
 */
import { appendRosterEntry, createGenesisEntry, hashRosterEntry, type FamilySettings, type RosterEntry } from '../../src/crypto/roster.js';
import type { Identity } from '../../src/crypto/identity.js';
import { fixedBytes, fixedId, fixedIdentity, withFixedRandom } from './support.js';

export const FAMILY_ID = fixedId('family');
export const CHILD_ID = fixedId('child');
export const MUM_ID = fixedId('mum');
export const GRAN_ID = fixedId('gran');
export const TOY_ID = fixedId('toy');
/** 2026-01-01T00:00:00Z, and the times after it the vectors use. */
export const T0 = 1_767_225_600_000;

export const SETTINGS: FamilySettings = { volumeLimit: 70, retentionDays: 30, quietHours: { start: '19:30', end: '07:00', timeZone: 'Europe/Berlin' } };

export interface VectorFamily {
  mum: Identity;
  gran: Identity;
  toy: Identity;
  /** The family key of each epoch. */
  keys: Uint8Array[];
  chain: RosterEntry[];
  hashes: Uint8Array[];
}

let cached: Promise<VectorFamily> | undefined;

async function build(): Promise<VectorFamily> {
  const [mum, gran, toy] = await Promise.all([fixedIdentity('mum'), fixedIdentity('gran'), fixedIdentity('toy')]);
  const keys = [0, 1, 2].map((epoch) => fixedBytes(`family-key/${epoch}`));
  const signer = { accountId: MUM_ID, identity: mum };
  const mumMember = { accountId: MUM_ID, role: 'guardian' as const, keys: mum.publicKeys };
  const genesis = await createGenesisEntry({ familyId: FAMILY_ID, creator: signer, settings: SETTINGS, familyKey: keys[0]!, createdAt: T0 });
  const withGran = await appendRosterEntry([genesis], {
    signer,
    members: [mumMember, { accountId: GRAN_ID, role: 'relative', keys: gran.publicKeys, children: [CHILD_ID], needsApproval: true }],
    toys: [{ toyId: TOY_ID, keys: toy.publicKeys, childId: CHILD_ID }],
    settings: SETTINGS,
    familyKey: keys[1]!,
    createdAt: T0 + 60_000,
  });
  const withoutGran = await appendRosterEntry([genesis, withGran], {
    signer,
    members: [mumMember],
    toys: [{ toyId: TOY_ID, keys: toy.publicKeys, childId: CHILD_ID }],
    settings: { ...SETTINGS, toyToToy: true },
    familyKey: keys[2]!,
    createdAt: T0 + 120_000,
  });
  const chain = [genesis, withGran, withoutGran];
  const hashes = await Promise.all(chain.map((entry) => hashRosterEntry(entry)));
  return { mum, gran, toy, keys, chain, hashes };
}

/**
 * The family, built once per run. Ed25519 signatures are deterministic, and the nonces sealing the
 * quiet hours in each entry come from a fixed stream, so every run builds the same bytes.
 */
export function vectorFamily(): Promise<VectorFamily> {
  cached ??= withFixedRandom('family', build);
  return cached;
}
