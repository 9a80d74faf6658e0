/**
 * Keeps `npm run bench` from rotting silently: the bench bundles, its child processes start with
 * the probe and answer over IPC, the load client measures a real server, and the report helpers
 * replace only their own section of docs/benchmarks.md. (The full bench never runs in tests.)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BEGIN_MARKER, END_MARKER, lineChart, replaceGenerated } from '../../bench/harness/report.js';
import { summariseProfile } from '../../bench/harness/profile.js';
import { percentile, summarise } from '../../bench/harness/stats.js';

describe('bench harness', () => {
  let dir: string;

  beforeAll(async () => {
    // Inside the checkout, so the bundle's external packages resolve from node_modules.
    mkdirSync('dist', { recursive: true });
    dir = mkdtempSync(join('dist', 'bench-smoke-'));
    await build({
      entryPoints: ['bench/run.ts', 'bench/harness/probe.ts'],
      bundle: true, platform: 'node', format: 'esm', packages: 'external', target: 'node22',
      outdir: dir, outExtension: { '.js': '.mjs' }, entryNames: '[name]', logLevel: 'warning',
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('measures the load generator against a no-op server in a child process and prints the section', () => {
    const out = execFileSync(process.execPath, [join(dir, 'run.mjs'), '--smoke', '--only', 'load', '--no-write'], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toContain('#### Load generator ceiling');
    const rate = /\| GET, empty 204 answer \| (\d+) \|/.exec(out);
    expect(Number(rate?.[1])).toBeGreaterThan(50);
  }, 25_000);

  it('replaces only the generated block of the benchmarks document, and appends it when absent', () => {
    const doc = `# Benchmarks\n\n## Crypto\nkept\n\n${BEGIN_MARKER}\nold figures\n${END_MARKER}\n\n## After\nalso kept\n`;
    const next = replaceGenerated(doc, 'new figures');
    expect(next).toContain('## Crypto\nkept');
    expect(next).toContain('## After\nalso kept');
    expect(next).toContain('new figures');
    expect(next).not.toContain('old figures');
    expect(replaceGenerated(next, 'newer')).toBe(next.replace('new figures', 'newer'));
    expect(replaceGenerated('# Benchmarks\n', 'first')).toBe(`# Benchmarks\n\n${BEGIN_MARKER}\nfirst\n${END_MARKER}\n`);
    const committed = readFileSync('docs/benchmarks.md', 'utf8');
    expect(committed.indexOf(BEGIN_MARKER)).toBeLessThan(committed.indexOf(END_MARKER));
  });

  it('draws every series of a chart as a path with its points', () => {
    const svg = lineChart({ title: 'T', xLabel: 'x', yLabel: 'y', logX: true, series: [
      { name: 'a', color: '#000', points: [[1, 10], [4, 30], [16, 35]] },
      { name: 'b', color: '#111', points: [[1, 50], [4, 90], [16, 80]], dashed: true },
    ] });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(6);
  });

  it('computes nearest-rank percentiles and profile shares', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(500);
    expect(percentile(values, 99)).toBe(990);
    expect(summarise(values).p999).toBe(999);
    const summary = summariseProfile({
      startTime: 0, endTime: 1_000_000,
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, hitCount: 0, children: [2, 3] },
        { id: 2, callFrame: { functionName: 'executeQuery', url: 'file:///x/node_modules/kysely/dist/esm/a.js', lineNumber: 9 }, hitCount: 3 },
        { id: 3, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 }, hitCount: 1 },
      ],
    });
    expect(summary.idleShare).toBe(0.25);
    expect(summary.byPlace[0]).toEqual({ place: 'kysely', share: 0.75 });
  });
});
