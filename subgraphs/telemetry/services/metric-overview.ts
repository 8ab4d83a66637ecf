import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { hasScope, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import { metricScopeFor, queryMetrics, type Aggregation, type MetricQueryInput } from './metric-store.js';

/**
 * Summaries the documented metrics endpoints show, computed from the metric store over a range:
 * every figure is an aggregation of stored samples, null where no sample exists in the range (or
 * the caller may not read it: a tenant-bound caller sees its own requests, not platform figures).
 */

const MAX_OVERVIEW_RANGE_MS = 31 * 24 * 3600_000;

const rangeInput = z.object({
  startTime: z.date().nullish(),
  endTime: z.date().nullish(),
  tenantId: z.string().max(100).nullish(),
});

export interface MetricsOverview {
  startTime: Date;
  endTime: Date;
  requests: {
    total: number;
    errors: number;
    /** Answers with status < 400 over all; null without requests. */
    successRate: number | null;
    errorRate: number | null;
    perSecond: number;
    avgMs: number | null;
    p50Ms: number | null;
    p95Ms: number | null;
    p99Ms: number | null;
    byStatus: Record<string, number>;
  };
  system: {
    cpuPercent: number | null;
    processCpuPercent: number | null;
    memoryUsedBytes: number | null;
    memoryPercent: number | null;
    processMemoryAvgBytes: number | null;
    processMemoryPeakBytes: number | null;
    diskUsedBytes: number | null;
    diskPercent: number | null;
  };
  database: {
    activeConnections: number | null;
    maxConnections: number | null;
    pingAvgMs: number | null;
  };
  cache: { hits: number | null; misses: number | null; hitRate: number | null };
  realtime: { sessions: number | null; subscriptions: number | null };
}

export async function metricsOverview({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof rangeInput>;
}): Promise<MetricsOverview> {
  const data = parseInput(rangeInput, input);
  metricScopeFor(principal, data.tenantId);
  const endTime = data.endTime ?? new Date();
  const startTime = data.startTime ?? new Date(endTime.getTime() - 3600_000);
  if (endTime.getTime() - startTime.getTime() > MAX_OVERVIEW_RANGE_MS) {
    throw new AppError('VALIDATION_ERROR', 'The time range is at most 31 days', { field: 'start_time' });
  }
  const run = (
    names: string[],
    aggregation: Aggregation,
    extra: Partial<MetricQueryInput> = {},
    also: Aggregation[] = [],
  ) =>
    queryMetrics({
      deps,
      principal,
      input: { names, aggregation, startTime, endTime, tenantId: data.tenantId, ...extra },
      also,
    });
  const one = async (name: string, aggregation: Aggregation): Promise<number | null> => {
    const result = await run([name], aggregation);
    return result.series[0]?.points[0]?.value ?? null;
  };
  const [byStatus, latency] = await Promise.all([
    run(['http_requests'], 'sum', { groupBy: ['status'] }),
    // Mean and percentiles of the latency histogram in one query.
    run(['http_request_duration_ms'], 'avg', {}, ['p50', 'p95', 'p99']),
  ]);
  const latencyPoint = latency.series[0]?.points[0];
  const p50 = latencyPoint?.also?.p50 ?? null;
  const p95 = latencyPoint?.also?.p95 ?? null;
  const p99 = latencyPoint?.also?.p99 ?? null;
  const statuses: Record<string, number> = {};
  for (const s of byStatus.series) {
    const status = s.labels.status;
    const value = s.points[0]?.value ?? 0;
    if (status && value > 0) statuses[status] = value;
  }
  const total = Object.values(statuses).reduce((a, b) => a + b, 0);
  const errors = Object.entries(statuses).reduce((a, [status, n]) => (Number(status) >= 400 ? a + n : a), 0);
  const seconds = (endTime.getTime() - startTime.getTime()) / 1000;

  const [
    cpuPercent,
    processCpuPercent,
    memoryUsedBytes,
    memoryPercent,
    processMemoryAvgBytes,
    processMemoryPeakBytes,
    diskUsedBytes,
    diskPercent,
    activeConnections,
    maxConnections,
    pingAvgMs,
    hits,
    misses,
    sessions,
    subscriptions,
  ] = await Promise.all([
    one('system_cpu_percent', 'avg'),
    one('process_cpu_percent', 'avg'),
    one('system_memory_used_bytes', 'avg'),
    one('system_memory_percent', 'avg'),
    one('process_resident_memory_bytes', 'avg'),
    one('process_resident_memory_bytes', 'max'),
    latestOf(run, 'system_disk_used_bytes'),
    latestOf(run, 'system_disk_percent'),
    latestOf(run, 'db_connections_active'),
    latestOf(run, 'db_connections_max'),
    one('db_ping_ms', 'avg'),
    sumOrNull(run, 'cache_hits'),
    sumOrNull(run, 'cache_misses'),
    latestOf(run, 'realtime_sessions'),
    latestOf(run, 'realtime_subscriptions'),
  ]);
  const lookups = (hits ?? 0) + (misses ?? 0);
  return {
    startTime,
    endTime,
    requests: {
      total,
      errors,
      successRate: total > 0 ? (total - errors) / total : null,
      errorRate: total > 0 ? errors / total : null,
      perSecond: seconds > 0 ? total / seconds : 0,
      avgMs: latencyPoint?.value ?? null,
      p50Ms: p50,
      p95Ms: p95,
      p99Ms: p99,
      byStatus: statuses,
    },
    system: {
      cpuPercent,
      processCpuPercent,
      memoryUsedBytes,
      memoryPercent,
      processMemoryAvgBytes,
      processMemoryPeakBytes,
      diskUsedBytes,
      diskPercent,
    },
    database: { activeConnections, maxConnections, pingAvgMs },
    cache: { hits, misses, hitRate: lookups > 0 ? (hits ?? 0) / lookups : null },
    realtime: { sessions, subscriptions },
  };
}

type Run = (
  names: string[],
  aggregation: Aggregation,
  extra?: Partial<MetricQueryInput>,
  also?: Aggregation[],
) => ReturnType<typeof queryMetrics>;

async function sumOrNull(run: Run, name: string): Promise<number | null> {
  const result = await run([name], 'sum');
  return result.series[0]?.points[0]?.value ?? null;
}

/**
 * The latest reading of a gauge across processes: each instance's newest minute-bucket average,
 * summed over instances (connections, sessions: every process has its own).
 */
async function latestOf(run: Run, name: string): Promise<number | null> {
  const result = await run([name], 'avg', { groupBy: ['instance'], interval: '1m' });
  let total: number | null = null;
  const newest = Math.max(0, ...result.series.flatMap((s) => s.points.map((p) => p.timestamp.getTime())));
  for (const series of result.series) {
    const last = series.points.at(-1);
    // Instances that stopped reporting before the newest minute are gone.
    if (last && last.value !== null && last.timestamp.getTime() >= newest - 60_000) total = (total ?? 0) + last.value;
  }
  return total;
}

export interface EventBusTopicFigures {
  topic: string;
  messagesInPerSec: number | null;
  messagesOutPerSec: number | null;
  bytesInPerSec: number | null;
  bytesOutPerSec: number | null;
  subscribers: number | null;
  consumerLag: number | null;
  dropped: number | null;
}

export interface EventBusFigures {
  backend: 'redis' | 'memory';
  windowSeconds: number;
  messagesInPerSec: number | null;
  messagesOutPerSec: number | null;
  bytesInPerSec: number | null;
  bytesOutPerSec: number | null;
  topics: EventBusTopicFigures[];
}

/**
 * The platform's event bus (kv pub/sub: Redis, or in memory) over the last `windowSeconds`, from
 * every process's samples: in = messages and bytes published onto the bus; out = deliveries to
 * subscribers and bytes the processes received from it; consumer lag = events queued for
 * subscribers and not yet taken (each topic's subscribers are one group), latest per process.
 */
export async function eventBusFigures({
  deps,
  principal,
  windowSeconds,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  windowSeconds: number;
}): Promise<EventBusFigures> {
  if (principal.tenantId !== null || !hasScope(principal, 'read:metrics')) {
    throw new AppError('FORBIDDEN', "The event bus's figures are the platform's: read:metrics, no tenant binding", {
      required_scope: 'read:metrics',
    });
  }
  const window = parseInput(z.number().int().min(10).max(3600), windowSeconds);
  const endTime = new Date();
  const startTime = new Date(endTime.getTime() - window * 1000);
  const counters = [
    'event_bus_messages_published',
    'event_bus_messages_delivered',
    'event_bus_bytes_published',
    'event_bus_bytes_received',
    'event_bus_messages_dropped',
  ];
  const [sums, gauges] = await Promise.all([
    queryMetrics({
      deps,
      principal,
      input: { names: counters, aggregation: 'sum', groupBy: ['topic'], startTime, endTime },
    }),
    queryMetrics({
      deps,
      principal,
      input: {
        names: ['event_bus_subscribers', 'event_bus_consumer_lag'],
        aggregation: 'avg',
        groupBy: ['topic', 'instance'],
        interval: '1m',
        startTime,
        endTime,
      },
    }),
  ]);
  const topics = new Map<string, EventBusTopicFigures>();
  const topicOf = (topic: string) => {
    let entry = topics.get(topic);
    if (!entry) {
      entry = {
        topic,
        messagesInPerSec: null,
        messagesOutPerSec: null,
        bytesInPerSec: null,
        bytesOutPerSec: null,
        subscribers: null,
        consumerLag: null,
        dropped: null,
      };
      topics.set(topic, entry);
    }
    return entry;
  };
  const field = {
    event_bus_messages_published: 'messagesInPerSec',
    event_bus_messages_delivered: 'messagesOutPerSec',
    event_bus_bytes_published: 'bytesInPerSec',
    event_bus_bytes_received: 'bytesOutPerSec',
  } as const;
  for (const s of sums.series) {
    const topic = s.labels.topic;
    if (!topic) continue;
    const value = s.points[0]?.value ?? null;
    if (s.name === 'event_bus_messages_dropped') topicOf(topic).dropped = value;
    else topicOf(topic)[field[s.name as keyof typeof field]] = value === null ? null : value / window;
  }
  for (const s of gauges.series) {
    const topic = s.labels.topic;
    const last = s.points.at(-1)?.value;
    if (!topic || last === null || last === undefined) continue;
    const entry = topicOf(topic);
    if (s.name === 'event_bus_subscribers') entry.subscribers = (entry.subscribers ?? 0) + last;
    else entry.consumerLag = (entry.consumerLag ?? 0) + last;
  }
  const list = [...topics.values()].sort((a, b) => a.topic.localeCompare(b.topic));
  const total = (key: 'messagesInPerSec' | 'messagesOutPerSec' | 'bytesInPerSec' | 'bytesOutPerSec') =>
    list.some((t) => t[key] !== null) ? list.reduce((a, t) => a + (t[key] ?? 0), 0) : null;
  return {
    backend: deps.kv.kind,
    windowSeconds: window,
    messagesInPerSec: total('messagesInPerSec'),
    messagesOutPerSec: total('messagesOutPerSec'),
    bytesInPerSec: total('bytesInPerSec'),
    bytesOutPerSec: total('bytesOutPerSec'),
    topics: list,
  };
}
