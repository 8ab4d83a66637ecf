import { z } from 'zod';
import {
  livenessLevel,
  assessHealth,
  bytesToMegabytes,
  DETAILED_HEALTH_OPERATION,
  healthLevelSchema,
  LIVENESS_OPERATION,
  statusForHealth,
  SYSTEM_STATUS_OPERATION,
  toHealthLevel,
  type HealthReportData,
  type SystemStatusData,
} from '../health.js';
import { defineRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

/** A component's error text is shown only when there is one, so healthy answers match the doc. */
function withError<T extends object>(fields: T, error: string | null): T & { error?: string } {
  return error === null ? fields : { ...fields, error };
}

const health = defineRoute({
  dialect: 'core-platform',
  method: 'GET',
  path: '/api/health',
  summary: 'Basic health check',
  operation: LIVENESS_OPERATION,
  allowPartial: true,
  respond: (data) => ({
    health: livenessLevel(data),
    timestamp: data.liveness?.timestamp ?? new Date().toISOString(),
    // Unknown, not zero, when the platform subgraph cannot be reached.
    uptime_seconds: data.liveness?.uptimeSeconds ?? null,
    version: data.liveness?.version ?? null,
  }),
  // The envelope still says "success" (the check ran and reports); the status code is what
  // load balancers read.
  statusFrom: (payload) => statusForHealth(payload.health),
  response: z.object({
    health: healthLevelSchema,
    timestamp: isoTimestamp,
    uptime_seconds: z.number().int().nullable(),
    version: z.string().nullable(),
  }),
});

const componentError = { error: z.string().optional() };

function describeComponents(report: HealthReportData) {
  const { subgraphs } = assessHealth(report);
  const { database, cache, jobs, storage } = report;
  return {
    database: withError(
      {
        status: toHealthLevel(database.status),
        response_time_ms: database.responseTimeMs,
        connections: database.connections && {
          active: database.connections.active,
          idle: database.connections.idle,
          max: database.connections.max,
        },
      },
      database.error,
    ),
    cache: withError(
      {
        status: toHealthLevel(cache.status),
        response_time_ms: cache.responseTimeMs,
        hit_rate: cache.hitRate,
        memory_usage_mb: bytesToMegabytes(cache.memoryUsageBytes),
      },
      cache.error,
    ),
    jobs: withError(
      {
        status: toHealthLevel(jobs.status),
        response_time_ms: jobs.responseTimeMs,
        waiting: jobs.waiting,
        active: jobs.active,
        delayed: jobs.delayed,
        failed: jobs.failed,
      },
      jobs.error,
    ),
    storage: withError(
      {
        status: toHealthLevel(storage.status),
        response_time_ms: storage.responseTimeMs,
        available_space_gb:
          storage.availableSpaceBytes === null
            ? null
            : Math.round((storage.availableSpaceBytes / 1024 ** 3) * 100) / 100,
        total_files: storage.totalFiles,
        backend: storage.backend,
      },
      storage.error,
    ),
    // A subgraph's probe times its own database round trip: the only timing it reports.
    subgraphs: Object.fromEntries(
      Object.entries(subgraphs).map(([name, probe]) => [
        name,
        probe
          ? { status: toHealthLevel(probe.status), response_time_ms: probe.database.responseTimeMs }
          : { status: 'unhealthy' as const, response_time_ms: null },
      ]),
    ),
  };
}

const nullableCount = z.number().int().nullable();

/** The window of the detailed health check's request rates. */
const METRICS_WINDOW_MS = 5 * 60_000;

const detailedHealth = defineRoute({
  dialect: 'core-platform',
  method: 'GET',
  path: '/api/health/detailed',
  summary: 'Detailed health check with component status',
  operation: DETAILED_HEALTH_OPERATION,
  variables: () => ({ since: new Date(Date.now() - METRICS_WINDOW_MS).toISOString() }),
  allowPartial: true,
  // `storage` is the object store's own probe; `external_apis` probes each configured outbound
  // dependency now (not configured ones say so). `metrics` are the gateway's recorded requests
  // over the last five minutes (the caller's own tenant's when it is bound to one); null when the
  // caller may not read metrics. `active_users` is null: nothing records user activity.
  respond: ({ health: report, externalApis, metricsOverview }) => ({
    overall: assessHealth(report).overall,
    timestamp: report.timestamp,
    components: {
      ...describeComponents(report),
      external_apis: externalApis
        ? {
            status: externalApis.status as 'healthy' | 'degraded' | 'not_configured',
            services: Object.fromEntries(
              externalApis.services.map((s) => [
                s.name,
                {
                  status: s.status as 'healthy' | 'unhealthy' | 'not_configured',
                  role: s.role,
                  response_time_ms: s.responseTimeMs,
                  ...(s.error ? { error: s.error } : {}),
                },
              ]),
            ),
          }
        : null,
    },
    metrics: metricsOverview
      ? {
          active_users: null,
          requests_per_minute: Math.round(metricsOverview.requests.perSecond * 60 * 100) / 100,
          error_rate: metricsOverview.requests.errorRate,
        }
      : null,
  }),
  statusFrom: (payload) => statusForHealth(payload.overall),
  response: z.object({
    overall: healthLevelSchema,
    timestamp: isoTimestamp,
    components: z.object({
      database: z.object({
        status: healthLevelSchema,
        response_time_ms: z.number().nullable(),
        connections: z
          .object({ active: z.number().int(), idle: z.number().int(), max: z.number().int() })
          .nullable()
          .describe('The driver pool; on the embedded database its one in-process connection (max 1)'),
        ...componentError,
      }),
      cache: z.object({
        status: healthLevelSchema,
        response_time_ms: z.number().nullable(),
        hit_rate: z.number().nullable().describe('Null before the cache has served a lookup'),
        memory_usage_mb: z.number().nullable(),
        ...componentError,
      }),
      storage: z.object({
        status: healthLevelSchema,
        response_time_ms: z.number().nullable(),
        available_space_gb: z.number().nullable().describe("Free space of the local store's volume; null on S3"),
        total_files: nullableCount,
        backend: z.string(),
        ...componentError,
      }),
      jobs: z.object({
        status: healthLevelSchema,
        response_time_ms: z.number().nullable(),
        waiting: nullableCount,
        active: nullableCount,
        delayed: nullableCount,
        failed: nullableCount,
        ...componentError,
      }),
      subgraphs: z.record(
        z.string(),
        z.object({
          status: healthLevelSchema,
          response_time_ms: z.number().nullable().describe("The subgraph's own database round trip"),
        }),
      ),
      external_apis: z
        .object({
          status: z.enum(['healthy', 'degraded', 'not_configured']),
          services: z.record(
            z.string(),
            z.object({
              status: z.enum(['healthy', 'unhealthy', 'not_configured']),
              role: z.string().describe('payment_gateway, email_service, object_storage, virus_scanner'),
              response_time_ms: z.number().nullable().describe('Measured now; null when not configured'),
              error: z.string().optional(),
            }),
          ),
        })
        .nullable()
        .describe('Stripe, SMTP, S3 and ClamAV as configured, each probed now; null when the probe failed'),
    }),
    metrics: z
      .object({
        active_users: z.null().describe('Nothing records user activity: always null'),
        requests_per_minute: z
          .number()
          .describe('Requests the gateways recorded over the last five minutes, per minute'),
        error_rate: z.number().nullable().describe('Share answered with status >= 400; null without requests'),
      })
      .nullable()
      .describe(
        "From the metric store; null when the caller may not read metrics (read:metrics, or read:telemetry for a tenant's own)",
      ),
  }),
});

type SystemStatus = 'operational' | 'degraded' | 'major_outage' | 'maintenance';

/**
 * Maintenance explains whatever else is wrong, so it wins; then an unhealthy platform is a major
 * outage; an open incident or a degraded part is a degradation.
 */
function summarizeSystemStatus(
  data: SystemStatusData,
  overall: ReturnType<typeof assessHealth>['overall'],
): SystemStatus {
  if (data.systemStatus.maintenanceInProgress) return 'maintenance';
  if (overall === 'unhealthy') return 'major_outage';
  if (overall === 'degraded' || data.systemStatus.activeIncidents.length > 0) return 'degraded';
  return 'operational';
}

const status = defineRoute({
  dialect: 'core-platform',
  method: 'GET',
  path: '/api/status',
  summary: 'Current system status, incidents and maintenance',
  operation: SYSTEM_STATUS_OPERATION,
  allowPartial: true,
  // Always 200: a status page reports outages, it is not itself a probe.
  respond: (data) => {
    const assessment = assessHealth(data.health);
    const { systemStatus } = data;
    return {
      system_status: summarizeSystemStatus(data, assessment.overall),
      maintenance_scheduled: systemStatus.maintenanceScheduled,
      incident_history: systemStatus.incidents.map((incident) => ({
        id: incident.id,
        title: incident.title,
        status: incident.status,
        severity: incident.severity,
        created_at: incident.createdAt,
        resolved_at: incident.resolvedAt,
        impact: incident.impact,
      })),
      upcoming_maintenance: systemStatus.upcomingMaintenance.map((window) => ({
        id: window.id,
        title: window.title,
        description: window.description,
        starts_at: window.startsAt,
        ends_at: window.endsAt,
      })),
      service_disruptions: [
        ...systemStatus.activeIncidents.map((incident) => ({
          type: 'incident' as const,
          id: incident.id,
          title: incident.title,
          status: incident.status,
          severity: incident.severity,
          impact: incident.impact,
          started_at: incident.createdAt,
        })),
        ...assessment.components
          .filter((component) => component.status === 'unhealthy')
          .map((component) => ({
            type: 'component' as const,
            component: component.name,
            status: 'unhealthy' as const,
          })),
      ],
    };
  },
  response: z.object({
    system_status: z.enum(['operational', 'degraded', 'major_outage', 'maintenance']),
    maintenance_scheduled: z.boolean(),
    incident_history: z
      .array(
        z.object({
          id: z.string(),
          title: z.string(),
          status: z.string(),
          severity: z.string(),
          created_at: isoTimestamp,
          resolved_at: isoTimestamp.nullable(),
          impact: z.string().nullable(),
        }),
      )
      .describe('Newest first, at most 20'),
    upcoming_maintenance: z.array(
      z.object({
        id: z.string(),
        title: z.string(),
        description: z.string().nullable(),
        starts_at: isoTimestamp,
        ends_at: isoTimestamp,
      }),
    ),
    service_disruptions: z
      .array(
        z.discriminatedUnion('type', [
          z.object({
            type: z.literal('incident'),
            id: z.string(),
            title: z.string(),
            status: z.string(),
            severity: z.string(),
            impact: z.string().nullable(),
            started_at: isoTimestamp,
          }),
          z.object({ type: z.literal('component'), component: z.string(), status: z.literal('unhealthy') }),
        ]),
      )
      .describe('Open incidents, then components (platform parts and subgraphs) that are down'),
  }),
});

export const corePlatformRoutes = [health, detailedHealth, status];
