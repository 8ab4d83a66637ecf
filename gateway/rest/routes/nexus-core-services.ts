import { z } from 'zod';
import { graphql, type ResultOf } from '../graphql.js';
import { defineRoute } from '../route.js';

// nexus-core service management and component diagnostics (platform). Services: the six
// subgraphs, gateway, worker, database, cache. Figures are counted where requests are handled
// (gateway and subgraphs), or read from the component itself (database statistics, cache hit and
// miss counters, the job queue's retained counts); a figure a component does not give is null.
// Restart works in place on this process's services (subgraph servers, gateway schema and pools,
// database pool, cache connections, job worker); a service of another process answers 409 CONFLICT.

const ServiceFields = graphql(`
  fragment ServiceFields on PlatformService {
    name
    type
    status
    health
    version
    dependencies
    dependents
    uptimeSeconds
    requestsHandled
    errors
    avgResponseTimeMs
    errorRate
    config
    restartable
    recentErrors {
      timestamp
      error
      count
    }
  }
`);

const metricsSchema = z.object({
  uptime: z.number().int().nullable().describe('Seconds since the service (its latest instance) started'),
  requests_handled: z.number().nullable(),
  errors: z.number().nullable().describe('Server-side failures'),
});

const summarySchema = z.object({
  name: z.string(),
  type: z.string(),
  status: z.enum(['running', 'stopped', 'unknown']),
  health: z.enum(['healthy', 'degraded', 'unhealthy', 'unknown']),
  version: z.string(),
  dependencies: z.array(z.string()),
  metrics: metricsSchema,
});

function summary(s: ResultOf<typeof ServiceFields>) {
  return {
    name: s.name,
    type: s.type,
    status: s.status as 'running' | 'stopped' | 'unknown',
    health: s.health as 'healthy' | 'degraded' | 'unhealthy' | 'unknown',
    version: s.version,
    dependencies: s.dependencies,
    metrics: { uptime: s.uptimeSeconds, requests_handled: s.requestsHandled, errors: s.errors },
  };
}

const list = defineRoute({
  dialect: 'nexus-core',
  method: 'GET',
  path: '/api/v1/services',
  summary: 'The platform’s services with uptime, requests and errors (read:system)',
  operation: graphql(
    `
      query Services {
        services {
          ...ServiceFields
        }
      }
    `,
    [ServiceFields],
  ),
  respond: (data) => ({ services: data.services.map(summary) }),
  response: z.object({ services: z.array(summarySchema) }),
});

const nameParams = z.object({ service_name: z.string().min(1).max(50) });

const get = defineRoute({
  dialect: 'nexus-core',
  method: 'GET',
  path: '/api/v1/services/{service_name}',
  summary: 'One service in detail (read:system)',
  operation: graphql(
    `
      query Service($name: String!) {
        service(name: $name) {
          ...ServiceFields
        }
      }
    `,
    [ServiceFields],
  ),
  input: { params: nameParams },
  variables: ({ params }) => ({ name: params.service_name }),
  respond: ({ service: s }) => ({
    ...summary(s),
    config: s.config as Record<string, unknown>,
    dependents: s.dependents,
    restartable: s.restartable,
    metrics: {
      uptime: s.uptimeSeconds,
      requests_handled: s.requestsHandled,
      errors: s.errors,
      avg_response_time_ms: s.avgResponseTimeMs,
      error_rate: s.errorRate,
    },
    recent_errors: s.recentErrors,
  }),
  response: summarySchema.extend({
    config: z.record(z.string(), z.unknown()),
    dependents: z.array(z.string()),
    restartable: z.boolean(),
    metrics: metricsSchema.extend({
      avg_response_time_ms: z.number().nullable(),
      error_rate: z.number().nullable(),
    }),
    recent_errors: z.array(z.object({ timestamp: z.string(), error: z.string(), count: z.number().int() })),
  }),
});

const restart = defineRoute({
  dialect: 'nexus-core',
  method: 'POST',
  path: '/api/v1/services/{service_name}/restart',
  summary: 'Restart a service of this process in place: subgraph, gateway, database, cache or worker (admin:services)',
  operation: graphql(`
    mutation RestartService($name: String!) {
      restartService(name: $name) {
        service
        durationMs
      }
    }
  `),
  input: { params: nameParams },
  variables: ({ params }) => ({ name: params.service_name }),
  respond: ({ restartService: r }) => ({
    service: r.service,
    action: 'restart' as const,
    status: 'completed' as const,
    duration_ms: r.durationMs,
  }),
  response: z.object({
    service: z.string(),
    action: z.literal('restart'),
    status: z.literal('completed'),
    duration_ms: z.number().int(),
  }),
});

const COMPONENTS = [
  'database',
  'cache',
  'event_bus',
  'jobs',
  'platform',
  'tenancy',
  'billing',
  'identity',
  'telemetry',
  'edge',
] as const;

const diagnostics = defineRoute({
  dialect: 'nexus-core',
  method: 'POST',
  path: '/api/v1/components/diagnostics',
  summary: 'Connectivity, performance and stress probes of components (admin:services)',
  operation: graphql(`
    mutation RunDiagnostics($components: [DiagnosticComponent!], $tests: [DiagnosticTestKind!]) {
      runDiagnostics(components: $components, tests: $tests) {
        testRunId
        status
        durationMs
        results {
          component
          tests {
            name
            status
            durationMs
            details
          }
        }
      }
    }
  `),
  input: {
    body: z
      .object({
        components: z.array(z.enum(COMPONENTS)).min(1).max(COMPONENTS.length).optional(),
        tests: z
          .array(z.enum(['connectivity', 'performance', 'stress']))
          .min(1)
          .max(3)
          .optional(),
      })
      .strict(),
  },
  variables: ({ body }) => ({ components: body.components ?? null, tests: body.tests ?? null }),
  respond: ({ runDiagnostics: r }) => ({
    test_run_id: r.testRunId,
    status: 'completed' as const,
    duration_ms: r.durationMs,
    results: r.results.map((c) => ({
      component: c.component,
      tests: c.tests.map((test) => ({
        name: test.name,
        status: test.status as 'pass' | 'fail',
        duration_ms: test.durationMs,
        details: test.details,
      })),
    })),
  }),
  response: z.object({
    test_run_id: z.string(),
    status: z.literal('completed'),
    duration_ms: z.number(),
    results: z.array(
      z.object({
        component: z.string(),
        tests: z.array(
          z.object({
            name: z.string(),
            status: z.enum(['pass', 'fail']),
            duration_ms: z.number(),
            details: z
              .unknown()
              .describe(
                'connectivity: response_time_ms; performance/stress: operations, avg_time_ms, operations_per_second',
              ),
          }),
        ),
      }),
    ),
  }),
});

export const nexusCoreServiceRoutes = [list, get, restart, diagnostics];
