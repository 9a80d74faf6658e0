/**
 * Several `burrow serve` processes (the built CLI) sharing one PostgreSQL database and one S3
 * bucket, with shared secrets from the environment, as behind a load balancer.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateSecrets } from '../../src/server/secrets.js';
import { S3RVER_CREDENTIALS, startS3rver } from '../support/backends.js';
import { createTestDatabase } from '../support/postgres.js';
import { startBurrowServe, type ServeProcess } from '../support/serve.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/** One `burrow serve` of a cluster. */
export type Node = ServeProcess;

export interface Cluster {
  readonly databaseUrl: string;
  /** With `throughProxy`: the proxy between the nodes and PostgreSQL, to cut and restore. */
  readonly proxy?: TcpProxy;
  readonly env: Record<string, string>;
  startNode(): Promise<Node>;
  close(): Promise<void>;
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
  const env: Record<string, string> = {
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
      const node = await startBurrowServe({ env, dataDir: join(root, `node-${++count}`) });
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
