/**
 * Several `burrow serve` processes (the built CLI) sharing one PostgreSQL database and one S3
 * bucket, with shared secrets from the environment, as behind a load balancer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateSecrets } from '../../src/server/secrets.js';
import { S3RVER_CREDENTIALS, startS3rver } from '../support/backends.js';
import { createTestDatabase } from '../support/postgres.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const CLI = join(process.cwd(), 'dist', 'cli', 'main.js');

export interface Node {
  readonly url: string;
  readonly process: ChildProcess;
  /** stderr so far, for failure messages. */
  output(): string;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL: the node dies mid-work, as in a crash. */
  kill(): Promise<void>;
}

export interface Cluster {
  readonly databaseUrl: string;
  /** With `throughProxy`: the proxy between the nodes and PostgreSQL, to cut and restore. */
  readonly proxy?: TcpProxy;
  readonly env: NodeJS.ProcessEnv;
  startNode(): Promise<Node>;
  close(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts `burrow serve` with `env` and resolves once it prints its address. */
export function startServeProcess(env: NodeJS.ProcessEnv, dataDir: string): Promise<Node> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--host', '127.0.0.1', '--data', dataDir], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`burrow serve did not start: ${stderr}`)), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`burrow serve exited with ${code}: ${stderr}`));
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      const url = match[1];
      resolve({
        url,
        process: child,
        output: () => stderr,
        async stop() {
          child.kill('SIGTERM');
          await exited(child);
        },
        async kill() {
          child.kill('SIGKILL');
          await exited(child);
        },
      });
    });
  });
}

/**
 * A fresh database, an s3rver bucket and the shared environment; nodes start on demand.
 * `throughProxy` puts a TCP proxy between the nodes and PostgreSQL, standing in for a restart.
 */
export async function startCluster(options: { throughProxy?: boolean } = {}): Promise<Cluster> {
  const database = await createTestDatabase();
  const target = new URL(database.url);
  const proxy = options.throughProxy === true ? await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) }) : undefined;
  const databaseUrl = proxy === undefined ? database.url : proxy.rewrite(database.url);
  const s3 = await startS3rver();
  const bucket = await s3.newBucket();
  const root = mkdtempSync(join(tmpdir(), 'burrow-cluster-'));
  // One set of secrets for every node, handed in through the environment.
  await loadOrCreateSecrets({ dataDir: join(root, 'secrets') });
  const secretsJson = readFileSync(join(root, 'secrets', 'secrets.json'), 'utf8');
  const env: NodeJS.ProcessEnv = {
    BURROW_DATABASE_URL: databaseUrl,
    BURROW_BLOBS: `s3://${bucket}/blobs`,
    BURROW_S3_ENDPOINT: s3.endpoint,
    BURROW_S3_REGION: 'us-east-1',
    BURROW_S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    BURROW_S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    BURROW_S3_FORCE_PATH_STYLE: 'true',
    BURROW_SECRETS: secretsJson,
    BURROW_LOG_LEVEL: 'error',
    BURROW_RATE_GLOBAL_PER_MINUTE: '100000',
    BURROW_RATE_ANONYMOUS_PER_MINUTE: '100000',
    BURROW_RATE_ACCOUNT_PER_MINUTE: '100000',
    BURROW_SECURITY_CONTACT: 'mailto:security@example.org',
  };
  const nodes: Node[] = [];
  let count = 0;
  return {
    databaseUrl,
    ...(proxy === undefined ? {} : { proxy }),
    env,
    async startNode() {
      const node = await startServeProcess(env, join(root, `node-${++count}`));
      nodes.push(node);
      return node;
    },
    async close() {
      for (const node of nodes) await node.kill();
      await proxy?.close();
      await s3.close();
      await database.drop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
