import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { cloudResourceMetrics, listCloudResources, type CloudResource, type MetricSeries } from '../services/resources.js';

const ResourceMetricsRef = builder.objectRef<CloudResource['metrics']>('CloudResourceFigures').implement({
  description: 'The latest figures; null where the resource has no source for one.',
  fields: (t) => ({
    cpuUsage: t.float({ nullable: true, resolve: (m) => m.cpu_usage ?? null }),
    memoryUsage: t.float({ nullable: true, resolve: (m) => m.memory_usage ?? null }),
    diskUsage: t.float({ nullable: true, resolve: (m) => m.disk_usage ?? null }),
    storageBytes: t.float({ nullable: true, resolve: (m) => m.storage_bytes ?? null }),
    requests: t.float({ nullable: true, description: 'Services: requests handled', resolve: (m) => m.requests ?? null }),
    responseTimeMs: t.float({
      nullable: true,
      description: 'Services: mean handling time',
      resolve: (m) => m.response_time_ms ?? null,
    }),
    errorRate: t.float({ nullable: true, description: 'Services: failed share', resolve: (m) => m.error_rate ?? null }),
  }),
});

const CloudResourceRef = builder.objectRef<CloudResource>('CloudResource').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId', { nullable: true, description: 'null: a platform service' }),
    name: t.exposeString('name'),
    type: t.exposeString('type', { description: 'device | storage | database | service' }),
    status: t.exposeString('status'),
    metrics: t.field({ type: ResourceMetricsRef, resolve: (r) => r.metrics }),
    tags: t.field({ type: 'JSON', resolve: (r) => r.tags }),
    createdAt: t.field({ type: 'DateTime', resolve: (r) => r.createdAt }),
    lastSeenAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.lastSeenAt }),
  }),
});

const CloudResourcePageRef = builder
  .objectRef<{ items: CloudResource[]; total: number; page: number; perPage: number }>('CloudResourcePage')
  .implement({
    fields: (t) => ({
      items: t.field({ type: [CloudResourceRef], resolve: (p) => p.items }),
      total: t.exposeInt('total'),
      page: t.exposeInt('page'),
      perPage: t.exposeInt('perPage'),
    }),
  });

const PointRef = builder.objectRef<{ timestamp: Date; value: number }>('MetricPoint').implement({
  fields: (t) => ({
    timestamp: t.field({ type: 'DateTime', resolve: (p) => p.timestamp }),
    value: t.exposeFloat('value'),
  }),
});

const SeriesRef = builder.objectRef<MetricSeries>('MetricSeries').implement({
  fields: (t) => ({
    metric: t.exposeString('metric'),
    points: t.field({
      type: [PointRef],
      nullable: true,
      description: 'null: no source for this metric on this resource',
      resolve: (s) => s.points,
    }),
  }),
});

const ResourceMetricsResultRef = builder
  .objectRef<{ resourceId: string; interval: string; series: MetricSeries[] }>('CloudResourceMetrics')
  .implement({
    fields: (t) => ({
      resourceId: t.exposeID('resourceId'),
      interval: t.exposeString('interval'),
      series: t.field({ type: [SeriesRef], resolve: (r) => r.series }),
    }),
  });

builder.queryFields((t) => ({
  cloudResources: t.field({
    type: CloudResourcePageRef,
    description:
      "Requires read:edge. Devices, edge object storage, tenants' databases and (callers bound to no tenant) " +
      'platform services, paged, sorted and filtered.',
    args: {
      tenantId: t.arg.id(),
      page: t.arg.int(),
      perPage: t.arg.int(),
      sort: t.arg.string(),
      order: t.arg.string(),
      filter: t.arg.string(),
    },
    resolve: (_root, args, ctx) =>
      listCloudResources({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: {
          ...args,
          tenantId: args.tenantId === null || args.tenantId === undefined ? null : String(args.tenantId),
          sort: args.sort as never,
          order: args.order as never,
        },
      }),
  }),
  cloudResourceMetrics: t.field({
    type: ResourceMetricsResultRef,
    description: 'Requires read:edge. A time series per metric, from recorded figures only.',
    args: {
      resourceId: t.arg.id({ required: true }),
      startTime: t.arg({ type: 'DateTime' }),
      endTime: t.arg({ type: 'DateTime' }),
      interval: t.arg.string(),
      metrics: t.arg.stringList(),
    },
    resolve: (_root, args, ctx) =>
      cloudResourceMetrics({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: { ...args, resourceId: String(args.resourceId), metrics: args.metrics as never },
      }),
  }),
}));
