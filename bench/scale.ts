/**
 * Scale-out benchmark (`npm run bench:scale`): message upload throughput of `burrow serve` on the
 * embedded default (SQLite + blob directory), on one node over PostgreSQL + S3, and on two nodes
 * sharing them, measured in the same run on this machine. Envelopes are sealed beforehand, so the
 * figures are the servers' (HTTP, auth, envelope checks, blob write, row commit, live event).
 * S3 is s3rver, a single-process test double: the scale-out figures are a floor, not what a real
 * object store gives. Options: --messages N (default 600), --concurrency C (16), --size BYTES (16384), --json.
 */
import { FAMILY_SCOPE, messageScope, scopedContentsOf } from '../src/crypto/key-scopes.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, userInfo } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import S3rver from 's3rver';
import { registerAccount } from '../src/client/account.js';
import { BurrowApi } from '../src/client/api.js';
import { addChild } from '../src/client/children.js';
import { createFamily, loadFamily } from '../src/client/families.js';
import { MemoryKeyStore } from '../src/client/key-store.js';
import { randomBytes, toHex } from '../src/crypto/bytes.js';
import { sealMessage } from '../src/crypto/envelope.js';
import { MessageAccepted } from '../src/protocol/messages.js';
import { loadOrCreateSecrets } from '../src/server/secrets.js';

function argument(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

const MESSAGES = argument('--messages', 600);
const CONCURRENCY = argument('--concurrency', 16);
const SIZE = argument('--size', 16_384);
const WARMUP = 40;
const ADMIN_URL = process.env.BURROW_BENCH_PG_URL ?? `postgres://${encodeURIComponent(userInfo().username)}@127.0.0.1:5432/test`;
const CLI = join(process.cwd(), 'dist', 'cli', 'main.js');
const root = mkdtempSync(join(tmpdir(), 'burrow-bench-scale-'));
const children: ChildProcess[] = [];

const baseEnv = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  BURROW_LOG_LEVEL: 'error',
  BURROW_RATE_GLOBAL_PER_MINUTE: '1000000',
  BURROW_RATE_ANONYMOUS_PER_MINUTE: '1000000',
  BURROW_RATE_ACCOUNT_PER_MINUTE: '1000000',
  BURROW_SECURITY_CONTACT: 'mailto:security@example.org',
};

function startNode(env: NodeJS.ProcessEnv, dataDir: string): Promise<string> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data', dataDir], { env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => { err += c; });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`burrow serve exited with ${code}: ${err}`)));
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const match = /listening on (http:\/\/\S+) /.exec(out);
      if (match?.[1] !== undefined) {
        child.removeAllListeners('exit');
        resolve(match[1]);
      }
    });
  });
}

async function stopNodes(): Promise<void> {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** Registers a sender on `url`, makes a family with one child, and seals `count` envelopes of `SIZE` bytes of audio. */
async function prepare(url: string, count: number) {
  const api = new BurrowApi({ baseUrl: url });
  const email = `bench-${toHex(randomBytes(4))}@example.org`;
  const registration = await registerAccount({ api, email, password: `bench ${toHex(randomBytes(6))} quiet harbour`, sessionLabel: 'bench' });
  const ctx = { api, me: { accountId: registration.session.accountId, identity: registration.identity }, store: new MemoryKeyStore() };
  const { familyId } = await createFamily(ctx, { name: 'Bench' });
  const { childId } = await addChild(ctx, { familyId, name: 'Kid', emoji: '🦊' });
  const family = await loadFamily(ctx, familyId);
  // The child has no toy or relative yet, so no conversation key (issue #16): the guardian's message
  // to the child would have no scope readers accept. Fall back to adults-only talk when that is so.
  const toChild = messageScope(scopedContentsOf(family.roster.head), ctx.me.accountId, [childId]);
  const recipients = toChild.ok ? [childId] : [ctx.me.accountId];
  const scope = toChild.ok ? toChild.value : FAMILY_SCOPE;
  const envelopes: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const sealed = await sealMessage({
      familyId, epoch: family.roster.epoch, rosterHead: family.roster.headHash, scope, key: family.headKeyOf(scope)!, sender: ctx.me, recipients,
      audio: randomBytes(SIZE), audioType: 'audio/webm', durationMs: 1000, createdAt: Date.now(),
    });
    envelopes.push(sealed.bytes);
  }
  return { token: registration.session.token!, familyId, envelopes };
}

/** Uploads every envelope with `CONCURRENCY` in flight, round-robin over `urls`; returns messages per second. */
async function upload(urls: string[], token: string, familyId: string, envelopes: Uint8Array[]): Promise<number> {
  const apis = urls.map((baseUrl) => new BurrowApi({ baseUrl, token }));
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    for (let i = next++; i < envelopes.length; i = next++) {
      await apis[i % apis.length]!.upload(`/v1/families/${familyId}/messages`, envelopes[i]!, MessageAccepted);
    }
  }));
  return envelopes.length / ((performance.now() - started) / 1000);
}

async function measure(label: string, urls: string[]): Promise<{ label: string; perSecond: number }> {
  const { token, familyId, envelopes } = await prepare(urls[0]!, WARMUP + MESSAGES);
  await upload(urls, token, familyId, envelopes.slice(0, WARMUP));
  const perSecond = await upload(urls, token, familyId, envelopes.slice(WARMUP));
  return { label, perSecond };
}

async function main(): Promise<void> {
  const results: Array<{ label: string; perSecond: number }> = [];

  const embeddedUrl = await startNode({}, join(root, 'embedded'));
  results.push(await measure('embedded (SQLite + directory), 1 node', [embeddedUrl]));
  await stopNodes();

  const s3Dir = join(root, 's3');
  const s3 = new S3rver({ address: '127.0.0.1', port: 0, directory: s3Dir, silent: true });
  const endpoint = `http://127.0.0.1:${((await s3.run()) as AddressInfo).port}`;
  const s3Client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  await loadOrCreateSecrets({ dataDir: join(root, 'secrets') });
  const secrets = readFileSync(join(root, 'secrets', 'secrets.json'), 'utf8');
  const databases: string[] = [];
  try {
    // The directory row separates PostgreSQL's cost from the S3 double's.
    for (const { nodes, blobs } of [{ nodes: 1, blobs: 'dir' }, { nodes: 1, blobs: 's3' }, { nodes: 2, blobs: 's3' }] as const) {
      const database = `burrow_bench_${toHex(randomBytes(4))}`;
      await adminQuery(`CREATE DATABASE ${database}`);
      databases.push(database);
      const bucket = `bench-${toHex(randomBytes(4))}`;
      await s3Client.send(new CreateBucketCommand({ Bucket: bucket }));
      const url = new URL(ADMIN_URL);
      url.pathname = `/${database}`;
      const env = {
        BURROW_DATABASE_URL: url.toString(), BURROW_BLOBS: blobs === 's3' ? `s3://${bucket}/blobs` : join(root, `blobs-${database}`), BURROW_SECRETS: secrets,
        BURROW_S3_ENDPOINT: endpoint, BURROW_S3_REGION: 'us-east-1', BURROW_S3_ACCESS_KEY_ID: 'S3RVER', BURROW_S3_SECRET_ACCESS_KEY: 'S3RVER', BURROW_S3_FORCE_PATH_STYLE: 'true',
      };
      const urls: string[] = [];
      for (let n = 0; n < nodes; n++) urls.push(await startNode(env, join(root, `pg-${database}-${n}`)));
      const store = blobs === 's3' ? 'S3 (s3rver)' : 'a blob directory';
      results.push(await measure(`PostgreSQL + ${store}, ${nodes} node${nodes === 1 ? '' : 's'}`, urls));
      await stopNodes();
    }
  } finally {
    await stopNodes();
    s3Client.destroy();
    await s3.close();
    for (const database of databases) await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    rmSync(root, { recursive: true, force: true });
  }

  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ messages: MESSAGES, concurrency: CONCURRENCY, size: SIZE, cpus: cpus().length, results }, null, 2));
    return;
  }
  const baseline = results[0]!.perSecond;
  console.log(`${MESSAGES} uploads of ${SIZE}-byte audio, ${CONCURRENCY} in flight, ${cpus().length} CPUs, Node ${process.version}`);
  console.log('| setup | messages/s | vs embedded |\n|---|---:|---:|');
  for (const r of results) console.log(`| ${r.label} | ${r.perSecond.toFixed(0)} | ${(r.perSecond / baseline).toFixed(2)}× |`);
}

main().catch(async (error: unknown) => {
  await stopNodes();
  console.error(error);
  process.exit(1);
});
