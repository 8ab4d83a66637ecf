import { z } from 'zod';
import {
  livenessLevel,
  assessHealth,
  bytesToMegabytes,
  healthLevelSchema,
  HEALTH_OPERATION,
  LIVENESS_OPERATION,
  statusForHealth,
  toHealthLevel,
  type GraphQLHealthStatus,
  type HealthReportData,
} from '../health.js';
import { defineRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

const liveness = defineRoute({
  dialect: 'nexus-core',
  method: 'GET',
  path: '/api/v1/health',
  summary: 'Health check for load balancers',
  operation: LIVENESS_OPERATION,
  // Documented without the `{success, data}` envelope.
  envelope: false,
  // Degraded still serves traffic, so a load balancer should keep sending it.
  allowPartial: true,
  respond: (data) => ({
    status: livenessLevel(data) === 'unhealthy' ? ('error' as const) : ('ok' as const),
    timestamp: data.liveness?.timestamp ?? new Date().toISOString(),
  }),
  statusFrom: (payload) => (payload.status === 'error' ? 503 : 200),
  response: z.object({ status: z.enum(['ok', 'error']), timestamp: isoTimestamp }),
});

function sumOrNull(...counts: (number | null)[]): number | null {
  return counts.some((count) => count === null) ? null : counts.reduce<number>((sum, count) => sum + count!, 0);
}

const status = defineRoute({
  dialect: 'nexus-core',
  method: 'GET',
  path: '/api/v1/status',
  summary: 'System status and component health',
  operation: HEALTH_OPERATION,
  allowPartial: true,
  // `event_bus.processed_events`: jobs finished in total (BullMQ's metrics counters). `plugins` are the marketplace extensions installed for tenants; `failed` is null because
  // the platform loads no extension code itself, so none can fail to load.
  // Always 200, like core-platform's /api/status: this is the informational view; the probes are
  // /api/v1/health and /api/v1/components/health.
  respond: ({ health: report }) => {
    const { database, cache, jobs, storage } = report;
    const memoryMb = bytesToMegabytes(cache.memoryUsageBytes);
    return {
      status: assessHealth(report).overall,
      version: report.version,
      environment: report.environment,
      uptime: report.uptimeSeconds,
      components: {
        database: {
          status: toHealthLevel(database.status),
          response_time_ms: database.responseTimeMs,
          // `total` as the driver counts it: connections open now (busy + idle), not the pool's max.
          connection_pool: database.connections && {
            active: database.connections.active,
            idle: database.connections.idle,
            total: database.connections.active + database.connections.idle,
          },
        },
        // The job queue is this platform's event bus: jobs not yet finished are its queue.
        event_bus: {
          status: toHealthLevel(jobs.status),
          queue_size: sumOrNull(jobs.waiting, jobs.active, jobs.delayed),
          processed_events: jobs.finishedTotal,
        },
        plugins: {
          status: report.plugins ? 'healthy' : 'unhealthy',
          loaded: report.plugins?.installed ?? null,
          active: report.plugins?.active ?? null,
          failed: null,
          extensions: (report.plugins?.extensions ?? []).map((e) => ({
            extension_id: e.extensionId,
            name: e.name,
            version: e.version,
            installs: e.installs,
          })),
        },
        cache: {
          status: toHealthLevel(cache.status),
          hit_rate: cache.hitRate,
          memory_usage: memoryMb === null ? null : `${memoryMb}MB`,
        },
        storage: {
          status: toHealthLevel(storage.status),
          response_time_ms: storage.responseTimeMs,
          backend: storage.backend,
          total_files: storage.totalFiles,
          available_space_gb:
            storage.availableSpaceBytes === null
              ? null
              : Math.round((storage.availableSpaceBytes / 1024 ** 3) * 100) / 100,
        },
      },
    };
  },
  response: z.object({
    status: healthLevelSchema,
    version: z.string(),
    environment: z.string(),
    uptime: z.number().int().describe('Seconds'),
    components: z.object({
      database: z.object({
        status: healthLevelSchema,
        response_time_ms: z.number().nullable(),
        connection_pool: z
          .object({ active: z.number().int(), idle: z.number().int(), total: z.number().int() })
          .nullable()
          .describe('The driver pool; on the embedded database its one in-process connection (total 1)'),
      }),
      event_bus: z.object({
        status: healthLevelSchema,
        queue_size: z
          .number()
          .int()
          .nullable()
          .describe('Waiting + active + delayed jobs; null when the queue is unreadable'),
        processed_events: z
          .number()
          .int()
          .nullable()
          .describe('Jobs finished (completed or failed) in total; null when the queue is unreadable'),
      }),
      plugins: z.object({
        status: z.enum(['healthy', 'unhealthy']).describe('unhealthy: the installs could not be read'),
        loaded: z.number().int().nullable().describe('Extension installs across tenants; null when unreadable'),
        active: z.number().int().nullable(),
        failed: z.null().describe('Always null: the platform loads no extension code, so none can fail to load'),
        extensions: z.array(
          z.object({ extension_id: z.string(), name: z.string(), version: z.string(), installs: z.number().int() }),
        ),
      }),
      cache: z.object({
        status: healthLevelSchema,
        hit_rate: z.number().nullable().describe('Null before the cache has served a lookup'),
        memory_usage: z.string().nullable().describe('e.g. "245MB"'),
      }),
      storage: z.object({
        status: healthLevelSchema,
        response_time_ms: z.number().nullable(),
        backend: z.string(),
        total_files: z.number().int().nullable(),
        available_space_gb: z.number().nullable().describe("Free space of the local store's volume; null on S3"),
      }),
    }),
  }),
});

type CheckStatus = 'pass' | 'warn' | 'fail';

const CHECK_STATUS: Record<GraphQLHealthStatus, CheckStatus> = { HEALTHY: 'pass', DEGRADED: 'warn', UNHEALTHY: 'fail' };

interface Check {
  name: string;
  status: CheckStatus;
  response_time_ms?: number | null;
  error?: string;
  [figure: string]: unknown;
}

function createCheck(
  name: string,
  part: Pick<HealthReportData['database'], 'status' | 'responseTimeMs' | 'error'>,
  figures = {},
): Check {
  return {
    name,
    status: CHECK_STATUS[part.status],
    response_time_ms: part.responseTimeMs,
    ...figures,
    ...(part.error === null ? {} : { error: part.error }),
  };
}

function listComponents(report: HealthReportData) {
  const { components, subgraphs } = assessHealth(report);
  const statusOf = (name: string) => components.find((c) => c.name === name)!.status;
  const { database, cache, jobs } = report;
  const pool = database.connections;
  return [
    {
      name: 'database',
      status: statusOf('database'),
      checks: [
        createCheck('connection', database),
        // Callers queueing for a connection means the pool is saturated.
        ...(pool
          ? [{ name: 'connection_pool', status: pool.waiting > 0 ? 'warn' : 'pass', ...pool } satisfies Check]
          : []),
      ],
    },
    { name: 'cache', status: statusOf('cache'), checks: [createCheck('connectivity', cache)] },
    {
      name: 'jobs',
      status: statusOf('jobs'),
      checks: [
        createCheck('queue', jobs, {
          waiting: jobs.waiting,
          active: jobs.active,
          delayed: jobs.delayed,
          failed: jobs.failed,
        }),
      ],
    },
    ...Object.entries(subgraphs).map(([name, probe]) => ({
      name,
      status: statusOf(name),
      checks: probe
        ? [{ name: 'reachable', status: 'pass' } satisfies Check, createCheck('database', probe.database)]
        : [{ name: 'reachable', status: 'fail' } satisfies Check],
    })),
  ];
}

const checkSchema = z
  .object({
    name: z.string(),
    status: z.enum(['pass', 'warn', 'fail']),
    response_time_ms: z.number().nullable().optional(),
    error: z.string().optional(),
  })
  .catchall(z.unknown())
  .describe('Figures beside name and status depend on the check');

const componentsHealth = defineRoute({
  dialect: 'nexus-core',
  method: 'GET',
  path: '/api/v1/components/health',
  summary: 'Health of every component: platform database, cache, jobs and each subgraph',
  operation: HEALTH_OPERATION,
  allowPartial: true,
  respond: ({ health: report }) => ({
    overall_status: assessHealth(report).overall,
    components: listComponents(report),
  }),
  statusFrom: (payload) => statusForHealth(payload.overall_status),
  response: z.object({
    overall_status: healthLevelSchema,
    components: z.array(z.object({ name: z.string(), status: healthLevelSchema, checks: z.array(checkSchema) })),
  }),
});

export const nexusCoreRoutes = [liveness, status, componentsHealth];
