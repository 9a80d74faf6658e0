import { describe, expect, it } from 'vitest';
import { FAMILY_SCOPE, messageScope, planGenerations, scopeHolders, scopesHeldBy, scopesToRotate, wrapsForChange, type ScopedContents } from '../../src/crypto/key-scopes.js';
import { guardianOf, person, relativeOf, toyOf, type Person } from './fixtures.js';

let cast: Record<'mum' | 'dad' | 'gran' | 'uncle' | 'toyA' | 'toyB' | 'toyA2', Person> | undefined;
async function people() {
  if (cast === undefined) {
    const [mum, dad, gran, uncle, toyA, toyB, toyA2] = await Promise.all(['mum', 'dad', 'gran', 'uncle', 'toy-a', 'toy-b', 'toy-a2'].map(person));
    cast = { mum: mum!, dad: dad!, gran: gran!, uncle: uncle!, toyA: toyA!, toyB: toyB!, toyA2: toyA2! };
  }
  return cast;
}

/** Two children A and B: gran may talk with A only, the uncle with both; a toy each (A has two). */
async function family(): Promise<ScopedContents> {
  const p = await people();
  return {
    members: [guardianOf(p.mum), guardianOf(p.dad), relativeOf(p.gran, ['child-a']), relativeOf(p.uncle, ['child-a', 'child-b'])],
    toys: [toyOf(p.toyA, 'child-a'), toyOf(p.toyA2, 'child-a'), toyOf(p.toyB, 'child-b')],
    children: ['child-b', 'child-a'],
  };
}

const ids = (holders: Array<{ id: string }>) => holders.map((h) => h.id);

describe('who holds which key', () => {
  it('gives the family-wide key to every member and to no toy', async () => {
    expect(ids(scopeHolders(await family(), FAMILY_SCOPE))).toEqual(['mum', 'dad', 'gran', 'uncle']);
  });

  it("gives a child's key to the guardians, the relatives allowed that child and that child's toys only", async () => {
    const f = await family();
    expect(ids(scopeHolders(f, 'child-a'))).toEqual(['mum', 'dad', 'gran', 'uncle', 'toy-a', 'toy-a2']);
    expect(ids(scopeHolders(f, 'child-b'))).toEqual(['mum', 'dad', 'uncle', 'toy-b']);
    expect(scopesHeldBy(f, 'toy-a')).toEqual(['child-a']);
    expect(scopesHeldBy(f, 'gran')).toEqual([FAMILY_SCOPE, 'child-a']);
  });

  it('gives nobody the key of a child the entry does not list, even a relative who names it (deny by default)', async () => {
    const f = await family();
    const p = await people();
    const odd: ScopedContents = { ...f, members: [...f.members.slice(0, 3), relativeOf(p.uncle, ['child-c'])] };
    expect(scopeHolders(odd, 'child-c')).toEqual([]);
    expect(scopesHeldBy(odd, 'uncle')).toEqual([FAMILY_SCOPE]);
  });
});

describe('the one conversation a message belongs to', () => {
  it("seals a message to a child, its toys and adults allowed that child under the child's key", async () => {
    const f = await family();
    expect(messageScope(f, 'mum', ['child-a'])).toEqual({ ok: true, value: 'child-a' });
    expect(messageScope(f, 'mum', ['toy-a', 'toy-a2', 'gran', 'mum'])).toEqual({ ok: true, value: 'child-a' });
    expect(messageScope(f, 'mum', ['uncle'])).toEqual({ ok: true, value: FAMILY_SCOPE });
  });

  it('refuses one message across two children, to an adult not allowed the child, or to someone unknown', async () => {
    const f = await family();
    expect(messageScope(f, 'mum', ['child-a', 'child-b'])).toEqual({ ok: false, code: 'envelope/wrong-scope' });
    expect(messageScope(f, 'mum', ['toy-a', 'toy-b'])).toEqual({ ok: false, code: 'envelope/wrong-scope' });
    expect(messageScope(f, 'mum', ['child-b', 'gran'])).toEqual({ ok: false, code: 'envelope/wrong-scope' });
    expect(messageScope(f, 'mum', ['child-z'])).toEqual({ ok: false, code: 'envelope/wrong-scope' });
    expect(messageScope(f, 'mum', [])).toEqual({ ok: false, code: 'envelope/wrong-scope' });
    expect(messageScope(f, 'someone', ['child-a'])).toEqual({ ok: false, code: 'envelope/wrong-scope' });
  });

  it("a toy's message is always its own child's, even to adults only", async () => {
    const f = await family();
    expect(messageScope(f, 'toy-a', ['mum'])).toEqual({ ok: true, value: 'child-a' });
    expect(messageScope(f, 'toy-a', ['toy-a2', 'gran'])).toEqual({ ok: true, value: 'child-a' });
    expect(messageScope(f, 'toy-a', ['child-b'])).toEqual({ ok: false, code: 'envelope/wrong-scope' });
    expect(messageScope(f, 'toy-b', ['gran'])).toEqual({ ok: false, code: 'envelope/wrong-scope' });
  });
});

describe('rotation only where a holder is lost', () => {
  it('removing a toy rotates its child only', async () => {
    const f = await family();
    expect(scopesToRotate(f, { ...f, toys: f.toys.filter((t) => t.toyId !== 'toy-a2') })).toEqual(['child-a']);
  });

  it("narrowing a relative from two children to one rotates the removed child's key only", async () => {
    const f = await family();
    const p = await people();
    const narrowed = { ...f, members: [...f.members.slice(0, 3), relativeOf(p.uncle, ['child-a'])] };
    expect(scopesToRotate(f, narrowed)).toEqual(['child-b']);
  });

  it("removing a relative rotates the family-wide key and their children's keys", async () => {
    const f = await family();
    expect(scopesToRotate(f, { ...f, members: f.members.filter((m) => m.accountId !== 'gran') })).toEqual([FAMILY_SCOPE, 'child-a']);
  });

  it('adding someone rotates nothing; a holder whose public keys changed counts as lost', async () => {
    const f = await family();
    const newcomer = await person('aunt');
    const added = { ...f, members: [...f.members, relativeOf(newcomer, ['child-b'])] };
    expect(scopesToRotate(f, added)).toEqual([]);
    const rekeyed = { ...f, toys: [...f.toys.slice(0, 2), { ...f.toys[2]!, keys: newcomer.identity.publicKeys }] };
    expect(scopesToRotate(f, rekeyed)).toEqual(['child-b']);
  });

  it('plans fresh generations for rotated and new scopes and wraps a kept generation to newcomers only', async () => {
    const f = await family();
    const newcomer = await person('aunt');
    const after: ScopedContents = { members: [...f.members.filter((m) => m.accountId !== 'gran'), relativeOf(newcomer, ['child-b'])], toys: f.toys, children: [...f.children, 'child-c'] };
    const generations: Record<string, number> = { [FAMILY_SCOPE]: 3, 'child-a': 1, 'child-b': 2 };
    const plan = planGenerations({ contents: f, generationOf: (s) => generations[s] }, after, 5);
    expect(plan).toEqual([
      { scope: FAMILY_SCOPE, generation: 5, fresh: true },
      { scope: 'child-a', generation: 5, fresh: true },
      { scope: 'child-b', generation: 2, fresh: false },
      { scope: 'child-c', generation: 5, fresh: true },
    ]);
    const wraps = wrapsForChange(f, after, plan).map((w) => `${w.scope || 'family'}@${w.generation}→${w.recipient.id}`);
    expect(wraps).toEqual([
      'family@5→mum', 'family@5→dad', 'family@5→uncle', 'family@5→aunt',
      'child-a@5→mum', 'child-a@5→dad', 'child-a@5→uncle', 'child-a@5→toy-a', 'child-a@5→toy-a2',
      'child-b@2→aunt',
      'child-c@5→mum', 'child-c@5→dad',
    ]);
  });
});
