/** What every section of `npm run bench` gets and gives back. */

export type Mode = 'smoke' | 'quick' | 'full';

export interface BenchContext {
  mode: Mode;
  /** Also run a profiled pass (`node --cpu-prof`) of the server and summarise its top frames. */
  profile: boolean;
  /** Heap snapshots of the servers holding connections, before and after, summarised per connection (`--heap`). */
  heap?: boolean;
  /** Overrides of the mode's sizes (`--connections N`, `--idle N`). */
  sizes?: { connections?: number; idle?: number };
  /** Progress on stderr (never a secret). */
  log(message: string): void;
}

export interface Goal {
  what: string;
  target: string;
  measured: string;
  met: boolean;
}

export interface SectionResult {
  title: string;
  /** Markdown (tables and short notes), written under the section's heading. */
  markdown: string;
  goals: Goal[];
  /** SVG files to write next to docs/benchmarks.md (name → document). */
  charts?: Record<string, string>;
  /** Raw figures for --json. */
  data: unknown;
}

/** Picks the value for the current mode. */
export function bySize<T>(mode: Mode, sizes: { smoke: T; quick: T; full: T }): T {
  return sizes[mode];
}

/** CPU time of this (load-generating) process as a share of one core over a span. */
export function cpuMeter(): () => number {
  const start = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const used = process.cpuUsage(start);
    return (used.user + used.system) / 1000 / (performance.now() - t0);
  };
}
