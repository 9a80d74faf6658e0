/**
 * `burrow inbox` against a server that fakes receipts (issue #15 item 6): the CLI (in process) talks to a
 * real server through a proxy that adds a made-up 'played' receipt to a message's view. The
 * sender's inbox shows it as "Unverified receipt" (and `verified: false` in JSON), never as Played;
 * the real, signed 'delivered' receipt of the relative who opened it verifies (and, as it is not a
 * toy's, the message still waits for Mia's first toy).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, toBase64Url, toHex, utf8 } from '../../src/crypto/bytes.js';
import { startServer, type RunningServer } from '../e2e/accounts-harness.js';
import { wavWith } from '../e2e/family-harness.js';
import { startHostileProxy, type HostileProxy } from '../web/support/hostile-proxy.js';
import { burrow as runBurrow, type CliRun } from '../support/cli.js';

let server: RunningServer;
let proxy: HostileProxy;
let workDir: string;

function burrow(args: string[], extra: Record<string, string> = {}): Promise<CliRun> {
  return runBurrow(args, { env: { HOME: workDir, ...extra } });
}

async function ok(args: string[], extra: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const run = await burrow([...args, '--json'], extra);
  expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(0);
  return JSON.parse(run.stdout.trim().split('\n')[0]!) as Record<string, unknown>;
}

async function register(name: string): Promise<{ profile: string; accountId: string }> {
  const profile = join(workDir, name);
  const password = `gentle ${name} ${toHex(randomBytes(4))} river lantern`;
  const out = await ok(['account', 'register', '--server', proxy.url, '--email', `${name}-${toHex(randomBytes(4))}@example.org`, '--profile', profile], { BURROW_PASSWORD: password });
  return { profile, accountId: out.accountId as string };
}

beforeAll(async () => {
  server = await startServer();
  proxy = await startHostileProxy(server.url);
  workDir = await mkdtemp(join(tmpdir(), 'burrow-cli-receipts-'));
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await server?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

describe('burrow inbox behind a server that fakes receipts', { timeout: 180_000 }, () => {
  it("shows a made-up 'played' receipt as unverified, and the relative's signed receipt as verified but not the toy's", async () => {
    const [mum, gran] = await Promise.all([register('mum'), register('gran')]);
    const familyId = (await ok(['family', 'create', '--name', 'Receipts', '--profile', mum.profile])).familyId as string;
    await ok(['child', 'add', '--family', familyId, '--name', 'Mia', '--emoji', '🦊', '--profile', mum.profile]);
    const invite = await ok(['family', 'invite', '--family', familyId, '--role', 'relative', '--child', 'mia', '--profile', mum.profile]);
    expect((await burrow(['family', 'join', invite.link as string, '--profile', gran.profile])).code).toBe(0);
    await ok(['family', 'admit', '--family', familyId, '--profile', mum.profile]);
    const audio = join(workDir, 'hello.wav');
    await writeFile(audio, wavWith(utf8('hello gran'), 800));
    const sent = (await ok(['send', '--family', familyId, '--to', 'Mia', '--file', audio, '--profile', mum.profile])).messageId as string;

    // Gran opens it: her CLI signs a 'delivered' receipt.
    await ok(['inbox', '--family', familyId, '--profile', gran.profile]);
    const honest = ((await ok(['inbox', '--family', familyId, '--profile', mum.profile])).messages as Array<{ messageId: string; receipt: string; receipts: Array<{ by: string; kind: string; verified: boolean }> }>).find((m) => m.messageId === sent)!;
    expect(honest.receipts).toEqual([expect.objectContaining({ by: gran.accountId, kind: 'delivered', verified: true })]);
    // Gran's receipt is hers, not a toy's: Mia has no toy yet, and the sender is told so (issue #21).
    expect(honest.receipt).toBe('Waiting for a toy');

    // The server adds a 'played' receipt gran never signed.
    proxy.rewrites.push(({ method, path, body, status }) => {
      if (method !== 'GET' || status !== 200 || path !== `/v1/families/${familyId}/messages`) return undefined;
      const list = JSON.parse(new TextDecoder().decode(body)) as { messages: Array<{ messageId: string; receipts: Array<Record<string, unknown>> }> };
      for (const m of list.messages) {
        if (m.messageId !== sent) continue;
        const real = m.receipts.find((r) => r.kind === 'delivered')!;
        m.receipts.push({ ...real, kind: 'played', signature: toBase64Url(randomBytes(64)) });
      }
      return new TextEncoder().encode(JSON.stringify(list));
    });
    const faked = ((await ok(['inbox', '--family', familyId, '--profile', mum.profile])).messages as Array<{ messageId: string; receipt: string; receipts: Array<{ by: string; kind: string; verified: boolean }> }>).find((m) => m.messageId === sent)!;
    expect(faked.receipt).toBe('Unverified receipt');
    expect(faked.receipts).toEqual(expect.arrayContaining([
      expect.objectContaining({ by: gran.accountId, kind: 'delivered', verified: true }),
      expect.objectContaining({ by: gran.accountId, kind: 'played', verified: false }),
    ]));
    const human = await burrow(['inbox', '--family', familyId, '--profile', mum.profile]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('(Unverified receipt)');
    expect(human.stdout).not.toContain('(Played)');
  });
});
