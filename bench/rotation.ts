/**
 * Rotation benchmark (`npm run bench:rotation`, issue #16): the key wraps a guardian's device makes
 * and uploads for the typical roster changes of a family of 4 guardians, 8 relatives, 3 children and
 * 4 toys, before (one family key per epoch: every change makes a fresh key and wraps it to every
 * member and toy) and after (per-scope keys, src/crypto/key-scopes.ts: only the scopes that lose a
 * holder get a fresh key, wrapped to that scope's holders; newcomers get wraps of current keys).
 * Both are measured in the same run, with the same identities (X-Wing, as new identities are), so
 * the ratio is what to read on a busy machine. Not a test.
 * Options: --runs N (median of N, default 9), --json.
 */
import { cpus, loadavg } from 'node:os';
import { toBase64Url } from '../src/crypto/bytes.js';
import { generateIdentity, type Identity } from '../src/crypto/identity.js';
import { FAMILY_SCOPE, planGenerations, scopesOf, wrapsForChange, type ScopedContents } from '../src/crypto/key-scopes.js';
import type { Member, Toy } from '../src/crypto/roster.js';
import { generateScopeKey, scopeKeyCommitment, wrapScopeKey, type WrappedScopeKey } from '../src/crypto/scope-key.js';

function argument(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

const RUNS = argument('--runs', 9);
const FAMILY = 'bench-rotation';
const [A, B, C] = ['child-a', 'child-b', 'child-c'] as const;
/** Which children each of the 8 relatives may message: four grandparents, two aunts, an uncle, a godparent. */
const RELATIVE_CHILDREN: string[][] = [[A, B, C], [A, B, C], [A, B, C], [A, B, C], [A], [B], [C], [A, B]];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A wrap as the roster routes carry it (JSON, bytes base64url), as `wrapToWire` sends it; the old model's wire named an epoch instead of a scope and generation. */
function wireBytes(w: { suite: string; recipientId: string; enc: Uint8Array; ciphertext: Uint8Array } & ({ epoch: number } | { scope: string; generation: number })): number {
  const { enc, ciphertext, ...rest } = w;
  return JSON.stringify({ ...rest, enc: toBase64Url(enc), ciphertext: toBase64Url(ciphertext) }).length;
}

interface Cast {
  people: Map<string, Identity>;
  family: ScopedContents;
}

async function cast(): Promise<Cast> {
  const people = new Map<string, Identity>();
  const ids = [...['g0', 'g1', 'g2', 'g3'], ...RELATIVE_CHILDREN.map((_, i) => `r${i}`), 'toy-a1', 'toy-a2', 'toy-b', 'toy-c', 'newcomer'];
  for (const id of ids) people.set(id, await generateIdentity());
  const keys = (id: string) => people.get(id)!.publicKeys;
  const members: Member[] = [
    ...['g0', 'g1', 'g2', 'g3'].map((id): Member => ({ accountId: id, role: 'guardian', keys: keys(id) })),
    ...RELATIVE_CHILDREN.map((children, i): Member => ({ accountId: `r${i}`, role: 'relative', keys: keys(`r${i}`), children })),
  ];
  const toys: Toy[] = [
    { toyId: 'toy-a1', keys: keys('toy-a1'), childId: A },
    { toyId: 'toy-a2', keys: keys('toy-a2'), childId: A },
    { toyId: 'toy-b', keys: keys('toy-b'), childId: B },
    { toyId: 'toy-c', keys: keys('toy-c'), childId: C },
  ];
  return { people, family: { members, toys, children: [A, B, C] } };
}

/** The typical changes, each from the same starting family. */
function changes(c: Cast): Array<{ name: string; after: ScopedContents }> {
  const f = c.family;
  return [
    { name: 'remove a toy', after: { ...f, toys: f.toys.filter((t) => t.toyId !== 'toy-a2') } },
    { name: 'narrow a relative ({A, B} → {A})', after: { ...f, members: f.members.map((m) => (m.accountId === 'r7' ? { ...m, children: [A] } : m)) } },
    { name: 'remove a relative (a grandparent)', after: { ...f, members: f.members.filter((m) => m.accountId !== 'r0') } },
    { name: 'remove a relative (an aunt, one child)', after: { ...f, members: f.members.filter((m) => m.accountId !== 'r5') } },
    { name: 'add a relative (for one child)', after: { ...f, members: [...f.members, { accountId: 'newcomer', role: 'relative', keys: c.people.get('newcomer')!.publicKeys, children: [C] }] } },
  ];
}

/**
 * Before (the single family key, removed by issue #16; computed here with today's primitives): every
 * change makes one fresh key and its commitment and wraps it to every member and toy of the new
 * entry. The same HPKE seal per wrap as a scope key (the old wrap bound an epoch where a scope-key
 * wrap binds a scope and generation), so the costs compare like for like.
 */
async function rotateBefore(after: ScopedContents, epoch: number): Promise<{ wraps: number; bytes: number }> {
  const key = generateScopeKey();
  await scopeKeyCommitment({ familyId: FAMILY, scope: FAMILY_SCOPE, generation: epoch, key });
  const recipients = [...after.members.map((m) => ({ id: m.accountId, ...m.keys })), ...after.toys.map((t) => ({ id: t.toyId, ...t.keys }))];
  const wraps = await Promise.all(recipients.map((recipient) => wrapScopeKey({ familyId: FAMILY, scope: FAMILY_SCOPE, generation: epoch, key, recipient })));
  return { wraps: wraps.length, bytes: wraps.reduce((n, w) => n + wireBytes({ suite: w.suite, recipientId: w.recipientId, epoch, enc: w.enc, ciphertext: w.ciphertext }), 0) };
}

/** After: fresh keys (and commitments) only for the scopes that lose a holder; wraps as `wrapsForChange` lists them. */
async function rotateAfter(before: ScopedContents, after: ScopedContents, epoch: number): Promise<{ wraps: number; bytes: number; fresh: number }> {
  const plan = planGenerations({ contents: before, generationOf: () => 0 }, after, epoch);
  const keys = new Map(plan.map((p) => [p.scope, generateScopeKey()]));
  for (const p of plan.filter((g) => g.fresh)) await scopeKeyCommitment({ familyId: FAMILY, scope: p.scope, generation: p.generation, key: keys.get(p.scope)! });
  const needed = wrapsForChange(before, after, plan);
  const wraps: WrappedScopeKey[] = await Promise.all(
    needed.map((w) => wrapScopeKey({ familyId: FAMILY, scope: w.scope, generation: w.generation, key: keys.get(w.scope)!, recipient: { id: w.recipient.id, ...w.recipient.keys } })),
  );
  return { wraps: wraps.length, bytes: wraps.reduce((n, w) => n + wireBytes(w), 0), fresh: plan.filter((p) => p.fresh).length };
}

/** Median CPU and wall milliseconds of `op` over RUNS runs (after one warm-up), and its last result. */
async function measure<T>(op: () => Promise<T>): Promise<{ cpuMs: number; wallMs: number; result: T }> {
  let result = await op();
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    result = await op();
    wall.push(performance.now() - start);
    const used = process.cpuUsage(cpuStart);
    cpu.push((used.user + used.system) / 1000);
  }
  return { cpuMs: median(cpu), wallMs: median(wall), result };
}

const c = await cast();
const loadBefore = loadavg()[0]!;
const rows = [];
for (const change of changes(c)) {
  const before = await measure(() => rotateBefore(change.after, 1));
  const after = await measure(() => rotateAfter(c.family, change.after, 1));
  rows.push({ change: change.name, before: { ...before.result, cpuMs: before.cpuMs, wallMs: before.wallMs }, after: { ...after.result, cpuMs: after.cpuMs, wallMs: after.wallMs } });
}
const load = { before: loadBefore, after: loadavg()[0]! };
if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ node: process.version, cpu: cpus()[0]?.model, runs: RUNS, load, scopes: scopesOf(c.family).length, rows }, null, 2));
} else {
  const fmt = (n: number, digits = 0) => n.toLocaleString('en-GB', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  console.log(`Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), load ${fmt(load.before, 1)} → ${fmt(load.after, 1)}; median of ${RUNS} runs; X-Wing wraps`);
  console.log('| change | wraps before → after | bytes uploaded before → after | after / before (bytes) | fresh keys after | CPU ms before → after | after / before (CPU) |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.change} | ${r.before.wraps} → ${r.after.wraps} | ${fmt(r.before.bytes)} → ${fmt(r.after.bytes)} | ${fmt(r.after.bytes / r.before.bytes, 2)} | ${r.after.fresh} | ${fmt(r.before.cpuMs, 1)} → ${fmt(r.after.cpuMs, 1)} | ${fmt(r.after.cpuMs / r.before.cpuMs, 2)} |`,
    );
  }
}
