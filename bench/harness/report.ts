/**
 * Writes a run's results into docs/benchmarks.md between two markers, so a rerun replaces its
 * own section and leaves the hand-written sections alone, and draws line charts as plain SVG.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export const BEGIN_MARKER = '<!-- bench:generated:begin (npm run bench rewrites everything up to the end marker) -->';
export const END_MARKER = '<!-- bench:generated:end -->';

/** Replaces the text between the markers in `document` (appending both when absent). */
export function replaceGenerated(document: string, generated: string): string {
  const begin = document.indexOf(BEGIN_MARKER);
  const end = document.indexOf(END_MARKER);
  const block = `${BEGIN_MARKER}\n${generated.trim()}\n${END_MARKER}`;
  if (begin < 0 || end < begin) return `${document.trimEnd()}\n\n${block}\n`;
  return document.slice(0, begin) + block + document.slice(end + END_MARKER.length);
}

export function writeGenerated(path: string, generated: string): void {
  writeFileSync(path, replaceGenerated(readFileSync(path, 'utf8'), generated));
}

/** A Markdown table. */
export function table(header: string[], rows: Array<Array<string | number>>, align?: Array<'l' | 'r'>): string {
  const sep = header.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'r' ? '---:' : '---'));
  return [header, sep, ...rows.map((r) => r.map(String))].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

export interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
  dashed?: boolean;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** A line chart (linear axes from 0, or a log-scale x axis) as a standalone SVG document. */
export function lineChart(options: { title: string; xLabel: string; yLabel: string; series: Series[]; logX?: boolean; width?: number; height?: number }): string {
  const width = options.width ?? 640;
  const height = options.height ?? 360;
  const m = { left: 64, right: 16, top: 36, bottom: 48 };
  const all = options.series.flatMap((s) => s.points);
  const xs = all.map(([x]) => x);
  const xMinRaw = options.logX ? Math.min(...xs) : 0;
  const xMaxRaw = Math.max(...xs);
  const tx = options.logX
    ? (x: number) => (Math.log10(x) - Math.log10(xMinRaw)) / Math.max(1e-9, Math.log10(xMaxRaw) - Math.log10(xMinRaw))
    : (x: number) => x / niceMax(xMaxRaw);
  const yMax = niceMax(Math.max(...all.map(([, y]) => y)));
  const px = (x: number) => m.left + tx(x) * (width - m.left - m.right);
  const py = (y: number) => height - m.bottom - (y / yMax) * (height - m.top - m.bottom);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(options.title)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const y = (yMax * i) / 5;
    parts.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${py(y).toFixed(1)}" y2="${py(y).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.left - 6}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end">${Number(y.toPrecision(3))}</text>`);
  }
  const xTicks = options.logX
    ? [...new Set(xs)].sort((a, b) => a - b)
    : Array.from({ length: 6 }, (_, i) => (niceMax(xMaxRaw) * i) / 5);
  for (const x of xTicks) {
    parts.push(`<line x1="${px(x).toFixed(1)}" x2="${px(x).toFixed(1)}" y1="${m.top}" y2="${height - m.bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${px(x).toFixed(1)}" y="${height - m.bottom + 16}" text-anchor="middle">${Number(x.toPrecision(3))}</text>`);
  }
  parts.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${height - m.bottom}" y2="${height - m.bottom}" stroke="#333"/>`);
  parts.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${height - m.bottom}" stroke="#333"/>`);
  parts.push(`<text x="${(m.left + width - m.right) / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${(m.top + height - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`);
  options.series.forEach((s, i) => {
    const d = s.points.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    for (const [x, y] of s.points) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    const ly = m.top + 8 + i * 16;
    parts.push(`<line x1="${m.left + 12}" x2="${m.left + 36}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    parts.push(`<text x="${m.left + 42}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
