import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { requireScope, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import type { Device } from '../../../prisma/generated/client.js';
import { deviceStatus } from './devices.js';

// cloudpioneer's resources, as far as the platform has real figures for them (edge owns the
// listing): edge devices, with the figures they report in heartbeats, and each tenant's edge
// object storage (artifacts and manifests in deps.blobs), measured when asked. Tenant databases
// and platform services are not listed here (their owners are other subgraphs), and no resource
// has a cost: the platform has no pricing source, so `cost` is null.

export const RESOURCE_TYPES = ['device', 'storage'] as const;
const DEVICE_METRICS = ['cpu_usage', 'memory_usage', 'disk_usage'] as const;
const STORAGE_METRICS = ['storage_bytes'] as const;
const ALL_METRICS = [...DEVICE_METRICS, ...STORAGE_METRICS] as const;
type MetricName = (typeof ALL_METRICS)[number];

/** Devices read into memory for one listing (status is computed at read time, so it sorts in memory). */
const MAX_SCANNED = 10_000;
const MAX_POINTS = 2_000;

export interface CloudResource {
  id: string;
  tenantId: string;
  name: string;
  type: (typeof RESOURCE_TYPES)[number];
  status: string;
  metrics: Partial<Record<MetricName, number | null>>;
  tags: Record<string, string>;
  createdAt: Date;
  lastSeenAt: Date | null;
}

const listInput = z.object({
  tenantId: z.string().nullish(),
  page: z.number().int().min(1).max(100_000).nullish(),
  perPage: z.number().int().min(1).max(100).nullish(),
  sort: z.enum(['name', 'type', 'status', 'created_at', 'last_seen_at']).nullish(),
  order: z.enum(['asc', 'desc']).nullish(),
  filter: z.string().max(500).nullish(),
});

/** `filter`: comma-separated `key:value` terms, all of which must hold (type, status, name, tenant_id, group, tag.<key>). */
export function parseFilter(filter: string | null | undefined): Array<{ key: string; value: string }> {
  if (!filter) return [];
  return filter.split(',').map((term) => {
    const at = term.indexOf(':');
    const key = term.slice(0, at).trim();
    const value = term.slice(at + 1).trim();
    if (at <= 0 || value === '' || !/^(type|status|name|tenant_id|group|tag\.[A-Za-z0-9_.:-]{1,64})$/.test(key)) {
      throw new AppError(
        'VALIDATION_ERROR',
        'filter is key:value[,key:value…] with keys type, status, name, tenant_id, group, tag.<key>',
        {
          term,
        },
      );
    }
    return { key, value };
  });
}

function scopeOf(principal: Principal, tenantId: string | null | undefined): string | null {
  if (principal.tenantId !== null) {
    if (tenantId && tenantId !== principal.tenantId) {
      throw new AppError('TENANT_MISMATCH', 'Cross-tenant access attempt', { tenant_id: tenantId });
    }
    return principal.tenantId;
  }
  if (principal.kind === 'operator') return tenantId ?? null;
  throw new AppError('FORBIDDEN', 'Only a caller bound to a tenant, or the operator, lists resources');
}

async function latestSamples(deps: SubgraphDeps, deviceIds: string[]) {
  if (deviceIds.length === 0) return new Map<string, { cpu: number | null; mem: number | null; disk: number | null }>();
  const rows = await deps.db.prisma.$queryRaw<
    Array<{ device_id: string; cpu_usage: number | null; memory_usage: number | null; disk_usage: number | null }>
  >`SELECT DISTINCT ON (device_id) device_id, cpu_usage, memory_usage, disk_usage
    FROM "edge"."device_samples" WHERE device_id = ANY(${deviceIds}::text[])
    ORDER BY device_id, recorded_at DESC`;
  return new Map(rows.map((r) => [r.device_id, { cpu: r.cpu_usage, mem: r.memory_usage, disk: r.disk_usage }]));
}

function deviceResource(
  d: Device,
  sample: { cpu: number | null; mem: number | null; disk: number | null } | undefined,
): CloudResource {
  return {
    id: d.id,
    tenantId: d.tenantId,
    name: d.deviceKey,
    type: 'device',
    status: deviceStatus(d),
    metrics: { cpu_usage: sample?.cpu ?? null, memory_usage: sample?.mem ?? null, disk_usage: sample?.disk ?? null },
    tags: {
      ...(d.tags as Record<string, string>),
      ...(d.groups.length > 0 ? { groups: d.groups.join(',') } : {}),
    },
    createdAt: d.createdAt,
    lastSeenAt: d.lastSeenAt,
  };
}

async function storageBytes(deps: SubgraphDeps, tenantId: string): Promise<{ bytes: number; newest: Date | null }> {
  let bytes = 0;
  let newest: Date | null = null;
  for await (const blob of deps.blobs.list(`edge/${tenantId}/`)) {
    bytes += blob.size;
    if (!newest || blob.modifiedAt > newest) newest = blob.modifiedAt;
  }
  return { bytes, newest };
}

async function storageResource(deps: SubgraphDeps, tenantId: string, since: Date): Promise<CloudResource> {
  const { bytes, newest } = await storageBytes(deps, tenantId);
  return {
    id: `stg_${tenantId}`,
    tenantId,
    name: `edge-objects-${tenantId}`,
    type: 'storage',
    status: 'available',
    metrics: { storage_bytes: bytes },
    tags: { backend: deps.blobs.backend, prefix: `edge/${tenantId}/` },
    createdAt: since,
    lastSeenAt: newest,
  };
}

export async function listCloudResources({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof listInput>;
}): Promise<{ items: CloudResource[]; total: number; page: number; perPage: number }> {
  requireScope(principal, 'read:edge');
  const data = parseInput(listInput, input);
  const filters = parseFilter(data.filter);
  const tenantId = scopeOf(principal, data.tenantId);
  const devices = await deps.db.prisma.device.findMany({
    where: tenantId ? { tenantId } : {},
    orderBy: { createdAt: 'asc' },
    take: MAX_SCANNED + 1,
  });
  if (devices.length > MAX_SCANNED) {
    throw new AppError('VALIDATION_ERROR', `Over ${MAX_SCANNED} devices in scope: filter by tenant_id`);
  }
  const samples = await latestSamples(
    deps,
    devices.map((d) => d.id),
  );
  const resources: CloudResource[] = devices.map((d) => deviceResource(d, samples.get(d.id)));
  // Storage: one per tenant that has edge objects (or devices) in scope.
  const tenants = new Set(devices.map((d) => d.tenantId));
  const keys = await deps.db.prisma.edgeSigningKey.findMany({ where: tenantId ? { tenantId } : {} });
  for (const k of keys) tenants.add(k.tenantId);
  const firstSeen = new Map(keys.map((k) => [k.tenantId, k.createdAt]));
  const wantsStorage = !filters.some((f) => f.key === 'type' && f.value !== 'storage');
  if (wantsStorage) {
    for (const t of [...tenants].slice(0, 1000)) {
      const since = firstSeen.get(t) ?? devices.find((d) => d.tenantId === t)!.createdAt;
      resources.push(await storageResource(deps, t, since));
    }
  }
  const matches = resources.filter((r) =>
    filters.every(({ key, value }) => {
      if (key === 'type') return r.type === value;
      if (key === 'status') return r.status === value;
      if (key === 'name') return r.name.includes(value);
      if (key === 'tenant_id') return r.tenantId === value;
      if (key === 'group') return (r.tags.groups ?? '').split(',').includes(value);
      return r.tags[key.slice('tag.'.length)] === value;
    }),
  );
  const sort = data.sort ?? 'created_at';
  const direction = (data.order ?? 'asc') === 'asc' ? 1 : -1;
  const keyOf = (r: CloudResource): string | number =>
    sort === 'created_at'
      ? r.createdAt.getTime()
      : sort === 'last_seen_at'
        ? (r.lastSeenAt?.getTime() ?? 0)
        : sort === 'name'
          ? r.name
          : sort === 'type'
            ? r.type
            : r.status;
  matches.sort((a, b) => {
    const x = keyOf(a);
    const y = keyOf(b);
    return (x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0) * direction;
  });
  const page = data.page ?? 1;
  const perPage = data.perPage ?? 10;
  return { items: matches.slice((page - 1) * perPage, page * perPage), total: matches.length, page, perPage };
}

const INTERVALS: Record<string, number> = { '1m': 60, '5m': 300, '15m': 900, '1h': 3600, '6h': 21_600, '1d': 86_400 };

const metricsInput = z.object({
  resourceId: z.string().min(1).max(128),
  startTime: z.date().nullish(),
  endTime: z.date().nullish(),
  interval: z.enum(Object.keys(INTERVALS) as [string, ...string[]]).nullish(),
  metrics: z.array(z.enum(ALL_METRICS)).max(ALL_METRICS.length).nullish(),
});

export interface MetricSeries {
  metric: string;
  /** null: the resource has no source for this metric. */
  points: Array<{ timestamp: Date; value: number }> | null;
}

/**
 * A resource's metrics as a time series: device figures are the averages, per interval, of what
 * the device reported in its heartbeats; storage is measured now (one point: no history is kept).
 */
export async function cloudResourceMetrics({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof metricsInput>;
}): Promise<{ resourceId: string; interval: string; series: MetricSeries[] }> {
  requireScope(principal, 'read:edge');
  const data = parseInput(metricsInput, input);
  const interval = data.interval ?? '5m';
  const seconds = INTERVALS[interval]!;
  const end = data.endTime ?? new Date();
  const start = data.startTime ?? new Date(end.getTime() - 3600_000);
  if (start >= end) throw new AppError('VALIDATION_ERROR', 'start_time must be before end_time');
  if ((end.getTime() - start.getTime()) / 1000 / seconds > MAX_POINTS) {
    throw new AppError('VALIDATION_ERROR', `At most ${MAX_POINTS} points: widen the interval or narrow the range`);
  }
  const scope = scopeOf(principal, null);
  if (data.resourceId.startsWith('stg_')) {
    const tenantId = data.resourceId.slice('stg_'.length);
    if (scope && scope !== tenantId)
      throw new AppError('NOT_FOUND', 'No such resource', { resource_id: data.resourceId });
    const known = await deps.db.prisma.edgeSigningKey.findUnique({ where: { tenantId } });
    const hasDevices = await deps.db.prisma.device.count({ where: { tenantId } });
    if (!known && hasDevices === 0)
      throw new AppError('NOT_FOUND', 'No such resource', { resource_id: data.resourceId });
    const wanted = data.metrics ?? ['storage_bytes'];
    const now = new Date();
    const measured =
      now >= start && now <= new Date(end.getTime() + 60_000) ? (await storageBytes(deps, tenantId)).bytes : null;
    return {
      resourceId: data.resourceId,
      interval,
      series: wanted.map((metric) => ({
        metric,
        points: metric === 'storage_bytes' ? (measured === null ? [] : [{ timestamp: now, value: measured }]) : null,
      })),
    };
  }
  const device = await deps.db.prisma.device.findUnique({ where: { id: data.resourceId } });
  if (!device || (scope && device.tenantId !== scope)) {
    throw new AppError('NOT_FOUND', 'No such resource', { resource_id: data.resourceId });
  }
  const rows = await deps.db.prisma.$queryRaw<
    Array<{ bucket: Date; cpu: number | null; mem: number | null; disk: number | null }>
  >`SELECT to_timestamp(floor(extract(epoch FROM recorded_at) / ${seconds}) * ${seconds}) AS bucket,
      avg(cpu_usage)::float8 AS cpu, avg(memory_usage)::float8 AS mem, avg(disk_usage)::float8 AS disk
    FROM "edge"."device_samples"
    WHERE device_id = ${device.id} AND recorded_at >= ${start} AND recorded_at < ${end}
    GROUP BY 1 ORDER BY 1`;
  const column = { cpu_usage: 'cpu', memory_usage: 'mem', disk_usage: 'disk' } as const;
  const wanted = data.metrics ?? [...DEVICE_METRICS];
  return {
    resourceId: data.resourceId,
    interval,
    series: wanted.map((metric) => {
      if (!(metric in column)) return { metric, points: null };
      const key = column[metric as keyof typeof column];
      return {
        metric,
        points: rows.flatMap((r) =>
          r[key] === null ? [] : [{ timestamp: new Date(r.bucket), value: Number(r[key]) }],
        ),
      };
    }),
  };
}
