import { mapIterator } from '../../../lib/realtime/bounded-queue.js';
import { requirePrincipal } from '../../../lib/principal.js';
import type { MetricSample } from '../../../lib/runtime/metric-recorder.js';
import { builder } from '../builder.js';
import {
  eventBusFigures,
  metricsOverview,
  type EventBusFigures,
  type EventBusTopicFigures,
  type MetricsOverview,
} from '../services/metric-overview.js';
import {
  AGGREGATIONS,
  listMetricNames,
  queryMetrics,
  selectSamples,
  subscribeMetrics,
  type MetricPoint,
  type MetricQueryResult,
  type MetricSeriesResult,
  type MetricsEvent,
} from '../services/metric-store.js';

const optionalId = (value: string | number | null | undefined) =>
  value === null || value === undefined ? null : String(value);

const AggregationEnum = builder.enumType('MetricAggregation', {
  values: Object.fromEntries(AGGREGATIONS.map((a) => [a.toUpperCase(), { value: a }])) as Record<
    Uppercase<(typeof AGGREGATIONS)[number]>,
    { value: (typeof AGGREGATIONS)[number] }
  >,
});

const PointRef = builder.objectRef<MetricPoint>('TelemetryMetricPoint').implement({
  fields: (t) => ({
    timestamp: t.field({ type: 'DateTime', description: 'Start of the interval', resolve: (p) => p.timestamp }),
    value: t.float({ nullable: true, resolve: (p) => p.value }),
  }),
});

const SeriesRef = builder.objectRef<MetricSeriesResult>('TelemetryMetricSeries').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    labels: t.field({ type: 'JSON', description: 'The group-by labels of this series', resolve: (s) => s.labels }),
    points: t.field({ type: [PointRef], resolve: (s) => s.points }),
  }),
});

const QueryResultRef = builder.objectRef<MetricQueryResult>('TelemetryMetricQuery').implement({
  fields: (t) => ({
    startTime: t.field({ type: 'DateTime', resolve: (r) => r.startTime }),
    endTime: t.field({ type: 'DateTime', resolve: (r) => r.endTime }),
    aggregation: t.field({ type: AggregationEnum, resolve: (r) => r.aggregation }),
    interval: t.string({ nullable: true, description: 'null: one point for the whole range', resolve: (r) => r.interval }),
    series: t.field({ type: [SeriesRef], resolve: (r) => r.series }),
  }),
});

builder.queryField('metricSeries', (t) =>
  t.field({
    type: QueryResultRef,
    description:
      'Stored metric samples aggregated per interval (1m, 5m, 15m, 1h, 1d; none: the whole range) and per ' +
      'group-by label (or instance, tenant_id). Range at most 31 days (default the last hour), 2,000 points a ' +
      "series. A caller bound to a tenant (read:telemetry) reads only its tenant's figures; platform figures " +
      'need read:metrics.',
    args: {
      names: t.arg.stringList({ required: true }),
      startTime: t.arg({ type: 'DateTime' }),
      endTime: t.arg({ type: 'DateTime' }),
      aggregation: t.arg({ type: AggregationEnum }),
      groupBy: t.arg.stringList(),
      interval: t.arg.string(),
      labels: t.arg({ type: 'JSON', description: 'Only samples with these label values' }),
      tenantId: t.arg.id(),
    },
    resolve: (_root, args, ctx) =>
      queryMetrics({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: {
          names: args.names,
          startTime: args.startTime,
          endTime: args.endTime,
          aggregation: args.aggregation,
          groupBy: args.groupBy,
          interval: args.interval as never,
          labels: args.labels as Record<string, string> | null | undefined,
          tenantId: optionalId(args.tenantId),
        },
      }),
  }),
);

const MetricNameRef = builder.objectRef<{ name: string; kind: string }>('TelemetryMetricName').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    kind: t.exposeString('kind', { description: 'gauge | counter | histogram' }),
  }),
});

builder.queryField('metricNames', (t) =>
  t.field({
    type: [MetricNameRef],
    description: 'Metrics with samples in the last 24 hours that the caller may read.',
    args: { tenantId: t.arg.id() },
    resolve: (_root, args, ctx) =>
      listMetricNames({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), tenantId: optionalId(args.tenantId) }),
  }),
);

const RequestFiguresRef = builder.objectRef<MetricsOverview['requests']>('MetricsRequestFigures').implement({
  fields: (t) => ({
    total: t.exposeFloat('total'),
    errors: t.exposeFloat('errors', { description: 'Status 400 and above' }),
    successRate: t.exposeFloat('successRate', { nullable: true }),
    errorRate: t.exposeFloat('errorRate', { nullable: true }),
    perSecond: t.exposeFloat('perSecond'),
    avgMs: t.exposeFloat('avgMs', { nullable: true }),
    p50Ms: t.exposeFloat('p50Ms', { nullable: true }),
    p95Ms: t.exposeFloat('p95Ms', { nullable: true }),
    p99Ms: t.exposeFloat('p99Ms', { nullable: true }),
    byStatus: t.field({ type: 'JSON', resolve: (r) => r.byStatus }),
  }),
});

const SystemFiguresRef = builder.objectRef<MetricsOverview['system']>('MetricsSystemFigures').implement({
  fields: (t) => ({
    cpuPercent: t.exposeFloat('cpuPercent', { nullable: true }),
    processCpuPercent: t.exposeFloat('processCpuPercent', { nullable: true }),
    memoryUsedBytes: t.exposeFloat('memoryUsedBytes', { nullable: true }),
    memoryPercent: t.exposeFloat('memoryPercent', { nullable: true }),
    processMemoryAvgBytes: t.exposeFloat('processMemoryAvgBytes', { nullable: true }),
    processMemoryPeakBytes: t.exposeFloat('processMemoryPeakBytes', { nullable: true }),
    diskUsedBytes: t.exposeFloat('diskUsedBytes', { nullable: true }),
    diskPercent: t.exposeFloat('diskPercent', { nullable: true }),
  }),
});

const DatabaseFiguresRef = builder.objectRef<MetricsOverview['database']>('MetricsDatabaseFigures').implement({
  fields: (t) => ({
    activeConnections: t.exposeFloat('activeConnections', { nullable: true }),
    maxConnections: t.exposeFloat('maxConnections', { nullable: true }),
    pingAvgMs: t.exposeFloat('pingAvgMs', { nullable: true }),
  }),
});

const CacheFiguresRef = builder.objectRef<MetricsOverview['cache']>('MetricsCacheFigures').implement({
  fields: (t) => ({
    hits: t.exposeFloat('hits', { nullable: true }),
    misses: t.exposeFloat('misses', { nullable: true }),
    hitRate: t.exposeFloat('hitRate', { nullable: true }),
  }),
});

const RealtimeFiguresRef = builder.objectRef<MetricsOverview['realtime']>('MetricsRealtimeFigures').implement({
  fields: (t) => ({
    sessions: t.exposeFloat('sessions', { nullable: true }),
    subscriptions: t.exposeFloat('subscriptions', { nullable: true }),
  }),
});

const OverviewRef = builder.objectRef<MetricsOverview>('MetricsOverview').implement({
  description: 'Aggregations of stored samples over the range; null where no sample exists or the caller may not read it.',
  fields: (t) => ({
    startTime: t.field({ type: 'DateTime', resolve: (o) => o.startTime }),
    endTime: t.field({ type: 'DateTime', resolve: (o) => o.endTime }),
    requests: t.field({ type: RequestFiguresRef, resolve: (o) => o.requests }),
    system: t.field({ type: SystemFiguresRef, resolve: (o) => o.system }),
    database: t.field({ type: DatabaseFiguresRef, resolve: (o) => o.database }),
    cache: t.field({ type: CacheFiguresRef, resolve: (o) => o.cache }),
    realtime: t.field({ type: RealtimeFiguresRef, resolve: (o) => o.realtime }),
  }),
});

builder.queryField('metricsOverview', (t) =>
  t.field({
    type: OverviewRef,
    description: 'Requests, system, database, cache and realtime figures over a range (default the last hour).',
    args: { startTime: t.arg({ type: 'DateTime' }), endTime: t.arg({ type: 'DateTime' }), tenantId: t.arg.id() },
    resolve: (_root, args, ctx) =>
      metricsOverview({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: { startTime: args.startTime, endTime: args.endTime, tenantId: optionalId(args.tenantId) },
      }),
  }),
);

const TopicFiguresRef = builder.objectRef<EventBusTopicFigures>('EventBusTopicFigures').implement({
  fields: (t) => ({
    topic: t.exposeString('topic', { description: 'The subscriber group: every subscriber of the topic' }),
    messagesInPerSec: t.exposeFloat('messagesInPerSec', { nullable: true }),
    messagesOutPerSec: t.exposeFloat('messagesOutPerSec', { nullable: true }),
    bytesInPerSec: t.exposeFloat('bytesInPerSec', { nullable: true }),
    bytesOutPerSec: t.exposeFloat('bytesOutPerSec', { nullable: true }),
    subscribers: t.exposeFloat('subscribers', { nullable: true }),
    consumerLag: t.exposeFloat('consumerLag', {
      nullable: true,
      description: 'Events queued for subscribers, not yet taken',
    }),
    dropped: t.exposeFloat('dropped', { nullable: true, description: 'Events dropped for full subscriber queues' }),
  }),
});

const EventBusRef = builder.objectRef<EventBusFigures>('EventBusFigures').implement({
  description: "The platform's own event bus (kv pub/sub on Redis, or in memory): not Kafka.",
  fields: (t) => ({
    backend: t.exposeString('backend', { description: 'redis | memory' }),
    windowSeconds: t.exposeInt('windowSeconds'),
    messagesInPerSec: t.exposeFloat('messagesInPerSec', { nullable: true }),
    messagesOutPerSec: t.exposeFloat('messagesOutPerSec', { nullable: true }),
    bytesInPerSec: t.exposeFloat('bytesInPerSec', { nullable: true }),
    bytesOutPerSec: t.exposeFloat('bytesOutPerSec', { nullable: true }),
    topics: t.field({ type: [TopicFiguresRef], resolve: (f) => f.topics }),
  }),
});

builder.queryField('eventBusMetrics', (t) =>
  t.field({
    type: EventBusRef,
    description: "Rates and consumer lag of the platform's event bus over the last window (10–3600 s, default 60).",
    args: { windowSeconds: t.arg.int({ defaultValue: 60 }) },
    resolve: (_root, args, ctx) =>
      eventBusFigures({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        windowSeconds: args.windowSeconds ?? 60,
      }),
  }),
);

const SampleRef = builder.objectRef<MetricSample>('TelemetryMetricSample').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    kind: t.exposeString('kind'),
    tenantId: t.exposeID('tenantId', { nullable: true }),
    labels: t.field({ type: 'JSON', resolve: (s) => s.labels }),
    value: t.exposeFloat('value'),
    count: t.exposeFloat('count'),
    min: t.exposeFloat('min', { nullable: true }),
    max: t.exposeFloat('max', { nullable: true }),
  }),
});

const SampleBatchRef = builder.objectRef<MetricsEvent>('TelemetryMetricSampleBatch').implement({
  fields: (t) => ({
    instance: t.exposeString('instance', { description: 'The process that measured them' }),
    recordedAt: t.field({ type: 'DateTime', resolve: (e) => new Date(e.recordedAt) }),
    windowSeconds: t.exposeFloat('windowSeconds'),
    samples: t.field({ type: [SampleRef], resolve: (e) => e.samples }),
  }),
});

builder.subscriptionField('metrics', (t) =>
  t.field({
    type: SampleBatchRef,
    description:
      "Each process's samples of the named metrics as its sampler writes them (every METRICS_SAMPLE_INTERVAL_MS). " +
      "A caller bound to a tenant (read:telemetry) receives its tenant's figures; platform figures need read:metrics.",
    args: { names: t.arg.stringList({ required: true }), tenantId: t.arg.id() },
    subscribe: async (_root, args, ctx) =>
      mapIterator(
        await subscribeMetrics({
          deps: ctx.deps,
          principal: requirePrincipal(ctx.principal),
          names: args.names,
          tenantId: optionalId(args.tenantId),
        }),
        (envelope) => selectSamples(envelope.data, args.names),
      ),
    resolve: (event) => event,
  }),
);
