/**
 * The blob store a configuration names: S3 when the blobs setting is s3://, else the embedded
 * directory `<dataDir>/blobs`. (`burrow serve` opens PostgreSQL and its LISTEN/NOTIFY bus when a
 * database URL is set; see src/cli/serve-command.ts.)
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BlobStore } from './blobs/blob-store.js';
import { openBlobStore, type S3ConnectionOptions } from './blobs/open-blob-store.js';

/** The storage part of the server's configuration (src/server/config.ts `Config` fits). */
export interface StorageSettings {
  readonly dataDir: string;
  /** `s3://bucket/prefix` or a directory; absent: `<dataDir>/blobs`. */
  readonly blobs?: string;
  readonly s3?: {
    readonly endpoint?: string;
    readonly region?: string;
    readonly accessKeyId?: string;
    readonly secretAccessKey?: string;
    readonly forcePathStyle?: boolean;
  };
}

/** The connection options for an `s3://` blob setting, from the S3 settings. */
export function s3ConnectionOptions(settings: StorageSettings['s3']): S3ConnectionOptions {
  const s3 = settings ?? {};
  return {
    ...(s3.endpoint === undefined ? {} : { endpoint: s3.endpoint }),
    ...(s3.region === undefined ? {} : { region: s3.region }),
    ...(s3.accessKeyId === undefined ? {} : { accessKeyId: s3.accessKeyId }),
    ...(s3.secretAccessKey === undefined ? {} : { secretAccessKey: s3.secretAccessKey }),
    ...(s3.forcePathStyle === undefined ? {} : { forcePathStyle: s3.forcePathStyle }),
  };
}

/** The blob store of `settings` (not yet touched: S3 connects lazily). */
export function openConfiguredBlobStore(settings: StorageSettings): BlobStore {
  if (settings.blobs !== undefined) return openBlobStore(settings.blobs, s3ConnectionOptions(settings.s3));
  const dir = join(settings.dataDir, 'blobs');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return openBlobStore(dir);
}
