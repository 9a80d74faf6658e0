/** Test factories for the crypto core: browser-safe (no Node APIs). */
import { generateIdentity, type Identity } from '../../src/crypto/identity.js';
import { appendRosterEntry, createGenesisEntry, type FamilySettings, type Member, type RosterEntry, type Toy } from '../../src/crypto/roster.js';
import { generateFamilyKey } from '../../src/crypto/family-key.js';

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

/** A family: two guardians, a grandparent for child-1, an aunt who needs approval, one toy for child-1; `keys[epoch]` its family keys. */
export async function family() {
  const [mum, dad, gran, aunt, toy, stranger] = await Promise.all(['mum', 'dad', 'gran', 'aunt', 'toy-1', 'stranger'].map(person));
  const keys = [generateFamilyKey(), generateFamilyKey()];
  const genesis = await createGenesisEntry({ familyId: 'fam-1', creator: mum!, settings, familyKey: keys[0]! });
  const members = [guardianOf(mum!), guardianOf(dad!), relativeOf(gran!, ['child-1']), relativeOf(aunt!, ['child-1'], true)];
  const second = await appendRosterEntry([genesis], { signer: mum!, members, toys: [toyOf(toy!, 'child-1')], settings, familyKey: keys[1]! });
  const chain: RosterEntry[] = [genesis, second];
  return { mum: mum!, dad: dad!, gran: gran!, aunt: aunt!, toy: toy!, stranger: stranger!, chain, members, keys };
}
