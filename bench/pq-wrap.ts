/**
 * Post-quantum wrapping benchmark (`npm run bench:pq`, issue #11): family-key wraps and unwraps per
 * second under the classical suite (HPKE DHKEM(X25519)) and the hybrid one (HPKE X-Wing), the
 * bytes X-Wing adds per wrapped key and per roster participant, and the cost of a key rotation that
 * wraps one family key to 10 members and 4 toys. Node only (the crypto runs the same code in
 * browsers; X-Wing there is the same pure-JavaScript @noble/post-quantum). Not a test.
 * Options: --ms MS (time per measured loop, default 2000), --rotations N (default 20), --json.
 */
import { cpus } from 'node:os';
import { toBase64Url } from '../src/crypto/bytes.js';
import { FAMILY_SCOPE, scopeHolders, scopedContentsOf } from '../src/crypto/key-scopes.js';
import { commitmentsOf, generateScopeKey, unwrapAndCheckScopeKey, wrapScopeKey, type WrappedScopeKey } from '../src/crypto/scope-key.js';
import { generateIdentity, type Identity } from '../src/crypto/identity.js';
import { appendRosterEntry, createGenesisEntry, encodeRosterEntry, type FamilySettings, type Member, type RosterEntry, type Toy } from '../src/crypto/roster.js';

function argument(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

const LOOP_MS = argument('--ms', 2000);
const ROTATIONS = argument('--rotations', 20);
const SETTINGS: FamilySettings = { volumeLimit: 70, retentionDays: 30 };

/**
 * Operations per second of `op`, run back to back for LOOP_MS after a short warm-up: per second of
 * wall time, and per second of the process's CPU time (all threads), which a busy shared machine
 * disturbs far less than wall time.
 */
async function perSecond(op: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  for (let i = 0; i < 20; i++) await op();
  let n = 0;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  let now = start;
  while (now - start < LOOP_MS) {
    await op();
    n++;
    now = performance.now();
  }
  const cpu = process.cpuUsage(cpuStart);
  return { wall: (n * 1000) / (now - start), cpu: (n * 1e6) / (cpu.user + cpu.system) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function wireBytes(w: WrappedScopeKey): number {
  return JSON.stringify({ suite: w.suite, recipientId: w.recipientId, scope: w.scope, generation: w.generation, enc: toBase64Url(w.enc), ciphertext: toBase64Url(w.ciphertext) }).length;
}

/** A family of 10 members and 4 toys, all for child-1: epoch 1 keeps the family-wide key of epoch 0 and starts child-1's (`childKey`). */
async function familyOf(kem: boolean): Promise<{ entry: RosterEntry; genesis: RosterEntry; childKey: Uint8Array; people: Array<{ id: string; identity: Identity }> }> {
  const people = await Promise.all(Array.from({ length: 14 }, async (_, i) => ({ id: i < 10 ? `member-${i}` : `toy-${i - 10}`, identity: await generateIdentity({ kem }) })));
  const mum = people[0]!;
  const familyKey = generateScopeKey();
  const childKey = generateScopeKey();
  const genesis = await createGenesisEntry({ familyId: `bench-${kem ? 'xwing' : 'x25519'}`, creator: { accountId: mum.id, identity: mum.identity }, settings: SETTINGS, scopeKeys: [{ scope: FAMILY_SCOPE, generation: 0, key: familyKey }] });
  const members: Member[] = people.slice(0, 10).map((p, i) => (i === 0 ? { accountId: p.id, role: 'guardian', keys: p.identity.publicKeys } : { accountId: p.id, role: 'relative', keys: p.identity.publicKeys, children: ['child-1'] }));
  const toys: Toy[] = people.slice(10).map((p) => ({ toyId: p.id, keys: p.identity.publicKeys, childId: 'child-1' }));
  const entry = await appendRosterEntry([genesis], { signer: { accountId: mum.id, identity: mum.identity }, members, toys, settings: SETTINGS, scopeKeys: [{ scope: FAMILY_SCOPE, generation: 0, key: familyKey }, { scope: 'child-1', generation: 1, key: childKey }] });
  return { entry, genesis, childKey, people };
}

interface SuiteReport {
  suite: string;
  wrapsPerSecond: { wall: number; cpu: number };
  unwrapsPerSecond: { wall: number; cpu: number };
  encBytes: number;
  wrappedKeyWireBytes: number;
  rotationMs: number;
  rotationCpuMs: number;
  rotationWireBytes: number;
  rosterEntryBytes: number;
  identityKeygenMs: number;
}

async function measure(kem: boolean): Promise<SuiteReport> {
  const keygenStart = performance.now();
  for (let i = 0; i < 20; i++) await generateIdentity({ kem });
  const identityKeygenMs = (performance.now() - keygenStart) / 20;
  const { entry, genesis, childKey, people } = await familyOf(kem);
  const recipient = people[1]!;
  const wrapOptions = { familyId: entry.familyId, scope: 'child-1', generation: 1, key: childKey, recipient: { id: recipient.id, ...recipient.identity.publicKeys } };
  const sample = await wrapScopeKey(wrapOptions);
  // The only unwrap a client uses: HPKE open, then the check against the signed commitment.
  const unwrapOptions = { wrap: sample, familyId: entry.familyId, recipientId: recipient.id, identity: recipient.identity, commitments: commitmentsOf([genesis, entry]) };
  const check = await unwrapAndCheckScopeKey(unwrapOptions);
  if (!check.ok) throw new Error(`unwrap failed: ${check.code}`);
  const wrapsPerSecond = await perSecond(() => wrapScopeKey(wrapOptions));
  const unwrapsPerSecond = await perSecond(() => unwrapAndCheckScopeKey(unwrapOptions));
  // A rotation of child-1's key (a toy or relative of it removed): a fresh key wrapped to every holder, here all 14.
  const holders = scopeHolders(scopedContentsOf(entry), 'child-1');
  const rotations: number[] = [];
  const rotationCpu: number[] = [];
  let rotationWireBytes = 0;
  for (let i = 0; i < ROTATIONS; i++) {
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    const fresh = generateScopeKey();
    const wraps = await Promise.all(holders.map((h) => wrapScopeKey({ familyId: entry.familyId, scope: 'child-1', generation: 2, key: fresh, recipient: { id: h.id, ...h.keys } })));
    rotations.push(performance.now() - start);
    const cpu = process.cpuUsage(cpuStart);
    rotationCpu.push((cpu.user + cpu.system) / 1000);
    rotationWireBytes = wraps.reduce((sum, w) => sum + wireBytes(w), 0);
  }
  return {
    suite: sample.suite,
    wrapsPerSecond,
    unwrapsPerSecond,
    encBytes: sample.enc.length,
    wrappedKeyWireBytes: wireBytes(sample),
    rotationMs: median(rotations),
    rotationCpuMs: median(rotationCpu),
    rotationWireBytes,
    rosterEntryBytes: encodeRosterEntry(entry).length,
    identityKeygenMs,
  };
}

const classical = await measure(false);
const hybrid = await measure(true);
if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ node: process.version, cpu: cpus()[0]?.model, loopMs: LOOP_MS, rotations: ROTATIONS, classical, hybrid }, null, 2));
} else {
  const fmt = (n: number, digits = 0) => n.toLocaleString('en-GB', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  console.log(`Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores); ${LOOP_MS} ms loops, median of ${ROTATIONS} rotations`);
  console.log('| | classical (X25519) | hybrid (X-Wing) | hybrid / classical |');
  console.log('| --- | ---: | ---: | ---: |');
  const row = (label: string, a: number, b: number, digits = 0) => console.log(`| ${label} | ${fmt(a, digits)} | ${fmt(b, digits)} | ${fmt(b / a, 2)} |`);
  row('wraps per CPU second (one recipient)', classical.wrapsPerSecond.cpu, hybrid.wrapsPerSecond.cpu);
  row('unwraps per CPU second', classical.unwrapsPerSecond.cpu, hybrid.unwrapsPerSecond.cpu);
  row('wraps per wall second', classical.wrapsPerSecond.wall, hybrid.wrapsPerSecond.wall);
  row('unwraps per wall second', classical.unwrapsPerSecond.wall, hybrid.unwrapsPerSecond.wall);
  row('encapsulation (bytes)', classical.encBytes, hybrid.encBytes);
  row('one wrapped key on the wire (JSON, bytes)', classical.wrappedKeyWireBytes, hybrid.wrappedKeyWireBytes);
  row('rotation: wrap for 10 members + 4 toys (CPU ms, median)', classical.rotationCpuMs, hybrid.rotationCpuMs, 1);
  row('rotation: wrap for 10 members + 4 toys (wall ms, median)', classical.rotationMs, hybrid.rotationMs, 1);
  row('rotation: the 14 wrapped keys on the wire (bytes)', classical.rotationWireBytes, hybrid.rotationWireBytes);
  row('roster entry of 10 members + 4 toys (bytes)', classical.rosterEntryBytes, hybrid.rosterEntryBytes);
  row('new identity (ms)', classical.identityKeygenMs, hybrid.identityKeygenMs, 2);
}
