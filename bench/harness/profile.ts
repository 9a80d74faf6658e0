/**
 * Summarises a V8 CPU profile (`node --cpu-prof`) into the frames that take the most time: self
 * time per function and per package or source folder, as shares of all samples.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of samples where the process was idle (waiting for I/O or timers). */
  idleShare: number;
  topFunctions: Array<{ name: string; where: string; share: number }>;
  byPlace: Array<{ place: string; share: number }>;
}

/** Where a frame's code lives: a package, a folder of ours, Node's internals, or native code. */
function placeOf(url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return 'node: internals';
  const ours = /\/(dist|src)\/(.+)\/[^/]+$/.exec(url);
  if (ours) return `src/${ours[2]!.split('/')[0]}`;
  return url.split('/').slice(-2).join('/');
}

export function summariseProfile(profile: CpuProfile, top = 12): ProfileSummary {
  const totalHits = profile.nodes.reduce((sum, n) => sum + (n.hitCount ?? 0), 0) || 1;
  const byFunction = new Map<string, { name: string; where: string; hits: number }>();
  const byPlace = new Map<string, number>();
  let idle = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += hits;
      continue;
    }
    const name = functionName || '(anonymous)';
    const file = url.replace(/^file:\/\//, '').replace(/^.*?\/(node_modules|dist|src)\//, '$1/');
    const where = url === '' ? '' : `${file}:${lineNumber + 1}`;
    const key = `${name} ${where}`;
    const entry = byFunction.get(key) ?? { name, where, hits: 0 };
    entry.hits += hits;
    byFunction.set(key, entry);
    const place = placeOf(url, name);
    byPlace.set(place, (byPlace.get(place) ?? 0) + hits);
  }
  return {
    totalMs: (profile.endTime - profile.startTime) / 1000,
    idleShare: idle / totalHits,
    topFunctions: [...byFunction.values()].sort((a, b) => b.hits - a.hits).slice(0, top).map((f) => ({ name: f.name, where: f.where, share: f.hits / totalHits })),
    byPlace: [...byPlace.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([place, hits]) => ({ place, share: hits / totalHits })),
  };
}

/** Reads a profile written by the probe. */
export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

/** Profiles `server` while `work` runs and summarises the span. */
export async function profileDuring(server: { startProfile(): Promise<void>; stopProfile(file: string): Promise<void> }, work: () => Promise<unknown>): Promise<ProfileSummary> {
  const dir = mkdtempSync(join(tmpdir(), 'burrow-bench-profile-'));
  try {
    const file = join(dir, 'server.cpuprofile');
    await server.startProfile();
    await work();
    await server.stopProfile(file);
    // BURROW_BENCH_KEEP_PROFILES=DIR keeps the raw profiles (open them in Chrome DevTools).
    const keep = process.env.BURROW_BENCH_KEEP_PROFILES;
    if (keep !== undefined && keep !== '') copyFileSync(file, join(keep, `profile-${Date.now()}.cpuprofile`));
    return summariseProfile(readProfile(file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A short Markdown rendering: the places, then the functions. */
export function profileMarkdown(summary: ProfileSummary): string {
  const pct = (share: number) => `${(share * 100).toFixed(1)} %`;
  return [
    `Profile of ${(summary.totalMs / 1000).toFixed(1)} s; idle ${pct(summary.idleShare)} of samples.`,
    '',
    '| where (self time) | share |',
    '|---|---:|',
    ...summary.byPlace.slice(0, 8).map((p) => `| ${p.place} | ${pct(p.share)} |`),
    '',
    '| function | file | share |',
    '|---|---|---:|',
    ...summary.topFunctions.slice(0, 10).map((f) => `| \`${f.name}\` | ${f.where === '' ? '' : `\`${f.where}\``} | ${pct(f.share)} |`),
  ].join('\n');
}
