import { createHash } from 'node:crypto';
import { mkdir, statfs } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import type { Principal } from '../../../../lib/principal.js';
import { assertBlobKey } from '../../../../lib/runtime/blob-store.js';
import {
  fileBlobKey,
  BRAND_ASSET_MAX_BYTES,
  stagingCallerId,
  stagingPrefix,
  STORAGE_URL_KEY_LABEL,
  storageUrlPath,
  verifyStorageUrl,
  type StorageGrant,
  type UploadPurpose,
} from '../../../../lib/storage-url.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import type { Prisma } from '../../../../prisma/generated/client.js';
import { type StoredFile } from '../../../../prisma/generated/client.js';
import { getRuntimeConfig } from '../config/runtime-config.js';
import { resolveOwner } from '../owner.js';
import {
  canExtractText,
  canThumbnail,
  countWords,
  extractText,
  makeThumbnail,
  PROCESSING_STEPS,
  scanWithClamd,
  sniffContentType,
  SNIFF_BYTES,
  type ProcessingResults,
} from './processing.js';

export type { StoredFile };

const callerId = stagingCallerId;

export interface UploadTicket {
  maxBytes: number;
  stagingPrefix: string;
}

/**
 * Asked by the gateway before it reads an upload's body: may this caller upload for this purpose,
 * and how much. The scope is checked by the caller (schema) per purpose.
 */
export async function getUploadTicket({
  deps,
  principal,
  purpose = 'storage',
}: {
  deps: SubgraphDeps;
  principal: Principal;
  purpose?: UploadPurpose;
}): Promise<UploadTicket> {
  if (purpose === 'brand_asset') {
    return { maxBytes: BRAND_ASSET_MAX_BYTES, stagingPrefix: stagingPrefix(callerId(principal)) };
  }
  resolveOwner(principal);
  const config = await getRuntimeConfig(deps);
  return { maxBytes: config.storage.max_upload_mb * 1024 * 1024, stagingPrefix: stagingPrefix(callerId(principal)) };
}

const CONTENT_TYPE = /^[\w.+-]+\/[\w.+-]+$/;

const completeInput = z.object({
  stagingKey: z.string().min(1).max(300),
  key: z.string().min(1).max(400),
  filename: z.string().max(255).nullish(),
  declaredType: z.string().max(127).regex(CONTENT_TYPE).nullish(),
  metadata: z
    .record(z.string().min(1).max(64), z.union([z.string().max(1000), z.number(), z.boolean(), z.null()]))
    .nullish(),
  processing: z.array(z.enum(PROCESSING_STEPS)).max(3).nullish(),
  acl: z.enum(['private', 'public-read']).nullish(),
  tenantId: z.string().nullish(),
});

export interface UploadResult {
  file: StoredFile;
  processing: ProcessingResults;
  downloadPath: string;
}

/** md5 beside the store's own sha256, and the first bytes for sniffing, in the one copy pass. */
function inspectStream(): Transform & { md5(): string; head(): Buffer } {
  const md5 = createHash('md5');
  const head: Buffer[] = [];
  let headBytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      md5.update(chunk);
      if (headBytes < SNIFF_BYTES) {
        head.push(chunk.subarray(0, SNIFF_BYTES - headBytes));
        headBytes += Math.min(chunk.length, SNIFF_BYTES - headBytes);
      }
      callback(null, chunk);
    },
  });
  let digest: string | undefined;
  return Object.assign(stream, { md5: () => (digest ??= md5.digest('hex')), head: () => Buffer.concat(head) });
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Turns bytes the gateway staged into a stored file: checks the staging key is this caller's,
 * scans (when configured), copies to the owner's space hashing as it goes, sniffs the type,
 * makes a thumbnail and extracts text when asked and possible, then records the metadata row.
 * The staged object is deleted whatever happens.
 */
export async function completeUpload({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof completeInput>;
}): Promise<UploadResult> {
  const data = parseInput(completeInput, input);
  const owner = resolveOwner(principal, data.tenantId);
  return storeStaged(deps, { data, owner, caller: callerId(principal) });
}

/** The staged bytes of `caller` become `owner`'s file at data.key (both upload doors end here). */
async function storeStaged(
  deps: SubgraphDeps,
  { data, owner, caller }: { data: z.output<typeof completeInput>; owner: string; caller: string },
): Promise<UploadResult> {
  const staging = data.stagingKey;
  try {
    if (!staging.startsWith(`${stagingPrefix(caller)}/`)) {
      throw new AppError('FORBIDDEN', 'This upload was not staged by this caller');
    }
    assertBlobKey(staging);
    assertBlobKey(data.key);
    const staged = await deps.blobs.stat(staging);
    if (!staged) throw new AppError('NOT_FOUND', 'No staged upload with this key');
    const steps = new Set(data.processing ?? []);
    const results: ProcessingResults = {
      virusScan: null,
      virusName: null,
      scanNote: null,
      thumbnailGenerated: null,
      thumbnailKey: null,
      textExtracted: null,
      wordCount: null,
    };
    if (steps.has('virus_scan')) {
      if (!deps.clamav) {
        results.virusScan = 'not_scanned';
        results.scanNote = 'No virus scanner is configured (CLAMAV_HOST)';
      } else {
        try {
          const verdict = await scanWithClamd(deps.clamav, await deps.blobs.get(staging));
          results.virusScan = verdict.verdict;
          results.virusName = verdict.virus;
        } catch (error) {
          results.virusScan = 'error';
          results.scanNote = (error as Error).message.slice(0, 200);
        }
        if (results.virusScan === 'infected') {
          throw new AppError('BAD_REQUEST', 'The file is infected and was not stored', {
            virus_scan: 'infected',
            virus: results.virusName,
          });
        }
        if (results.virusScan === 'error') {
          throw new AppError('SERVICE_UNAVAILABLE', 'The virus scanner could not scan the file; it was not stored', {
            virus_scan: 'error',
          });
        }
      }
    }
    const blobKey = fileBlobKey(owner, data.key);
    const inspect = inspectStream();
    const source = await deps.blobs.get(staging);
    const copied = await deps.blobs.put(blobKey, source.pipe(inspect));
    const contentType = await sniffContentType(inspect.head());
    const size = copied.size;

    if (steps.has('thumbnail')) {
      results.thumbnailGenerated = false;
      if (canThumbnail(contentType, size)) {
        try {
          const thumb = await makeThumbnail(await readAll(await deps.blobs.get(blobKey)));
          const thumbKey = `thumbnails/${owner}/${data.key}_thumb.jpg`;
          await deps.blobs.put(thumbKey, thumb);
          results.thumbnailGenerated = true;
          results.thumbnailKey = thumbKey;
        } catch {
          // An image sharp cannot decode: stored, without a thumbnail.
        }
      }
    }
    if (steps.has('text_extraction')) {
      results.textExtracted = false;
      if (canExtractText(contentType, size)) {
        try {
          const text = await extractText(contentType, await readAll(await deps.blobs.get(blobKey)));
          if (text !== null) {
            results.textExtracted = true;
            results.wordCount = countWords(text);
          }
        } catch {
          // A PDF pdf.js cannot read: stored, without text.
        }
      }
    }

    const bucket = data.key.split('/')[0]!;
    const declared = data.declaredType && data.declaredType !== contentType ? data.declaredType : null;
    const row = {
      blobKey,
      bucket,
      contentType,
      declaredType: declared,
      sizeBytes: BigInt(size),
      sha256: copied.sha256,
      md5: inspect.md5(),
      acl: data.acl ?? 'private',
      metadata: {
        ...(data.metadata ?? {}),
        ...(data.filename ? { filename: data.filename } : {}),
      } as Prisma.InputJsonValue,
      processing: results as unknown as Prisma.InputJsonValue,
      thumbnailKey: results.thumbnailKey,
      createdBy: caller,
    };
    const file = await deps.db.prisma.$transaction(async (tx) => {
      const stored = await tx.storedFile.upsert({
        where: { owner_key: { owner, key: data.key } },
        create: { id: newId('file', 8), owner, key: data.key, ...row },
        update: { ...row, createdAt: new Date() },
      });
      await countTransfer(tx, owner, { uploads: 1, uploadBytes: size });
      return stored;
    });
    const config = await getRuntimeConfig(deps);
    const downloadPath = signedPath(deps, {
      op: 'download',
      owner,
      key: data.key,
      contentType,
      expires: Math.floor(Date.now() / 1000) + config.storage.url_default_expiry_seconds,
    });
    return { file, processing: results, downloadPath };
  } finally {
    await deps.blobs.delete(staging).catch(() => undefined);
  }
}

async function countTransfer(
  tx: Prisma.TransactionClient,
  owner: string,
  counts: { uploads?: number; uploadBytes?: number; downloads?: number; downloadBytes?: number },
): Promise<void> {
  const day = new Date(new Date().toISOString().slice(0, 10));
  await tx.storageDailyTransfer.upsert({
    where: { owner_day: { owner, day } },
    create: {
      owner,
      day,
      uploads: counts.uploads ?? 0,
      uploadBytes: BigInt(counts.uploadBytes ?? 0),
      downloads: counts.downloads ?? 0,
      downloadBytes: BigInt(counts.downloadBytes ?? 0),
    },
    update: {
      uploads: { increment: counts.uploads ?? 0 },
      uploadBytes: { increment: BigInt(counts.uploadBytes ?? 0) },
      downloads: { increment: counts.downloads ?? 0 },
      downloadBytes: { increment: BigInt(counts.downloadBytes ?? 0) },
    },
  });
}

function signedPath(deps: SubgraphDeps, grant: StorageGrant): string {
  return storageUrlPath(grant, deps.secretBox.derive(STORAGE_URL_KEY_LABEL));
}

const urlInput = z.object({
  key: z.string().min(1).max(400),
  operation: z.enum(['upload', 'download']),
  expiresIn: z.number().int().min(1).nullish(),
  contentType: z.string().max(127).regex(CONTENT_TYPE).nullish(),
  tenantId: z.string().nullish(),
});

export interface SignedUrl {
  path: string;
  expiresAt: Date;
  key: string;
  operation: 'upload' | 'download';
  contentType: string | null;
}

/** A signed URL the gateway serves: download of a stored file, or upload of one to a key. */
export async function createStorageUrl({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof urlInput>;
}): Promise<SignedUrl> {
  const data = parseInput(urlInput, input);
  assertBlobKey(data.key);
  const owner = resolveOwner(principal, data.tenantId);
  const config = await getRuntimeConfig(deps);
  const expiresIn = data.expiresIn ?? config.storage.url_default_expiry_seconds;
  if (expiresIn > config.storage.url_max_expiry_seconds) {
    throw new AppError('VALIDATION_ERROR', `expires_in is at most ${config.storage.url_max_expiry_seconds} seconds`);
  }
  let contentType = data.contentType ?? '';
  if (data.operation === 'download') {
    const file = await deps.db.prisma.storedFile.findUnique({ where: { owner_key: { owner, key: data.key } } });
    if (!file) throw new AppError('NOT_FOUND', 'No stored file with this key', { key: data.key });
    contentType = file.contentType;
  }
  const expires = Math.floor(Date.now() / 1000) + expiresIn;
  return {
    path: signedPath(deps, { op: data.operation, owner, key: data.key, contentType, expires }),
    expiresAt: new Date(expires * 1000),
    key: data.key,
    operation: data.operation,
    contentType: contentType === '' ? null : contentType,
  };
}

export async function getStoredFile({
  deps,
  principal,
  key,
  tenantId,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  key: string;
  tenantId?: string | null;
}): Promise<StoredFile> {
  const owner = resolveOwner(principal, tenantId);
  const file = await deps.db.prisma.storedFile.findUnique({ where: { owner_key: { owner, key } } });
  if (!file) throw new AppError('NOT_FOUND', 'No stored file with this key', { key });
  return file;
}

/**
 * A signed URL as the gateway received it (path and query), verified again here: the signature is
 * the credential of the anonymous client using it. Expired URLs are refused unless `allowExpired`
 * (a download that started in time and is counted when it ends).
 */
function verifiedGrant(deps: SubgraphDeps, path: string, op: StorageGrant['op'], allowExpired = false): StorageGrant {
  let url: URL;
  try {
    url = new URL(path, 'http://localhost');
  } catch {
    throw new AppError('FORBIDDEN', 'Invalid storage URL');
  }
  const check = verifyStorageUrl(url, deps.secretBox.derive(STORAGE_URL_KEY_LABEL), allowExpired ? 0 : Date.now());
  if (!check.ok) {
    throw check.reason === 'expired'
      ? new AppError('FORBIDDEN', 'This storage URL has expired', { reason: 'expired' })
      : new AppError('FORBIDDEN', 'Invalid storage URL signature');
  }
  if (check.grant.op !== op) throw new AppError('FORBIDDEN', `This URL is not an ${op} URL`);
  return check.grant;
}

/** Uploads through a signed URL stage under the URL's own prefix: owner and key, nobody else's. */
function signedCaller(grant: StorageGrant): string {
  return `signed:${grant.owner}:${grant.key}`;
}

/** Asked by the gateway before it streams a signed upload: how much, and where to stage it. */
export async function getSignedUploadTicket({
  deps,
  path,
}: {
  deps: SubgraphDeps;
  path: string;
}): Promise<UploadTicket> {
  const grant = verifiedGrant(deps, path, 'upload');
  const config = await getRuntimeConfig(deps);
  return { maxBytes: config.storage.max_upload_mb * 1024 * 1024, stagingPrefix: stagingPrefix(signedCaller(grant)) };
}

/**
 * A signed upload's staged bytes stored at the URL's key for its owner: the same pipeline as
 * POST /api/storage/upload (copy, hashes, sniffing), without processing steps. A URL signed for a
 * content type accepts only bytes whose declared type is that one.
 */
export async function completeSignedUpload({
  deps,
  path,
  stagingKey,
  declaredType,
}: {
  deps: SubgraphDeps;
  path: string;
  stagingKey: string;
  declaredType?: string | null;
}): Promise<UploadResult> {
  let grant: StorageGrant;
  try {
    grant = verifiedGrant(deps, path, 'upload');
    if (grant.contentType !== '' && declaredType !== grant.contentType) {
      throw new AppError('VALIDATION_ERROR', `This URL accepts Content-Type ${grant.contentType} only`, {
        expected_content_type: grant.contentType,
      });
    }
  } catch (error) {
    await deps.blobs.delete(stagingKey).catch(() => undefined);
    throw error;
  }
  const data = parseInput(completeInput, {
    stagingKey,
    key: grant.key,
    declaredType: declaredType && CONTENT_TYPE.test(declaredType) ? declaredType : null,
    acl: 'private',
  });
  return storeStaged(deps, { data, owner: grant.owner, caller: signedCaller(grant) });
}

/** One download served through a signed URL, counted in the owner's daily transfer figures. */
export async function recordSignedDownload({
  deps,
  path,
  bytes,
}: {
  deps: SubgraphDeps;
  path: string;
  bytes: number;
}): Promise<boolean> {
  const grant = verifiedGrant(deps, path, 'download', true);
  await deps.db.prisma.$transaction((tx) =>
    countTransfer(tx, grant.owner, { downloads: 1, downloadBytes: Math.max(0, Math.floor(bytes)) }),
  );
  return true;
}

/** Staged uploads older than this were abandoned (a gateway stopped mid-upload): the sweeper removes them. */
export const STAGING_MAX_AGE_MS = 6 * 3_600_000;

/** Deletes abandoned staging objects; returns how many. Bounded per run. */
export async function sweepStaging(
  deps: SubgraphDeps,
  { maxAgeMs = STAGING_MAX_AGE_MS, limit = 10_000, now = Date.now() } = {},
): Promise<{ deleted: number; kept: number }> {
  let deleted = 0;
  let kept = 0;
  for await (const blob of deps.blobs.list('staging/')) {
    if (deleted >= limit) break;
    if (now - blob.modifiedAt.getTime() < maxAgeMs) {
      kept += 1;
      continue;
    }
    await deps.blobs.delete(blob.key);
    deleted += 1;
  }
  return { deleted, kept };
}

/** Free space of the filesystem backend's volume; null on S3 (a bucket has no such figure). */
export async function availableSpaceBytes(deps: SubgraphDeps): Promise<number | null> {
  if (deps.blobs.backend !== 'filesystem' || !deps.storageDir) return null;
  try {
    // A fresh platform has not written its storage folder yet; the volume is the same either way.
    await mkdir(deps.storageDir, { recursive: true, mode: 0o700 });
    const fs = await statfs(deps.storageDir);
    return fs.bavail * fs.bsize;
  } catch {
    return null;
  }
}
