import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { AppError } from '../errors.js';
import { assertBlobKey, meteredStream, type BlobStore } from './blob-store.js';

/** S3_* settings: any S3-compatible server (AWS, MinIO, Ceph, R2...). */
export interface S3BlobStoreConfig {
  bucket: string;
  /** Unset: AWS's endpoint for the region. */
  endpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Path-style URLs (`endpoint/bucket/key`): what most self-hosted servers need. */
  forcePathStyle: boolean;
  /** Prepended to every key, so one bucket can hold several deployments. */
  prefix?: string;
}

function isMissing(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return error instanceof NoSuchKey || error instanceof NotFound || status === 404;
}

/**
 * The same interface as the local folder, on an S3-compatible bucket. Uploads stream through the
 * SDK's multipart Upload (lib-storage), metered on the way, so a body over `maxBytes` aborts the
 * upload and nothing is kept; an S3 PUT (or completed multipart upload) is atomic for readers.
 */
export function createS3BlobStore(config: S3BlobStoreConfig): BlobStore & { client: S3Client } {
  const client = new S3Client({
    region: config.region,
    endpoint: config.endpoint,
    forcePathStyle: config.forcePathStyle,
    credentials:
      config.accessKeyId && config.secretAccessKey
        ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey }
        : undefined,
  });
  const prefix = config.prefix ? `${config.prefix.replace(/\/+$/, '')}/` : '';
  const objectKey = (key: string) => {
    assertBlobKey(key);
    return prefix + key;
  };
  return {
    backend: 's3',
    client,
    async put(key, body, options = {}) {
      const meter = meteredStream(options.maxBytes);
      const source = body instanceof Readable ? body : Readable.from([Buffer.from(body)]);
      source.on('error', (error) => meter.destroy(error));
      source.pipe(meter);
      const upload = new Upload({
        client,
        params: { Bucket: config.bucket, Key: objectKey(key), Body: meter },
        queueSize: 2,
        leavePartsOnError: false,
      });
      let failure: unknown;
      meter.on('error', (error) => {
        failure = error;
        void upload.abort().catch(() => undefined);
      });
      try {
        await upload.done();
      } catch (error) {
        throw failure ?? error;
      }
      if (failure) throw failure;
      return { key, size: meter.size(), sha256: meter.sha256() };
    },
    async get(key) {
      try {
        const answer = await client.send(new GetObjectCommand({ Bucket: config.bucket, Key: objectKey(key) }));
        return answer.Body as Readable;
      } catch (error) {
        if (isMissing(error)) throw new AppError('NOT_FOUND', 'No stored object with this key', { key });
        throw error;
      }
    },
    async stat(key) {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket: config.bucket, Key: objectKey(key) }));
        return { key, size: head.ContentLength ?? 0, modifiedAt: head.LastModified ?? new Date(0) };
      } catch (error) {
        if (isMissing(error)) return null;
        throw error;
      }
    },
    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket: config.bucket, Key: objectKey(key) }));
    },
    async *list(listPrefix) {
      const trimmed = listPrefix.replace(/\/+$/, '');
      if (trimmed !== '') assertBlobKey(trimmed);
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({
            Bucket: config.bucket,
            Prefix: prefix + (trimmed === '' ? '' : `${trimmed}/`),
            ContinuationToken: token,
          }),
        );
        for (const object of page.Contents ?? []) {
          if (!object.Key) continue;
          yield {
            key: object.Key.slice(prefix.length),
            size: object.Size ?? 0,
            modifiedAt: object.LastModified ?? new Date(0),
          };
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    },
  };
}
