/**
 * Preloaded (`node --import probe.mjs …`) into every process the benchmarks measure — `burrow serve`
 * and the baselines alike — so they are observed the same way without changing their code. Over
 * the IPC channel it answers `{ type: 'probe', reset? }` with its memory, CPU time and the event
 * loop's delay histogram (perf_hooks.monitorEventLoopDelay) since the last reset; honours
 * `{ type: 'gc' }` (started with --expose-gc); and `{ type: 'profile-start' }` /
 * `{ type: 'profile-stop', file }` record a V8 CPU profile of just the measured span;
 * `{ type: 'heap-snapshot', file }` writes a V8 heap snapshot (after a GC).
 */
import { writeFileSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';
import { Session } from 'node:inspector';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface ProbeSample {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** CPU time (user + system) since the process started, µs. */
  cpuMicros: number;
  /** Event-loop delay since the last reset, ms. */
  loopDelay: { p50: number; p99: number; max: number; mean: number };
  uptimeMs: number;
}

if (typeof process.send === 'function') {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  let session: Session | undefined;
  process.on('message', (message: { type?: string; id?: number; reset?: boolean; file?: string }) => {
    if (message?.type === 'profile-start') {
      session = new Session();
      session.connect();
      session.post('Profiler.enable', () => {
        session!.post('Profiler.setSamplingInterval', { interval: 500 }, () => {
          session!.post('Profiler.start', () => process.send?.({ type: 'profile-start', id: message.id }));
        });
      });
      return;
    }
    if (message?.type === 'profile-stop') {
      session?.post('Profiler.stop', (error, result) => {
        if (error === null && message.file !== undefined) writeFileSync(message.file, JSON.stringify(result.profile));
        session?.disconnect();
        session = undefined;
        process.send?.({ type: 'profile-stop', id: message.id });
      });
      return;
    }
    if (message?.type === 'heap-snapshot' && message.file !== undefined) {
      (globalThis as { gc?: () => void }).gc?.();
      writeHeapSnapshot(message.file);
      process.send?.({ type: 'heap-snapshot', id: message.id });
      return;
    }
    if (message?.type === 'gc') {
      (globalThis as { gc?: () => void }).gc?.();
      process.send?.({ type: 'gc', id: message.id });
      return;
    }
    if (message?.type !== 'probe') return;
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    const sample: ProbeSample = {
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      external: memory.external,
      arrayBuffers: memory.arrayBuffers,
      cpuMicros: cpu.user + cpu.system,
      loopDelay: {
        p50: histogram.percentile(50) / 1e6,
        p99: histogram.percentile(99) / 1e6,
        max: histogram.max / 1e6,
        mean: histogram.mean / 1e6,
      },
      uptimeMs: process.uptime() * 1000,
    };
    if (message.reset) histogram.reset();
    process.send?.({ type: 'probe', id: message.id, sample });
  });
  // The channel must not keep a process alive that would otherwise exit.
  process.channel?.unref();
}
