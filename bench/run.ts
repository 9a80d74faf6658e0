/**
 * `npm run bench` (issue 10): what one Burrow node carries, each figure beside a raw baseline
 * measured in the same run on the same machine. Quick by default (under 3 minutes); `--full` for
 * the issue's sizes; `--smoke` for a seconds-long check that the harness still works.
 * Writes machine details and results into docs/benchmarks.md between markers (a rerun replaces
 * them) and its charts as SVG beside it, unless `--no-write`. Options: --only a,b (sections:
 * load, logins, startup, toys = throughput + latency + connections), --connections N and
 * --idle N (connections held, idle connections during the latency run), --json.
 * Also the entry point of the bench's child processes (`--role NAME`, harness/roles.ts).
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { BenchContext, Goal, Mode, SectionResult } from './harness/context.js';
import { describeMachine } from './harness/machine.js';
import { stopAll } from './harness/processes.js';
import { table, writeGenerated } from './harness/report.js';
import { runRole } from './harness/roles.js';
import { loadGeneratorSection } from './sections/load-generator.js';
import { loginsSection } from './sections/logins.js';
import { startupSection } from './sections/startup.js';
import { toySuite } from './sections/toys.js';

export const UPLOAD_BYTES = 64 * 1024;
export const CONCURRENCY = 16;

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const USAGE = `Usage: npm run bench -- [options]

What one Burrow node carries, each figure beside a baseline measured in the same run.
Writes the results into docs/benchmarks.md (between its markers) unless --no-write.

Options:
  --full             the issue's sizes (19,000 connections, 10,000 idle toys); slow
  --smoke            a seconds-long check that the harness works (writes nothing)
  --only LIST        comma-separated sections: load, logins, startup, toys
                     (or connections: the connections held, without throughput and latency)
  --connections N    connections held in the connections run
  --idle N           idle toy connections during the latency run
  --profile          keep CPU profiles of the measured processes
  --heap             heap snapshots of the servers holding connections: where each connection's heap goes
  --json             print the results as JSON
  --no-write         leave docs/benchmarks.md alone
  -h, --help         show this help`;

const KNOWN = new Set(['--full', '--smoke', '--only', '--connections', '--idle', '--profile', '--heap', '--json', '--no-write']);

async function main(): Promise<void> {
  if (await runRole(process.argv)) return;
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return;
  }
  const unknown = args.filter((arg, i) => arg.startsWith('-') && !KNOWN.has(arg) && !['--only', '--connections', '--idle'].includes(args[i - 1] ?? ''));
  if (unknown.length > 0) {
    console.error(`bench: unknown option ${unknown.join(', ')}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const mode: Mode = process.argv.includes('--full') ? 'full' : process.argv.includes('--smoke') ? 'smoke' : 'quick';
  const only = option('--only')?.split(',');
  const wanted = (name: string) => only === undefined || only.includes(name);
  const sizes = {
    ...(option('--connections') === undefined ? {} : { connections: Number(option('--connections')) }),
    ...(option('--idle') === undefined ? {} : { idle: Number(option('--idle')) }),
  };
  const ctx: BenchContext = { mode, profile: process.argv.includes('--profile'), heap: process.argv.includes('--heap'), sizes, log: (message) => console.error(`[bench ${((performance.now()) / 1000).toFixed(1)} s] ${message}`) };
  const machine = describeMachine();
  ctx.log(`${mode} run on ${machine.cpuModel}, ${machine.cores} cores, load ${machine.loadBefore.join(' ')}`);
  const started = performance.now();
  const results: SectionResult[] = [];

  if (wanted('load')) results.push(await loadGeneratorSection(ctx, { concurrency: CONCURRENCY, uploadBytes: UPLOAD_BYTES }));
  if (wanted('logins')) results.push(await loginsSection(ctx));
  if (wanted('startup')) results.push(await startupSection(ctx));
  if (wanted('toys')) {
    const toys = await toySuite(ctx);
    results.push(...[toys.throughput, toys.latency].filter((r) => r !== undefined), toys.connections);
  } else if (only?.includes('connections') === true) {
    // Only the connections held (with the toys they need): the live-connection figures alone.
    results.push((await toySuite(ctx, { connectionsOnly: true })).connections);
  }

  const seconds = (performance.now() - started) / 1000;
  const loadAfter = loadavg().map((v) => Math.round(v * 10) / 10);
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ mode, machine, loadAfter, seconds, results: results.map((r) => ({ title: r.title, goals: r.goals, data: r.data })) }, null, 2));
  }
  const goals: Goal[] = results.flatMap((r) => r.goals);
  const generated = [
    `### Latest run (${mode === 'full' ? '`npm run bench -- --full`' : mode === 'quick' ? '`npm run bench` (quick)' : 'smoke'})`,
    '',
    `${machine.date}, commit ${machine.commit}: ${machine.cpuModel}, ${machine.cores} cores, ${machine.ramGiB} GiB RAM, Node ${machine.node}, open-file limit ${machine.fdLimit}. ` +
      `Load average (1/5/15 min) ${machine.loadBefore.join(' / ')} before, ${loadAfter.join(' / ')} after; the run took ${seconds.toFixed(0)} s. ` +
      'Every process — servers, baselines and load clients — shares these cores.',
    '',
    '#### Goals',
    '',
    table(['goal', 'target', 'measured', 'met'], goals.map((g) => [g.what, g.target, g.measured, g.met ? 'yes' : '**no**'])),
    ...results.flatMap((r) => ['', `#### ${r.title}`, '', r.markdown]),
  ].join('\n');
  if (!process.argv.includes('--no-write') && mode !== 'smoke') {
    const docs = join(process.cwd(), 'docs');
    writeGenerated(join(docs, 'benchmarks.md'), generated);
    for (const r of results) for (const [name, svg] of Object.entries(r.charts ?? {})) writeFileSync(join(docs, name), svg);
    ctx.log('wrote docs/benchmarks.md');
  } else if (!process.argv.includes('--json')) {
    console.log(generated);
  }
  ctx.log(`done in ${seconds.toFixed(0)} s`);
}

main()
  .catch(async (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll();
  });
