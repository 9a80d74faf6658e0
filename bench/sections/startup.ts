/**
 * Start-up time and idle memory of `burrow serve`: from spawn to the "listening" line and to the
 * first 200 from /readyz (database migrated), on an empty data directory (first start: secrets
 * file, database schema) and on an existing one; then RSS and heap after idling and a GC. A bare
 * node:http process (the `noop` role) started the same way is the floor.
 */
import { bySize, type BenchContext, type SectionResult } from '../harness/context.js';
import { HttpClient } from '../harness/http-client.js';
import { startBurrow, startRole, tempDir, type Measured } from '../harness/processes.js';
import { fmt, fmtBytes, median, sleep } from '../harness/stats.js';
import { table } from '../harness/report.js';

async function readyAfter(server: Measured, spawnedAt: number): Promise<number> {
  const client = new HttpClient(server.url, { maxSockets: 1 });
  try {
    for (;;) {
      const res = await client.request({ method: 'GET', path: '/readyz' }).catch(() => undefined);
      if (res?.status === 200) return performance.now() - spawnedAt;
      await sleep(2);
    }
  } finally {
    client.close();
  }
}

export async function startupSection(ctx: BenchContext): Promise<SectionResult> {
  const rounds = bySize(ctx.mode, { smoke: 1, quick: 3, full: 7 });
  const idleMs = bySize(ctx.mode, { smoke: 200, quick: 2_000, full: 5_000 });
  const first: number[] = [];
  const again: number[] = [];
  const firstReady: number[] = [];
  const againReady: number[] = [];
  const rss: number[] = [];
  const heap: number[] = [];
  const bareListening: number[] = [];
  const bareRss: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const dir = tempDir('startup');
    try {
      for (const phase of ['first', 'again'] as const) {
        const t0 = performance.now();
        const server = await startBurrow({ dataDir: dir.path });
        const ready = await readyAfter(server, t0);
        (phase === 'first' ? first : again).push(server.listeningMs);
        (phase === 'first' ? firstReady : againReady).push(ready);
        if (phase === 'again') {
          await sleep(idleMs);
          await server.gc();
          const sample = await server.probe();
          rss.push(sample.rss);
          heap.push(sample.heapUsed);
        }
        await server.stop();
      }
    } finally {
      dir.remove();
    }
    const bare = await startRole('noop');
    await sleep(idleMs);
    await bare.gc();
    bareListening.push(bare.listeningMs);
    bareRss.push((await bare.probe()).rss);
    await bare.stop();
  }
  ctx.log(`start-up: ${fmt(median(again))} ms to listening, idle RSS ${fmtBytes(median(rss))}`);
  const markdown = [
    `Median of ${rounds} start${rounds === 1 ? '' : 's'} each; idle figures after ${idleMs / 1000} s idle and a forced GC.`,
    '',
    table(['', 'spawn → listening ms', 'spawn → /readyz 200 ms', 'idle RSS', 'idle JS heap used'], [
      ['`burrow serve`, empty data directory (creates secrets, schema)', fmt(median(first)), fmt(median(firstReady)), '', ''],
      ['`burrow serve`, existing data directory', fmt(median(again)), fmt(median(againReady)), fmtBytes(median(rss)), fmtBytes(median(heap))],
      ['bare node:http process (floor)', fmt(median(bareListening)), '', fmtBytes(median(bareRss)), ''],
    ]),
  ].join('\n');
  return {
    title: 'Start-up and idle memory',
    markdown,
    goals: [],
    data: { firstListeningMs: median(first), firstReadyMs: median(firstReady), listeningMs: median(again), readyMs: median(againReady), idleRss: median(rss), idleHeap: median(heap), bareListeningMs: median(bareListening), bareRss: median(bareRss) },
  };
}
