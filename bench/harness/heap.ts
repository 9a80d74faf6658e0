/**
 * Where a process's heap goes, from two V8 heap snapshots (`node:v8` writeHeapSnapshot): the
 * shallow size of every object grouped by what it is (a constructor's or closure's name, or V8's
 * kind for strings, arrays, code and the like), and the growth of each group between the two, so
 * that growth divided by the connections opened in between is the heap each connection costs.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Shallow bytes and object count per group. */
export type HeapGroups = Map<string, { bytes: number; count: number }>;

/** What an object is counted as: objects and closures by name, everything else by V8's kind. */
function groupOf(type: string, name: string): string {
  if (type === 'object') return name;
  if (type === 'closure') return `closure ${name || '(anonymous)'}`;
  if (type === 'hidden' || type === 'native') return `(${type}) ${name.replace(/\s+/g, ' ').slice(0, 60)}`;
  return `(${type})`;
}

export function heapGroups(file: string): HeapGroups {
  const data = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = data.snapshot.meta.node_fields;
  const types = data.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups: HeapGroups = new Map();
  for (let i = 0; i < data.nodes.length; i += width) {
    const group = groupOf(types[data.nodes[i + typeAt]!] ?? '?', data.strings[data.nodes[i + nameAt]!] ?? '');
    const entry = groups.get(group) ?? { bytes: 0, count: 0 };
    entry.bytes += data.nodes[i + sizeAt]!;
    entry.count += 1;
    groups.set(group, entry);
  }
  return groups;
}

/** The groups that grew the most from `before` to `after`, per `per` (connections), largest first. */
export function heapGrowth(before: HeapGroups, after: HeapGroups, per: number, top = 14): Array<{ group: string; bytesEach: number; objectsEach: number }> {
  const rows: Array<{ group: string; bytesEach: number; objectsEach: number }> = [];
  for (const [group, a] of after) {
    const b = before.get(group) ?? { bytes: 0, count: 0 };
    rows.push({ group, bytesEach: (a.bytes - b.bytes) / per, objectsEach: (a.count - b.count) / per });
  }
  rows.sort((x, y) => y.bytesEach - x.bytesEach);
  const shown = rows.slice(0, top);
  const rest = rows.slice(top).reduce((n, r) => n + r.bytesEach, 0);
  return [...shown, { group: 'everything else', bytesEach: rest, objectsEach: Number.NaN }];
}
