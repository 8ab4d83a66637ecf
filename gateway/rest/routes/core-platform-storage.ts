import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { graphql } from '../graphql.js';
import { receiveMultipartUpload } from '../multipart.js';
import { defineRoute, type RestRoute, type RouteInput } from '../route.js';
import { isoTimestamp } from '../schemas.js';

// core-platform's storage: streamed multipart uploads into the object store, signed download URLs
// the gateway serves (gateway/storage-objects.ts), and usage statistics from the metadata rows.

/** Signed paths are relative; the answer gives the URL at the origin the caller used. */
function absolute(path: string, input: Pick<RouteInput, 'headers'>): string {
  const host = input.headers?.host;
  const proto = input.headers?.['x-forwarded-proto'];
  if (typeof host !== 'string' || !/^[\w.-]+(:\d+)?$|^\[[\da-f:]+\](:\d+)?$/i.test(host)) return path;
  return `${proto === 'https' ? 'https' : 'http'}://${host}${path}`;
}

function parseJsonField(name: string, value: string | undefined): unknown {
  if (value === undefined || value.trim() === '') return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new AppError('VALIDATION_ERROR', `${name} must be JSON`);
  }
}

/** `processing` as the document shows it (a JSON array), or comma-separated. */
function parseProcessing(value: string | undefined): unknown {
  if (value === undefined || value.trim() === '') return undefined;
  return value.trim().startsWith('[') ? parseJsonField('processing', value) : value.split(',').map((s) => s.trim());
}

const upload = defineRoute({
  dialect: 'core-platform',
  method: 'POST',
  path: '/api/storage/upload',
  summary: 'Upload a file (multipart/form-data: file, key, metadata, processing, acl, content_type)',
  operation: graphql(`
    mutation CompleteUpload($input: CompleteUploadInput!) {
      completeUpload(input: $input) {
        file {
          id
          key
          sizeBytes
          contentType
          declaredType
          md5
          sha256
          createdAt
        }
        processing {
          virusScan
          scanNote
          thumbnailGenerated
          thumbnailKey
          textExtracted
          wordCount
        }
        downloadPath
      }
    }
  `),
  receiveBody: async (req, ctx) => {
    const { fields, staged } = await receiveMultipartUpload(req, ctx);
    try {
      return {
        staging_key: staged.key,
        filename: staged.filename,
        key: fields.key ?? staged.filename ?? undefined,
        metadata: parseJsonField('metadata', fields.metadata),
        processing: parseProcessing(fields.processing),
        acl: fields.acl || undefined,
        content_type: fields.content_type || staged.mimeType || undefined,
        tenant_id: fields.tenant_id || undefined,
      };
    } catch (error) {
      await ctx.blobs?.delete(staged.key).catch(() => undefined);
      throw error;
    }
  },
  // Loose on purpose: the subgraph validates (and deletes the staged bytes when it refuses).
  input: {
    body: z.object({
      staging_key: z.string(),
      filename: z.string().nullable(),
      key: z.unknown(),
      metadata: z.unknown(),
      processing: z.unknown(),
      acl: z.unknown(),
      content_type: z.unknown(),
      tenant_id: z.unknown(),
    }),
  },
  // Passed through as received: the subgraph validates (the route's body schema is loose above).
  variables: ({ body }) => ({
    input: {
      stagingKey: body.staging_key,
      key: (body.key ?? '') as string,
      filename: body.filename,
      declaredType: (body.content_type ?? null) as string | null,
      metadata: body.metadata ?? null,
      processing: (body.processing ?? null) as string[] | null,
      acl: (body.acl ?? null) as string | null,
      tenantId: (body.tenant_id ?? null) as string | null,
    },
  }),
  rateLimit: 'core-platform.storage-upload',
  respond: ({ completeUpload: u }, input) => ({
    file_id: u.file.id,
    key: u.file.key,
    url: absolute(u.downloadPath, input),
    size_bytes: u.file.sizeBytes,
    content_type: u.file.contentType,
    declared_content_type: u.file.declaredType,
    md5_hash: u.file.md5,
    sha256: u.file.sha256,
    processing_results: {
      ...(u.processing.virusScan !== null ? { virus_scan: u.processing.virusScan } : {}),
      ...(u.processing.scanNote !== null ? { virus_scan_note: u.processing.scanNote } : {}),
      ...(u.processing.thumbnailGenerated !== null ? { thumbnail_generated: u.processing.thumbnailGenerated } : {}),
      ...(u.processing.thumbnailKey !== null ? { thumbnail_key: u.processing.thumbnailKey } : {}),
      ...(u.processing.textExtracted !== null ? { text_extracted: u.processing.textExtracted } : {}),
      ...(u.processing.wordCount !== null ? { word_count: u.processing.wordCount } : {}),
    },
    uploaded_at: u.file.createdAt,
  }),
  response: z.object({
    file_id: z.string(),
    key: z.string(),
    url: z.string().describe('A signed download URL (default expiry)'),
    size_bytes: z.number().int(),
    content_type: z.string().describe('Sniffed from the bytes'),
    declared_content_type: z.string().nullable().describe('What the upload said, when the bytes say otherwise'),
    md5_hash: z.string(),
    sha256: z.string(),
    processing_results: z.object({
      virus_scan: z.enum(['clean', 'not_scanned']).optional(),
      virus_scan_note: z.string().optional(),
      thumbnail_generated: z.boolean().optional(),
      thumbnail_key: z.string().optional(),
      text_extracted: z.boolean().optional(),
      word_count: z.number().int().optional(),
    }),
    uploaded_at: isoTimestamp,
  }),
});

const presignedUrl = defineRoute({
  dialect: 'core-platform',
  method: 'GET',
  path: '/api/storage/url',
  summary: 'An expiring signed URL: download a stored file (GET), or upload one to the key (PUT the raw bytes)',
  operation: graphql(`
    query StorageUrl(
      $key: String!
      $operation: StorageUrlOperation!
      $expiresIn: Int
      $contentType: String
      $tenantId: String
    ) {
      storageUrl(
        key: $key
        operation: $operation
        expiresIn: $expiresIn
        contentType: $contentType
        tenantId: $tenantId
      ) {
        path
        expiresAt
        key
        operation
        contentType
      }
    }
  `),
  input: {
    query: z.object({
      key: z.string().min(1).max(400),
      operation: z.enum(['upload', 'download']),
      expires_in: z.coerce.number().int().min(1).optional(),
      content_type: z.string().max(127).optional(),
      tenant_id: z.string().max(64).optional(),
    }),
  },
  variables: ({ query }) => ({
    key: query.key,
    operation: query.operation,
    expiresIn: query.expires_in ?? null,
    contentType: query.content_type ?? null,
    tenantId: query.tenant_id ?? null,
  }),
  respond: ({ storageUrl: u }, input) => ({
    url: absolute(u.path, input),
    expires_at: u.expiresAt,
    // Everything the signature covers is in the URL; an upload URL signed for a content type
    // wants that Content-Type on the PUT.
    headers: (u.operation === 'upload' && u.contentType ? { 'Content-Type': u.contentType } : {}) as Record<
      string,
      string
    >,
    key: u.key,
    operation: u.operation as 'upload' | 'download',
    method: u.operation === 'upload' ? ('PUT' as const) : ('GET' as const),
  }),
  response: z.object({
    url: z.string(),
    expires_at: isoTimestamp,
    headers: z.record(z.string(), z.string()),
    key: z.string(),
    operation: z.enum(['upload', 'download']),
    method: z.enum(['GET', 'PUT']).describe('GET downloads; PUT the raw bytes to upload'),
  }),
});

const GB = 1024 ** 3;
const MB = 1024 ** 2;
const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

const stats = defineRoute({
  dialect: 'core-platform',
  method: 'GET',
  path: '/api/storage/stats',
  summary: "Storage usage of the caller's space, by bucket",
  operation: graphql(`
    query StorageStats($bucket: String, $prefix: String, $period: String, $tenantId: String) {
      storageStats(bucket: $bucket, prefix: $prefix, period: $period, tenantId: $tenantId) {
        totalFiles
        totalSizeBytes
        averageFileSizeBytes
        lastModified
        buckets {
          name
          fileCount
          sizeBytes
          largestFileBytes
          mostCommonType
        }
        periodDays
        dailyUploads
        uploadBytesPerDay
        dailyDownloads
        downloadBytesPerDay
      }
    }
  `),
  input: {
    query: z.object({
      bucket: z.string().min(1).max(128).optional(),
      prefix: z.string().min(1).max(400).optional(),
      period: z.enum(['1d', '7d', '30d', '90d']).optional(),
      tenant_id: z.string().max(64).optional(),
    }),
  },
  variables: ({ query }) => ({
    bucket: query.bucket ?? null,
    prefix: query.prefix ?? null,
    period: query.period ?? null,
    tenantId: query.tenant_id ?? null,
  }),
  // Downloads are those served through signed URLs (counted by the gateway when each completes);
  // bandwidth is the bytes they served.
  respond: ({ storageStats: s }) => ({
    overview: {
      total_files: s.totalFiles,
      total_size_gb: round(s.totalSizeBytes / GB, 4),
      total_size_bytes: s.totalSizeBytes,
      average_file_size_mb: s.averageFileSizeBytes === null ? null : round(s.averageFileSizeBytes / MB, 4),
      last_modified: s.lastModified,
    },
    buckets: s.buckets.map((b) => ({
      name: b.name,
      file_count: b.fileCount,
      size_gb: round(b.sizeBytes / GB, 4),
      size_bytes: b.sizeBytes,
      largest_file_mb: round(b.largestFileBytes / MB, 4),
      most_common_type: b.mostCommonType,
    })),
    trends: {
      period_days: s.periodDays,
      daily_uploads: round(s.dailyUploads),
      daily_downloads: round(s.dailyDownloads),
      storage_growth_gb_per_day: round(s.uploadBytesPerDay / GB, 6),
      bandwidth_usage_gb_per_day: round(s.downloadBytesPerDay / GB, 6),
    },
  }),
  response: z.object({
    overview: z.object({
      total_files: z.number().int(),
      total_size_gb: z.number(),
      total_size_bytes: z.number().int(),
      average_file_size_mb: z.number().nullable(),
      last_modified: isoTimestamp.nullable(),
    }),
    buckets: z.array(
      z.object({
        name: z.string(),
        file_count: z.number().int(),
        size_gb: z.number(),
        size_bytes: z.number().int(),
        largest_file_mb: z.number(),
        most_common_type: z.string().nullable(),
      }),
    ),
    trends: z.object({
      period_days: z.number().int(),
      daily_uploads: z.number(),
      daily_downloads: z.number().describe('Downloads served through signed URLs, per day over the period'),
      storage_growth_gb_per_day: z.number().describe('Bytes uploaded per day over the period'),
      bandwidth_usage_gb_per_day: z.number().describe('Bytes served by signed downloads per day over the period'),
    }),
  }),
});

export const corePlatformStorageRoutes: readonly RestRoute[] = [upload, presignedUrl, stats];
