import { addHealthTypes } from '../../../lib/subgraph/health.js';
import { requireScope } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import {
  checkHealth,
  checkLiveness,
  type CacheHealth,
  type DatabaseHealth,
  type HealthReport,
  type JobsHealth,
  type StorageHealth,
  type Liveness,
} from '../services/check-health.js';

const { HealthStatusEnum, SubgraphHealthRef } = addHealthTypes(builder, 'platform');

const PoolStatsRef = builder
  .objectRef<NonNullable<DatabaseHealth['connections']>>('PoolStats')
  .implement({
    fields: (t) => ({
      active: t.exposeInt('active'),
      idle: t.exposeInt('idle'),
      waiting: t.exposeInt('waiting'),
      max: t.exposeInt('max'),
    }),
  });

const DatabaseHealthRef = builder.objectRef<DatabaseHealth>('DatabaseHealth').implement({
  fields: (t) => ({
    status: t.field({ type: HealthStatusEnum, resolve: (c) => c.status }),
    responseTimeMs: t.exposeFloat('responseTimeMs', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    driver: t.exposeString('driver'),
    connections: t.field({
      type: PoolStatsRef,
      nullable: true,
      description:
        'Pool figures from the driver; on the embedded PGlite its one in-process session (max 1). Null when unreadable.',
      resolve: (c) => c.connections,
    }),
  }),
});

const CacheHealthRef = builder.objectRef<CacheHealth>('CacheHealth').implement({
  fields: (t) => ({
    status: t.field({ type: HealthStatusEnum, resolve: (c) => c.status }),
    responseTimeMs: t.exposeFloat('responseTimeMs', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    kind: t.exposeString('kind'),
    hitRate: t.exposeFloat('hitRate', { nullable: true, description: 'Null until the cache has served a lookup.' }),
    memoryUsageBytes: t.exposeFloat('memoryUsageBytes', { nullable: true }),
    keys: t.exposeInt('keys', { nullable: true }),
  }),
});

const JobsHealthRef = builder.objectRef<JobsHealth>('JobsHealth').implement({
  fields: (t) => ({
    status: t.field({ type: HealthStatusEnum, resolve: (c) => c.status }),
    responseTimeMs: t.exposeFloat('responseTimeMs', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    kind: t.exposeString('kind'),
    waiting: t.exposeInt('waiting', { nullable: true }),
    active: t.exposeInt('active', { nullable: true }),
    delayed: t.exposeInt('delayed', { nullable: true }),
    failed: t.exposeInt('failed', { nullable: true }),
    finishedTotal: t.exposeFloat('finishedTotal', {
      nullable: true,
      description: 'Jobs finished (completed or failed) in total: BullMQ metrics in Redis, or since start in memory',
    }),
  }),
});

const StorageHealthRef = builder.objectRef<StorageHealth>('StorageHealth').implement({
  fields: (t) => ({
    status: t.field({ type: HealthStatusEnum, resolve: (c) => c.status }),
    responseTimeMs: t.exposeFloat('responseTimeMs', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    backend: t.exposeString('backend'),
    totalFiles: t.exposeInt('totalFiles', { nullable: true }),
    availableSpaceBytes: t.exposeFloat('availableSpaceBytes', {
      nullable: true,
      description: "Free space of the local store's volume; null on S3.",
    }),
  }),
});

export const HealthReportRef = builder.objectRef<HealthReport>('HealthReport').implement({
  description: 'Component health. Each other subgraph adds a field named after itself with its own probe.',
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.field({
      type: HealthStatusEnum,
      description: "The platform subgraph's own components; subgraph probes are separate fields.",
      resolve: (r) => r.status,
    }),
    timestamp: t.field({ type: 'DateTime', resolve: (r) => r.timestamp }),
    uptimeSeconds: t.exposeInt('uptimeSeconds'),
    version: t.exposeString('version'),
    environment: t.exposeString('environment'),
    database: t.field({ type: DatabaseHealthRef, resolve: (r) => r.database }),
    cache: t.field({ type: CacheHealthRef, resolve: (r) => r.cache }),
    jobs: t.field({ type: JobsHealthRef, resolve: (r) => r.jobs }),
    storage: t.field({ type: StorageHealthRef, resolve: (r) => r.storage }),
    platform: t.field({ type: SubgraphHealthRef, resolve: (r) => r.platform }),
  }),
});

builder.asEntity(HealthReportRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (_ref, ctx) => {
    requireScope(ctx.principal, 'read:system');
    return checkHealth({ deps: ctx.deps });
  },
});

const LivenessRef = builder.objectRef<Liveness>('Liveness').implement({
  fields: (t) => ({
    status: t.field({ type: HealthStatusEnum, resolve: (l) => l.status }),
    timestamp: t.field({ type: 'DateTime', resolve: (l) => l.timestamp }),
    uptimeSeconds: t.exposeInt('uptimeSeconds'),
    version: t.exposeString('version'),
  }),
});

builder.queryFields((t) => ({
  liveness: t.field({
    type: LivenessRef,
    // Nullable so that a gateway that cannot reach the platform subgraph still answers, with
    // null and an error, and health routes can say "unhealthy" instead of failing.
    nullable: true,
    description: 'Public: for load balancers. Reflects the database check only; null when the platform cannot be reached.',
    resolve: (_root, _args, ctx) => checkLiveness({ deps: ctx.deps }),
  }),
  health: t.field({
    type: HealthReportRef,
    description: 'Detailed component health. Requires read:system.',
    resolve: (_root, _args, ctx) => {
      requireScope(ctx.principal, 'read:system');
      return checkHealth({ deps: ctx.deps });
    },
  }),
}));
