/**
 * Opens the blob store a setting names: `s3://bucket/prefix` for S3-compatible storage, anything
 * else without a scheme (or a `file:` URL) for a directory.
 */
import { fileURLToPath } from 'node:url';
import type { BlobStore } from './blob-store.js';
import { FsBlobStore } from './fs-blob-store.js';
import { S3BlobStore, parseBlobUrl, type S3BlobStoreOptions } from './s3-blob-store.js';

/** Endpoint, region and credentials for an `s3://` setting; the configuration supplies them. */
export type S3ConnectionOptions = Omit<S3BlobStoreOptions, 'bucket' | 'prefix'>;

/** The blob store for `spec` (e.g. the `BURROW_BLOBS` setting). */
export function openBlobStore(spec: string, s3: S3ConnectionOptions = {}): BlobStore {
  if (typeof spec !== 'string' || spec === '') throw new TypeError('spec must name a directory or an s3:// URL');
  if (spec.startsWith('s3://')) return new S3BlobStore({ ...s3, ...parseBlobUrl(spec) });
  if (spec.startsWith('file:')) return new FsBlobStore({ dir: fileURLToPath(spec) });
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(spec)) throw new TypeError('spec must name a directory or an s3:// URL');
  return new FsBlobStore({ dir: spec });
}
