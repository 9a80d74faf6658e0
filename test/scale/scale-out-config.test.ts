/** The scale-out settings: the blob store and S3 connection parsed from BURROW_* variables, refusing half-set ones. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/server/config.js';
import { S3BlobStore } from '../../src/storage/blobs/s3-blob-store.js';
import { FsBlobStore } from '../../src/storage/blobs/fs-blob-store.js';
import { openConfiguredBlobStore } from '../../src/storage/open-store.js';

describe('scale-out configuration', () => {
  it('reads the bucket, endpoint, region, credentials and path style', async () => {
    const config = loadConfig({ env: {
      BURROW_DATABASE_URL: 'postgres://burrow:pw@127.0.0.1/burrow',
      BURROW_BLOBS: 's3://family-audio/burrow',
      BURROW_S3_ENDPOINT: 'https://minio.internal:9000',
      BURROW_S3_REGION: 'eu-central-1',
      BURROW_S3_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      BURROW_S3_SECRET_ACCESS_KEY: 'secret-example',
      BURROW_S3_FORCE_PATH_STYLE: 'true',
    } });
    expect(config.blobs).toBe('s3://family-audio/burrow');
    expect(config.s3).toEqual({ endpoint: 'https://minio.internal:9000', region: 'eu-central-1', accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret-example', forcePathStyle: true });
    const blobs = openConfiguredBlobStore(config);
    try {
      expect(blobs).toBeInstanceOf(S3BlobStore);
    } finally {
      await blobs.close();
    }
  });

  it('keeps the embedded blob directory when no blob store is named', async () => {
    const config = loadConfig({ env: {}, flags: { data: join(mkdtempSync(join(tmpdir(), 'burrow-config-')), 'data') } });
    expect(config.blobs).toBeUndefined();
    expect(config.s3).toBeUndefined();
    const blobs = openConfiguredBlobStore(config);
    try {
      expect(blobs).toBeInstanceOf(FsBlobStore);
    } finally {
      await blobs.close();
    }
  });

  it('refuses half-set credentials, an unknown blob scheme, a bad endpoint and a bad path-style flag', () => {
    expect(() => loadConfig({ env: { BURROW_S3_ACCESS_KEY_ID: 'AKIDEXAMPLE' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { BURROW_BLOBS: 'gs://bucket/prefix' } })).toThrow(/BURROW_BLOBS/);
    expect(() => loadConfig({ env: { BURROW_S3_ENDPOINT: 'minio.internal:9000' } })).toThrow(/BURROW_S3_ENDPOINT/);
    expect(() => loadConfig({ env: { BURROW_S3_FORCE_PATH_STYLE: 'yes' } })).toThrow(/BURROW_S3_FORCE_PATH_STYLE/);
    expect(() => loadConfig({ env: { BURROW_DATABASE_URL: 'mysql://x@127.0.0.1/db' } })).toThrow(/BURROW_DATABASE_URL/);
  });
});
