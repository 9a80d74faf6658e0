/**
 * The parser behind doc-examples.test.ts: finds the checked examples of docs/protocol.md (see the
 * paragraph "Checked examples" at its top) and walks layout tables over vector bytes.
 */

/** A checked example: its kind, its argument, the doc line (1-based) and the line's visible text. */
export interface DocCheck {
  kind: 'check' | 'vector' | 'layout';
  argument: string;
  line: number;
  text: string;
}

const TAG = /(?<!`)<!--\s*(check|vector|layout):\s*([^>]*?)\s*-->(?!`)/g;

export function findChecks(doc: string): DocCheck[] {
  const lines = doc.split('\n');
  const out: DocCheck[] = [];
  lines.forEach((raw, i) => {
    for (const match of raw.matchAll(TAG)) {
      out.push({ kind: match[1] as DocCheck['kind'], argument: match[2]!, line: i + 1, text: raw.replace(TAG, '') });
    }
  });
  return out;
}

/** Every `burrow/…/vN` label written in backticks or quotes, with its line. */
export function findLabels(doc: string): { label: string; line: number }[] {
  const out: { label: string; line: number }[] = [];
  doc.split('\n').forEach((raw, i) => {
    for (const match of raw.matchAll(/[`"](burrow\/[a-z0-9-]+(?:\/[a-z0-9-]+)*\/v\d+(?: [a-z]+)?)(?:\\0)?[`"]/g)) out.push({ label: match[1]!, line: i + 1 });
  });
  return out;
}

/** The rows of the markdown table that starts after `line` (1-based): cells of each body row. */
export function tableAfter(doc: string, line: number): { cells: string[]; line: number }[] {
  const lines = doc.split('\n');
  let i = line; // the tag's own line is `line`; the table starts on a following line
  while (i < lines.length && !lines[i]!.trim().startsWith('|')) i++;
  const rows: { cells: string[]; line: number }[] = [];
  for (let j = i + 2; j < lines.length && lines[j]!.trim().startsWith('|'); j++) {
    rows.push({ cells: lines[j]!.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim().replace(/`/g, '')), line: j + 1 });
  }
  return rows;
}

function fixedWidth(encoding: string, width: string): number | undefined {
  const kind = encoding.split(/\s+/)[0]!;
  const sizes: Record<string, number> = { u8: 1, u16: 2, u32: 4, u64: 8 };
  if (kind in sizes) return sizes[kind];
  if ((kind === 'raw' || kind === 'ascii') && /^\d+$/.test(width)) return Number(width);
  return undefined;
}

function readUint(bytes: Uint8Array, at: number, width: number): number {
  let n = 0;
  for (let i = 0; i < width; i++) n = n * 256 + bytes[at + i]!;
  return n;
}

/**
 * Walks a layout table (columns offset | field | width | encoding) over `bytes`; returns the
 * problems, each naming its doc line. Encodings: u8/u16/u32/u64 (optionally `= value`), raw (width
 * in bytes, or any other text for "the rest but the fixed fields after it"), ascii "TEXT", string,
 * bytes, strings, opt string / opt raw (u8 flag 0|1, then the field when 1; the width's last number
 * is a raw field's size).
 */
export function walkLayout(rows: { cells: string[]; line: number }[], bytes: Uint8Array): string[] {
  const problems: string[] = [];
  let at = 0;
  rows.forEach((row, index) => {
    const [offset, field, width, encoding] = row.cells as [string, string, string, string];
    if (encoding === undefined) {
      problems.push(`line ${row.line}: a layout row needs four cells (offset | field | width | encoding)`);
      return;
    }
    if (/^\d+$/.test(offset) && Number(offset) !== at) problems.push(`line ${row.line}: ${field} is at offset ${at} in the vector, not ${offset}`);
    const kind = encoding.split(/\s+/)[0]!;
    const fixed = fixedWidth(encoding, width);
    if (at > bytes.length) return;
    if (kind === 'u8' || kind === 'u16' || kind === 'u32' || kind === 'u64') {
      const value = readUint(bytes, at, fixed!);
      const expected = /=\s*(\d+)/.exec(encoding);
      if (expected && Number(expected[1]) !== value) problems.push(`line ${row.line}: ${field} is ${value} in the vector, not ${expected[1]}`);
      if (/^\d+$/.test(width) && Number(width) !== fixed) problems.push(`line ${row.line}: ${kind} is ${fixed} bytes wide, not ${width}`);
      at += fixed!;
    } else if (kind === 'ascii') {
      const text = /"([^"]*)"/.exec(encoding)?.[1] ?? '';
      const actual = new TextDecoder().decode(bytes.subarray(at, at + text.length));
      if (actual !== text) problems.push(`line ${row.line}: ${field} is "${actual}" in the vector, not "${text}"`);
      at += text.length;
    } else if (kind === 'raw') {
      if (fixed !== undefined) at += fixed;
      else {
        let after = 0;
        for (const later of rows.slice(index + 1)) {
          const w = fixedWidth(later.cells[3] ?? '', later.cells[2] ?? '');
          if (w === undefined) problems.push(`line ${later.line}: only fixed-width fields may follow a field of variable width`);
          after += w ?? 0;
        }
        at = bytes.length - after;
      }
    } else if (kind === 'string' || kind === 'bytes') {
      at += 4 + readUint(bytes, at, 4);
    } else if (kind === 'strings') {
      const count = readUint(bytes, at, 4);
      at += 4;
      for (let i = 0; i < count; i++) at += 4 + readUint(bytes, at, 4);
    } else if (kind === 'opt') {
      const flag = bytes[at]!;
      at += 1;
      if (flag > 1) problems.push(`line ${row.line}: ${field}'s flag is ${flag} in the vector`);
      const inner = encoding.split(/\s+/)[1];
      if (flag === 1 && inner === 'string') at += 4 + readUint(bytes, at, 4);
      if (flag === 1 && inner === 'raw') at += Number(/(\d+)\D*$/.exec(width)?.[1] ?? 0);
    } else {
      problems.push(`line ${row.line}: unknown encoding "${encoding}"`);
    }
  });
  if (at !== bytes.length) problems.push(`line ${rows[0]?.line ?? 0}: the layout covers ${at} bytes, the vector has ${bytes.length}`);
  return problems;
}
