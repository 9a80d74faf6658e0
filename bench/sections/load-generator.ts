/**
 * The load generator's own ceiling: the same client and concurrency against the `noop` server
 * (answers 204, reads nothing it does not have to). A measured figure far below these is the
 * server's, not the client's.
 */
import { bySize, cpuMeter, type BenchContext, type SectionResult } from '../harness/context.js';
import { closedLoop, HttpClient } from '../harness/http-client.js';
import { startRole } from '../harness/processes.js';
import { fmt, summarise } from '../harness/stats.js';
import { table } from '../harness/report.js';

export interface LoadCeiling {
  smallPerSecond: number;
  uploadPerSecond: number;
}

export async function loadGeneratorSection(ctx: BenchContext, options: { concurrency: number; uploadBytes: number }): Promise<SectionResult & { ceiling: LoadCeiling }> {
  const durationMs = bySize(ctx.mode, { smoke: 300, quick: 2_000, full: 5_000 });
  const server = await startRole('noop');
  const client = new HttpClient(server.url, { maxSockets: options.concurrency });
  const body = new Uint8Array(options.uploadBytes).fill(7);
  try {
    await closedLoop({ concurrency: options.concurrency, durationMs: 200, op: async () => { await client.request({ method: 'GET', path: '/' }); } });
    let cpu = cpuMeter();
    const small = await closedLoop({ concurrency: options.concurrency, durationMs, op: async () => { await client.request({ method: 'GET', path: '/' }); } });
    const smallCpu = cpu();
    cpu = cpuMeter();
    const upload = await closedLoop({ concurrency: options.concurrency, durationMs, op: async () => { await client.request({ method: 'POST', path: '/', body }); } });
    const uploadCpu = cpu();
    ctx.log(`load generator: ${fmt(small.perSecond)} small req/s, ${fmt(upload.perSecond)} ${options.uploadBytes}-byte uploads/s`);
    const markdown = table(['request to the no-op server', 'requests/s', 'p50 ms', 'p99 ms', 'load client CPU (cores)'], [
      ['GET, empty 204 answer', fmt(small.perSecond), fmt(summarise(small.latencies).p50, 2), fmt(summarise(small.latencies).p99, 2), fmt(smallCpu, 2)],
      [`POST of ${options.uploadBytes} bytes`, fmt(upload.perSecond), fmt(summarise(upload.latencies).p50, 2), fmt(summarise(upload.latencies).p99, 2), fmt(uploadCpu, 2)],
    ]);
    return {
      title: 'Load generator ceiling',
      markdown: `${options.concurrency} requests in flight, ${durationMs / 1000} s each.\n\n${markdown}`,
      goals: [],
      data: { small: small.perSecond, upload: upload.perSecond },
      ceiling: { smallPerSecond: small.perSecond, uploadPerSecond: upload.perSecond },
    };
  } finally {
    client.close();
    await server.stop();
  }
}
