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

interface FullSnapshot extends Snapshot {
  snapshot: Snapshot['snapshot'] & { meta: Snapshot['snapshot']['meta'] & { edge_fields: string[]; edge_types: [string[], ...unknown[]] } };
  edges: number[];
}

/** The ids of every object in a snapshot (V8 keeps an object's id from one snapshot of a process to the next). */
export function heapObjectIds(file: string): Set<number> {
  const data = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const width = data.snapshot.meta.node_fields.length;
  const idAt = data.snapshot.meta.node_fields.indexOf('id');
  const ids = new Set<number>();
  for (let i = 0; i < data.nodes.length; i += width) ids.add(data.nodes[i + idAt]!);
  return ids;
}

/**
 * What holds the objects of `file` that are not in `before` (ids from `heapObjectIds` of an earlier
 * snapshot of the same process): each is counted under the nearest of `holders` (constructor
 * names, e.g. `LiveConnection`, `WebSocket`) on its shortest path from the GC roots — the path a
 * heap viewer shows first — or under "(elsewhere)" when none is on it; weak edges are not followed.
 * Returned as groups named `holder › group`: divided by the connections opened in between, which
 * part of a connection each byte belongs to.
 */
export function newHeapByHolder(file: string, before: ReadonlySet<number>, holders: readonly string[]): HeapGroups {
  const data = JSON.parse(readFileSync(file, 'utf8')) as FullSnapshot;
  const meta = data.snapshot.meta;
  const idAt = meta.node_fields.indexOf('id');
  const width = meta.node_fields.length;
  const typeAt = meta.node_fields.indexOf('type');
  const nameAt = meta.node_fields.indexOf('name');
  const sizeAt = meta.node_fields.indexOf('self_size');
  const edgeCountAt = meta.node_fields.indexOf('edge_count');
  const edgeWidth = meta.edge_fields.length;
  const edgeTypeAt = meta.edge_fields.indexOf('type');
  const toAt = meta.edge_fields.indexOf('to_node');
  const weak = meta.edge_types[0].indexOf('weak');
  const types = meta.node_types[0];
  const count = data.nodes.length / width;
  const firstEdge = new Uint32Array(count + 1);
  for (let n = 0, e = 0; n < count; n++) {
    firstEdge[n] = e;
    e += data.nodes[n * width + edgeCountAt]! * edgeWidth;
    firstEdge[n + 1] = e;
  }
  const holderNames = new Set(holders);
  const NONE = -1;
  const labels = new Int32Array(count).fill(-2);
  const holderList = ['(elsewhere)', ...holders];
  const holderIndex = new Map(holderList.map((h, i) => [h, i]));
  const queue = new Uint32Array(count);
  let head = 0;
  let tail = 0;
  labels[0] = 0;
  queue[tail++] = 0;
  while (head < tail) {
    const n = queue[head++]!;
    for (let e = firstEdge[n]!; e < firstEdge[n + 1]!; e += edgeWidth) {
      if (data.edges[e + edgeTypeAt] === weak) continue;
      const to = data.edges[e + toAt]! / width;
      if (labels[to] !== -2) continue;
      const name = data.strings[data.nodes[to * width + nameAt]!] ?? '';
      const isHolder = types[data.nodes[to * width + typeAt]!] === 'object' && holderNames.has(name);
      labels[to] = isHolder ? holderIndex.get(name)! : labels[n]!;
      queue[tail++] = to;
    }
  }
  const groups: HeapGroups = new Map();
  for (let n = 0; n < count; n++) {
    if (before.has(data.nodes[n * width + idAt]!)) continue;
    const label = labels[n] === -2 ? NONE : labels[n]!;
    const holder = label === NONE ? '(unreachable)' : holderList[label]!;
    const group = `${holder} › ${groupOf(types[data.nodes[n * width + typeAt]!] ?? '?', data.strings[data.nodes[n * width + nameAt]!] ?? '')}`;
    const entry = groups.get(group) ?? { bytes: 0, count: 0 };
    entry.bytes += data.nodes[n * width + sizeAt]!;
    entry.count += 1;
    groups.set(group, entry);
  }
  return groups;
}

/** Sums groups named `holder › group` by holder alone. */
export function byHolderOnly(groups: HeapGroups): HeapGroups {
  const out: HeapGroups = new Map();
  for (const [name, value] of groups) {
    const holder = name.split(' › ')[0]!;
    const entry = out.get(holder) ?? { bytes: 0, count: 0 };
    entry.bytes += value.bytes;
    entry.count += value.count;
    out.set(holder, entry);
  }
  return out;
}
