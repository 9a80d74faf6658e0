/**
 * The reference toy's `burrow toy pair` (the built CLI, its own process) behind a lying relay: an
 * HTTP proxy in front of a real server that rewrites what the toy receives (issue #15 items 2
 * and 3a). The relay offers run after run for one code with 99 runs left: the toy answers 3, then
 * prints a new code. A guardian removed at epoch N serves their fork N′ (on top of N−1, themself as
 * the only guardian, the toy, volume 100) to a toy paired afterwards: the toy refuses it, keeps no
 * family, reports it to the family security log and prints a new code.
 */
import { generateScopeKey } from '../../src/crypto/scope-key.js';
import { scopedContentsOf, scopesOf } from '../../src/crypto/key-scopes.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChild } from '../../src/client/children.js';
import { admitJoiners, createFamily, loadFamily, removeMember } from '../../src/client/families.js';
import { readFamilyLog } from '../../src/client/family-log.js';
import { acceptInvite, createInvite } from '../../src/client/invites.js';
import { addToy, decodeRosterChain, setToySettings } from '../../src/client/toys.js';
import { randomBytes, toBase64Url } from '../../src/crypto/bytes.js';
import { startGuardianPairing } from '../../src/crypto/pairing.js';
import { appendRosterEntry, encodeRosterEntry, nextChildren, type RosterEntry } from '../../src/crypto/roster.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { registerMember, type TestMember } from '../e2e/family-harness.js';
import { startHostileProxy, type HostileProxy } from '../web/support/hostile-proxy.js';

const cli = new URL('../../dist/cli/main.js', import.meta.url).pathname;

let server: RunningServer;
let proxy: HostileProxy;
let workDir: string;
let mum: TestMember;
let exDad: TestMember;
let familyId: string;
let mia: string;
let beforeRemoval: RosterEntry[];
const children: ChildProcess[] = [];

const json = (bytes: Uint8Array): Record<string, unknown> => JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
const bytesOf = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

/** `burrow toy pair --json` through the proxy; its JSON lines as they come. */
function pairThroughRelay(state: string): { lines: Array<Record<string, unknown>>; child: ChildProcess } {
  const child = spawn(process.execPath, [cli, 'toy', 'pair', '--server', proxy.url, '--state', state, '--json'], { env: { PATH: process.env.PATH ?? '', HOME: workDir }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: Array<Record<string, unknown>> = [];
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    for (const part of parts) if (part.trim() !== '') lines.push(JSON.parse(part) as Record<string, unknown>);
  });
  return { lines, child };
}

const codesOf = (lines: Array<Record<string, unknown>>): string[] => lines.filter((l) => l.event === 'code').map((l) => String(l.code));

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'burrow-toy-relay-'));
  server = await startServer();
  proxy = await startHostileProxy(server.url);
  [mum, exDad] = await Promise.all([registerMember(server.url, 'mum'), registerMember(server.url, 'exdad')]);
  familyId = (await createFamily(mum, { name: 'Anchored Family' })).familyId;
  mia = (await addChild(mum, { familyId, name: 'Mia', emoji: '🦊' })).childId;
  const { link } = await createInvite(mum, { familyId, terms: { role: 'guardian', children: [], needsApproval: false } });
  await acceptInvite(exDad, link);
  await admitJoiners(mum, { familyId });
  await setToySettings(mum, { familyId, volumeLimit: 30 });
  beforeRemoval = [...(await loadFamily(exDad, familyId)).roster.entries];
  await removeMember(mum, { familyId, accountId: exDad.me.accountId });
}, 120_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await proxy?.close();
  await server?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

describe('burrow toy pair behind a lying relay', { timeout: 120_000 }, () => {
  it('answers 3 runs of a code whatever runs left the relay claims, then prints a new code', async () => {
    const attempts: Array<{ pairingId: string; slot: string }> = [];
    const answered = new Map<string, number>();
    const offered = new Map<string, number>();
    let on = true;
    proxy.rewrites.push(({ method, path, body, status }) => {
      if (!on) return undefined;
      if (method === 'POST' && path === '/v1/pairings' && status === 201) {
        const started = json(body) as { pairingId: string; slot: string };
        attempts.push(started);
        return undefined;
      }
      const run = /^\/v1\/pairings\/([^/]+)\/runs\/[^/]+$/.exec(path);
      if (method === 'POST' && run !== null) {
        answered.set(run[1]!, (answered.get(run[1]!) ?? 0) + 1);
        return { status: 204, contentType: 'text/plain', body: new Uint8Array() };
      }
      const poll = /^\/v1\/pairings\/([^/]+)$/.exec(path);
      const attempt = poll === null ? undefined : attempts.find((a) => a.pairingId === poll[1]);
      if (method !== 'GET' || attempt === undefined) return undefined;
      const n = offered.get(attempt.pairingId) ?? 0;
      offered.set(attempt.pairingId, n + 1);
      const sessionId = randomBytes(16);
      const guardian = startGuardianPairing({ code: attempt.slot + String(n).padStart(5, '0'), sessionId, headHash: randomBytes(32) });
      return bytesOf({ pairingId: attempt.pairingId, state: 'run', expiresAt: Date.UTC(2099, 0, 1), runsLeft: 99, run: { runId: toBase64Url(randomBytes(16)), sessionId: toBase64Url(sessionId), guardianShare: toBase64Url(guardian.share) } });
    });
    const toy = pairThroughRelay(join(workDir, 'runs'));
    await expect.poll(() => codesOf(toy.lines).length, { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
    on = false;
    toy.child.kill('SIGINT');
    const [first, second] = codesOf(toy.lines);
    expect(first).not.toBe(second);
    expect(answered.get(attempts[0]!.pairingId)).toBe(3);
    expect(offered.get(attempts[0]!.pairingId)).toBeGreaterThan(3);
    // The code's expiry printed is the toy's own (10 minutes), not the relay's claim.
    expect(Number(toy.lines.find((l) => l.event === 'code')!.expiresAt)).toBeLessThan(Date.UTC(2099, 0, 1));
    expect(toy.lines.some((l) => l.event === 'code-ended')).toBe(true);
  });

  it("refuses a removed guardian's fork when paired afterwards, keeps no family and prints a new code", async () => {
    proxy.rewrites.push(async ({ method, path, body, status }) => {
      if (method !== 'GET' || status !== 200 || path !== `/v1/families/${familyId}`) return undefined;
      const view = json(body);
      const members = [{ accountId: exDad.me.accountId, role: 'guardian' as const, keys: exDad.me.identity.publicKeys }];
      const toys = [...decodeRosterChain(view.roster as string[]).at(-1)!.toys];
      // Every scope starts a fresh generation at the fork's epoch: the rotation rule always allows that.
      const epoch = beforeRemoval.at(-1)!.epoch + 1;
      const children = nextChildren(beforeRemoval.at(-1)!, { members, toys });
      const forked = await appendRosterEntry(beforeRemoval, {
        children,
        scopeKeys: scopesOf(scopedContentsOf({ members, toys, children })).map((scope) => ({ scope, generation: epoch, key: generateScopeKey() })),
        signer: exDad.me,
        members,
        toys,
        settings: { volumeLimit: 100, retentionDays: beforeRemoval.at(-1)!.settings.retentionDays },
      });
      return bytesOf({ ...view, roster: [...beforeRemoval, forked].map((e) => toBase64Url(encodeRosterEntry(e))) });
    });
    const state = join(workDir, 'fork');
    const toy = pairThroughRelay(state);
    await expect.poll(() => codesOf(toy.lines).length, { timeout: 60_000 }).toBe(1);
    const { toyId } = await addToy(mum, { familyId, code: codesOf(toy.lines)[0]!, childId: mia, pollMs: 250 });
    await expect.poll(() => codesOf(toy.lines).length, { timeout: 60_000 }).toBe(2);
    toy.child.kill('SIGINT');
    expect(toy.lines.find((l) => l.event === 'code-ended')?.code).toBe('client/roster-untrusted');
    expect(toy.lines.some((l) => l.event === 'paired')).toBe(false);
    expect((await readdir(state)).filter((f) => f === 'toy.json' || f === 'trust.json')).toEqual([]);
    const log = await readFamilyLog(mum, familyId);
    if (!log.ok) throw new Error(log.code);
    expect(log.events.some((e) => e.kind === 'client-refusal' && e.actorId === toyId && e.details.code === 'pairing/roster-not-anchored')).toBe(true);
  });
});
