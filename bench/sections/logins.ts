/**
 * Logins per second: OPAQUE (RFC 9807) logins over HTTP against `burrow serve` — login start
 * (OPRF evaluation, AKE), login finish (MAC check, a new session row) — against a bare node:http
 * login that verifies an Argon2id hash with OWASP's parameters, in the same run, with the same
 * load client and concurrency. Both servers' event loops are watched (monitorEventLoopDelay).
 */
import { bySize, cpuMeter, type BenchContext, type SectionResult } from '../harness/context.js';
import { closedLoop, HttpClient, type LoopResult } from '../harness/http-client.js';
import { startBurrow, startRole, tempDir, type Measured } from '../harness/processes.js';
import { fmt, sleep, summarise } from '../harness/stats.js';
import { table } from '../harness/report.js';
import { BENCH_KEY_STRETCHING, loginBenchAccount, registerBenchAccount, type BenchAccount } from '../e2e/accounts.js';
import * as opaque from '@serenity-kit/opaque';
import { toHex, randomBytes } from '../../src/crypto/bytes.js';
import { OWASP_ARGON2ID } from '../harness/roles.js';
import { profileDuring, profileMarkdown, type ProfileSummary } from '../harness/profile.js';

interface Measurement {
  loop: LoopResult;
  /** The same server's event-loop delay over an idle span just before: what the machine alone causes. */
  idleDelayMaxMs: number;
  idleDelayP99Ms: number;
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
  await server.probe({ reset: true });
  await sleep(Math.min(3_000, durationMs / 2));
  const idle = await server.probe({ reset: true });
  await closedLoop({ concurrency, durationMs: Math.min(1_000, durationMs / 3), op });
  const before = await server.probe({ reset: true });
  const client = cpuMeter();
  const loop = await closedLoop({ concurrency, durationMs, op });
  const clientCores = client();
  const after = await server.probe({ reset: true });
  return {
    loop,
    idleDelayMaxMs: idle.loopDelay.max,
    idleDelayP99Ms: idle.loopDelay.p99,
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

/**
 * The cryptography alone, in this process, one at a time: the server's two OPAQUE steps (what a
 * login holds the event loop for) and one Argon2id verification with OWASP's parameters.
 */
async function cryptoAlone(rounds: number): Promise<{ startMs: number[]; finishMs: number[]; argonMs: number[] }> {
  await opaque.ready;
  const argon2 = await import('@node-rs/argon2');
  const serverSetup = opaque.server.createSetup();
  const password = 'bench quiet harbour 1234';
  const userIdentifier = 'bench';
  const registration = opaque.client.startRegistration({ password });
  const { registrationResponse } = opaque.server.createRegistrationResponse({ serverSetup, userIdentifier, registrationRequest: registration.registrationRequest });
  const { registrationRecord } = opaque.client.finishRegistration({ clientRegistrationState: registration.clientRegistrationState, registrationResponse, password, keyStretching: BENCH_KEY_STRETCHING });
  const hash = await argon2.hash(password, { algorithm: 2, ...OWASP_ARGON2ID });
  const startMs: number[] = [];
  const finishMs: number[] = [];
  const argonMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const login = opaque.client.startLogin({ password });
    let t = performance.now();
    const started = opaque.server.startLogin({ serverSetup, registrationRecord, startLoginRequest: login.startLoginRequest, userIdentifier });
    startMs.push(performance.now() - t);
    const finished = opaque.client.finishLogin({ clientLoginState: login.clientLoginState, loginResponse: started.loginResponse, password, keyStretching: BENCH_KEY_STRETCHING });
    t = performance.now();
    opaque.server.finishLogin({ serverLoginState: started.serverLoginState, finishLoginRequest: finished!.finishLoginRequest });
    finishMs.push(performance.now() - t);
    if (i % 4 === 0) {
      t = performance.now();
      if (!(await argon2.verify(hash, password))) throw new Error('Argon2id did not verify');
      argonMs.push(performance.now() - t);
    }
  }
  return { startMs, finishMs, argonMs };
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

  const alone = await cryptoAlone(bySize(ctx.mode, { smoke: 8, quick: 80, full: 200 }));
  const start = summarise(alone.startMs);
  const finish = summarise(alone.finishMs);
  const argonAlone = summarise(alone.argonMs);
  const ratio = opaqueResult.loop.perSecond / argonResult.loop.perSecond;
  const cpuRatio = cpuPerLogin(argonResult) / cpuPerLogin(opaqueResult);
  const row = (name: string, r: Measurement) => {
    const s = summarise(r.loop.latencies);
    return [name, fmt(r.loop.perSecond, 1), fmt(s.p50, 1), fmt(s.p99, 1), fmt(r.serverCores, 2), fmt(cpuPerLogin(r), 2), fmt(r.clientCores, 2), `${fmt(r.loopDelayP99Ms, 1)} / ${fmt(r.loopDelayMaxMs, 1)}`, `${fmt(r.idleDelayP99Ms, 1)} / ${fmt(r.idleDelayMaxMs, 1)}`];
  };
  const markdown = [
    `${concurrency} logins in flight over ${accountsCount} accounts, ${durationMs / 1000} s measured after a warm-up; the load client's own OPAQUE work (blinding, a minimal key stretching) is included in its CPU column.`,
    '',
    table(['login', 'logins/s', 'p50 ms', 'p99 ms', 'server CPU (cores)', 'server CPU ms per login', 'load client CPU (cores)', 'server event-loop delay p99 / max ms, logging in', 'the same server idle just before'], [
      row('OPAQUE, `burrow serve` (HTTP start + finish, new session)', opaqueResult),
      row('Argon2id m=19 MiB t=2 p=1, bare node:http (`@node-rs/argon2`, off the event loop)', argonResult),
    ]),
    '',
    'The cryptography alone, one operation at a time in the load process (wall time; the machine is shared):',
    '',
    table(['step', 'median ms', 'p99 ms'], [
      ['OPAQUE server login start (`opaque.server.startLogin`: OPRF evaluation, AKE)', fmt(start.p50, 2), fmt(start.p99, 2)],
      ['OPAQUE server login finish (`opaque.server.finishLogin`: MAC check)', fmt(finish.p50, 2), fmt(finish.p99, 2)],
      ['Argon2id verify, m=19 MiB t=2 p=1', fmt(argonAlone.p50, 2), fmt(argonAlone.p99, 2)],
    ]),
    '',
    `Argon2id ÷ OPAQUE server steps (medians): **${fmt(argonAlone.p50 / (start.p50 + finish.p50), 1)}×**. The longest a login holds the event loop for its cryptography is the start step.`,
    '',
    `OPAQUE ÷ Argon2id: **${fmt(ratio, 1)}×** in logins/s; **${fmt(cpuRatio, 1)}×** in server CPU time per login (the figure that does not depend on how much of the shared machine each server got).${profile}`,
  ].join('\n');
  return {
    title: 'Logins: OPAQUE vs server-side Argon2id',
    markdown,
    goals: [
      { what: 'OPAQUE logins/s ÷ Argon2id logins/s', target: '≥ 20×', measured: `${fmt(ratio, 1)}× (CPU per login: ${fmt(cpuRatio, 1)}×)`, met: ratio >= 20 },
      {
        what: 'event loop blocked by a login (largest delay while logging in)',
        target: 'never blocked: ≤ 50 ms, or no worse than the machine alone (same server idle, or the Argon2id server whose loop does no hashing)',
        measured: `${fmt(opaqueResult.loopDelayMaxMs, 1)} ms (idle ${fmt(opaqueResult.idleDelayMaxMs, 1)} ms, Argon2id server ${fmt(argonResult.loopDelayMaxMs, 1)} ms)`,
        met: opaqueResult.loopDelayMaxMs <= Math.max(50, opaqueResult.idleDelayMaxMs, argonResult.loopDelayMaxMs),
      },
    ],
    data: { opaqueStartMs: start, opaqueFinishMs: finish, argonVerifyMs: argonAlone, cpuRatio, opaqueCpuMsPerLogin: cpuPerLogin(opaqueResult), argonCpuMsPerLogin: cpuPerLogin(argonResult), opaque: { perSecond: opaqueResult.loop.perSecond, ...summarise(opaqueResult.loop.latencies), loopDelayMaxMs: opaqueResult.loopDelayMaxMs }, argon2id: { perSecond: argonResult.loop.perSecond, loopDelayMaxMs: argonResult.loopDelayMaxMs }, ratio },
  };
}
