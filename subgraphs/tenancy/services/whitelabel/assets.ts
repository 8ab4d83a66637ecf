import { fileTypeFromBuffer } from 'file-type';
import sharp from 'sharp';
import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import type { Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import type { BrandAsset } from '../../../../prisma/generated/client.js';
import { whitelabelTenant } from './whitelabel-tenant.js';

export type { BrandAsset };

/**
 * Assets reach tenancy base64 inside a GraphQL request, and a subgraph request body is capped at
 * 1 MB: 512 KiB of image keeps it under that on every transport.
 */
export const MAX_ASSET_BYTES = 512 * 1024;

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
  contentBase64: z
    .string()
    .min(1)
    .max(Math.ceil((MAX_ASSET_BYTES * 4) / 3) + 4),
});

/**
 * Requires write:tenants. The type is sniffed from the bytes (file-type), never taken from the
 * name or the declared type; the image is decoded and re-encoded with sharp (bounded pixels,
 * metadata such as EXIF location stripped, resized to the asset type's bounds), and the result is
 * what is stored in the object store.
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
  const data = parseInput(uploadInput, input);
  const tenant = await whitelabelTenant(deps, principal, data.tenantId, 'write:tenants');
  const bytes = Buffer.from(data.contentBase64, 'base64');
  if (bytes.length === 0) throw new AppError('VALIDATION_ERROR', 'The file is empty');
  if (bytes.length > MAX_ASSET_BYTES) {
    throw new AppError('PAYLOAD_TOO_LARGE', `Brand assets are limited to ${MAX_ASSET_BYTES} bytes`);
  }
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
