/**
 * The toy benchmarks, on one `burrow serve` (embedded default: SQLite file + blob directory, a temp
 * data directory) with real paired toys:
 * 1. Throughput: N senders (guardians, one family and one live toy each) upload 64 KB sealed
 *    envelopes; each toy, told by its live event, downloads the envelope and posts a receipt.
 *    Baseline in the same run: the `files` server (fsync'd files, no auth, no database), where
 *    the load client hands the id to the toy loop itself.
 * 2. Delivery latency at half the measured maximum rate, with many idle toys connected: upload
 *    acknowledged → toy notified (live event) and → toy holds the bytes.
 * 3. Connections held: idle authenticated toy connections from several client processes and
 *    loopback source addresses; RSS per connection and heartbeat CPU, against a bare `ws` server
 *    holding the same count.
 */
import { messageScope, scopedContentsOf } from '../../src/crypto/key-scopes.js';
import { bySize, cpuMeter, type BenchContext, type Goal, type SectionResult } from '../harness/context.js';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { byHolderOnly, heapGroups, heapGrowth, heapObjectIds, newHeapByHolder, type HeapGroups } from '../harness/heap.js';
import { HttpClient } from '../harness/http-client.js';
import { startBurrow, startRole, tempDir, type Measured } from '../harness/processes.js';
import { profileDuring, profileMarkdown, type ProfileSummary } from '../harness/profile.js';
import { lineChart, table } from '../harness/report.js';
import { fmt, fmtBytes, sleep, summarise } from '../harness/stats.js';
import { benchFamily, benchGuardians, pairToys, provisionToys, type BenchFamily, type BenchToy } from '../e2e/toys.js';
import { LiveToy, type Delivery } from '../e2e/live-toy.js';
import { paddedLengthOf, sealMessage } from '../../src/crypto/envelope.js';
import { randomBytes } from '../../src/crypto/bytes.js';
import { WAV_PCM16, wavOfPcm16 } from '../../src/protocol/audio-formats.js';

export const ENVELOPE_BYTES = 64 * 1024;
const HOLDERS = 4;
const SOURCE_ADDRESSES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);

interface Sender {
  family: BenchFamily;
  toy: BenchToy;
  live: LiveToy;
}

/**
 * Seals `count` envelopes of about ENVELOPE_BYTES from the family's guardian to its toy: envelopes
 * are padded to size buckets, so the audio is the most whose envelope stays within ENVELOPE_BYTES.
 */
/** The conversation a guardian's message to the sender's toy belongs to: its child's (key-scopes.ts `messageScope`). */
function scopeOf(sender: Sender): string {
  const scope = messageScope(scopedContentsOf(sender.family.family.roster.head), sender.family.ctx.me.accountId, [sender.toy.toyId]);
  if (!scope.ok) throw new Error(`no key scope for a message to ${sender.toy.toyId}: ${scope.code}`);
  return scope.value;
}

async function sealEnvelopes(sender: Sender, count: number): Promise<Uint8Array[]> {
  const { family, toy } = sender;
  const seal = (audioBytes: number) => sealMessage({
    familyId: family.familyId, epoch: family.family.roster.epoch, rosterHead: family.family.roster.headHash, scope: scopeOf(sender), key: family.family.headKeyOf(scopeOf(sender))!, sender: family.ctx.me,
    recipients: [toy.toyId], audio: wavOfPcm16(randomBytes(audioBytes - 44), { sampleRate: 8000 }), audioType: WAV_PCM16, durationMs: 4000, createdAt: Date.now(),
  });
  // The largest padding bucket under ENVELOPE_BYTES less room for the header and commitment.
  let bucket = paddedLengthOf(0);
  while (paddedLengthOf(bucket + 1) + 1024 <= ENVELOPE_BYTES) bucket = paddedLengthOf(bucket + 1);
  const out: Uint8Array[] = [];
  // 64 bytes below the bucket leave room for the inner record's metadata, so each fills that bucket.
  for (let i = 0; i < count; i++) out.push((await seal(bucket - 64)).bytes);
  return out;
}

interface LevelResult {
  senders: number;
  messages: number;
  perSecond: number;
  failures: number;
  serverCores?: number;
  clientCores: number;
}

/** N senders each upload their envelopes (one in flight each); done when every toy has acknowledged. */
async function burrowLevel(url: string, senders: Sender[], envelopes: Uint8Array[][], http: HttpClient, server: Measured): Promise<LevelResult> {
  const total = envelopes.reduce((n, e) => n + e.length, 0);
  let acked = 0;
  let resolveAll: () => void = () => undefined;
  const all = new Promise<void>((resolve) => { resolveAll = resolve; });
  const done = () => {
    acked += 1;
    if (acked === total) resolveAll();
  };
  for (const s of senders) {
    s.live.onDelivery = done;
    s.live.onFailed = done;
  }
  const before = await server.probe({ reset: true });
  const client = cpuMeter();
  const t0 = performance.now();
  let failures = 0;
  await Promise.all(senders.map(async (s, i) => {
    for (const envelope of envelopes[i]!) {
      const res = await http.request({ method: 'POST', path: `/v1/families/${s.family.familyId}/messages`, headers: { authorization: `Bearer ${s.family.ctx.api.token}`, 'content-type': 'application/octet-stream' }, body: envelope })
        .catch((error: unknown) => ({ status: 0, body: Buffer.from(String(error)) }));
      if (res.status !== 201 && res.status !== 200) {
        failures += 1;
        if (failures === 1) console.error(`upload: ${res.status} ${res.body.toString('utf8').slice(0, 300)}`);
        done();
      }
    }
  }));
  const timeout = sleep(60_000).then(() => 'timeout' as const);
  if ((await Promise.race([all.then(() => 'ok' as const), timeout])) === 'timeout') throw new Error(`toys acknowledged ${acked} of ${total} messages within 60 s`);
  const elapsed = performance.now() - t0;
  const after = await server.probe({ reset: true });
  const toyFailures = senders.reduce((n, s) => n + s.live.failures, 0);
  return { senders: senders.length, messages: total, perSecond: total / (elapsed / 1000), failures: failures + toyFailures, serverCores: (after.cpuMicros - before.cpuMicros) / 1000 / elapsed, clientCores: client() };
}

/** The same flow against the `files` baseline: upload (fsync), then the toy loop downloads and acknowledges. */
async function baselineLevel(server: Measured, envelopes: Uint8Array[][]): Promise<LevelResult> {
  const http = new HttpClient(server.url, { maxSockets: 128 });
  const total = envelopes.reduce((n, e) => n + e.length, 0);
  const toyWork: Array<Promise<void>> = [];
  let failures = 0;
  const before = await server.probe({ reset: true });
  const client = cpuMeter();
  const t0 = performance.now();
  await Promise.all(envelopes.map(async (list) => {
    for (const envelope of list) {
      const res = await http.request({ method: 'POST', path: '/m', headers: { 'content-type': 'application/octet-stream' }, body: envelope });
      if (res.status !== 201) {
        failures += 1;
        continue;
      }
      const { id } = JSON.parse(res.body.toString('utf8')) as { id: string };
      // Failures are counted, not thrown: this promise is awaited only after every upload.
      toyWork.push((async () => {
        const got = await http.request({ method: 'GET', path: `/m/${id}` });
        if (got.body.length !== envelope.length) throw new Error('baseline served other bytes');
        await http.request({ method: 'POST', path: `/m/${id}/ack`, body: '{"kind":"delivered"}' });
      })().catch(() => {
        failures += 1;
      }));
    }
  }));
  await Promise.all(toyWork);
  const elapsed = performance.now() - t0;
  const after = await server.probe({ reset: true });
  http.close();
  return { senders: envelopes.length, messages: total - failures, perSecond: (total - failures) / (elapsed / 1000), failures, serverCores: (after.cpuMicros - before.cpuMicros) / 1000 / elapsed, clientCores: client() };
}

interface HolderPool {
  holders: Measured[];
  open(url: string, tokens: string[] | number): Promise<{ ok: number; failed: number; firstError?: string; ms: number }>;
  closeAll(): Promise<void>;
  stop(): Promise<void>;
}

async function holderPool(): Promise<HolderPool> {
  const holders = await Promise.all(Array.from({ length: HOLDERS }, () => startRole('holder')));
  return {
    holders,
    async open(url, tokens) {
      const t0 = performance.now();
      const count = typeof tokens === 'number' ? tokens : tokens.length;
      const shares = holders.map((_, h) => {
        const from = Math.floor((count * h) / holders.length);
        const to = Math.floor((count * (h + 1)) / holders.length);
        return typeof tokens === 'number' ? { count: to - from } : { tokens: tokens.slice(from, to) };
      });
      const replies = await Promise.all(holders.map((holder, h) => holder.call<{ ok: number; failed: number; firstError?: string }>({
        type: 'open', url: `${url.replace(/^http/, 'ws')}/v1/live`, ...shares[h], localAddresses: SOURCE_ADDRESSES.slice(h * 2, h * 2 + 2), concurrency: 32,
      }, 'opened')));
      const firstError = replies.find((r) => r.firstError !== undefined)?.firstError;
      return { ok: replies.reduce((n, r) => n + r.ok, 0), failed: replies.reduce((n, r) => n + r.failed, 0), ...(firstError === undefined ? {} : { firstError }), ms: performance.now() - t0 };
    },
    async closeAll() {
      await Promise.all(holders.map((holder) => holder.call({ type: 'close' }, 'close')));
    },
    async stop() {
      await Promise.all(holders.map((holder) => holder.stop()));
    },
  };
}

/** RSS of a server after a GC, settled. */
/** What each connection's heap is counted under, nearest first on its path from the roots (bench/harness/heap.ts). */
const HEAP_HOLDERS = ['LiveConnection', 'WebSocket', 'Receiver', 'Sender', 'Socket', 'TCP', 'TopicFanout', 'LiveHub'] as const;

interface HeapSummary {
  groups: HeapGroups;
  /** Every object's id (before), or the new objects by holder (after). */
  ids: Set<number>;
  byHolder: HeapGroups;
}

/**
 * A heap snapshot of `server` in `dir`, summarised by group; the objects new since `before` by
 * holder. `BURROW_BENCH_KEEP_HEAP=DIR` keeps the file.
 */
async function heapSnapshot(server: Measured, dir: string, name: string, before?: HeapSummary): Promise<HeapSummary> {
  const file = join(dir, `${name}.heapsnapshot`);
  await server.call({ type: 'heap-snapshot', file }, 'heap-snapshot');
  const summary: HeapSummary = before === undefined
    ? { groups: heapGroups(file), ids: heapObjectIds(file), byHolder: new Map() }
    : { groups: heapGroups(file), ids: new Set(), byHolder: newHeapByHolder(file, before.ids, HEAP_HOLDERS) };
  const keep = process.env.BURROW_BENCH_KEEP_HEAP;
  if (keep !== undefined && keep !== '') copyFileSync(file, join(keep, `${name}.heapsnapshot`));
  rmSync(file, { force: true });
  return summary;
}

/** Where each connection's new objects are held, by holder and by holder and kind. */
function holderTables(after: HeapSummary, per: number): string {
  const holders = heapGrowth(new Map(), byHolderOnly(after.byHolder), per, 12).filter((r) => Math.abs(r.bytesEach) >= 1);
  const detail = heapGrowth(new Map(), after.byHolder, per, 24);
  return [
    table(['held through (nearest on the path from the roots)', 'bytes each', 'objects each'], holders.map((r) => [r.group, fmt(r.bytesEach), Number.isNaN(r.objectsEach) ? '' : fmt(r.objectsEach, 1)])),
    '',
    table(['held through › kind', 'bytes each', 'objects each'], detail.map((r) => [r.group.replace(/\|/g, '\\|'), fmt(r.bytesEach), Number.isNaN(r.objectsEach) ? '' : fmt(r.objectsEach, 1)])),
  ].join('\n');
}

function heapTable(burrow: ReturnType<typeof heapGrowth>, bare: ReturnType<typeof heapGrowth> | undefined): string {
  const total = (rows: ReturnType<typeof heapGrowth>): number => rows.reduce((n, r) => n + r.bytesEach, 0);
  return table(['Burrow: grew by', 'bytes each', 'objects each'], [
    ...burrow.map((r) => [r.group.replace(/\|/g, '\\|'), fmt(r.bytesEach), Number.isNaN(r.objectsEach) ? '' : fmt(r.objectsEach, 1)]),
    ['**JS heap per connection**', `**${fmt(total(burrow))}**`, ''],
    ...(bare === undefined ? [] : [['bare `ws` server, JS heap per connection', fmt(total(bare)), '']]),
  ]);
}

async function settledRss(server: Measured): Promise<number> {
  await sleep(500);
  await server.gc();
  await sleep(300);
  return (await server.probe()).rss;
}

export interface ToySuiteResult {
  /** Left out with `connectionsOnly`. */
  throughput?: SectionResult;
  latency?: SectionResult;
  connections: SectionResult;
}

/** The toy sections; `connectionsOnly` measures the connections held and nothing else (`--only connections`). */
export async function toySuite(ctx: BenchContext, options: { connectionsOnly?: boolean } = {}): Promise<ToySuiteResult> {
  const levels = bySize(ctx.mode, { smoke: [1, 2], quick: [1, 4, 16], full: [1, 2, 4, 8, 16, 32] });
  const perLevel = bySize(ctx.mode, { smoke: 10, quick: 320, full: 1600 });
  const idleForLatency = ctx.sizes?.idle ?? bySize(ctx.mode, { smoke: 8, quick: 1_000, full: 10_000 });
  // Each toy may hold this many live connections (config.live.maxConnectionsPerAccount applies per
  // toy too): thousands of connections need only hundreds of pairings.
  const connectionsPerToy = 16;
  const latencySeconds = bySize(ctx.mode, { smoke: 1, quick: 8, full: 30 });
  const heldTarget = Math.max(idleForLatency, ctx.sizes?.connections ?? bySize(ctx.mode, { smoke: 16, quick: 2_000, full: 19_000 }));
  const heartbeatWindowMs = bySize(ctx.mode, { smoke: 500, quick: 10_000, full: 35_000 });
  const maxSenders = Math.max(...levels);

  const dir = tempDir('toys');
  // Behind a "reverse proxy": pairing toys and guardians each present their own address (e2e/toys.ts).
  const env = { BURROW_TRUST_PROXY: '127.0.0.0/8' };
  let server = await startBurrow({ dataDir: dir.path, env });
  const http = new HttpClient(server.url, { maxSockets: 256 });
  const pool = await holderPool();
  const senders: Sender[] = [];
  try {
    // Senders: one guardian, family and live toy each.
    const t0 = performance.now();
    const guardians = await benchGuardians(http, server.url, maxSenders);
    await Promise.all(guardians.map(async (g, i) => {
      const family = await benchFamily(g, `sender${i}`);
      const [toy] = await pairToys(family, 1, { baseUrl: server.url, pollMs: 20 });
      const live = new LiveToy({ paired: toy!.paired, http });
      await live.connect(server.url);
      senders.push({ family, toy: toy!, live });
    }));
    ctx.log(`${maxSenders} senders with live toys ready in ${fmt((performance.now() - t0) / 1000, 1)} s`);

    // Idle toys: provisioned now, connected later.
    const t1 = performance.now();
    const provisioned = await provisionToys({
      client: http, baseUrl: server.url, count: Math.ceil(heldTarget / connectionsPerToy), parallel: bySize(ctx.mode, { smoke: 1, quick: 8, full: 12 }), pollMs: 50,
      onProgress: (done) => { if (done % 256 < 64) ctx.log(`provisioned ${done} toys`); },
    });
    const provisionSeconds = (performance.now() - t1) / 1000;
    ctx.log(`${provisioned.toys.length} idle toys in ${provisioned.families.length} families provisioned in ${fmt(provisionSeconds, 1)} s`);
    // Token i % toys: consecutive connections belong to different toys.
    const idleTokens = Array.from({ length: heldTarget }, (_, i) => provisioned.toys[i % provisioned.toys.length]!.deviceToken);

    // Throughput and latency (left out by `--only connections`).
    const measured = options.connectionsOnly === true ? undefined : await (async () => {
      // 1. Throughput, Burrow then the baseline at each level.
      const files = await startRole('files', { args: [`${dir.path}/baseline-files`] });
      const burrowLevels: LevelResult[] = [];
      const baselineLevels: LevelResult[] = [];
      try {
        const warm = await Promise.all(senders.slice(0, 4).map((s) => sealEnvelopes(s, 5)));
        await burrowLevel(server.url, senders.slice(0, 4), warm, http, server);
        await baselineLevel(files, warm);
        for (const n of levels) {
          const each = Math.ceil(perLevel / n);
          const envelopes = await Promise.all(senders.slice(0, n).map((s) => sealEnvelopes(s, each)));
          const b = await burrowLevel(server.url, senders.slice(0, n), envelopes, http, server);
          const r = await baselineLevel(files, envelopes);
          burrowLevels.push(b);
          baselineLevels.push(r);
          ctx.log(`throughput with ${n} sender(s): Burrow ${fmt(b.perSecond)}/s, baseline ${fmt(r.perSecond)}/s`);
        }
      } finally {
        await files.stop();
      }
      const best = burrowLevels.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
      const bestIndex = burrowLevels.indexOf(best);
      const ratio = best.perSecond / baselineLevels[bestIndex]!.perSecond;
      const bestBaseline = Math.max(...baselineLevels.map((l) => l.perSecond));
      const totalFailures = burrowLevels.reduce((n, l) => n + l.failures, 0);

      let throughputProfile: ProfileSummary | undefined;
      if (ctx.profile) {
        const envelopes = await Promise.all(senders.slice(0, best.senders).map((s) => sealEnvelopes(s, Math.ceil(perLevel / best.senders))));
        throughputProfile = await profileDuring(server, () => burrowLevel(server.url, senders.slice(0, best.senders), envelopes, http, server));
      }

      // 2. Latency at half the best rate, idle toys connected.
      const idle = await pool.open(server.url, idleTokens.slice(0, idleForLatency));
      ctx.log(`${idle.ok} idle toys connected for the latency run (${idle.failed} failed${idle.firstError ? `: ${idle.firstError}` : ''}) in ${fmt(idle.ms / 1000, 1)} s`);
      const rate = best.perSecond / 2;
      const count = Math.max(10, Math.round(rate * latencySeconds));
      const perSender = Math.ceil(count / senders.length);
      const latencyEnvelopes = await Promise.all(senders.map((s) => sealEnvelopes(s, perSender)));
      const acks = new Map<string, number>();
      const sent = new Map<string, number>();
      const notified = new Map<string, number>();
      const deliveries: Delivery[] = [];
      for (const s of senders) {
        s.live.onNotified = (messageId, at) => notified.set(messageId, at);
        s.live.onDelivery = (d) => deliveries.push(d);
      }
      const loopStart = performance.now();
      let latencyFailures = 0;
      const uploads: Array<Promise<void>> = [];
      for (let i = 0; i < count; i++) {
        const due = loopStart + (i * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
        const s = senders[i % senders.length]!;
        const envelope = latencyEnvelopes[i % senders.length]![Math.floor(i / senders.length)]!;
        uploads.push((async () => {
          const sentAt = performance.now();
          const res = await http.request({ method: 'POST', path: `/v1/families/${s.family.familyId}/messages`, headers: { authorization: `Bearer ${s.family.ctx.api.token}`, 'content-type': 'application/octet-stream' }, body: envelope });
          const at = performance.now();
          if (res.status === 201 || res.status === 200) {
            const { messageId } = JSON.parse(res.body.toString('utf8')) as { messageId: string };
            acks.set(messageId, at);
            sent.set(messageId, sentAt);
          }
        })().catch(() => {
          latencyFailures += 1;
        }));
      }
      await Promise.all(uploads);
      const achievedRate = count / ((performance.now() - loopStart) / 1000);
      const deadline = performance.now() + 20_000;
      while (deliveries.length < acks.size && performance.now() < deadline) await sleep(20);
      const notifyMs: number[] = [];
      const bytesMs: number[] = [];
      const notifyFromSendMs: number[] = [];
      const bytesFromSendMs: number[] = [];
      let heardFirst = 0;
      for (const d of deliveries) {
        const ack = acks.get(d.messageId);
        const start = sent.get(d.messageId);
        if (ack === undefined || start === undefined) continue;
        if (d.notifiedAt < ack) heardFirst += 1;
        notifyMs.push(Math.max(0, d.notifiedAt - ack));
        bytesMs.push(Math.max(0, d.bytesAt - ack));
        notifyFromSendMs.push(d.notifiedAt - start);
        bytesFromSendMs.push(d.bytesAt - start);
      }
      const notify = summarise(notifyMs);
      const bytes = summarise(bytesMs);
      const notifyFromSend = summarise(notifyFromSendMs);
      const bytesFromSend = summarise(bytesFromSendMs);
      ctx.log(`latency at ${fmt(achievedRate)} msg/s with ${idle.ok} idle toys: notify p99 ${fmt(notify.p99, 1)} ms, bytes p99 ${fmt(bytes.p99, 1)} ms`);

      const throughputGoals: Goal[] = [
        { what: 'messages/s, Burrow ÷ bare fsync file server (best Burrow level)', target: '≥ 60 %', measured: `${fmt(ratio * 100)} %`, met: ratio >= 0.6 },
      ];
      const throughputChart = lineChart({
        title: `Messages/s (${ENVELOPE_BYTES / 1024} KB envelopes: upload, live notify, download, receipt)`,
        xLabel: 'senders (one upload in flight each)', yLabel: 'messages per second', logX: true,
        series: [
          { name: 'burrow serve (SQLite + blob directory)', color: '#c0392b', points: burrowLevels.map((l) => [l.senders, l.perSecond]) },
          { name: 'bare node:http + fsync files (baseline)', color: '#2c3e50', dashed: true, points: baselineLevels.map((l) => [l.senders, l.perSecond]) },
        ],
      });
      const throughput: SectionResult = {
        title: 'Message throughput: 64 KB envelopes to live toys',
        markdown: [
          `${perLevel} messages per level; senders are guardians of separate families, each with one paired toy connected live; envelopes are real sealed envelopes of at most ${ENVELOPE_BYTES} bytes (padded to the largest size bucket below that), sealed before timing. A message counts when its toy has downloaded it and its receipt was accepted. ${totalFailures} failures.`,
          '',
          table(['senders', 'Burrow msg/s', 'baseline msg/s', 'Burrow ÷ baseline', 'Burrow server CPU (cores)', 'baseline server CPU (cores)', 'load client CPU (cores)'],
            burrowLevels.map((b, i) => [b.senders, fmt(b.perSecond), fmt(baselineLevels[i]!.perSecond), `${fmt((b.perSecond / baselineLevels[i]!.perSecond) * 100)} %`, fmt(b.serverCores, 2), fmt(baselineLevels[i]!.serverCores, 2), fmt(b.clientCores, 2)])),
          '',
          `Best Burrow level: ${best.senders} senders, ${fmt(best.perSecond)} msg/s (${fmt(ratio * 100)} % of the baseline at the same level; the baseline's best is ${fmt(bestBaseline)} msg/s).`,
          '',
          '![Throughput against senders](benchmarks-throughput.svg)',
          ...(throughputProfile === undefined ? [] : ['', `CPU profile of \`burrow serve\` during a repeat of the best level:`, '', profileMarkdown(throughputProfile)]),
        ].join('\n'),
        goals: throughputGoals,
        charts: { 'benchmarks-throughput.svg': throughputChart },
        data: { burrowLevels, baselineLevels, ratio },
      };
      const latency: SectionResult = {
        title: `Delivery latency at half the maximum rate, ${idle.ok} idle toy connections`,
        markdown: [
          `${deliveries.length} of ${count} messages delivered (${latencyFailures} uploads failed) at ${fmt(achievedRate, 1)} msg/s (target ${fmt(rate, 1)}, half of ${fmt(best.perSecond)}), open loop over ${maxSenders} senders, for ${latencySeconds} s; ${idle.ok} idle authenticated toy connections (${connectionsPerToy} per toy) held by ${HOLDERS} client processes${ctx.mode === 'full' ? '' : ` (quick mode: the issue asks for 10,000 — run \`--full\`)`}. Times from the sender's upload acknowledgement (0 when the toy heard first: ${heardFirst} of ${notifyMs.length} notifications arrived before the sender's acknowledgement, because the server publishes the event when the message is committed, before it answers), and from the start of the upload (which includes sending its ${ENVELOPE_BYTES / 1024} KB).`,
          '',
          table(['upload acknowledged →', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms'], [
            ['toy notified (live event)', fmt(notify.p50, 1), fmt(notify.p99, 1), fmt(notify.p999, 1), fmt(notify.max, 1)],
            ['toy holds the bytes', fmt(bytes.p50, 1), fmt(bytes.p99, 1), fmt(bytes.p999, 1), fmt(bytes.max, 1)],
          ]),
          '',
          table(['upload started →', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms'], [
            ['toy notified (live event)', fmt(notifyFromSend.p50, 1), fmt(notifyFromSend.p99, 1), fmt(notifyFromSend.p999, 1), fmt(notifyFromSend.max, 1)],
            ['toy holds the bytes', fmt(bytesFromSend.p50, 1), fmt(bytesFromSend.p99, 1), fmt(bytesFromSend.p999, 1), fmt(bytesFromSend.max, 1)],
          ]),
        ].join('\n'),
        goals: [
          { what: `p99 upload acknowledged → toy notified (${idle.ok} idle toys)`, target: '≤ 25 ms', measured: `${fmt(notify.p99, 1)} ms`, met: notify.p99 <= 25 },
          { what: 'p99 upload acknowledged → toy holds the bytes', target: '≤ 100 ms', measured: `${fmt(bytes.p99, 1)} ms`, met: bytes.p99 <= 100 },
        ],
        data: { rate: achievedRate, idle: idle.ok, notify, bytes, notifyFromSend, bytesFromSend, heardFirst },
      };
      return { throughput, latency };
    })();

    // 3. Connections held, on a fresh process over the same data directory, so its memory before
    // holds nothing left over from the throughput and latency runs.
    for (const s of senders) s.live.close();
    senders.length = 0;
    await pool.closeAll();
    await server.stop();
    server = await startBurrow({ dataDir: dir.path, env });
    const rss0 = await settledRss(server);
    // With --heap, snapshots before and after (they disturb RSS a little: read the heap split, not RSS, from such a run).
    const heapBefore = ctx.heap === true ? await heapSnapshot(server, dir.path, 'burrow-before') : undefined;
    const held = await pool.open(server.url, idleTokens);
    ctx.log(`${held.ok} toy connections held (${held.failed} failed${held.firstError ? `: ${held.firstError}` : ''}) in ${fmt(held.ms / 1000, 1)} s`);
    const rss1 = await settledRss(server);
    const cpuBefore = await server.probe();
    await sleep(heartbeatWindowMs);
    const cpuAfter = await server.probe();
    const burrowHeartbeatCores = (cpuAfter.cpuMicros - cpuBefore.cpuMicros) / 1000 / heartbeatWindowMs;
    const status = await Promise.all(pool.holders.map((h) => h.call<{ open: number; unexpectedCloses: number }>({ type: 'status' }, 'status')));
    const stillOpen = status.reduce((n, s) => n + s.open, 0);
    const heapAfter = heapBefore === undefined ? undefined : await heapSnapshot(server, dir.path, 'burrow-after', heapBefore);
    const burrowHeap = heapBefore === undefined || heapAfter === undefined ? undefined : heapGrowth(heapBefore.groups, heapAfter.groups, held.ok);
    const burrowHolders = heapAfter === undefined ? undefined : holderTables(heapAfter, held.ok);
    await pool.closeAll();

    const bare = await startRole('ws-bare', { args: ['30000'] });
    let bareRss0 = 0;
    let bareRss1 = 0;
    let bareHeld = { ok: 0, failed: 0, ms: 0 } as { ok: number; failed: number; firstError?: string; ms: number };
    let bareHeartbeatCores = 0;
    let bareHeap: ReturnType<typeof heapGrowth> | undefined;
    let bareHolders: string | undefined;
    try {
      bareRss0 = await settledRss(bare);
      const bareBefore = ctx.heap === true ? await heapSnapshot(bare, dir.path, 'bare-before') : undefined;
      bareHeld = await pool.open(bare.url, held.ok);
      bareRss1 = await settledRss(bare);
      if (bareBefore !== undefined) {
        const bareAfter = await heapSnapshot(bare, dir.path, 'bare-after', bareBefore);
        bareHeap = heapGrowth(bareBefore.groups, bareAfter.groups, bareHeld.ok);
        bareHolders = holderTables(bareAfter, bareHeld.ok);
      }
      const b0 = await bare.probe();
      await sleep(heartbeatWindowMs);
      const b1 = await bare.probe();
      bareHeartbeatCores = (b1.cpuMicros - b0.cpuMicros) / 1000 / heartbeatWindowMs;
      await pool.closeAll();
    } finally {
      await bare.stop();
    }
    const perConnection = (rss1 - rss0) / Math.max(1, held.ok);
    const barePerConnection = (bareRss1 - bareRss0) / Math.max(1, bareHeld.ok);
    const memoryRatio = perConnection / barePerConnection;

    const connections: SectionResult = {
      title: `Connections held: ${held.ok} idle toy connections`,
      markdown: [
        `${heldTarget} connections of ${provisioned.toys.length} toys (${connectionsPerToy} each, the per-principal limit), paired for real through the relay (its rate limits as shipped; each toy and guardian presents its own client address through \`X-Forwarded-For\`) in ${provisioned.families.length} families with a guardian each, in ${fmt(provisionSeconds)} s. Connections from ${HOLDERS} client processes over source addresses ${SOURCE_ADDRESSES[0]}–${SOURCE_ADDRESSES.at(-1)}; each sends \`resume\` and waits for \`ready\`. RSS after a forced GC, before and after; heartbeat CPU over ${heartbeatWindowMs / 1000} s idle (both servers ping every 30 s).`,
        '',
        table(['server', 'held', 'failed', 'RSS before', 'RSS after', 'per connection', 'CPU idle with them (cores)'], [
          ['`burrow serve` (authenticated toys)', held.ok, held.failed, fmtBytes(rss0), fmtBytes(rss1), fmtBytes(perConnection), fmt(burrowHeartbeatCores, 3)],
          ['bare `ws` server (baseline)', bareHeld.ok, bareHeld.failed, fmtBytes(bareRss0), fmtBytes(bareRss1), fmtBytes(barePerConnection), fmt(bareHeartbeatCores, 3)],
        ]),
        '',
        `Still open at the end of the idle window: ${stillOpen} of ${held.ok}. Burrow ÷ bare per connection: ${fmt(memoryRatio, 2)}×.`,
        ...(burrowHeap === undefined ? [] : ['', 'JS heap per connection, from heap snapshots before and after (`--heap`; shallow sizes grouped by constructor or V8 kind):', '', heapTable(burrowHeap, bareHeap)]),
        ...(burrowHolders === undefined ? [] : ['', 'The objects new in `burrow serve`\'s heap after the connections opened, by what holds them (each under the nearest of these constructors on its shortest path from the GC roots; objects freed meanwhile are not subtracted):', '', burrowHolders]),
        ...(bareHolders === undefined ? [] : ['', 'The bare `ws` server, the same way:', '', bareHolders]),
      ].join('\n'),
      goals: [
        { what: `memory per connection, Burrow ÷ bare ws (${held.ok} connections)`, target: '≤ 1.5×', measured: `${fmt(memoryRatio, 2)}×`, met: memoryRatio <= 1.5 },
        { what: 'memory per idle toy connection', target: '≤ 10 KB', measured: fmtBytes(perConnection), met: perConnection <= 10_000 },
        { what: 'idle toy connections held by one process', target: `≈ 19,000 (fd limit)${ctx.mode === 'full' ? '' : '; quick mode holds fewer'}`, measured: String(held.ok), met: ctx.mode !== 'full' || held.ok >= 18_000 },
      ],
      data: { held: held.ok, rss0, rss1, perConnection, barePerConnection, memoryRatio, burrowHeartbeatCores, bareHeartbeatCores, provisionSeconds },
    };
    return { ...measured, connections };
  } finally {
    for (const s of senders) s.live.close();
    await pool.stop();
    http.close();
    await server.stop();
    dir.remove();
  }
}
