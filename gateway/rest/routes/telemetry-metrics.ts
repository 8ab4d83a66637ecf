import { z } from 'zod';
import { graphql } from '../graphql.js';
import { defineRoute, type RestRoute } from '../route.js';
import { commaList, isoTimestamp } from '../schemas.js';

// The metric store's documented endpoints. Every figure is an aggregation of samples the
// platform's processes wrote (telemetry.metric_samples); a figure the platform has no source for
// (network throughput, revenue, active users, Kafka brokers and partitions...) is null.

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

const AGGREGATIONS = ['sum', 'avg', 'min', 'max', 'count', 'p50', 'p95', 'p99'] as const;
const toAggregation = (a: (typeof AGGREGATIONS)[number]) =>
  a.toUpperCase() as 'SUM' | 'AVG' | 'MIN' | 'MAX' | 'COUNT' | 'P50' | 'P95' | 'P99';

const pointSchema = z.object({ timestamp: isoTimestamp, value: z.number().nullable() });
const round = (value: number | null | undefined, digits = 3): number | null =>
  value === null || value === undefined ? null : Math.round(value * 10 ** digits) / 10 ** digits;

/** platform-forge GET /api/v1/telemetry/metrics: the query API as the document lists its parameters. */
const telemetryMetrics = defineRoute({
  dialect: 'platform-forge',
  method: 'GET',
  path: '/api/v1/telemetry/metrics',
  summary: 'Metric time series: names, range (≤ 31 days), aggregation, group by labels, interval',
  operation: graphql(`
    query TelemetryMetrics(
      $names: [String!]!
      $startTime: DateTime
      $endTime: DateTime
      $aggregation: MetricAggregation
      $groupBy: [String!]
      $interval: String
      $tenantId: ID
    ) {
      metricSeries(
        names: $names
        startTime: $startTime
        endTime: $endTime
        aggregation: $aggregation
        groupBy: $groupBy
        interval: $interval
        tenantId: $tenantId
      ) {
        startTime
        endTime
        aggregation
        interval
        series {
          name
          labels
          points {
            timestamp
            value
          }
        }
      }
    }
  `),
  input: {
    query: z.object({
      metric_names: commaList(20, z.string().min(1).max(100)).pipe(
        z.array(z.string()).min(1, 'metric_names: at least one metric'),
      ),
      start_time: z.iso.datetime({ offset: true }).optional(),
      end_time: z.iso.datetime({ offset: true }).optional(),
      aggregation: z.enum(AGGREGATIONS).optional(),
      group_by: commaList(5, z.string().min(1).max(63)),
      interval: z.enum(['1m', '5m', '15m', '1h', '1d']).optional(),
      tenant_id: z.string().min(1).max(100).optional().describe('Callers bound to no tenant only'),
    }),
  },
  variables: ({ query }) => ({
    names: query.metric_names,
    startTime: query.start_time ?? null,
    endTime: query.end_time ?? null,
    aggregation: query.aggregation ? toAggregation(query.aggregation) : null,
    groupBy: query.group_by ?? null,
    interval: query.interval ?? null,
    tenantId: query.tenant_id ?? null,
  }),
  respond: ({ metricSeries: m }) => ({
    start_time: m.startTime,
    end_time: m.endTime,
    aggregation: m.aggregation.toLowerCase(),
    interval: m.interval,
    metrics: m.series.map((s) => ({
      name: s.name,
      labels: s.labels as Record<string, string | null>,
      points: s.points.map((p) => ({ timestamp: p.timestamp, value: p.value })),
    })),
  }),
  response: z.object({
    start_time: isoTimestamp,
    end_time: isoTimestamp,
    aggregation: z.string(),
    interval: z.string().nullable().describe('null: one point for the whole range'),
    metrics: z.array(
      z.object({
        name: z.string(),
        labels: z.record(z.string(), z.string().nullable()).describe('Values of the group_by labels'),
        points: z.array(pointSchema),
      }),
    ),
  }),
});

const OVERVIEW = graphql(`
  query MetricsOverview($startTime: DateTime, $endTime: DateTime) {
    metricsOverview(startTime: $startTime, endTime: $endTime) {
      startTime
      endTime
      requests {
        total
        errors
        successRate
        errorRate
        perSecond
        avgMs
        p50Ms
        p95Ms
        p99Ms
        byStatus
      }
      system {
        cpuPercent
        processCpuPercent
        memoryUsedBytes
        memoryPercent
        processMemoryAvgBytes
        processMemoryPeakBytes
        diskUsedBytes
        diskPercent
      }
      database {
        activeConnections
        maxConnections
        pingAvgMs
      }
      cache {
        hits
        misses
        hitRate
      }
      realtime {
        sessions
        subscriptions
      }
    }
  }
`);

const sinceMs = (ms: number) => ({ startTime: new Date(Date.now() - ms).toISOString(), endTime: null });

/** platform-forge GET /api/v1/performance/metrics: the last hour. */
const performanceMetrics = defineRoute({
  dialect: 'platform-forge',
  method: 'GET',
  path: '/api/v1/performance/metrics',
  summary: 'API latency percentiles, database and cache figures over the last hour',
  operation: OVERVIEW,
  variables: () => sinceMs(3600_000),
  respond: ({ metricsOverview: o }) => ({
    api_response_time: { p50: round(o.requests.p50Ms), p95: round(o.requests.p95Ms), p99: round(o.requests.p99Ms) },
    // Per-query timings are not measured (no query hook); a SELECT 1 round trip is, reported apart.
    database_queries: { avg_duration: null, slow_queries: null, ping_avg_ms: round(o.database.pingAvgMs) },
    cache_hit_rate: round(o.cache.hitRate, 4),
    active_connections: o.database.activeConnections,
  }),
  response: z.object({
    api_response_time: z.object({
      p50: z.number().nullable(),
      p95: z.number().nullable(),
      p99: z.number().nullable(),
    }),
    database_queries: z.object({
      avg_duration: z.null().describe('No per-query timing source: null'),
      slow_queries: z.null().describe('No per-query timing source: null'),
      ping_avg_ms: z.number().nullable().describe('Average SELECT 1 round trip, ms'),
    }),
    cache_hit_rate: z.number().nullable(),
    active_connections: z.number().nullable().describe('Database connections in use (all processes)'),
  }),
});

const PERIODS = { '1h': 3600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const;
const SECTIONS = ['performance', 'system', 'application', 'business'] as const;

/** core-platform GET /api/metrics. */
const corePlatformMetrics = defineRoute({
  dialect: 'core-platform',
  method: 'GET',
  path: '/api/metrics',
  summary: 'Performance, system, application and business figures over a period',
  operation: OVERVIEW,
  input: {
    query: z.object({
      period: z.enum(Object.keys(PERIODS) as [keyof typeof PERIODS, ...Array<keyof typeof PERIODS>]).optional(),
      metrics: commaList(4, z.enum(SECTIONS)),
      granularity: z
        .enum(['minute', 'hour', 'day'])
        .optional()
        .describe('Accepted; the answer has one figure per metric over the whole period'),
    }),
  },
  variables: ({ query }) => sinceMs(PERIODS[query.period ?? '24h']),
  respond: ({ metricsOverview: o }, { query }) => {
    const wanted = new Set(query.metrics && query.metrics.length > 0 ? query.metrics : SECTIONS);
    const sections = {
      performance: {
        response_time_p50: round(o.requests.p50Ms),
        response_time_p95: round(o.requests.p95Ms),
        response_time_p99: round(o.requests.p99Ms),
        requests_per_second: round(o.requests.perSecond),
        throughput_mbps: null,
      },
      system: {
        cpu_usage_percent: round(o.system.cpuPercent, 1),
        memory_usage_mb: round(o.system.memoryUsedBytes === null ? null : o.system.memoryUsedBytes / MIB, 1),
        memory_usage_percent: round(o.system.memoryPercent, 1),
        disk_usage_gb: round(o.system.diskUsedBytes === null ? null : o.system.diskUsedBytes / GIB, 2),
        disk_usage_percent: round(o.system.diskPercent, 1),
        network_io_mbps: null,
      },
      application: {
        active_users: null,
        concurrent_sessions: o.realtime.sessions,
        error_rate: round(o.requests.errorRate, 4),
        cache_hit_rate: round(o.cache.hitRate, 4),
      },
      business: { user_registrations: null, revenue_usd: null, api_calls: o.requests.total, storage_uploads_gb: null },
    };
    return {
      period: query.period ?? '24h',
      metrics: Object.fromEntries(
        SECTIONS.filter((s) => wanted.has(s)).map((s) => [s, sections[s] as Record<string, number | null>]),
      ),
    };
  },
  response: z.object({
    period: z.enum(Object.keys(PERIODS) as [keyof typeof PERIODS, ...Array<keyof typeof PERIODS>]),
    metrics: z
      .record(z.string(), z.record(z.string(), z.number().nullable()))
      .describe(
        'performance, system, application, business (those asked for). null: no source (throughput, network, ' +
          'active users, registrations, revenue, uploads) or no sample in the period',
      ),
  }),
});

const RESOLUTION_SECONDS = { '1m': 60, '5m': 300, '15m': 900, '1h': 3600, '1d': 86_400 } as const;

/** nexus-core GET /api/v1/metrics: four series. */
const nexusMetrics = defineRoute({
  dialect: 'nexus-core',
  method: 'GET',
  path: '/api/v1/metrics',
  summary: 'Requests per second, response time, memory and CPU as time series',
  operation: graphql(`
    query NexusMetrics($startTime: DateTime, $endTime: DateTime, $interval: String) {
      requests: metricSeries(
        names: ["http_requests"]
        startTime: $startTime
        endTime: $endTime
        aggregation: SUM
        interval: $interval
      ) {
        startTime
        endTime
        series {
          points {
            timestamp
            value
          }
        }
      }
      latency: metricSeries(
        names: ["http_request_duration_ms"]
        startTime: $startTime
        endTime: $endTime
        aggregation: AVG
        interval: $interval
      ) {
        series {
          points {
            timestamp
            value
          }
        }
      }
      memory: metricSeries(
        names: ["process_resident_memory_bytes"]
        startTime: $startTime
        endTime: $endTime
        aggregation: AVG
        interval: $interval
      ) {
        series {
          points {
            timestamp
            value
          }
        }
      }
      cpu: metricSeries(
        names: ["process_cpu_percent"]
        startTime: $startTime
        endTime: $endTime
        aggregation: AVG
        interval: $interval
      ) {
        series {
          points {
            timestamp
            value
          }
        }
      }
    }
  `),
  input: {
    query: z.object({
      start_time: z.iso.datetime({ offset: true }).optional(),
      end_time: z.iso.datetime({ offset: true }).optional(),
      resolution: z.enum(['1m', '5m', '15m', '1h', '1d']).optional(),
    }),
  },
  variables: ({ query }) => ({
    startTime: query.start_time ?? null,
    endTime: query.end_time ?? null,
    interval: query.resolution ?? '1m',
  }),
  respond: (data, { query }) => {
    const step = RESOLUTION_SECONDS[query.resolution ?? '1m'];
    const points = (r: { series: Array<{ points: Array<{ timestamp: string; value: number | null }> }> }, f = 1) =>
      (r.series[0]?.points ?? []).flatMap((p) =>
        p.value === null ? [] : [{ timestamp: p.timestamp, value: round(p.value / f, 2)! }],
      );
    return {
      time_range: { start: data.requests.startTime, end: data.requests.endTime },
      metrics: {
        requests_per_second: points(data.requests, step),
        response_time_ms: points(data.latency),
        memory_usage_mb: points(data.memory, MIB),
        cpu_usage_percent: points(data.cpu),
      },
    };
  },
  response: z.object({
    time_range: z.object({ start: isoTimestamp, end: isoTimestamp }),
    metrics: z.object({
      requests_per_second: z.array(z.object({ timestamp: isoTimestamp, value: z.number() })),
      response_time_ms: z.array(z.object({ timestamp: isoTimestamp, value: z.number() })),
      memory_usage_mb: z
        .array(z.object({ timestamp: isoTimestamp, value: z.number() }))
        .describe('Resident memory of the platform processes, averaged'),
      cpu_usage_percent: z
        .array(z.object({ timestamp: isoTimestamp, value: z.number() }))
        .describe('CPU of the platform processes, averaged'),
    }),
  }),
});

/** nexus-core GET /api/v1/metrics/summary: the last 24 hours. */
const nexusSummary = defineRoute({
  dialect: 'nexus-core',
  method: 'GET',
  path: '/api/v1/metrics/summary',
  summary: 'Requests, errors and resources over the last 24 hours',
  operation: OVERVIEW,
  variables: () => sinceMs(86_400_000),
  respond: ({ metricsOverview: o }) => ({
    requests: {
      total: o.requests.total,
      success_rate: round(o.requests.successRate, 4),
      avg_response_time_ms: round(o.requests.avgMs),
      p95_response_time_ms: round(o.requests.p95Ms),
      p99_response_time_ms: round(o.requests.p99Ms),
    },
    errors: {
      total: o.requests.errors,
      rate: round(o.requests.errorRate, 4),
      by_status: Object.fromEntries(
        Object.entries(o.requests.byStatus as Record<string, number>).filter(([status]) => Number(status) >= 400),
      ),
    },
    resources: {
      avg_cpu_percent: round(o.system.processCpuPercent, 1),
      avg_memory_mb: round(o.system.processMemoryAvgBytes === null ? null : o.system.processMemoryAvgBytes / MIB, 1),
      peak_memory_mb: round(o.system.processMemoryPeakBytes === null ? null : o.system.processMemoryPeakBytes / MIB, 1),
      disk_usage_gb: round(o.system.diskUsedBytes === null ? null : o.system.diskUsedBytes / GIB, 2),
    },
  }),
  response: z.object({
    requests: z.object({
      total: z.number(),
      success_rate: z.number().nullable(),
      avg_response_time_ms: z.number().nullable(),
      p95_response_time_ms: z.number().nullable(),
      p99_response_time_ms: z.number().nullable(),
    }),
    errors: z.object({
      total: z.number(),
      rate: z.number().nullable(),
      by_status: z.record(z.string(), z.number()),
    }),
    resources: z.object({
      avg_cpu_percent: z.number().nullable(),
      avg_memory_mb: z.number().nullable(),
      peak_memory_mb: z.number().nullable(),
      disk_usage_gb: z.number().nullable(),
    }),
  }),
});

/**
 * cloudpioneer GET /kafka/metrics: the platform has no Kafka. This reports the platform's own
 * event bus (kv pub/sub on Redis or in memory) in the documented shape; broker, controller and
 * partition figures have no counterpart and are null.
 */
const busMetrics = defineRoute({
  dialect: 'cloudpioneer',
  method: 'GET',
  path: '/kafka/metrics',
  summary: "The platform's event bus (not Kafka): messages and bytes per second, consumer lag per group",
  operation: graphql(`
    query EventBusMetrics {
      eventBusMetrics(windowSeconds: 60) {
        backend
        windowSeconds
        messagesInPerSec
        messagesOutPerSec
        bytesInPerSec
        bytesOutPerSec
        topics {
          topic
          messagesInPerSec
          messagesOutPerSec
          subscribers
          consumerLag
          dropped
        }
      }
    }
  `),
  respond: ({ eventBusMetrics: b }) => ({
    broker_id: null,
    bus: `platform event bus (${b.backend === 'redis' ? 'Redis pub/sub' : 'in-memory pub/sub'}), not Kafka`,
    window_seconds: b.windowSeconds,
    metrics: {
      messages_in_per_sec: round(b.messagesInPerSec),
      messages_out_per_sec: round(b.messagesOutPerSec),
      bytes_in_per_sec: round(b.bytesInPerSec),
      bytes_out_per_sec: round(b.bytesOutPerSec),
      active_controller_count: null,
      offline_partitions_count: null,
      under_replicated_partitions: null,
    },
    consumer_groups: b.topics.map((t) => ({
      group: t.topic,
      subscribers: t.subscribers,
      lag: t.consumerLag,
      dropped: t.dropped,
      messages_in_per_sec: round(t.messagesInPerSec),
      messages_out_per_sec: round(t.messagesOutPerSec),
    })),
  }),
  response: z.object({
    broker_id: z.null().describe('No Kafka broker: null'),
    bus: z.string().describe('What is reported: the platform event bus'),
    window_seconds: z.number().int(),
    metrics: z.object({
      messages_in_per_sec: z.number().nullable(),
      messages_out_per_sec: z.number().nullable(),
      bytes_in_per_sec: z.number().nullable(),
      bytes_out_per_sec: z.number().nullable(),
      active_controller_count: z.null(),
      offline_partitions_count: z.null(),
      under_replicated_partitions: z.null(),
    }),
    consumer_groups: z.array(
      z.object({
        group: z.string().describe('A topic: its subscribers are one group'),
        subscribers: z.number().nullable(),
        lag: z.number().nullable().describe('Events queued for subscribers, not yet taken'),
        dropped: z.number().nullable(),
        messages_in_per_sec: z.number().nullable(),
        messages_out_per_sec: z.number().nullable(),
      }),
    ),
  }),
});

export const telemetryMetricRoutes: readonly RestRoute[] = [
  telemetryMetrics,
  performanceMetrics,
  corePlatformMetrics,
  nexusMetrics,
  nexusSummary,
  busMetrics,
];
