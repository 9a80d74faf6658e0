import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, toHex } from '../../../src/crypto/bytes.js';
import { newBlobName } from '../../../src/storage/blobs/blob-store.js';
import { openBlobStore } from '../../../src/storage/blobs/open-blob-store.js';
import { S3BlobStore, parseBlobUrl, publicReadFromFacts, type S3BlobStoreOptions } from '../../../src/storage/blobs/s3-blob-store.js';
import { blobStoreContract, chunked, expectSameBytes, readAll } from './blob-store.contract.js';

let server: S3rver;
let directory: string;
let endpoint: string;
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'burrow-s3rver-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true });
  const address = (await server.run()) as AddressInfo;
  endpoint = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  await server?.close();
  await rm(directory, { recursive: true, force: true });
});

/** A raw client for looking behind the adapter's back. */
function rawClient(): S3Client {
  return new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
}

async function newBucket(): Promise<string> {
  const bucket = `burrow-${toHex(randomBytes(6))}`;
  const client = rawClient();
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return bucket;
}

function options(bucket: string, prefix = 'blobs/'): S3BlobStoreOptions {
  return { bucket, prefix, endpoint, forcePathStyle: true, region: 'us-east-1', ...credentials };
}

blobStoreContract('S3 (s3rver)', async () => {
  const bucket = await newBucket();
  const store = new S3BlobStore(options(bucket));
  return {
    store,
    reopen: async () => new S3BlobStore(options(bucket)),
    cleanup: async () => {
      await store.close();
    },
  };
});

describe('S3 blob store', () => {
  it('keeps its blobs under its prefix and ignores other objects in the bucket', async () => {
    const bucket = await newBucket();
    const store = new S3BlobStore(options(bucket, 'family-blobs'));
    const other = new S3BlobStore(options(bucket, 'elsewhere/'));
    const client = rawClient();
    try {
      const { name } = await store.put(Readable.from([randomBytes(10)]), { maxBytes: 100 });
      await other.put(Readable.from([randomBytes(10)]), { maxBytes: 100 });
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'family-blobs/not-a-blob.txt', Body: 'x' }));
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `family-blobs/${name}` }));
      expect(object.ContentLength).toBe(10);
      const listed = [];
      for await (const entry of store.list()) listed.push(entry.name);
      expect(listed).toEqual([name]);
    } finally {
      client.destroy();
      await store.close();
      await other.close();
    }
  });

  it('lists past one page of results', async () => {
    const bucket = await newBucket();
    const store = new S3BlobStore({ ...options(bucket), listPageSize: 3 });
    try {
      const stored = new Set<string>();
      for (let i = 0; i < 10; i++) stored.add((await store.put(Readable.from([new Uint8Array([i])]), { maxBytes: 10 })).name);
      const listed = new Set<string>();
      for await (const entry of store.list()) listed.add(entry.name);
      expect(listed).toEqual(stored);
    } finally {
      await store.close();
    }
  });

  it('stores bodies larger than one multipart part, whatever the chunking', async () => {
    const bucket = await newBucket();
    const store = new S3BlobStore(options(bucket));
    try {
      // 10 MiB in 1 MiB chunks ends exactly on a part boundary; 11 MiB + 7 in odd chunks splits chunks across parts.
      for (const [length, chunkSize] of [[10 * 1024 * 1024, 1024 * 1024], [11 * 1024 * 1024 + 7, 333_333]] as const) {
        const bytes = randomBytes(length);
        const stored = await store.put(Readable.from(chunked(bytes, chunkSize)), { maxBytes: 12 * 1024 * 1024 });
        expect(stored.size).toBe(length);
        expect(Buffer.from(stored.sha256!).equals(createHash('sha256').update(bytes).digest())).toBe(true);
        expectSameBytes(await readAll((await store.get(stored.name))!.body), bytes);
      }
    } finally {
      await store.close();
    }
  }, 60_000);

  it('a multipart upload that goes over the limit after its first part leaves no object', async () => {
    const bucket = await newBucket();
    const store = new S3BlobStore(options(bucket));
    try {
      const bytes = randomBytes(7 * 1024 * 1024);
      const error = await store.put(Readable.from(chunked(bytes, 512 * 1024)), { maxBytes: 6 * 1024 * 1024 }).catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe('burrow/payload-too-large');
      const listed = [];
      for await (const entry of store.list()) listed.push(entry.name);
      expect(listed).toEqual([]);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('check says it cannot tell whether a bucket is public when the service does not answer', async () => {
    const bucket = await newBucket();
    const store = new S3BlobStore(options(bucket));
    try {
      expect(await store.check()).toMatchObject({ ok: true, publicRead: 'unknown' });
    } finally {
      await store.close();
    }
  });

  it('check reports a missing bucket as not ok', async () => {
    const store = new S3BlobStore(options(`missing-${toHex(randomBytes(4))}`));
    try {
      expect(await store.check()).toMatchObject({ ok: false });
    } finally {
      await store.close();
    }
  });

  it('sweeping incomplete uploads on a service without multipart listing removes nothing', async () => {
    const bucket = await newBucket();
    const store = new S3BlobStore(options(bucket));
    try {
      expect(await store.sweepIncomplete(Date.now())).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('a blob URL names the bucket and the prefix', () => {
    expect(parseBlobUrl('s3://burrow-blobs/prod/voice')).toEqual({ bucket: 'burrow-blobs', prefix: 'prod/voice/' });
    expect(parseBlobUrl('s3://burrow-blobs')).toEqual({ bucket: 'burrow-blobs', prefix: '' });
    expect(parseBlobUrl('s3://burrow-blobs/')).toEqual({ bucket: 'burrow-blobs', prefix: '' });
    for (const bad of ['s3://', 'http://bucket/x', 's3://Bad_Bucket/x', 's3://bucket/../x', 's3://bucket/a?b']) {
      expect(() => parseBlobUrl(bad), bad).toThrow(TypeError);
    }
  });

  it('openBlobStore picks the adapter from the blob setting', async () => {
    const bucket = await newBucket();
    const s3 = openBlobStore(`s3://${bucket}/p`, { endpoint, forcePathStyle: true, ...credentials });
    expect(s3).toBeInstanceOf(S3BlobStore);
    const { name } = await s3.put(Readable.from([randomBytes(3)]), { maxBytes: 3 });
    const client = rawClient();
    const listing = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listing.Contents?.map((object) => object.Key)).toEqual([`p/${name}`]);
    client.destroy();
    await s3.close();
    expect(() => openBlobStore('ftp://example/x')).toThrow(TypeError);
    expect(() => openBlobStore('')).toThrow(TypeError);
  });

  it('a get of an absent blob in a prefix with other blobs is undefined', async () => {
    const bucket = await newBucket();
    const store = new S3BlobStore(options(bucket));
    try {
      await store.put(Readable.from([randomBytes(3)]), { maxBytes: 3 });
      expect(await store.get(newBlobName())).toBeUndefined();
      expect(await store.get(newBlobName(), { offset: 0, length: 0 })).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

describe('public read detection from bucket facts', () => {
  const everyone = { Grantee: { Type: 'Group' as const, URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' as const };
  const owner = { Grantee: { Type: 'CanonicalUser' as const, ID: 'owner' }, Permission: 'FULL_CONTROL' as const };

  it('a bucket whose ACL lets everyone read is public', () => {
    expect(publicReadFromFacts({ grants: [owner, everyone], policyIsPublic: false })).toBe(true);
    expect(publicReadFromFacts({ grants: [everyone] })).toBe(true);
  });

  it('a bucket whose policy is public is public', () => {
    expect(publicReadFromFacts({ grants: [owner], policyIsPublic: true })).toBe(true);
  });

  it('a full public access block makes the bucket private whatever its ACL or policy says', () => {
    const block = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };
    expect(publicReadFromFacts({ publicAccessBlock: block, grants: [everyone], policyIsPublic: true })).toBe(false);
  });

  it('a bucket is private only when both its ACL and its policy were seen', () => {
    expect(publicReadFromFacts({ grants: [owner], policyIsPublic: false })).toBe(false);
    expect(publicReadFromFacts({ grants: [owner] })).toBe('unknown');
    expect(publicReadFromFacts({ policyIsPublic: false })).toBe('unknown');
    expect(publicReadFromFacts({})).toBe('unknown');
  });
});
