import { AppError } from '../../../lib/errors.js';
import { AUTHENTICATE_SCOPE, requireScope, type Principal } from '../../../lib/principal.js';
import { UPLOAD_PURPOSES, type UploadPurpose } from '../../../lib/storage-url.js';
import { builder } from '../builder.js';
import {
  completeSignedUpload,
  completeUpload,
  createStorageUrl,
  getSignedUploadTicket,
  recordSignedDownload,
  getStoredFile,
  getUploadTicket,
  type SignedUrl,
  type StoredFile,
  type UploadResult,
  type UploadTicket,
} from '../services/storage/files.js';
import type { ProcessingResults } from '../services/storage/processing.js';
import { getStorageStats, type BucketStats, type StorageStats } from '../services/storage/stats.js';

const StoredFileRef = builder.objectRef<StoredFile>('StoredFile').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    key: t.exposeString('key'),
    bucket: t.exposeString('bucket'),
    contentType: t.exposeString('contentType', { description: 'Sniffed from the bytes.' }),
    declaredType: t.exposeString('declaredType', { nullable: true, description: 'What the uploader said, when it differed.' }),
    sizeBytes: t.float({ resolve: (f) => Number(f.sizeBytes) }),
    sha256: t.exposeString('sha256'),
    md5: t.exposeString('md5'),
    acl: t.exposeString('acl'),
    metadata: t.field({ type: 'JSON', resolve: (f) => f.metadata }),
    createdAt: t.field({ type: 'DateTime', resolve: (f) => f.createdAt }),
  }),
});

const ProcessingRef = builder.objectRef<ProcessingResults>('UploadProcessing').implement({
  fields: (t) => ({
    virusScan: t.exposeString('virusScan', { nullable: true, description: 'clean, infected, not_scanned; null: not asked.' }),
    virusName: t.exposeString('virusName', { nullable: true }),
    scanNote: t.exposeString('scanNote', { nullable: true }),
    thumbnailGenerated: t.exposeBoolean('thumbnailGenerated', { nullable: true }),
    thumbnailKey: t.exposeString('thumbnailKey', { nullable: true }),
    textExtracted: t.exposeBoolean('textExtracted', { nullable: true }),
    wordCount: t.exposeInt('wordCount', { nullable: true }),
  }),
});

const UploadResultRef = builder.objectRef<UploadResult>('UploadResult').implement({
  fields: (t) => ({
    file: t.field({ type: StoredFileRef, resolve: (r) => r.file }),
    processing: t.field({ type: ProcessingRef, resolve: (r) => r.processing }),
    downloadPath: t.exposeString('downloadPath', { description: 'A signed download URL path (default expiry).' }),
  }),
});

const UploadTicketRef = builder.objectRef<UploadTicket>('UploadTicket').implement({
  fields: (t) => ({ maxBytes: t.exposeFloat('maxBytes'), stagingPrefix: t.exposeString('stagingPrefix') }),
});

const SignedUrlRef = builder.objectRef<SignedUrl>('SignedStorageUrl').implement({
  fields: (t) => ({
    path: t.exposeString('path', { description: 'Path and query; served by the gateway at its own origin.' }),
    expiresAt: t.field({ type: 'DateTime', resolve: (u) => u.expiresAt }),
    key: t.exposeString('key'),
    operation: t.exposeString('operation'),
    contentType: t.exposeString('contentType', { nullable: true }),
  }),
});

const BucketStatsRef = builder.objectRef<BucketStats>('StorageBucketStats').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    fileCount: t.exposeInt('fileCount'),
    sizeBytes: t.exposeFloat('sizeBytes'),
    largestFileBytes: t.exposeFloat('largestFileBytes'),
    mostCommonType: t.exposeString('mostCommonType', { nullable: true }),
  }),
});

const StorageStatsRef = builder.objectRef<StorageStats>('StorageStats').implement({
  fields: (t) => ({
    totalFiles: t.exposeInt('totalFiles'),
    totalSizeBytes: t.exposeFloat('totalSizeBytes'),
    averageFileSizeBytes: t.exposeFloat('averageFileSizeBytes', { nullable: true }),
    lastModified: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.lastModified }),
    buckets: t.field({ type: [BucketStatsRef], resolve: (s) => s.buckets }),
    periodDays: t.exposeInt('periodDays'),
    dailyUploads: t.exposeFloat('dailyUploads'),
    uploadBytesPerDay: t.exposeFloat('uploadBytesPerDay'),
    dailyDownloads: t.exposeFloat('dailyDownloads', { description: 'Downloads served through signed URLs, per day.' }),
    downloadBytesPerDay: t.exposeFloat('downloadBytesPerDay', { description: 'Bytes served through signed URLs, per day.' }),
  }),
});

const UploadPurposeEnum = builder.enumType('UploadPurpose', { values: UPLOAD_PURPOSES });
const UPLOAD_SCOPES = { storage: 'write:storage', brand_asset: 'write:tenants' } as const satisfies Record<
  UploadPurpose,
  string
>;

const StorageOperationEnum = builder.enumType('StorageUrlOperation', { values: ['upload', 'download'] as const });

builder.queryFields((t) => ({
  uploadTicket: t.field({
    type: UploadTicketRef,
    description:
      'Asked by the gateway before it streams an upload into staging. Requires write:storage for a stored file, ' +
      'write:tenants for a brand asset (claimed by tenancy uploadBrandAsset).',
    args: { purpose: t.arg({ type: UploadPurposeEnum, defaultValue: 'storage' }) },
    resolve: (_root, args, ctx) => {
      const purpose = args.purpose ?? 'storage';
      const principal = requireScope(ctx.principal, UPLOAD_SCOPES[purpose]);
      return getUploadTicket({ deps: ctx.deps, principal, purpose });
    },
  }),
  storageUrl: t.field({
    type: SignedUrlRef,
    description: 'An expiring signed URL for a stored file. Requires read:storage.',
    args: {
      key: t.arg.string({ required: true }),
      operation: t.arg({ type: StorageOperationEnum, required: true }),
      expiresIn: t.arg.int(),
      contentType: t.arg.string(),
      tenantId: t.arg.string(),
    },
    resolve: (_root, args, ctx) => {
      const principal = requireScope(ctx.principal, args.operation === 'upload' ? 'write:storage' : 'read:storage');
      return createStorageUrl({ deps: ctx.deps, principal, input: args });
    },
  }),
  storageStats: t.field({
    type: StorageStatsRef,
    description: "Usage of the caller's storage space. Requires read:storage.",
    args: { bucket: t.arg.string(), prefix: t.arg.string(), period: t.arg.string(), tenantId: t.arg.string() },
    resolve: (_root, args, ctx) => {
      const principal = requireScope(ctx.principal, 'read:storage');
      return getStorageStats({ deps: ctx.deps, principal, ...args });
    },
  }),
  storedFile: t.field({
    type: StoredFileRef,
    description: 'Requires read:storage.',
    args: { key: t.arg.string({ required: true }), tenantId: t.arg.string() },
    resolve: (_root, args, ctx) => {
      const principal = requireScope(ctx.principal, 'read:storage');
      return getStoredFile({ deps: ctx.deps, principal, key: args.key, tenantId: args.tenantId });
    },
  }),
}));

const CompleteUploadInput = builder.inputType('CompleteUploadInput', {
  fields: (t) => ({
    stagingKey: t.string({ required: true }),
    key: t.string({ required: true }),
    filename: t.string(),
    declaredType: t.string(),
    metadata: t.field({ type: 'JSON' }),
    processing: t.stringList(),
    acl: t.string(),
    tenantId: t.string(),
  }),
});

builder.mutationField('completeUpload', (t) =>
  t.field({
    type: UploadResultRef,
    description: 'Stores bytes the gateway staged for this caller (multipart upload). Requires write:storage.',
    args: { input: t.arg({ type: CompleteUploadInput, required: true }) },
    resolve: (_root, { input }, ctx) => {
      const principal = requireScope(ctx.principal, 'write:storage');
      return completeUpload({
        deps: ctx.deps,
        principal,
        input: {
          ...input,
          metadata: input.metadata as Record<string, string> | null,
          processing: input.processing as never,
          acl: input.acl as never,
        },
      });
    },
  }),
);

/**
 * Signed URLs are served by the gateway to anonymous clients: the signature is their credential,
 * verified again here, and only the gateway's own service principal may hand one in.
 */
function requireGateway(principal: Principal | null): void {
  if (!principal || principal.kind !== 'service' || !principal.scopes.includes(AUTHENTICATE_SCOPE)) {
    throw new AppError('FORBIDDEN', 'Only the gateway serves signed storage URLs');
  }
}

builder.queryField('signedUploadTicket', (t) =>
  t.field({
    type: UploadTicketRef,
    description: 'The gateway, before it streams an upload to a signed URL (path and query as received). Gateway only.',
    args: { path: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => {
      requireGateway(ctx.principal);
      return getSignedUploadTicket({ deps: ctx.deps, path: args.path });
    },
  }),
);

builder.mutationFields((t) => ({
  completeSignedUpload: t.field({
    type: UploadResultRef,
    description: 'Stores bytes the gateway staged for a signed upload URL at its key. Gateway only.',
    args: {
      path: t.arg.string({ required: true }),
      stagingKey: t.arg.string({ required: true }),
      declaredType: t.arg.string(),
    },
    resolve: (_root, args, ctx) => {
      requireGateway(ctx.principal);
      return completeSignedUpload({ deps: ctx.deps, ...args });
    },
  }),
  recordStorageDownload: t.boolean({
    description: 'Counts one download the gateway served through a signed URL. Gateway only.',
    args: { path: t.arg.string({ required: true }), bytes: t.arg.float({ required: true }) },
    resolve: (_root, args, ctx) => {
      requireGateway(ctx.principal);
      return recordSignedDownload({ deps: ctx.deps, path: args.path, bytes: args.bytes });
    },
  }),
}));
