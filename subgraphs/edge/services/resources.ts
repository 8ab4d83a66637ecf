import { z } from 'zod';
import { AppError, appErrorFromGraphQL } from '../../../lib/errors.js';
import { EDGE_SERVICE_PRINCIPAL, requireScope, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import type { Device } from '../../../prisma/generated/client.js';
import { deviceStatus } from './devices.js';

// cloudpioneer's resources, as far as the platform has real figures for them (edge owns the
// listing): edge devices, with the figures they report in heartbeats; each tenant's edge object
// storage (artifacts and manifests in deps.blobs), measured when asked; the tenants' databases
// (tenancy's records, sizes measured in the catalog) and, for callers bound to no tenant, the
// platform's services (platform's service list), both read from their owners through a
// service-to-service call. No resource has a cost: the platform has no pricing source, so `cost`
// is null.

export const RESOURCE_TYPES = ['device', 'storage', 'database', 'service'] as const;
const DEVICE_METRICS = ['cpu_usage', 'memory_usage', 'disk_usage'] as const;
const STORAGE_METRICS = ['storage_bytes'] as const;
const SERVICE_METRICS = ['requests', 'response_time_ms', 'error_rate'] as const;
const ALL_METRICS = [...DEVICE_METRICS, ...STORAGE_METRICS, ...SERVICE_METRICS] as const;
type MetricName = (typeof ALL_METRICS)[number];

/** Devices read into memory for one listing (status is computed at read time, so it sorts in memory). */
const MAX_SCANNED = 10_000;
const MAX_POINTS = 2_000;

export interface CloudResource {
  id: string;
  /** null: a platform service, no tenant's. */
  tenantId: string | null;
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
  const wants = (type: string) => !filters.some((f) => f.key === 'type' && f.value !== type);
  if (wants('database')) resources.push(...(await databaseResources(deps, tenantId)));
  if (wants('service') && tenantId === null) resources.push(...(await serviceResources(deps)));
  const matches = resources.filter((r) =>
    filters.every(({ key, value }) => {
      if (key === 'type') return r.type === value;
      if (key === 'status') return r.status === value;
      if (key === 'name') return r.name.includes(value);
      if (key === 'tenant_id') return r.tenantId === value;
      if (key === 'group' && r.type !== 'device') return false;
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

interface CatalogDatabase {
  id: string;
  tenantId: string;
  name: string;
  kind: string;
  engine: string;
  isolationLevel: number;
  status: string;
  sizeBytes: number | null;
  createdAt: string;
}

const DATABASE_CATALOG = `query EdgeResourceDatabases($tenantId: ID, $ids: [ID!]) {
  tenantDatabaseCatalog(tenantId: $tenantId, ids: $ids) { id tenantId name kind engine isolationLevel status sizeBytes createdAt }
}`;

async function catalogDatabases(
  deps: SubgraphDeps,
  variables: { tenantId: string | null; ids?: string[] },
): Promise<CatalogDatabase[]> {
  if (!deps.subgraphs) throw new AppError('SERVICE_UNAVAILABLE', 'tenancy is not reachable from edge here');
  const answer = await deps.subgraphs.call<{ tenantDatabaseCatalog: CatalogDatabase[] }>('tenancy', {
    document: DATABASE_CATALOG,
    variables,
    principal: EDGE_SERVICE_PRINCIPAL,
  });
  if (answer.errors?.[0]) throw appErrorFromGraphQL(answer.errors[0]);
  return answer.data?.tenantDatabaseCatalog ?? [];
}

function databaseResource(d: CatalogDatabase): CloudResource {
  return {
    id: d.id,
    tenantId: d.tenantId,
    name: d.name,
    type: 'database',
    status: d.status,
    metrics: { storage_bytes: d.sizeBytes },
    tags: { engine: d.engine, kind: d.kind, isolation_level: String(d.isolationLevel) },
    createdAt: new Date(d.createdAt),
    lastSeenAt: null,
  };
}

async function databaseResources(deps: SubgraphDeps, tenantId: string | null): Promise<CloudResource[]> {
  return (await catalogDatabases(deps, { tenantId })).map(databaseResource);
}

interface CatalogService {
  name: string;
  type: string;
  status: string;
  health: string;
  uptimeSeconds: number | null;
  requestsHandled: number | null;
  avgResponseTimeMs: number | null;
  errorRate: number | null;
}

const SERVICE_CATALOG = `query EdgeResourceServices {
  services { name type status health uptimeSeconds requestsHandled avgResponseTimeMs errorRate }
}`;

async function serviceResources(deps: SubgraphDeps): Promise<CloudResource[]> {
  if (!deps.subgraphs) throw new AppError('SERVICE_UNAVAILABLE', 'platform is not reachable from edge here');
  const answer = await deps.subgraphs.call<{ services: CatalogService[] }>('platform', {
    document: SERVICE_CATALOG,
    principal: EDGE_SERVICE_PRINCIPAL,
  });
  if (answer.errors?.[0]) throw appErrorFromGraphQL(answer.errors[0]);
  const now = Date.now();
  return (answer.data?.services ?? []).map((s) => ({
    id: `svc_${s.name}`,
    tenantId: null,
    name: s.name,
    type: 'service' as const,
    status: s.status === 'running' ? (s.health === 'healthy' ? 'running' : s.health) : s.status,
    metrics: {
      requests: s.requestsHandled,
      response_time_ms: s.avgResponseTimeMs,
      error_rate: s.errorRate,
    },
    tags: { kind: s.type.toLowerCase(), health: s.health },
    // A service exists since its (latest) start.
    createdAt: new Date(s.uptimeSeconds === null ? now : now - s.uptimeSeconds * 1000),
    lastSeenAt: s.health === 'healthy' ? new Date(now) : null,
  }));
}

/**
 * Series of the gateway from telemetry's metric store (requests per interval, mean latency, share
 * of answers ≥ 400); the other services' requests are not recorded per interval (null).
 */
async function serviceSeries(
  deps: SubgraphDeps,
  service: string,
  wanted: readonly string[],
  range: { start: Date; end: Date; interval: string },
): Promise<MetricSeries[]> {
  if (service !== 'gateway' || !deps.subgraphs) {
    return wanted.map((metric) => ({ metric, points: null }));
  }
  const answer = await deps.subgraphs.call<{
    requests: {
      series: Array<{
        labels: Record<string, string | null>;
        points: Array<{ timestamp: string; value: number | null }>;
      }>;
    };
    latency: { series: Array<{ points: Array<{ timestamp: string; value: number | null }> }> };
  }>('telemetry', {
    document: `query EdgeServiceSeries($start: DateTime, $end: DateTime, $interval: String) {
      requests: metricSeries(names: ["http_requests"], aggregation: SUM, groupBy: ["status"], startTime: $start, endTime: $end, interval: $interval) {
        series { labels points { timestamp value } }
      }
      latency: metricSeries(names: ["http_request_duration_ms"], aggregation: AVG, startTime: $start, endTime: $end, interval: $interval) {
        series { points { timestamp value } }
      }
    }`,
    variables: { start: range.start.toISOString(), end: range.end.toISOString(), interval: range.interval },
    principal: EDGE_SERVICE_PRINCIPAL,
  });
  if (answer.errors?.[0]) throw appErrorFromGraphQL(answer.errors[0]);
  const totals = new Map<string, { all: number; failed: number }>();
  for (const s of answer.data?.requests.series ?? []) {
    const failed = Number(s.labels.status ?? 0) >= 400;
    for (const p of s.points) {
      const entry = totals.get(p.timestamp) ?? { all: 0, failed: 0 };
      entry.all += p.value ?? 0;
      if (failed) entry.failed += p.value ?? 0;
      totals.set(p.timestamp, entry);
    }
  }
  const ordered = [...totals.entries()].sort(([a], [b]) => a.localeCompare(b));
  const latency = (answer.data?.latency.series[0]?.points ?? []).flatMap((p) =>
    p.value === null ? [] : [{ timestamp: new Date(p.timestamp), value: p.value }],
  );
  return wanted.map((metric) => {
    if (metric === 'requests')
      return { metric, points: ordered.map(([ts, v]) => ({ timestamp: new Date(ts), value: v.all })) };
    if (metric === 'error_rate') {
      return {
        metric,
        points: ordered.map(([ts, v]) => ({ timestamp: new Date(ts), value: v.all > 0 ? v.failed / v.all : 0 })),
      };
    }
    if (metric === 'response_time_ms') return { metric, points: latency };
    return { metric, points: null };
  });
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
  if (data.resourceId.startsWith('svc_')) {
    const name = data.resourceId.slice('svc_'.length);
    if (scope !== null || !(await serviceResources(deps)).some((r) => r.name === name)) {
      throw new AppError('NOT_FOUND', 'No such resource', { resource_id: data.resourceId });
    }
    return {
      resourceId: data.resourceId,
      interval,
      series: await serviceSeries(deps, name, data.metrics ?? [...SERVICE_METRICS], { start, end, interval }),
    };
  }
  if (!data.resourceId.startsWith('dev_')) {
    const [database] = await catalogDatabases(deps, { tenantId: scope, ids: [data.resourceId] });
    if (database) {
      // Sizes are measured now; no history is kept (one point, in range only).
      const now = new Date();
      const inRange = now >= start && now <= new Date(end.getTime() + 60_000);
      return {
        resourceId: data.resourceId,
        interval,
        series: (data.metrics ?? ['storage_bytes']).map((metric) => ({
          metric,
          points:
            metric !== 'storage_bytes' || database.sizeBytes === null
              ? null
              : inRange
                ? [{ timestamp: now, value: database.sizeBytes }]
                : [],
        })),
      };
    }
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
