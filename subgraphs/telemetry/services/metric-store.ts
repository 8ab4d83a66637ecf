import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import type { BoundedQueue } from '../../../lib/realtime/bounded-queue.js';
import { publishTopic, subscribeTopic, type RealtimeEnvelope } from '../../../lib/realtime/topics.js';
import { METRIC_BUCKETS_MS, type MetricBatch, type MetricSample } from '../../../lib/runtime/metric-recorder.js';
import { hasScope, requireScope, RESOURCE_CATALOG_SCOPE, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';

/**
 * The metric store (telemetry.metric_samples): batches written by each process's sampler, one
 * INSERT … SELECT FROM unnest(…) per flush, kept for METRICS_RETENTION (default 7 days), and
 * queried by name, time range, aggregation, label grouping and interval.
 *
 * Who sees what: a caller bound to a tenant (read:telemetry) sees only that tenant's figures (its
 * requests); platform figures (process, database, cache, jobs, event bus, requests of no tenant)
 * and every tenant's need read:metrics and no tenant binding (the operator, or a key it granted).
 */

export const DEFAULT_RETENTION_MS = 7 * 24 * 3600_000;
const RETENTION_SWEEP_EVERY_MS = 10 * 60_000;
/** Rows removed per retention statement (the next sweep takes the rest). */
const RETENTION_DELETE_LIMIT = 50_000;

export const AGGREGATIONS = ['sum', 'avg', 'min', 'max', 'count', 'p50', 'p95', 'p99'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];
export const INTERVALS = { '1m': 60, '5m': 300, '15m': 900, '1h': 3600, '1d': 86_400 } as const;
export type MetricInterval = keyof typeof INTERVALS;

const MAX_NAMES = 20;
const MAX_GROUP_BY = 5;
const MAX_POINTS_PER_SERIES = 2_000;
const MAX_SERIES = 500;
const MAX_ROWS = 50_000;
const MAX_RANGE_MS = 31 * 24 * 3600_000;

const lastSweep = new WeakMap<object, number>();

/** Writes one sampler batch in one statement, sweeps expired samples now and then, announces it. */
export async function storeMetricBatch(
  deps: SubgraphDeps,
  batch: MetricBatch,
  options: { retentionMs?: number; logger?: Logger } = {},
): Promise<number> {
  const s = batch.samples;
  if (s.length === 0) return 0;
  await deps.db.prisma.$executeRawUnsafe(
    `INSERT INTO telemetry.metric_samples (recorded_at, instance, name, kind, tenant_id, labels, value, count, min, max, buckets)
     SELECT $1::timestamptz, $2, u.name, u.kind, u.tenant_id, u.labels::jsonb, u.value, u.count, u.min, u.max,
            CASE WHEN u.buckets IS NULL THEN NULL ELSE u.buckets::float8[] END
       FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::text[])
         AS u(name, kind, tenant_id, labels, value, count, min, max, buckets)`,
    batch.recordedAt,
    batch.instance,
    s.map((x) => x.name),
    s.map((x) => x.kind),
    s.map((x) => x.tenantId),
    s.map((x) => JSON.stringify(x.labels)),
    s.map((x) => x.value),
    s.map((x) => x.count),
    s.map((x) => x.min),
    s.map((x) => x.max),
    s.map((x) => (x.buckets ? `{${x.buckets.join(',')}}` : null)),
  );
  const now = Date.now();
  if ((lastSweep.get(deps.db) ?? 0) + RETENTION_SWEEP_EVERY_MS < now) {
    lastSweep.set(deps.db, now);
    await sweepExpiredMetricSamples(deps, options.retentionMs ?? DEFAULT_RETENTION_MS);
  }
  await announceBatch(deps, batch).catch((error: unknown) =>
    options.logger?.warn({ err: error }, 'metric samples not announced on the bus'),
  );
  return s.length;
}

/** Deletes samples older than the retention (at most RETENTION_DELETE_LIMIT rows a call); returns how many. */
export async function sweepExpiredMetricSamples(deps: SubgraphDeps, retentionMs: number): Promise<number> {
  const cutoff = new Date(Date.now() - retentionMs);
  return deps.db.prisma.$executeRawUnsafe(
    `DELETE FROM telemetry.metric_samples WHERE id IN (
       SELECT id FROM telemetry.metric_samples WHERE recorded_at < $1::timestamptz LIMIT ${RETENTION_DELETE_LIMIT})`,
    cutoff.toISOString(),
  );
}

export interface MetricsEvent {
  instance: string;
  recordedAt: string;
  windowSeconds: number;
  samples: MetricSample[];
}

/** One message per tenant with figures in the batch, and one for the platform's own (tenant null). */
async function announceBatch(deps: SubgraphDeps, batch: MetricBatch): Promise<void> {
  const byTenant = new Map<string | null, MetricSample[]>();
  for (const sample of batch.samples) {
    const list = byTenant.get(sample.tenantId) ?? [];
    list.push(sample);
    byTenant.set(sample.tenantId, list);
  }
  await Promise.all(
    [...byTenant].map(([tenantId, samples]) =>
      publishTopic<MetricsEvent>(deps.kv, 'telemetry.metrics', tenantId, {
        instance: batch.instance,
        recordedAt: batch.recordedAt,
        windowSeconds: batch.windowSeconds,
        samples,
      }),
    ),
  );
}

/**
 * The rows a caller may read: a tenant-bound caller its tenant's (read:telemetry); an unbound one
 * with read:metrics everything, or one tenant's when it names one. `null` in the answer: all rows.
 */
export function metricScopeFor(principal: Principal, tenantId: string | null | undefined): { tenantId: string | null } {
  if (principal.tenantId !== null) {
    requireScope(principal, 'read:telemetry');
    if (tenantId && tenantId !== principal.tenantId) {
      throw new AppError('TENANT_MISMATCH', 'Cross-tenant access attempt', { tenant_id: tenantId });
    }
    return { tenantId: principal.tenantId };
  }
  if (!hasScope(principal, 'read:metrics') && !principal.scopes.includes(RESOURCE_CATALOG_SCOPE)) {
    throw new AppError('FORBIDDEN', 'Missing required scope read:metrics', { required_scope: 'read:metrics' });
  }
  return { tenantId: tenantId ?? null };
}

const labelKey = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'a label name');
const metricName = z.string().regex(/^[a-z][a-z0-9_]{0,99}$/, 'a metric name');

const queryInput = z.object({
  names: z.array(metricName).min(1).max(MAX_NAMES),
  startTime: z.date().nullish(),
  endTime: z.date().nullish(),
  aggregation: z.enum(AGGREGATIONS).nullish(),
  groupBy: z.array(labelKey).max(MAX_GROUP_BY).nullish(),
  interval: z.enum(Object.keys(INTERVALS) as [MetricInterval, ...MetricInterval[]]).nullish(),
  labels: z.record(labelKey, z.string().max(200)).nullish(),
  tenantId: z.string().max(100).nullish(),
});

export type MetricQueryInput = z.input<typeof queryInput>;

export interface MetricPoint {
  timestamp: Date;
  value: number | null;
  /** Other aggregations of the same samples, when asked for (`also`): one query for several figures. */
  also?: Partial<Record<Aggregation, number | null>>;
}

export interface MetricSeriesResult {
  name: string;
  /** The group-by labels' values of this series (absent label: null). */
  labels: Record<string, string | null>;
  points: MetricPoint[];
}

export interface MetricQueryResult {
  startTime: Date;
  endTime: Date;
  aggregation: Aggregation;
  /** null: one point covering the whole range. */
  interval: MetricInterval | null;
  series: MetricSeriesResult[];
}

interface AggregateRow {
  bucket: Date;
  name: string;
  groups: string[] | null;
  sum: number;
  count: number;
  min: number | null;
  max: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  /** Percentile queries: the histogram buckets summed over the group. */
  bucket_sums: Array<number | null> | null;
  histogram: boolean;
}

/**
 * Aggregations over the stored samples of each (interval bucket, name, group): sum = Σ value;
 * count = Σ count (observations of a histogram, samples of a gauge or counter); avg = sum / count
 * (mean latency of a histogram, mean reading of a gauge, mean increase per sample of a counter);
 * min/max; p50/p95/p99 of a histogram from its summed buckets (linear within a bucket, clamped to
 * the observed min and max), of a gauge or counter over its sample values.
 */
export async function queryMetrics({
  deps,
  principal,
  input,
  also = [],
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: MetricQueryInput;
  also?: readonly Aggregation[];
}): Promise<MetricQueryResult> {
  const data = parseInput(queryInput, input);
  const { tenantId } = metricScopeFor(principal, data.tenantId);
  const end = data.endTime ?? new Date();
  const start = data.startTime ?? new Date(end.getTime() - 3600_000);
  if (start >= end)
    throw new AppError('VALIDATION_ERROR', 'start_time must be before end_time', { field: 'start_time' });
  if (end.getTime() - start.getTime() > MAX_RANGE_MS) {
    throw new AppError('VALIDATION_ERROR', 'The time range is at most 31 days', { field: 'start_time' });
  }
  const interval = data.interval ?? null;
  const step = interval ? INTERVALS[interval] : null;
  if (step && (end.getTime() - start.getTime()) / 1000 / step > MAX_POINTS_PER_SERIES) {
    throw new AppError(
      'VALIDATION_ERROR',
      `At most ${MAX_POINTS_PER_SERIES} points a series: widen the interval or narrow the range`,
      { field: 'interval' },
    );
  }
  const aggregation = data.aggregation ?? 'avg';
  const groupBy = data.groupBy ?? [];
  const percentile = [aggregation, ...also].some((a) => a.startsWith('p'));

  const params: unknown[] = [data.names, start.toISOString(), end.toISOString()];
  const where = ['name = ANY($1::text[])', 'recorded_at >= $2::timestamptz', 'recorded_at < $3::timestamptz'];
  if (tenantId !== null) {
    params.push(tenantId);
    where.push(`tenant_id = $${params.length}`);
  }
  if (data.labels && Object.keys(data.labels).length > 0) {
    params.push(JSON.stringify(data.labels));
    where.push(`labels @> $${params.length}::jsonb`);
  }
  const bucketExpr = step
    ? `to_timestamp(floor(extract(epoch FROM recorded_at) / ${step}) * ${step})`
    : `$2::timestamptz`;
  const groupExprs = groupBy.map((key) => {
    if (key === 'instance') return 'instance';
    if (key === 'tenant_id') return 'tenant_id';
    params.push(key);
    return `labels ->> $${params.length}::text`;
  });
  const groupsSelect = groupExprs.length > 0 ? `ARRAY[${groupExprs.join(', ')}]` : 'NULL::text[]';
  const source = `SELECT ${bucketExpr} AS bucket, name, ${groupsSelect} AS groups, kind, value, count, min, max, buckets
                    FROM telemetry.metric_samples WHERE ${where.join(' AND ')}`;
  // Percentiles: of a histogram from its buckets summed element-wise (one pass, no unnest); of a
  // gauge or counter over its sample values (ordered-set aggregate, histograms filtered out).
  const bucketSums = Array.from({ length: METRIC_BUCKETS_MS.length + 1 }, (_, i) => `sum(buckets[${i + 1}])`);
  const notHistogram = `FILTER (WHERE kind <> 'histogram')`;
  const percentiles = percentile
    ? `percentile_cont(0.5) WITHIN GROUP (ORDER BY value) ${notHistogram} AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY value) ${notHistogram} AS p95,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY value) ${notHistogram} AS p99,
       ARRAY[${bucketSums.join(', ')}]::float8[] AS bucket_sums`
    : 'NULL::float8 AS p50, NULL::float8 AS p95, NULL::float8 AS p99, NULL::float8[] AS bucket_sums';
  const rows = await deps.db.prisma.$queryRawUnsafe<AggregateRow[]>(
    `SELECT bucket, name, groups, sum(value)::float8 AS sum, sum(count)::float8 AS count,
            min(min)::float8 AS min, max(max)::float8 AS max, ${percentiles},
            bool_and(kind = 'histogram') AS histogram
       FROM (${source}) s
      GROUP BY bucket, name, groups
      ORDER BY name, groups, bucket
      LIMIT ${MAX_ROWS + 1}`,
    ...params,
  );
  if (rows.length > MAX_ROWS) {
    throw new AppError('VALIDATION_ERROR', `Over ${MAX_ROWS} points: narrow the range, names or group_by`);
  }

  const series = new Map<string, MetricSeriesResult>();
  for (const row of rows) {
    const key = `${row.name}\u0000${JSON.stringify(row.groups)}`;
    let entry = series.get(key);
    if (!entry) {
      if (series.size >= MAX_SERIES) {
        throw new AppError('VALIDATION_ERROR', `Over ${MAX_SERIES} series: narrow names or group_by`);
      }
      entry = {
        name: row.name,
        labels: Object.fromEntries(groupBy.map((k, i) => [k, row.groups?.[i] ?? null])),
        points: [],
      };
      series.set(key, entry);
    }
    const buckets = row.bucket_sums?.map((n) => Number(n ?? 0));
    entry.points.push({
      timestamp: new Date(row.bucket),
      value: aggregate(row, aggregation, buckets),
      ...(also.length > 0 ? { also: Object.fromEntries(also.map((a) => [a, aggregate(row, a, buckets)])) } : {}),
    });
  }
  // Names asked for with no samples in range still answer, with no points.
  for (const name of data.names) {
    if (![...series.values()].some((s) => s.name === name) && groupBy.length === 0) {
      series.set(name, { name, labels: {}, points: [] });
    }
  }
  return { startTime: start, endTime: end, aggregation, interval, series: [...series.values()] };
}

function aggregate(row: AggregateRow, aggregation: Aggregation, buckets: number[] | undefined): number | null {
  const sum = Number(row.sum);
  const count = Number(row.count);
  switch (aggregation) {
    case 'sum':
      return sum;
    case 'count':
      return count;
    case 'avg':
      return count > 0 ? sum / count : null;
    case 'min':
      return row.min === null ? null : Number(row.min);
    case 'max':
      return row.max === null ? null : Number(row.max);
    default: {
      const q = aggregation === 'p50' ? 0.5 : aggregation === 'p95' ? 0.95 : 0.99;
      if (row.histogram && buckets) return histogramQuantile(q, buckets, row.min, row.max);
      const value = row[aggregation];
      return value === null ? null : Number(value);
    }
  }
}

/** Prometheus-style quantile from per-bucket counts over METRIC_BUCKETS_MS, clamped to [min, max]. */
export function histogramQuantile(q: number, counts: number[], min: number | null, max: number | null): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let cumulative = 0;
  for (let i = 0; i < counts.length; i += 1) {
    const n = counts[i]!;
    if (n > 0 && cumulative + n >= rank) {
      const lower = i === 0 ? 0 : METRIC_BUCKETS_MS[i - 1]!;
      const upper = i < METRIC_BUCKETS_MS.length ? METRIC_BUCKETS_MS[i]! : (max ?? lower);
      let value = lower + (upper - lower) * ((rank - cumulative) / n);
      if (min !== null) value = Math.max(value, Number(min));
      if (max !== null) value = Math.min(value, Number(max));
      return value;
    }
    cumulative += n;
  }
  return max === null ? null : Number(max);
}

/** The metric names with samples in the last `withinHours` the caller may read. */
export async function listMetricNames({
  deps,
  principal,
  tenantId,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  tenantId?: string | null;
}): Promise<Array<{ name: string; kind: string }>> {
  const scope = metricScopeFor(principal, tenantId);
  const since = new Date(Date.now() - 24 * 3600_000).toISOString();
  const rows = await deps.db.prisma.$queryRawUnsafe<Array<{ name: string; kind: string }>>(
    scope.tenantId === null
      ? `SELECT DISTINCT name, kind FROM telemetry.metric_samples WHERE recorded_at >= $1::timestamptz ORDER BY name LIMIT 1000`
      : `SELECT DISTINCT name, kind FROM telemetry.metric_samples WHERE recorded_at >= $1::timestamptz AND tenant_id = $2 ORDER BY name LIMIT 1000`,
    since,
    ...(scope.tenantId === null ? [] : [scope.tenantId]),
  );
  return rows;
}

/** Samples as each process flushes them, only the named metrics, only what the caller may read. */
export async function subscribeMetrics({
  deps,
  principal,
  names,
  tenantId,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  names: readonly string[];
  tenantId?: string | null;
}): Promise<BoundedQueue<RealtimeEnvelope<MetricsEvent>>> {
  const wanted = new Set(parseInput(z.array(metricName).min(1).max(MAX_NAMES), [...names]));
  const scope = metricScopeFor(principal, tenantId);
  return subscribeTopic<MetricsEvent>({
    kv: deps.kv,
    topic: 'telemetry.metrics',
    tenantId: scope.tenantId,
    accept: (event) => event.samples.some((s) => wanted.has(s.name)),
  });
}

export function selectSamples(event: MetricsEvent, names: readonly string[]): MetricsEvent {
  const wanted = new Set(names);
  return { ...event, samples: event.samples.filter((s) => wanted.has(s.name)) };
}
