import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { bytesEqual } from '../../src/crypto/bytes.js';
import {
  decodeRosterEntry,
  encodeRosterEntry,
  hashRosterEntry,
  verifyRoster,
  type FamilySettings,
  type Member,
  type RosterEntry,
  type Toy,
} from '../../src/crypto/roster.js';
import { appendWith, genesisWith, KeyBook, person, type Person } from './fixtures.js';

let pool: Person[] = [];
beforeAll(async () => {
  pool = await Promise.all(['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'].map(person));
});

const settingsArb: fc.Arbitrary<FamilySettings> = fc.record(
  {
    volumeLimit: fc.integer({ min: 0, max: 100 }),
    retentionDays: fc.integer({ min: 1, max: 365 }),
    quietHours: fc.record({
      start: fc.constantFrom('00:00', '19:30', '23:59'),
      end: fc.constantFrom('06:45', '07:00'),
      timeZone: fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York'),
    }),
  },
  { requiredKeys: ['volumeLimit', 'retentionDays'] },
);

/** One epoch's contents: which pool people are guardians, relatives (with children) or toys. */
interface EpochSpec {
  roles: ('guardian' | 'relative' | 'toy' | 'absent')[];
  children: string[][];
  approval: boolean[];
  settings: FamilySettings;
}

const epochArb: fc.Arbitrary<EpochSpec> = fc.record({
  roles: fc.array(fc.constantFrom<EpochSpec['roles'][number]>('guardian', 'relative', 'toy', 'absent'), { minLength: 8, maxLength: 8 }),
  children: fc.array(fc.subarray(['c1', 'c2', 'c3']), { minLength: 8, maxLength: 8 }),
  approval: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
  settings: settingsArb,
});

function contents(spec: EpochSpec, mustKeep: number): { members: Member[]; toys: Toy[] } {
  const members: Member[] = [];
  const toys: Toy[] = [];
  spec.roles.forEach((role, i) => {
    const p = pool[i]!;
    const r = i === mustKeep ? 'guardian' : role;
    if (r === 'guardian') members.push({ accountId: p.accountId, role: 'guardian', keys: p.identity.publicKeys, children: [] });
    else if (r === 'relative') {
      const m: Member = { accountId: p.accountId, role: 'relative', keys: p.identity.publicKeys, children: spec.children[i]! };
      if (spec.approval[i]) m.needsApproval = true;
      members.push(m);
    } else if (r === 'toy') toys.push({ toyId: p.accountId, keys: p.identity.publicKeys, childId: spec.children[i]![0] ?? 'c1' });
  });
  return { members, toys };
}

async function buildChain(epochs: EpochSpec[], signers: number[]): Promise<RosterEntry[]> {
  const creator = pool[signers[0]!]!;
  const first = contents(epochs[0]!, signers[0]!);
  const book = new KeyBook();
  const chain = [await genesisWith(book, { familyId: 'fam-p', creator, settings: epochs[0]!.settings, members: first.members, toys: first.toys })];
  for (let i = 1; i < epochs.length; i++) {
    const previous = chain[chain.length - 1]!;
    // The signer is a guardian of the previous entry; the next entry keeps someone as guardian.
    const guardians = previous.members.filter((m) => m.role === 'guardian');
    const signerId = guardians[signers[i]! % guardians.length]!.accountId;
    const signer = pool.find((p) => p.accountId === signerId)!;
    const next = contents(epochs[i]!, signers[i]!);
    chain.push(await appendWith(book, chain, { signer, members: next.members, toys: next.toys, settings: epochs[i]!.settings }));
  }
  return chain;
}

const chainArb = fc.tuple(fc.array(epochArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat({ max: 7 }), { minLength: 4, maxLength: 4 }));

describe('roster properties', () => {
  it('any chain built by guardians verifies, and every entry survives encoding', async () => {
    await fc.assert(
      fc.asyncProperty(chainArb, async ([epochs, signers]) => {
        const chain = await buildChain(epochs, signers);
        const result = await verifyRoster(chain, { genesisHash: await hashRosterEntry(chain[0]!) });
        expect(result.ok).toBe(true);
        for (const entry of chain) {
          const decoded = decodeRosterEntry(encodeRosterEntry(entry));
          expect(decoded.ok).toBe(true);
          if (decoded.ok) expect(bytesEqual(await hashRosterEntry(decoded.value), await hashRosterEntry(entry))).toBe(true);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('any single-byte mutation of any entry of a chain is refused', async () => {
    await fc.assert(
      fc.asyncProperty(chainArb, fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }), async ([epochs, signers], which, at, xor) => {
        const chain = await buildChain(epochs, signers);
        const anchor = { genesisHash: await hashRosterEntry(chain[0]!) };
        const index = which % chain.length;
        const encoded = encodeRosterEntry(chain[index]!);
        encoded[at % encoded.length]! ^= xor;
        const decoded = decodeRosterEntry(encoded);
        if (!decoded.ok) return;
        const mutated = chain.map((e, i) => (i === index ? decoded.value : e));
        expect((await verifyRoster(mutated, anchor)).ok).toBe(false);
      }),
      { numRuns: 60 },
    );
  });
});
