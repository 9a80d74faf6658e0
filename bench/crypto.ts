/**
 * Crypto benchmark (`npm run bench:crypto`): seal + sign and verify + open of a 1 MiB message
 * against raw WebCrypto AES-256-GCM of the same bytes, in Node and in headless Chromium (Debian's
 * /usr/bin/chromium through playwright-core, the workload bundled with esbuild and served from
 * 127.0.0.1). Target: each ratio ≥ 0.5. Then, in Node, the time to the first audio byte for the
 * reference toy on a 5 MiB message through a real server, whole envelope vs streamed
 * (bench/toy-first-audio.ts). Prints a table; `--json` prints the raw reports.
 * Options: --rounds N, --round-ms MS, --size BYTES, --chromium PATH, --node-only, --no-toy,
 * --toy-only, --toy-rounds N.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, loadavg } from 'node:os';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { runCryptoBench, type CryptoBenchOptions, type CryptoBenchReport } from './crypto-workload.js';
import { measureToyFirstAudio, type ToyFirstAudioReport } from './toy-first-audio.js';

const TARGET_RATIO = 0.5;

function argument(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    return line?.split(':')[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/*
 * esbuild and playwright-core are loaded only for the Chromium run, after the Node run: loaded
 * before it they quadruple the heap the Node figures are measured in (about 8 → 36 MB), and every
 * major GC, which the 1 MiB buffers of each operation keep triggering, marks that whole heap. A
 * Node client (CLI, toy, server) carries no browser driver.
 */
async function browserBundle(): Promise<string> {
  const { build } = await import('esbuild');
  // npm runs scripts from the package root; the driver itself runs from an esbuild bundle in dist/.
  const entry = resolve(process.cwd(), 'bench/crypto-browser-entry.ts');
  const result = await build({ entryPoints: [entry], bundle: true, format: 'iife', platform: 'browser', target: 'es2022', write: false, logLevel: 'warning' });
  return result.outputFiles[0]!.text;
}

async function runInChromium(options: CryptoBenchOptions, executablePath: string): Promise<{ report: CryptoBenchReport; version: string }> {
  const script = await browserBundle();
  // Served over http://127.0.0.1 (a secure context, so WebCrypto is available), never beyond loopback.
  const server = createServer((req, res) => {
    if (req.url === '/bench.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><meta charset="utf-8"><title>burrow crypto bench</title><script src="/bench.js"></script>');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => typeof (globalThis as { runCryptoBench?: unknown }).runCryptoBench === 'function');
    const report = await page.evaluate(
      (opts) => (globalThis as unknown as { runCryptoBench: typeof runCryptoBench }).runCryptoBench(opts),
      options,
    );
    return { report, version: browser.version() };
  } finally {
    await browser.close();
    server.close();
  }
}

function printReport(report: CryptoBenchReport): void {
  console.log(`\n${report.environment} — ${(report.sizeBytes / 1024 / 1024).toFixed(2)} MiB message`);
  console.log(`subject: ${report.subject}`);
  for (const f of report.figures) {
    const cpu = f.cpuMsPerOp === undefined ? '' : `, CPU ${f.cpuMsPerOp.toFixed(2)} ms/op`;
    console.log(`  ${f.name.padEnd(30)} median ${f.opsPerSec.toFixed(1).padStart(8)} ops/s (${f.mibPerSec.toFixed(1)} MiB/s), best round ${f.bestOpsPerSec.toFixed(1).padStart(8)} ops/s${cpu}`);
  }
  const verdict = (r: number) => `${(r * 100).toFixed(1)}% of raw ${r >= TARGET_RATIO ? '(meets ≥ 50%)' : '(BELOW the 50% target)'}`;
  console.log('  ratios: median over rounds of (subject ÷ raw) measured back to back');
  console.log(`  seal + sign vs raw encrypt:   ${verdict(report.ratios.sealVsEncrypt)}`);
  console.log(`  verify + open vs raw decrypt: ${verdict(report.ratios.openVsDecrypt)}`);
  console.log(`  reference floors: seal ${verdict(report.floorRatios.sealVsEncrypt)}; open ${verdict(report.floorRatios.openVsDecrypt)}`);
  console.log(`  best round ÷ best round: seal ${verdict(report.bestRatios.sealVsEncrypt)}; open ${verdict(report.bestRatios.openVsDecrypt)}`);
  if (report.cpuRatios !== undefined) {
    console.log(`  by CPU time, all threads (raw CPU per op ÷ subject's): seal ${verdict(report.cpuRatios.sealVsEncrypt)}; open ${verdict(report.cpuRatios.openVsDecrypt)}`);
  }
  const f = report.firstAudio;
  console.log(`  first audio byte, ${(f.messageBytes / 1024 / 1024).toFixed(2)} MiB envelope (download instantaneous): streamed ${f.streamedMs.toFixed(1)} ms vs whole-then-open ${f.wholeMs.toFixed(1)} ms (ratio ${f.ratio.toFixed(3)}); bytes needed first: ${f.streamedBytesNeeded} vs ${f.wholeBytesNeeded}`);
}

function printToyReport(report: ToyFirstAudioReport): void {
  const mib = (report.envelopeBytes / 1024 / 1024).toFixed(2);
  console.log(`\nreference toy, ${mib} MiB envelope through a real server on loopback — time to first audio byte (median of ${report.rounds} interleaved rounds)`);
  console.log(`  whole envelope, then open:        ${report.medianWholeMs.toFixed(1).padStart(7)} ms  (rounds ${report.wholeMs.map((m) => m.toFixed(0)).join(', ')})`);
  console.log(`  streamed (ToyRuntime now):        ${report.medianStreamedMs.toFixed(1).padStart(7)} ms  (rounds ${report.streamedMs.map((m) => m.toFixed(0)).join(', ')})`);
  console.log(`  ratio streamed ÷ whole: ${(report.medianStreamedMs / report.medianWholeMs).toFixed(3)}; bytes downloaded before the first audio: ${report.streamedBytesRead} vs ${report.envelopeBytes}; most bytes held by the streaming toy: ${report.heldBytes}`);
}

async function main(): Promise<void> {
  const size = argument('--size');
  const rounds = argument('--rounds');
  const roundMs = argument('--round-ms');
  const base = {
    ...(size ? { sizeBytes: Number(size) } : {}),
    ...(rounds ? { rounds: Number(rounds) } : {}),
    ...(roundMs ? { roundMs: Number(roundMs) } : {}),
  };
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`machine: ${cpuModel()}, ${cpus().length} CPUs; node ${process.version}; load average ${load()}`);
  const reports: CryptoBenchReport[] = [];
  const cpuMs = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  const toyOnly = process.argv.includes('--toy-only');
  if (!toyOnly) {
    reports.push(await runCryptoBench({ ...base, environment: `Node ${process.version}`, cpuMs }));
    printReport(reports[0]!);
  }
  let toy: ToyFirstAudioReport | undefined;
  if (toyOnly || !process.argv.includes('--no-toy')) {
    const toyRounds = argument('--toy-rounds');
    toy = await measureToyFirstAudio(toyRounds ? Number(toyRounds) : 5);
    console.log(`load average after the toy rounds: ${load()}`);
    printToyReport(toy);
  }
  if (!toyOnly && !process.argv.includes('--node-only')) {
    const { report, version } = await runInChromium({ ...base, environment: 'Chromium' }, argument('--chromium') ?? '/usr/bin/chromium');
    report.environment = `Chromium ${version} (headless)`;
    reports.push(report);
    printReport(report);
  }
  console.log(`\nload average at the end: ${load()}`);
  if (process.argv.includes('--json')) console.log(JSON.stringify({ cpu: cpuModel(), reports, ...(toy === undefined ? {} : { toy }) }, null, 2));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
