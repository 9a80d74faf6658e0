/**
 * The S3 adapter of the blob port: one private object per blob under `<prefix><name>` in any
 * S3-compatible bucket. Bodies are streamed part by part: at most one 5 MiB part (and one chunk)
 * of an upload is in memory; a blob up to 5 MiB goes out as one PutObject once read and verified,
 * a larger one as a multipart upload.
 *
 * The AWS SDK (a large module graph) is imported with the store's first request, not when the store
 * is built, so a server on a blob directory never loads it and one on S3 loads it after listening.
 */
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { Grant, PublicAccessBlockConfiguration, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { concatBytes } from '../../crypto/bytes.js';
import { BurrowError } from '../../protocol/errors.js';
import {
  MeteredBody,
  abortReason,
  assertBlobName,
  assertRange,
  isBlobName,
  newBlobName,
  type BlobBody,
  type BlobListing,
  type BlobRange,
  type BlobRead,
  type BlobStore,
  type BlobStoreCheck,
  type PutBlobOptions,
  type StoredBlob,
  BlobStoreUnavailableError,
} from './blob-store.js';

export interface S3BlobStoreOptions {
  bucket: string;
  /** Key prefix for every blob, e.g. `burrow/`; a trailing slash is added when missing. */
  prefix?: string;
  /** Endpoint of an S3-compatible service, e.g. `http://127.0.0.1:9000`; AWS when absent. */
  endpoint?: string;
  region?: string;
  /** `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key` (most self-hosted services). */
  forcePathStyle?: boolean;
  /** Static credentials; the SDK's default chain (environment, profile, instance role) when absent. */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Keys per ListObjects page (S3's maximum and default: 1000). */
  listPageSize?: number;
  /** A connection not made within this time fails (default 5000 ms): an endpoint that is down fails fast. */
  connectTimeoutMs?: number;
  /** A request whose socket is silent this long fails (default 30000 ms): an endpoint that stops answering does not hold uploads for ever. */
  idleTimeoutMs?: number;
}

/** The bucket and prefix of a `s3://bucket/prefix` blob URL. */
export function parseBlobUrl(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/?#]+)(?:\/([^?#]*))?$/.exec(url);
  if (match === null) throw new TypeError('the blob URL must look like s3://bucket/prefix');
  const bucket = match[1]!;
  const prefix = normalisePrefix(match[2] ?? '');
  assertBucket(bucket);
  return { bucket, prefix };
}

/** Part size of multipart uploads: S3's minimum, so at most this much of a body is held in memory. */
const PART_SIZE = 5 * 1024 * 1024;
const OCTETS = 'application/octet-stream';
const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';

/** Content-MD5 of a part (RFC 1864), so the service verifies what it received. */
function md5(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('base64');
}

/** Cuts a body into parts of PART_SIZE bytes, holding at most one part and one chunk in memory. */
class PartReader {
  #leftover: Uint8Array | undefined;
  readonly #next: () => Promise<IteratorResult<Uint8Array>>;

  constructor(next: () => Promise<IteratorResult<Uint8Array>>) {
    this.#next = next;
  }

  /** The next part; `last` when the body ends with it. */
  async read(): Promise<{ bytes: Uint8Array; last: boolean }> {
    // Chunks are copied: a producer may reuse its buffer once it has handed it over.
    const chunks: Uint8Array[] = [];
    let filled = 0;
    for (;;) {
      let chunk = this.#leftover;
      this.#leftover = undefined;
      if (chunk === undefined) {
        const result = await this.#next();
        if (result.done) return { bytes: concatBytes(...chunks), last: true };
        chunk = result.value;
      }
      if (filled === PART_SIZE) {
        // Full, and the body goes on: keep the chunk for the next part.
        this.#leftover = chunk;
        return { bytes: concatBytes(...chunks), last: false };
      }
      const take = Math.min(chunk.length, PART_SIZE - filled);
      chunks.push(chunk.slice(0, take));
      filled += take;
      if (take < chunk.length) this.#leftover = chunk.subarray(take);
    }
  }
}

type Sdk = typeof S3Sdk;

let sdkModule: Promise<Sdk> | undefined;

/** The AWS SDK's S3 client module, imported once, on first use. */
function loadSdk(): Promise<Sdk> {
  sdkModule ??= import('@aws-sdk/client-s3');
  return sdkModule;
}

/** Stores blobs as private objects in an S3-compatible bucket. */
export class S3BlobStore implements BlobStore {
  readonly bucket: string;
  readonly prefix: string;
  readonly #clientConfig: S3ClientConfig;
  #client: S3Client | undefined;
  #closed = false;
  readonly #listPageSize: number;

  constructor(options: S3BlobStoreOptions) {
    assertBucket(options.bucket);
    this.bucket = options.bucket;
    this.prefix = normalisePrefix(options.prefix ?? '');
    this.#listPageSize = options.listPageSize ?? 1000;
    if (!Number.isInteger(this.#listPageSize) || this.#listPageSize < 1 || this.#listPageSize > 1000) {
      throw new TypeError('options.listPageSize must be an integer from 1 to 1000');
    }
    if ((options.accessKeyId === undefined) !== (options.secretAccessKey === undefined)) {
      throw new TypeError('options.accessKeyId and options.secretAccessKey go together');
    }
    this.#clientConfig = {
      region: options.region ?? 'us-east-1',
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle ?? false,
      credentials:
        options.accessKeyId !== undefined && options.secretAccessKey !== undefined
          ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey, sessionToken: options.sessionToken }
          : undefined,
      // The SDK waits for ever by default; a dead or silent endpoint must become a 503 instead.
      requestHandler: { connectionTimeout: options.connectTimeoutMs ?? 5_000, socketTimeout: options.idleTimeoutMs ?? 30_000 },
      // Plain (not aws-chunked) bodies: many S3-compatible services do not accept trailing checksums.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
  }

  /** Runs `request` with the client (made on first use, with the SDK) and the SDK's commands. */
  async #use<T>(request: (client: S3Client, sdk: Sdk) => Promise<T>): Promise<T> {
    const sdk = await loadSdk();
    if (this.#closed) throw new BlobStoreUnavailableError('the store is closed');
    this.#client ??= new sdk.S3Client(this.#clientConfig);
    return request(this.#client, sdk);
  }

  async put(body: BlobBody, options: PutBlobOptions): Promise<StoredBlob> {
    const metered = new MeteredBody(body, options);
    if (options.size !== undefined && options.size > options.maxBytes) {
      throw new BurrowError('burrow/payload-too-large', `The body is larger than ${options.maxBytes} bytes`);
    }
    const name = newBlobName();
    const key = this.#key(name);
    // Every request is awaited before put settles, so nothing is still in flight when it rejects.
    const signal = options.signal;
    const source = metered[Symbol.asyncIterator]();
    let bodyError: { error: unknown } | undefined;
    const next = async (): Promise<IteratorResult<Uint8Array>> => {
      try {
        return await source.next();
      } catch (error) {
        bodyError = { error };
        throw error;
      }
    };
    let uploadId: string | undefined;
    try {
      // S3 needs each request's length up front and must never see a body that later proves too
      // long or short, so the body goes out one verified part at a time: a blob of up to one part
      // (5 MiB, the default message limit) is a single PutObject sent only once it was read whole.
      const reader = new PartReader(next);
      let part = await reader.read();
      if (part.last) {
        await this.#use((client, sdk) => client.send(
          new sdk.PutObjectCommand({ Bucket: this.bucket, Key: key, Body: part.bytes, ContentLength: part.bytes.length, ContentMD5: md5(part.bytes), ContentType: OCTETS }),
          { abortSignal: signal },
        ));
      } else {
        const created = await this.#use((client, sdk) => client.send(new sdk.CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: OCTETS }), { abortSignal: signal }));
        uploadId = created.UploadId;
        const parts: Array<{ ETag: string | undefined; PartNumber: number }> = [];
        for (let number = 1; ; number++) {
          const uploaded = await this.#use((client, sdk) => client.send(
            new sdk.UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: number, Body: part.bytes, ContentLength: part.bytes.length, ContentMD5: md5(part.bytes) }),
            { abortSignal: signal },
          ));
          parts.push({ ETag: uploaded.ETag, PartNumber: number });
          if (part.last) break;
          part = await reader.read();
        }
        await this.#use((client, sdk) => client.send(
          new sdk.CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
          { abortSignal: signal },
        ));
        uploadId = undefined;
      }
      if (bodyError !== undefined) throw bodyError.error;
      return metered.stored(name);
    } catch (error) {
      if (uploadId !== undefined) {
        await this.#use((client, sdk) => client.send(new sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }))).catch(() => undefined);
      }
      // Belt and braces: a service that committed despite the failure must not keep the object.
      await this.#use((client, sdk) => client.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: key }))).catch(() => undefined);
      await source.return?.(undefined).catch(() => undefined);
      if (bodyError !== undefined) throw bodyError.error;
      if (options.signal?.aborted) throw abortReason(options.signal);
      throw unavailableOr(error);
    }
  }

  async get(name: string, range?: BlobRange): Promise<BlobRead | undefined> {
    assertBlobName(name);
    assertRange(range);
    const key = this.#key(name);
    const offset = range?.offset ?? 0;
    if (range?.length === 0) return this.#emptyRead(key);
    const rangeHeader = range === undefined ? undefined : `bytes=${offset}-${range.length === undefined ? '' : offset + range.length - 1}`;
    try {
      const response = await this.#use((client, sdk) => client.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: key, Range: rangeHeader })));
      const total = /\/(\d+)$/.exec(response.ContentRange ?? '')?.[1];
      const size = total !== undefined ? Number(total) : Number(response.ContentLength ?? 0);
      return { size, body: response.Body as Readable };
    } catch (error) {
      if (isS3Error(error, 'NoSuchKey')) return undefined;
      if (isS3Error(error, 'InvalidRange')) return this.#emptyRead(key);
      throw unavailableOr(error);
    }
  }

  async delete(name: string): Promise<void> {
    assertBlobName(name);
    try {
      await this.#use((client, sdk) => client.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.#key(name) })));
    } catch (error) {
      throw unavailableOr(error);
    }
  }

  async *list(): AsyncGenerator<BlobListing> {
    // ListObjects (v1) paged by marker: plain keys work on every S3-compatible service, where some
    // implement v2's opaque continuation tokens badly.
    let marker: string | undefined;
    do {
      const page = await this.#use((client, sdk) => client.send(
        new sdk.ListObjectsCommand({ Bucket: this.bucket, Prefix: this.prefix, Marker: marker, MaxKeys: this.#listPageSize }),
      )).catch((error: unknown) => { throw unavailableOr(error); });
      for (const object of page.Contents ?? []) {
        const name = object.Key?.slice(this.prefix.length);
        if (!object.Key?.startsWith(this.prefix) || !isBlobName(name)) continue;
        yield { name, createdAt: object.LastModified?.getTime() ?? 0 };
      }
      marker = page.IsTruncated ? page.Contents?.at(-1)?.Key : undefined;
    } while (marker !== undefined);
  }

  async sweepIncomplete(before: number): Promise<number> {
    if (!Number.isFinite(before)) throw new TypeError('before must be a time in ms since the epoch');
    let removed = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    try {
      do {
        const page = await this.#use((client, sdk) => client.send(
          new sdk.ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        ));
        for (const upload of page.Uploads ?? []) {
          const name = upload.Key?.slice(this.prefix.length);
          if (!isBlobName(name) || upload.UploadId === undefined) continue;
          if ((upload.Initiated?.getTime() ?? Infinity) >= before) continue;
          await this.#use((client, sdk) => client.send(new sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: upload.Key, UploadId: upload.UploadId })));
          removed++;
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
      } while (keyMarker !== undefined);
    } catch (error) {
      // Services without multipart listing cannot have leftovers we could find; a lifecycle rule
      // (AbortIncompleteMultipartUpload) is the operator's remedy there.
      if (!isS3Error(error, 'NotImplemented')) throw unavailableOr(error);
    }
    return removed;
  }

  async ping(): Promise<boolean> {
    try {
      await this.#use((client, sdk) => client.send(new sdk.HeadBucketCommand({ Bucket: this.bucket })));
      return true;
    } catch {
      return false;
    }
  }

  async check(): Promise<BlobStoreCheck> {
    try {
      await this.#use((client, sdk) => client.send(new sdk.HeadBucketCommand({ Bucket: this.bucket })));
    } catch (error) {
      return { ok: false, publicRead: 'unknown', detail: `the bucket is not reachable (${errorName(error)})` };
    }
    const facts: PublicReadFacts = {
      publicAccessBlock: await this.#ask(async () => (await this.#use((client, sdk) => client.send(new sdk.GetPublicAccessBlockCommand({ Bucket: this.bucket })))).PublicAccessBlockConfiguration),
      policyIsPublic: await this.#ask(async () => (await this.#use((client, sdk) => client.send(new sdk.GetBucketPolicyStatusCommand({ Bucket: this.bucket })))).PolicyStatus?.IsPublic ?? false, ['NoSuchBucketPolicy'], false),
      grants: await this.#ask(async () => (await this.#use((client, sdk) => client.send(new sdk.GetBucketAclCommand({ Bucket: this.bucket })))).Grants ?? []),
    };
    const publicRead = publicReadFromFacts(facts);
    const detail =
      publicRead === true
        ? 'the bucket allows public reads: make it private'
        : publicRead === false
          ? 'the bucket is private'
          : 'the service does not say whether the bucket is public';
    return { ok: true, publicRead, detail };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#client?.destroy();
  }

  /** One bucket fact, or undefined when the service does not implement or allow the question. */
  async #ask<T>(question: () => Promise<T>, absentCodes: string[] = [], absentValue?: T): Promise<T | undefined> {
    try {
      return await question();
    } catch (error) {
      if (absentCodes.includes(errorName(error))) return absentValue;
      return undefined;
    }
  }

  async #emptyRead(key: string): Promise<BlobRead | undefined> {
    try {
      const head = await this.#use((client, sdk) => client.send(new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: key })));
      return { size: Number(head.ContentLength ?? 0), body: Readable.from([]) };
    } catch (error) {
      if (isS3Error(error, 'NotFound') || isS3Error(error, 'NoSuchKey')) return undefined;
      throw unavailableOr(error);
    }
  }

  #key(name: string): string {
    return `${this.prefix}${name}`;
  }
}

/** What the bucket told us about public access; undefined where it did not say. */
export interface PublicReadFacts {
  publicAccessBlock?: PublicAccessBlockConfiguration;
  policyIsPublic?: boolean;
  grants?: Grant[];
}

/**
 * Whether strangers can read the bucket: true when its policy is public or its ACL grants reads to
 * everyone (or to every AWS user), unless a full public access block overrides both; false only
 * when every question was answered; otherwise 'unknown'.
 */
export function publicReadFromFacts(facts: PublicReadFacts): boolean | 'unknown' {
  const block = facts.publicAccessBlock;
  const blocksAll = block?.IgnorePublicAcls === true && block.RestrictPublicBuckets === true;
  if (blocksAll) return false;
  const aclPublic = facts.grants?.some(
    (grant) =>
      (grant.Grantee?.URI === ALL_USERS || grant.Grantee?.URI === AUTHENTICATED_USERS) &&
      (grant.Permission === 'READ' || grant.Permission === 'FULL_CONTROL'),
  );
  if (facts.policyIsPublic === true && block?.RestrictPublicBuckets !== true) return true;
  if (aclPublic === true && block?.IgnorePublicAcls !== true) return true;
  if (facts.policyIsPublic === undefined || facts.grants === undefined) return 'unknown';
  return false;
}

function normalisePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+/, '');
  if (trimmed === '') return '';
  if (!/^[A-Za-z0-9!_.*'()\-/]+$/.test(trimmed) || trimmed.split('/').some((part) => part === '.' || part === '..')) {
    throw new TypeError('the blob prefix may use letters, digits, / and !_.*\'()- only, without . or .. segments');
  }
  return trimmed.endsWith('/') ? trimmed : `${trimmed}/`;
}

function assertBucket(bucket: unknown): asserts bucket is string {
  if (typeof bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new TypeError('the bucket must be a valid S3 bucket name');
  }
}

/** Socket-level failures reaching the service (Node errno codes), and the SDK's own timeouts. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'TimeoutError', 'RequestTimeout']);

/**
 * A failure of the service rather than of the request (it cannot be reached, or answers 5xx such
 * as SlowDown or ServiceUnavailable) becomes `BlobStoreUnavailableError`; anything else passes.
 */
function unavailableOr(error: unknown): unknown {
  const e = error as { code?: unknown; name?: unknown; $metadata?: { httpStatusCode?: number } } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const status = e?.$metadata?.httpStatusCode;
  if ((code !== undefined && UNREACHABLE_CODES.has(code)) || (typeof e?.name === 'string' && UNREACHABLE_CODES.has(e.name)) || (status !== undefined && status >= 500)) {
    return new BlobStoreUnavailableError(code ?? (status !== undefined ? `HTTP ${status}` : errorName(error)), { cause: error });
  }
  return error;
}

function errorName(error: unknown): string {
  return (error as { name?: string; Code?: string } | undefined)?.Code ?? (error as { name?: string } | undefined)?.name ?? 'error';
}

function isS3Error(error: unknown, name: string): boolean {
  return errorName(error) === name || (error as { name?: string } | undefined)?.name === name;
}
