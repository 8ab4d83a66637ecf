import { createHash } from 'node:crypto';
import { fileTypeFromBuffer } from 'file-type';
import sharp from 'sharp';
import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import type { Principal } from '../../../../lib/principal.js';
import { assertBlobKey } from '../../../../lib/runtime/blob-store.js';
import { BRAND_ASSET_MAX_BYTES, stagingCallerId, stagingPrefix } from '../../../../lib/storage-url.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import type { BrandAsset } from '../../../../prisma/generated/client.js';
import { whitelabelTenant } from './whitelabel-tenant.js';

export type { BrandAsset };

/** The gateway streams an asset into the staging area under this limit (upload ticket `brand_asset`). */
export const MAX_ASSET_BYTES = BRAND_ASSET_MAX_BYTES;

/** Raster formats only, recognised from their bytes: SVG can carry script and is refused. */
const ACCEPTED = new Map([
  ['image/png', 'png'],
  ['image/jpeg', 'jpeg'],
  ['image/webp', 'webp'],
  ['image/gif', 'png'],
] as const);

/** What each asset type is resized to fit (never enlarged). */
const BOUNDS = {
  logo: { width: 1024, height: 1024 },
  favicon: { width: 256, height: 256 },
  banner: { width: 2400, height: 800 },
} as const;

const uploadInput = z.object({
  tenantId: z.string().nullish(),
  type: z.enum(['logo', 'favicon', 'banner']),
  filename: z.string().max(255).nullish(),
  stagingKey: z.string().min(1).max(300),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex SHA-256'),
});

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The staged bytes, checked: staged by this caller, present, within the limit and the SHA-256 the
 * gateway computed while staging them (so what is processed is what the caller sent).
 */
async function readStaged(deps: SubgraphDeps, key: string, sha256: string): Promise<Buffer> {
  assertBlobKey(key);
  const staged = await deps.blobs.stat(key);
  if (!staged) throw new AppError('NOT_FOUND', 'No staged upload with this key');
  if (staged.size === 0) throw new AppError('VALIDATION_ERROR', 'The file is empty');
  if (staged.size > MAX_ASSET_BYTES) {
    throw new AppError('PAYLOAD_TOO_LARGE', `Brand assets are limited to ${MAX_ASSET_BYTES} bytes`);
  }
  const bytes = await readAll(await deps.blobs.get(key));
  if (bytes.length > MAX_ASSET_BYTES) {
    throw new AppError('PAYLOAD_TOO_LARGE', `Brand assets are limited to ${MAX_ASSET_BYTES} bytes`);
  }
  if (createHash('sha256').update(bytes).digest('hex') !== sha256) {
    throw new AppError('VALIDATION_ERROR', 'The staged upload does not match its SHA-256');
  }
  return bytes;
}

/**
 * Requires write:tenants. Claims an image the gateway streamed into this caller's staging area
 * (upload ticket `brand_asset`); the staged object is deleted whatever happens. The type is
 * sniffed from the bytes (file-type), never taken from the name or the declared type; the image
 * is decoded and re-encoded with sharp (bounded pixels, metadata such as EXIF location stripped,
 * resized to the asset type's bounds), and the result is what is stored in the object store.
 */
export async function uploadBrandAsset({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof uploadInput>;
}): Promise<BrandAsset & { originalSize: number; originalType: string }> {
  if (!principal) throw new AppError('UNAUTHORIZED', 'Authentication required');
  // Only this caller's own staging may be claimed, and then it is always cleaned up.
  const stagingKey = typeof input.stagingKey === 'string' ? input.stagingKey : '';
  if (!stagingKey.startsWith(`${stagingPrefix(stagingCallerId(principal))}/`)) {
    throw new AppError('FORBIDDEN', 'This upload was not staged by this caller');
  }
  try {
    return await storeAsset(deps, principal, input);
  } finally {
    await deps.blobs.delete(stagingKey).catch(() => undefined);
  }
}

async function storeAsset(
  deps: SubgraphDeps,
  principal: Principal,
  input: z.input<typeof uploadInput>,
): Promise<BrandAsset & { originalSize: number; originalType: string }> {
  const data = parseInput(uploadInput, input);
  const tenant = await whitelabelTenant(deps, principal, data.tenantId, 'write:tenants');
  const bytes = await readStaged(deps, data.stagingKey, data.sha256);
  const sniffed = await fileTypeFromBuffer(bytes);
  const format = sniffed ? ACCEPTED.get(sniffed.mime as never) : undefined;
  if (!sniffed || !format) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Brand assets are PNG, JPEG, WebP or GIF images', {
      detected: sniffed?.mime ?? null,
    });
  }
  const bounds = BOUNDS[data.type];
  let processed: { data: Buffer; info: sharp.OutputInfo };
  try {
    processed = await sharp(bytes, { limitInputPixels: 4096 * 4096, animated: false })
      .rotate()
      .resize({ ...bounds, fit: 'inside', withoutEnlargement: true })
      .toFormat(format)
      .toBuffer({ resolveWithObject: true });
  } catch {
    throw new AppError('VALIDATION_ERROR', 'The image could not be decoded (corrupt, or over 4096×4096 pixels)');
  }
  const id = newId('ast');
  const blobKey = `tenants/${tenant.id}/brand-assets/${id}.${format === 'jpeg' ? 'jpg' : format}`;
  const stored = await deps.blobs.put(blobKey, processed.data, { maxBytes: MAX_ASSET_BYTES * 4 });
  try {
    const asset = await deps.db.prisma.brandAsset.create({
      data: {
        id,
        tenantId: tenant.id,
        type: data.type,
        contentType: `image/${format}`,
        size: stored.size,
        sha256: stored.sha256,
        blobKey,
        width: processed.info.width,
        height: processed.info.height,
      },
    });
    return { ...asset, originalSize: bytes.length, originalType: sniffed.mime };
  } catch (error) {
    await deps.blobs.delete(blobKey);
    throw error;
  }
}
