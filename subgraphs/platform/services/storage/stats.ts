import type { Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { Prisma } from '../../../../prisma/generated/client.js';
import { resolveOwner } from '../owner.js';

export interface BucketStats {
  name: string;
  fileCount: number;
  sizeBytes: number;
  largestFileBytes: number;
  mostCommonType: string | null;
}

export interface StorageStats {
  totalFiles: number;
  totalSizeBytes: number;
  averageFileSizeBytes: number | null;
  lastModified: Date | null;
  buckets: BucketStats[];
  periodDays: number;
  dailyUploads: number;
  uploadBytesPerDay: number;
  /** Downloads served through signed URLs (counted by the gateway when each one ends). */
  dailyDownloads: number;
  downloadBytesPerDay: number;
}

export const STATS_PERIODS: Record<string, number> = { '1d': 1, '7d': 7, '30d': 30, '90d': 90 };

/** From the metadata rows of the caller's space (tenant, project or platform), by bucket. */
export async function getStorageStats({
  deps,
  principal,
  bucket,
  prefix,
  period,
  tenantId,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  bucket?: string | null;
  prefix?: string | null;
  period?: string | null;
  tenantId?: string | null;
}): Promise<StorageStats> {
  const owner = resolveOwner(principal, tenantId);
  const days = STATS_PERIODS[period ?? '7d'] ?? 7;
  const filters: Prisma.Sql[] = [Prisma.sql`owner = ${owner}`];
  if (bucket) filters.push(Prisma.sql`bucket = ${bucket}`);
  if (prefix) filters.push(Prisma.sql`starts_with(key, ${prefix})`);
  const where = Prisma.join(filters, ' AND ');
  const [rows, types, transfers] = await Promise.all([
    deps.db.prisma.$queryRaw<
      Array<{ bucket: string; files: bigint; bytes: bigint | null; largest: bigint | null; last: Date | null }>
    >(Prisma.sql`SELECT bucket, count(*) AS files, sum(size_bytes) AS bytes, max(size_bytes) AS largest, max(updated_at) AS last
      FROM platform.stored_files WHERE ${where} GROUP BY bucket ORDER BY sum(size_bytes) DESC LIMIT 100`),
    deps.db.prisma.$queryRaw<Array<{ bucket: string; content_type: string }>>(
      Prisma.sql`SELECT DISTINCT ON (bucket) bucket, content_type FROM platform.stored_files WHERE ${where}
        GROUP BY bucket, content_type ORDER BY bucket, count(*) DESC, content_type`,
    ),
    deps.db.prisma.storageDailyTransfer.aggregate({
      where: { owner, day: { gte: new Date(Date.now() - days * 86_400_000) } },
      _sum: { uploads: true, uploadBytes: true, downloads: true, downloadBytes: true },
    }),
  ]);
  const commonType = new Map(types.map((t) => [t.bucket, t.content_type]));
  const buckets = rows.map((r) => ({
    name: r.bucket,
    fileCount: Number(r.files),
    sizeBytes: Number(r.bytes ?? 0n),
    largestFileBytes: Number(r.largest ?? 0n),
    mostCommonType: commonType.get(r.bucket) ?? null,
  }));
  const totalFiles = buckets.reduce((n, b) => n + b.fileCount, 0);
  const totalSizeBytes = buckets.reduce((n, b) => n + b.sizeBytes, 0);
  const last = rows.reduce<Date | null>((at, r) => (r.last && (!at || r.last > at) ? r.last : at), null);
  return {
    totalFiles,
    totalSizeBytes,
    averageFileSizeBytes: totalFiles === 0 ? null : totalSizeBytes / totalFiles,
    lastModified: last,
    buckets,
    periodDays: days,
    dailyUploads: (transfers._sum.uploads ?? 0) / days,
    uploadBytesPerDay: Number(transfers._sum.uploadBytes ?? 0n) / days,
    dailyDownloads: (transfers._sum.downloads ?? 0) / days,
    downloadBytesPerDay: Number(transfers._sum.downloadBytes ?? 0n) / days,
  };
}

/** The health check's storage block: a real round trip to the store and the platform-wide file count. */
export async function checkStorage(deps: SubgraphDeps): Promise<{
  backend: string;
  responseTimeMs: number;
  totalFiles: number;
  availableSpaceBytes: number | null;
}> {
  const { availableSpaceBytes } = await import('./files.js');
  const started = performance.now();
  await deps.blobs.stat('health/probe');
  const responseTimeMs = Math.round((performance.now() - started) * 100) / 100;
  const [totalFiles, space] = await Promise.all([deps.db.prisma.storedFile.count(), availableSpaceBytes(deps)]);
  return { backend: deps.blobs.backend, responseTimeMs, totalFiles, availableSpaceBytes: space };
}
