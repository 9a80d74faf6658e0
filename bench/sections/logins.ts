/**
 * Logins per second: OPAQUE (RFC 9807) logins over HTTP against `burrow serve` — login start
 * (OPRF evaluation, AKE), login finish (MAC check, a new session row) — against a bare node:http
 * login that verifies an Argon2id hash with OWASP's parameters, in the same run, with the same
 * load client and concurrency. Both servers' event loops are watched (monitorEventLoopDelay).
 */
import { bySize, cpuMeter, type BenchContext, type SectionResult } from '../harness/context.js';
import { closedLoop, HttpClient, type LoopResult } from '../harness/http-client.js';
import { startBurrow, startRole, tempDir, type Measured } from '../harness/processes.js';
import { fmt, summarise } from '../harness/stats.js';
import { table } from '../harness/report.js';
import { loginBenchAccount, registerBenchAccount, type BenchAccount } from '../e2e/accounts.js';
import { toHex, randomBytes } from '../../src/crypto/bytes.js';
import { profileDuring, profileMarkdown, type ProfileSummary } from '../harness/profile.js';

interface Measurement {
  loop: LoopResult;
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  serverCores: number;
  clientCores: number;
}

/** Server CPU time per login, ms: independent of how much of a shared machine the server was given. */
function cpuPerLogin(r: Measurement): number {
  return (r.serverCores * r.loop.elapsedMs) / r.loop.ops;
}

async function measure(server: Measured, concurrency: number, durationMs: number, op: (worker: number) => Promise<void>): Promise<Measurement> {
  await closedLoop({ concurrency, durationMs: Math.min(1_000, durationMs / 3), op });
  const before = await server.probe({ reset: true });
  const client = cpuMeter();
  const loop = await closedLoop({ concurrency, durationMs, op });
  const clientCores = client();
  const after = await server.probe({ reset: true });
  return {
    loop,
    loopDelayMaxMs: after.loopDelay.max,
    loopDelayP99Ms: after.loopDelay.p99,
    serverCores: (after.cpuMicros - before.cpuMicros) / 1000 / loop.elapsedMs,
    clientCores,
  };
}

/** OPAQUE logins against a fresh `burrow serve`; with `profile`, a second span of logins runs under the CPU profiler. */
async function opaqueLogins(options: { concurrency: number; accounts: number; durationMs: number; profile: boolean }): Promise<Measurement & { profile?: ProfileSummary }> {
  const dir = tempDir('logins');
  const burrow = await startBurrow({ dataDir: dir.path });
  const client = new HttpClient(burrow.url, { maxSockets: options.concurrency });
  try {
    const accounts: BenchAccount[] = [];
    for (let i = 0; i < options.accounts; i++) accounts.push(await registerBenchAccount(client, `login${i}`));
    const op = async (worker: number) => {
      await loginBenchAccount(client, accounts[worker % accounts.length]!);
    };
    const result = await measure(burrow, options.concurrency, options.durationMs, op);
    if (result.loop.errors > 0) throw new Error(`OPAQUE logins failed: ${result.loop.firstError}`);
    if (!options.profile) return result;
    const profile = await profileDuring(burrow, () => closedLoop({ concurrency: options.concurrency, durationMs: options.durationMs, op }));
    return { ...result, profile };
  } finally {
    client.close();
    await burrow.stop();
    dir.remove();
  }
}

export async function loginsSection(ctx: BenchContext): Promise<SectionResult> {
  const durationMs = bySize(ctx.mode, { smoke: 500, quick: 6_000, full: 15_000 });
  const concurrency = bySize(ctx.mode, { smoke: 2, quick: 8, full: 8 });
  const accountsCount = bySize(ctx.mode, { smoke: 2, quick: 8, full: 16 });
  const opaqueResult = await opaqueLogins({ concurrency, accounts: accountsCount, durationMs, profile: ctx.profile });
  let argonResult: Measurement;
  ctx.log(`OPAQUE logins: ${fmt(opaqueResult.loop.perSecond)}/s, event loop max ${fmt(opaqueResult.loopDelayMaxMs, 1)} ms`);
  const profile = opaqueResult.profile === undefined ? '' : `\n\nCPU profile of \`burrow serve\` during another ${durationMs / 1000} s of logins:\n\n${profileMarkdown(opaqueResult.profile)}`;

  const argon = await startRole('argon2-login');
  const argonClient = new HttpClient(argon.url, { maxSockets: concurrency });
  try {
    const accounts = Array.from({ length: accountsCount }, (_, i) => ({ email: `bench-${i}@example.org`, password: `bench ${toHex(randomBytes(8))} quiet harbour` }));
    for (const account of accounts) await argonClient.json('POST', '/register', account, {}, 204);
    argonResult = await measure(argon, concurrency, Math.max(durationMs, bySize(ctx.mode, { smoke: 500, quick: 4_000, full: 10_000 })), async (worker) => {
      await argonClient.json('POST', '/login', accounts[worker % accounts.length]);
    });
    if (argonResult.loop.errors > 0) throw new Error(`Argon2id logins failed: ${argonResult.loop.firstError}`);
  } finally {
    argonClient.close();
    await argon.stop();
  }
  ctx.log(`Argon2id logins: ${fmt(argonResult.loop.perSecond)}/s`);

  const ratio = opaqueResult.loop.perSecond / argonResult.loop.perSecond;
  const cpuRatio = cpuPerLogin(argonResult) / cpuPerLogin(opaqueResult);
  const row = (name: string, r: Measurement) => {
    const s = summarise(r.loop.latencies);
    return [name, fmt(r.loop.perSecond, 1), fmt(s.p50, 1), fmt(s.p99, 1), fmt(r.serverCores, 2), fmt(cpuPerLogin(r), 2), fmt(r.clientCores, 2), fmt(r.loopDelayP99Ms, 1), fmt(r.loopDelayMaxMs, 1)];
  };
  const markdown = [
    `${concurrency} logins in flight over ${accountsCount} accounts, ${durationMs / 1000} s measured after a warm-up; the load client's own OPAQUE work (blinding, a minimal key stretching) is included in its CPU column.`,
    '',
    table(['login', 'logins/s', 'p50 ms', 'p99 ms', 'server CPU (cores)', 'server CPU ms per login', 'load client CPU (cores)', 'server event loop p99 delay ms', 'max delay ms'], [
      row('OPAQUE, `burrow serve` (HTTP start + finish, new session)', opaqueResult),
      row('Argon2id m=19 MiB t=2 p=1, bare node:http (`@node-rs/argon2`, off the event loop)', argonResult),
    ]),
    '',
    `OPAQUE ÷ Argon2id: **${fmt(ratio, 1)}×** in logins/s; **${fmt(cpuRatio, 1)}×** in server CPU time per login (the figure that does not depend on how much of the shared machine each server got).${profile}`,
  ].join('\n');
  return {
    title: 'Logins: OPAQUE vs server-side Argon2id',
    markdown,
    goals: [
      { what: 'OPAQUE logins/s ÷ Argon2id logins/s', target: '≥ 20×', measured: `${fmt(ratio, 1)}× (CPU per login: ${fmt(cpuRatio, 1)}×)`, met: ratio >= 20 },
      { what: 'event loop blocked by a login (max delay while logging in)', target: 'not blocked (a login\'s own step only)', measured: `${fmt(opaqueResult.loopDelayMaxMs, 1)} ms max`, met: opaqueResult.loopDelayMaxMs <= 50 },
    ],
    data: { cpuRatio, opaqueCpuMsPerLogin: cpuPerLogin(opaqueResult), argonCpuMsPerLogin: cpuPerLogin(argonResult), opaque: { perSecond: opaqueResult.loop.perSecond, ...summarise(opaqueResult.loop.latencies), loopDelayMaxMs: opaqueResult.loopDelayMaxMs }, argon2id: { perSecond: argonResult.loop.perSecond, loopDelayMaxMs: argonResult.loopDelayMaxMs }, ratio },
  };
}
