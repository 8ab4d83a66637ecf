import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Supergraph } from '@apollo/federation-internals';
import { Kind, print, validate } from 'graphql';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppError } from '../lib/errors.js';
import type { Principal } from '../lib/principal.js';
import { resolveRequestId } from '../gateway/pipeline/request-id.js';
import { SIGN_IN_FIELDS } from '../gateway/plugins/sign-in-rate-limit.js';
import { ENDPOINT_CATALOG, endpointKey } from '../gateway/rest/catalog.js';
import { attributeDialect, DIALECT_NAMES, type DialectName } from '../gateway/rest/dialects.js';
import {
  createRestHandler,
  type ExecuteArgs,
  type ExecuteResult,
  type RestHandlerOptions,
} from '../gateway/rest/handler.js';
import type { HealthReportData, SubgraphProbeData, SystemStatusData } from '../gateway/rest/health.js';
import { buildOpenApi, renderOpenApiHtml } from '../gateway/rest/openapi.js';
import type { RateLimitPolicy, RateLimiter } from '../gateway/pipeline/rate-limit.js';
import { createRequestPipeline, type RequestPipelineOptions } from '../gateway/pipeline/index.js';
import { defineRoute, type RestRoute } from '../gateway/rest/route.js';
import { allRoutes } from '../gateway/rest/routes/index.js';
import { expectDialectError, ISO_TIMESTAMP, testOperation } from './support/rest.js';

// ---------------------------------------------------------------------------------------------
// Fixtures: canned GraphQL results, shaped exactly as the supergraph answers.

// Response bodies are walked field by field; a precise type per route would only restate the assertions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const NOW = '2025-11-24T10:00:00.000Z';

function probe(name: string, overrides: Partial<SubgraphProbeData> = {}): SubgraphProbeData {
  return {
    name,
    status: 'HEALTHY',
    uptimeSeconds: 120,
    database: { status: 'HEALTHY', responseTimeMs: 1.5, error: null },
    ...overrides,
  };
}

function healthReport(overrides: Partial<HealthReportData> = {}): HealthReportData {
  return {
    status: 'HEALTHY',
    timestamp: NOW,
    uptimeSeconds: 86400,
    version: '1.0.0',
    environment: 'test',
    plugins: {
      installed: 3,
      active: 3,
      extensions: [{ extensionId: 'ext_1', name: 'Audit Export', version: '1.2.0', installs: 3 }],
    },
    database: {
      status: 'HEALTHY',
      responseTimeMs: 15,
      driver: 'postgres',
      error: null,
      connections: { active: 45, idle: 55, waiting: 0, max: 100 },
    },
    cache: {
      status: 'HEALTHY',
      responseTimeMs: 2,
      kind: 'redis',
      hitRate: 0.87,
      memoryUsageBytes: 256 * 1024 * 1024,
      keys: 1200,
      error: null,
    },
    jobs: {
      status: 'HEALTHY',
      responseTimeMs: 3,
      kind: 'bullmq',
      waiting: 4,
      active: 2,
      delayed: 1,
      failed: 7,
      finishedTotal: 15_420,
      error: null,
    },
    storage: {
      status: 'HEALTHY',
      responseTimeMs: 45,
      backend: 'filesystem',
      totalFiles: 15420,
      availableSpaceBytes: 1024 * 1024 ** 3,
      error: null,
    },
    platform: probe('platform'),
    identity: probe('identity'),
    tenancy: probe('tenancy'),
    billing: probe('billing'),
    telemetry: probe('telemetry'),
    edge: probe('edge'),
    ...overrides,
  };
}

/** The embedded default with the identity subgraph unreachable: what the gateway returns then. */
function partialHealthResult(): ExecuteResult {
  return {
    data: {
      health: healthReport({
        database: { status: 'HEALTHY', responseTimeMs: 0.4, driver: 'pglite', error: null, connections: null },
        cache: {
          status: 'HEALTHY',
          responseTimeMs: 0.1,
          kind: 'memory',
          hitRate: null,
          memoryUsageBytes: null,
          keys: 0,
          error: null,
        },
        identity: null,
      }),
    },
    errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_ERROR' } }],
  };
}

function systemStatus(overrides: Partial<SystemStatusData['systemStatus']> = {}): SystemStatusData['systemStatus'] {
  return {
    maintenanceInProgress: false,
    maintenanceScheduled: false,
    incidents: [],
    activeIncidents: [],
    upcomingMaintenance: [],
    ...overrides,
  };
}

const liveness = (status = 'HEALTHY') => ({
  data: { liveness: { status, timestamp: NOW, uptimeSeconds: 86400, version: '1.0.0' } },
});

const UNAUTHORIZED: ExecuteResult = {
  data: null,
  errors: [{ message: 'Authentication required', extensions: { code: 'UNAUTHORIZED' } }],
};

// ---------------------------------------------------------------------------------------------
// Test-only routes, for what the first slice (all GETs) cannot exercise: bodies and validation.

const echoDevice = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/edge/test-echo',
  summary: 'Echo (test only)',
  operation: testOperation<{ echo: Record<string, unknown> }>('mutation Echo { echo }'),
  input: {
    body: z.object({
      device_id: z.string().min(3),
      capabilities: z.array(z.enum(['compute', 'storage'])),
      location: z.object({ latitude: z.number(), longitude: z.number() }),
    }),
  },
  variables: (input) => ({ deviceId: input.body.device_id, capabilities: input.body.capabilities }),
  respond: (data) => data.echo,
  status: 201,
});

const getItem = defineRoute({
  dialect: 'core-platform',
  method: 'GET',
  path: '/api/test/items/{item_id}',
  summary: 'Item (test only)',
  operation: testOperation<{ echo: Record<string, unknown> }>('query Item { item }'),
  input: {
    params: z.object({ item_id: z.string().startsWith('item_') }),
    query: z.object({ limit: z.coerce.number().int().max(100).optional(), tag: z.array(z.string()).optional() }),
  },
  variables: (input) => ({ id: input.params.item_id, limit: input.query.limit ?? 20 }),
  respond: (data) => data.echo,
});

const TEST_ROUTES: RestRoute[] = [echoDevice, getItem];

// ---------------------------------------------------------------------------------------------
// Harness: the real handler behind a real node:http server.

/** Fixed-window limiter: the behaviour kv's limiters have, without the store. */
function createMemoryLimiter(policy: RateLimitPolicy): RateLimiter {
  const windows = new Map<string, { count: number; resetAt: number }>();
  return {
    async consume(key) {
      const now = Date.now();
      let window = windows.get(key);
      if (!window || window.resetAt <= now) {
        window = { count: 0, resetAt: now + policy.durationSeconds * 1000 };
        windows.set(key, window);
      }
      window.count += 1;
      return {
        allowed: window.count <= policy.points,
        limit: policy.points,
        remaining: Math.max(0, policy.points - window.count),
        resetAt: new Date(window.resetAt),
      };
    },
  };
}

const PRINCIPAL: Principal = {
  kind: 'user',
  id: 'usr_1',
  projectId: 'prj_1',
  tenantId: 'ten_1',
  roles: ['admin'],
  scopes: ['read:system'],
};

async function authenticate(headers: Record<string, string | string[] | undefined>): Promise<Principal | null> {
  const header = headers.authorization;
  if (header === undefined) return null;
  if (header === 'Bearer good') return PRINCIPAL;
  throw new AppError('UNAUTHORIZED', 'Invalid or expired credentials');
}

type Responder = (args: ExecuteArgs) => ExecuteResult | Promise<ExecuteResult>;

interface Harness {
  url: string;
  calls: ExecuteArgs[];
  logs: Array<Record<string, unknown>>;
  /** Canned results by operation name. */
  respond: Record<string, ExecuteResult | Responder>;
  request(path: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: Json; text: string }>;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function startHarness(
  overrides: Partial<Pick<RestHandlerOptions, 'routes' | 'checkResponses'> & RequestPipelineOptions> = {},
): Promise<Harness> {
  const logs: Array<Record<string, unknown>> = [];
  const calls: ExecuteArgs[] = [];
  const respond: Harness['respond'] = {
    Liveness: liveness(),
    Health: {
      data: {
        health: healthReport(),
        externalApis: EXTERNAL_APIS,
        metricsOverview: { requests: { total: 2250, perSecond: 7.5, errorRate: 0.002 } },
      },
    },
    SystemStatus: { data: { health: healthReport(), systemStatus: systemStatus() } },
    Echo: ({ variables }) => ({ data: { echo: variables } }),
    Item: ({ variables }) => ({ data: { echo: variables } }),
  };
  const handler = createRestHandler({
    routes: [...allRoutes, ...TEST_ROUTES],
    execute: async (args) => {
      calls.push(args);
      const name =
        /(?:query|mutation)\s+(\w+)/.exec(
          typeof args.document === 'string' ? args.document : print(args.document),
        )?.[1] ?? '';
      const canned = respond[name];
      if (!canned) throw new Error(`No canned result for ${name}`);
      return typeof canned === 'function' ? canned(args) : canned;
    },
    pipeline: createRequestPipeline({
      authenticate,
      rateLimiter: createMemoryLimiter,
      logger: pino(
        { level: 'debug' },
        { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) },
      ),
      ...overrides,
    }),
    ...(overrides.routes ? { routes: overrides.routes } : {}),
    checkResponses: overrides.checkResponses,
  });
  const server = createServer((req, res) => {
    void handler(req, res, resolveRequestId(req));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    calls,
    logs,
    respond,
    async request(path, init) {
      const response = await fetch(url + path, init);
      const text = await response.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      return { status: response.status, headers: response.headers, body, text };
    },
  };
}

function expectCommonHeaders(headers: Headers): void {
  expect(headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(headers.get('x-request-id')).toMatch(/^req_/);
  expect(Number(headers.get('x-ratelimit-limit'))).toBeGreaterThan(0);
  expect(headers.get('x-ratelimit-remaining')).toMatch(/^\d+$/);
  // Unix seconds, in the future.
  expect(Number(headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
  expect(Number(headers.get('x-ratelimit-reset'))).toBeLessThan(Date.now() / 1000 + 7200);
}

/** Our code as each dialect spells it. */
const codeIn = (dialect: DialectName, code: string): string =>
  dialect === 'core-platform'
    ? ({ RATE_LIMIT_EXCEEDED: 'api_rate_limit_exceeded', FORBIDDEN: 'insufficient_permissions' }[code] ??
      code.toLowerCase())
    : code;

// ---------------------------------------------------------------------------------------------

/** The detailed health check's probes of outbound dependencies, as the platform answers them. */
const EXTERNAL_APIS = {
  status: 'degraded',
  services: [
    {
      name: 'stripe',
      role: 'payment_gateway',
      status: 'healthy',
      configured: true,
      responseTimeMs: 120.5,
      error: null,
    },
    {
      name: 'smtp',
      role: 'email_service',
      status: 'unhealthy',
      configured: true,
      responseTimeMs: 5000,
      error: 'no answer within 5000 ms',
    },
    {
      name: 'clamav',
      role: 'virus_scanner',
      status: 'not_configured',
      configured: false,
      responseTimeMs: null,
      error: null,
    },
  ],
};

describe('core-platform health routes', () => {
  it('GET /api/health: liveness in the success envelope, API-Version defaulted', async () => {
    const h = await startHarness();
    const { status, headers, body } = await h.request('/api/health');
    expect(status).toBe(200);
    expectCommonHeaders(headers);
    expect(headers.get('api-version')).toBe('2025-11-17');
    expect(body).toEqual({
      status: 'success',
      data: { health: 'healthy', timestamp: NOW, uptime_seconds: 86400, version: '1.0.0' },
    });
    expect(h.calls[0]).toMatchObject({ variables: {}, principal: null });
  });

  it('GET /api/health: 503 when the liveness check fails; echoes API-Version', async () => {
    const h = await startHarness();
    h.respond.Liveness = liveness('UNHEALTHY');
    const { status, headers, body } = await h.request('/api/health', { headers: { 'API-Version': '2024-06-01' } });
    expect(status).toBe(503);
    expect(headers.get('api-version')).toBe('2024-06-01');
    expect(body.data.health).toBe('unhealthy');
  });

  it('GET /api/health/detailed: every component, field by field', async () => {
    const h = await startHarness();
    const { status, body } = await h.request('/api/health/detailed', { headers: { authorization: 'Bearer good' } });
    expect(status).toBe(200);
    expect(h.calls[0]!.principal).toEqual(PRINCIPAL);
    expect(body).toEqual({
      status: 'success',
      data: {
        overall: 'healthy',
        timestamp: NOW,
        components: {
          database: { status: 'healthy', response_time_ms: 15, connections: { active: 45, idle: 55, max: 100 } },
          cache: { status: 'healthy', response_time_ms: 2, hit_rate: 0.87, memory_usage_mb: 256 },
          storage: {
            status: 'healthy',
            response_time_ms: 45,
            available_space_gb: 1024,
            total_files: 15420,
            backend: 'filesystem',
          },
          jobs: { status: 'healthy', response_time_ms: 3, waiting: 4, active: 2, delayed: 1, failed: 7 },
          subgraphs: Object.fromEntries(
            ['platform', 'tenancy', 'billing', 'identity', 'telemetry', 'edge'].map((name) => [
              name,
              { status: 'healthy', response_time_ms: 1.5 },
            ]),
          ),
          external_apis: {
            status: 'degraded',
            services: {
              stripe: { status: 'healthy', role: 'payment_gateway', response_time_ms: 120.5 },
              smtp: {
                status: 'unhealthy',
                role: 'email_service',
                response_time_ms: 5000,
                error: 'no answer within 5000 ms',
              },
              clamav: { status: 'not_configured', role: 'virus_scanner', response_time_ms: null },
            },
          },
        },
        metrics: { active_users: null, requests_per_minute: 450, error_rate: 0.002 },
      },
    });
    // The request rates cover the last five minutes.
    const since = Date.parse(String(h.calls[0]!.variables?.since));
    expect(Date.now() - since).toBeGreaterThanOrEqual(5 * 60_000);
    expect(Date.now() - since).toBeLessThan(6 * 60_000);
  });

  it('GET /api/health/detailed: a partial result (unreachable subgraph) is degraded, not an error', async () => {
    const h = await startHarness();
    h.respond.Health = partialHealthResult();
    const { status, body } = await h.request('/api/health/detailed');
    expect(status).toBe(200);
    expect(body.data.overall).toBe('degraded');
    expect(body.data.components.subgraphs.identity).toEqual({ status: 'unhealthy', response_time_ms: null });
    expect(body.data.components.subgraphs.tenancy).toEqual({ status: 'healthy', response_time_ms: 1.5 });
    expect(body.data.components.database.connections).toBeNull();
    expect(body.data.components.cache).toEqual({
      status: 'healthy',
      response_time_ms: 0.1,
      hit_rate: null,
      memory_usage_mb: null,
    });
  });

  it('GET /api/health/detailed: an unhealthy platform database is unhealthy overall, 503, with its error', async () => {
    const h = await startHarness();
    h.respond.Health = {
      data: {
        health: healthReport({
          database: {
            status: 'UNHEALTHY',
            responseTimeMs: null,
            driver: 'postgres',
            error: 'connection refused',
            connections: null,
          },
          platform: probe('platform', {
            status: 'UNHEALTHY',
            database: { status: 'UNHEALTHY', responseTimeMs: null, error: 'connection refused' },
          }),
        }),
      },
    };
    const { status, body } = await h.request('/api/health/detailed');
    expect(status).toBe(503);
    expect(body.status).toBe('success');
    expect(body.data.overall).toBe('unhealthy');
    expect(body.data.components.database).toEqual({
      status: 'unhealthy',
      response_time_ms: null,
      connections: null,
      error: 'connection refused',
    });
  });

  it('GET /api/health/detailed: a degraded cache degrades the whole; jobs without counts show nulls', async () => {
    const h = await startHarness();
    h.respond.Health = {
      data: {
        health: healthReport({
          jobs: {
            status: 'UNHEALTHY',
            responseTimeMs: null,
            kind: 'bullmq',
            waiting: null,
            active: null,
            delayed: null,
            failed: null,
            finishedTotal: null,
            error: 'redis down',
          },
        }),
      },
    };
    const { status, body } = await h.request('/api/health/detailed');
    expect(status).toBe(200);
    expect(body.data.overall).toBe('degraded');
    expect(body.data.components.jobs).toEqual({
      status: 'unhealthy',
      response_time_ms: null,
      waiting: null,
      active: null,
      delayed: null,
      failed: null,
      error: 'redis down',
    });
  });

  it('GET /api/status: incidents, maintenance and disruptions (open incidents + down subgraphs)', async () => {
    const h = await startHarness();
    const partial = partialHealthResult();
    h.respond.SystemStatus = {
      data: {
        health: (partial.data as { health: HealthReportData }).health,
        systemStatus: systemStatus({
          maintenanceScheduled: true,
          incidents: [
            {
              id: 'inc_2',
              title: 'Queue backlog',
              status: 'investigating',
              severity: 'high',
              impact: null,
              createdAt: NOW,
              resolvedAt: null,
            },
            {
              id: 'inc_1',
              title: 'Payment Gateway Degradation',
              status: 'resolved',
              severity: 'medium',
              impact: 'Some payment processing delays',
              createdAt: '2025-11-23T14:30:00.000Z',
              resolvedAt: '2025-11-23T15:45:00.000Z',
            },
          ],
          activeIncidents: [
            {
              id: 'inc_2',
              title: 'Queue backlog',
              status: 'investigating',
              severity: 'high',
              impact: null,
              createdAt: NOW,
            },
          ],
          upcomingMaintenance: [
            {
              id: 'mw_1',
              title: 'DB upgrade',
              description: null,
              startsAt: '2025-12-01T02:00:00.000Z',
              endsAt: '2025-12-01T03:00:00.000Z',
            },
          ],
        }),
      },
      errors: partial.errors,
    };
    const { status, body } = await h.request('/api/status');
    expect(status).toBe(200);
    expect(body).toEqual({
      status: 'success',
      data: {
        system_status: 'degraded',
        maintenance_scheduled: true,
        incident_history: [
          {
            id: 'inc_2',
            title: 'Queue backlog',
            status: 'investigating',
            severity: 'high',
            created_at: NOW,
            resolved_at: null,
            impact: null,
          },
          {
            id: 'inc_1',
            title: 'Payment Gateway Degradation',
            status: 'resolved',
            severity: 'medium',
            created_at: '2025-11-23T14:30:00.000Z',
            resolved_at: '2025-11-23T15:45:00.000Z',
            impact: 'Some payment processing delays',
          },
        ],
        upcoming_maintenance: [
          {
            id: 'mw_1',
            title: 'DB upgrade',
            description: null,
            starts_at: '2025-12-01T02:00:00.000Z',
            ends_at: '2025-12-01T03:00:00.000Z',
          },
        ],
        service_disruptions: [
          {
            type: 'incident',
            id: 'inc_2',
            title: 'Queue backlog',
            status: 'investigating',
            severity: 'high',
            impact: null,
            started_at: NOW,
          },
          { type: 'component', component: 'identity', status: 'unhealthy' },
        ],
      },
    });
  });

  it('GET /api/status: operational, maintenance and major_outage', async () => {
    const h = await startHarness();
    expect((await h.request('/api/status')).body.data).toMatchObject({
      system_status: 'operational',
      service_disruptions: [],
    });

    h.respond.SystemStatus = {
      data: { health: healthReport(), systemStatus: systemStatus({ maintenanceInProgress: true }) },
    };
    expect((await h.request('/api/status')).body.data.system_status).toBe('maintenance');

    const down = healthReport({
      database: { status: 'UNHEALTHY', responseTimeMs: null, driver: 'postgres', error: 'x', connections: null },
    });
    h.respond.SystemStatus = { data: { health: down, systemStatus: systemStatus() } };
    const { status, body } = await h.request('/api/status');
    expect(status).toBe(200);
    expect(body.data.system_status).toBe('major_outage');
    expect(body.data.service_disruptions).toEqual([{ type: 'component', component: 'database', status: 'unhealthy' }]);
  });
});

describe('nexus-core health routes', () => {
  it('GET /api/v1/health: bare {status, timestamp}; 503 "error" when down', async () => {
    const h = await startHarness();
    const ok = await h.request('/api/v1/health');
    expect(ok.status).toBe(200);
    expectCommonHeaders(ok.headers);
    expect(ok.body).toEqual({ status: 'ok', timestamp: NOW });

    h.respond.Liveness = liveness('UNHEALTHY');
    const down = await h.request('/api/v1/health');
    expect(down.status).toBe(503);
    expect(down.body).toEqual({ status: 'error', timestamp: NOW });
  });

  it('GET /api/v1/status: documented fields from real figures only', async () => {
    const h = await startHarness();
    const { status, body } = await h.request('/api/v1/status');
    expect(status).toBe(200);
    expect(body).toEqual({
      success: true,
      data: {
        status: 'healthy',
        version: '1.0.0',
        environment: 'test',
        uptime: 86400,
        components: {
          database: { status: 'healthy', response_time_ms: 15, connection_pool: { active: 45, idle: 55, total: 100 } },
          event_bus: { status: 'healthy', queue_size: 7, processed_events: 15_420 },
          plugins: {
            status: 'healthy',
            loaded: 3,
            active: 3,
            failed: null,
            extensions: [{ extension_id: 'ext_1', name: 'Audit Export', version: '1.2.0', installs: 3 }],
          },
          cache: { status: 'healthy', hit_rate: 0.87, memory_usage: '256MB' },
          storage: {
            status: 'healthy',
            response_time_ms: 45,
            available_space_gb: 1024,
            total_files: 15420,
            backend: 'filesystem',
          },
        },
      },
    });
  });

  it('GET /api/v1/status: embedded default with a subgraph down', async () => {
    const h = await startHarness();
    h.respond.Health = partialHealthResult();
    const { status, body } = await h.request('/api/v1/status');
    expect(status).toBe(200);
    expect(body.data.status).toBe('degraded');
    expect(body.data.components.database.connection_pool).toBeNull();
    expect(body.data.components.cache).toEqual({ status: 'healthy', hit_rate: null, memory_usage: null });
  });

  it('GET /api/v1/components/health: database, cache, jobs and every subgraph with checks', async () => {
    const h = await startHarness();
    h.respond.Health = {
      data: {
        health: healthReport({
          database: { ...healthReport().database, connections: { active: 10, idle: 0, waiting: 3, max: 10 } },
        }),
      },
    };
    const { status, body } = await h.request('/api/v1/components/health');
    expect(status).toBe(200);
    expect(body.success).toBe(true);
    expect(body.data.overall_status).toBe('healthy');
    const byName = Object.fromEntries(body.data.components.map((c: { name: string }) => [c.name, c]));
    expect(Object.keys(byName)).toEqual([
      'database',
      'cache',
      'jobs',
      'platform',
      'tenancy',
      'billing',
      'identity',
      'telemetry',
      'edge',
    ]);
    expect(byName.database).toEqual({
      name: 'database',
      status: 'healthy',
      checks: [
        { name: 'connection', status: 'pass', response_time_ms: 15 },
        { name: 'connection_pool', status: 'warn', active: 10, idle: 0, waiting: 3, max: 10 },
      ],
    });
    expect(byName.cache).toEqual({
      name: 'cache',
      status: 'healthy',
      checks: [{ name: 'connectivity', status: 'pass', response_time_ms: 2 }],
    });
    expect(byName.jobs).toEqual({
      name: 'jobs',
      status: 'healthy',
      checks: [{ name: 'queue', status: 'pass', response_time_ms: 3, waiting: 4, active: 2, delayed: 1, failed: 7 }],
    });
    expect(byName.billing).toEqual({
      name: 'billing',
      status: 'healthy',
      checks: [
        { name: 'reachable', status: 'pass' },
        { name: 'database', status: 'pass', response_time_ms: 1.5 },
      ],
    });
  });

  it('GET /api/v1/components/health: unreachable subgraph fails its check; platform database down is 503', async () => {
    const h = await startHarness();
    h.respond.Health = partialHealthResult();
    const partial = await h.request('/api/v1/components/health');
    expect(partial.status).toBe(200);
    expect(partial.body.data.overall_status).toBe('degraded');
    const identity = partial.body.data.components.find((c: { name: string }) => c.name === 'identity');
    expect(identity).toEqual({
      name: 'identity',
      status: 'unhealthy',
      checks: [{ name: 'reachable', status: 'fail' }],
    });

    h.respond.Health = {
      data: {
        health: healthReport({
          database: {
            status: 'UNHEALTHY',
            responseTimeMs: null,
            driver: 'postgres',
            error: 'timeout',
            connections: null,
          },
        }),
      },
    };
    const down = await h.request('/api/v1/components/health');
    expect(down.status).toBe(503);
    expect(down.body.data.overall_status).toBe('unhealthy');
    expect(down.body.data.components[0].checks).toEqual([
      { name: 'connection', status: 'fail', response_time_ms: null, error: 'timeout' },
    ]);
  });
});

describe('tenantsdb and cloudpioneer', () => {
  it('GET /: service info, not enveloped', async () => {
    const h = await startHarness();
    const { status, headers, body } = await h.request('/');
    expect(status).toBe(200);
    expectCommonHeaders(headers);
    expect(body).toEqual({ service: 'TenantsDB API', version: '1.0.0' });
  });

  it('GET /health and /v1/health: {status:"healthy"}, 503 unhealthy', async () => {
    const h = await startHarness();
    for (const path of ['/health', '/v1/health']) {
      const { status, body } = await h.request(path);
      expect(status).toBe(200);
      expect(body).toEqual({ status: 'healthy' });
    }
    h.respond.Liveness = liveness('UNHEALTHY');
    for (const path of ['/health', '/v1/health']) {
      const { status, body } = await h.request(path);
      expect(status).toBe(503);
      expect(body).toEqual({ status: 'unhealthy' });
    }
  });

  it('/health is one route, served for both dialects; /v1/health answers errors in cloudpioneer shape', async () => {
    const healthRoutes = allRoutes.filter((r) => r.path === '/health');
    expect(healthRoutes).toHaveLength(1);
    expect(healthRoutes[0]).toMatchObject({ dialect: 'tenantsdb', sharedWith: ['cloudpioneer'] });

    const h = await startHarness();
    h.respond.Liveness = UNAUTHORIZED;
    const tenantsdb = await h.request('/health');
    expectDialectError('tenantsdb', tenantsdb.body, 'UNAUTHORIZED');
    const cloudpioneer = await h.request('/v1/health');
    expectDialectError('cloudpioneer', cloudpioneer.body, 'UNAUTHORIZED');
  });
});

describe('errors in each dialect', () => {
  const unknownPaths: Array<[string, DialectName]> = [
    ['/api/nope', 'core-platform'],
    ['/api/v1/billing/nope', 'platform-forge'],
    ['/api/v1/security/scans/nope', 'platform-forge'],
    ['/api/v1/security/mesh', 'platform-forge'],
    ['/api/v1/security/nope', 'nexus-core'],
    ['/api/v1/nope', 'nexus-core'],
    ['/v1/nope', 'cloudpioneer'],
    ['/nope', 'tenantsdb'],
    ['/apinope', 'tenantsdb'],
  ];

  it.each(unknownPaths)('404 %s is attributed to %s', async (path, dialect) => {
    expect(attributeDialect(path)).toBe(dialect);
    const h = await startHarness();
    const { status, headers, body } = await h.request(path);
    expect(status).toBe(404);
    expectCommonHeaders(headers);
    expectDialectError(dialect, body, codeIn(dialect, 'NOT_FOUND'));
    expect(h.calls).toHaveLength(0);
  });

  it('odd paths stay in their dialect: a double slash is not a host, a bad escape is not a crash', async () => {
    const h = await startHarness();
    const doubled = await h.request('//api/health');
    expect(doubled.status).toBe(404);
    expectDialectError('tenantsdb', doubled.body, 'NOT_FOUND');
    const escaped = await h.request('/api/test/items/item_%E0%A4%A');
    expect(escaped.status).toBe(200);
    expect(escaped.body.data).toEqual({ id: 'item_%E0%A4%A', limit: 20 });
  });

  it('405 with Allow when the path exists but the method does not', async () => {
    const h = await startHarness();
    const core = await h.request('/api/health', { method: 'POST' });
    expect(core.status).toBe(405);
    expect(core.headers.get('allow')).toBe('GET');
    expectCommonHeaders(core.headers);
    expectDialectError('core-platform', core.body, 'method_not_allowed');

    const tenantsdb = await h.request('/health', { method: 'DELETE' });
    expect(tenantsdb.status).toBe(405);
    expect(tenantsdb.headers.get('allow')).toBe('GET');
    expectDialectError('tenantsdb', tenantsdb.body, 'METHOD_NOT_ALLOWED');
  });

  const unauthorizedRoutes: Array<[string, DialectName, string]> = [
    ['/api/health/detailed', 'core-platform', 'Health'],
    ['/api/v1/status', 'nexus-core', 'Health'],
    ['/health', 'tenantsdb', 'Liveness'],
    ['/v1/health', 'cloudpioneer', 'Liveness'],
  ];

  it.each(unauthorizedRoutes)(
    'UNAUTHORIZED from the subgraph: 401 on %s in %s shape',
    async (path, dialect, operation) => {
      const h = await startHarness();
      h.respond[operation] = UNAUTHORIZED;
      const { status, headers, body } = await h.request(path);
      expect(status).toBe(401);
      expectCommonHeaders(headers);
      expectDialectError(dialect, body, codeIn(dialect, 'UNAUTHORIZED'));
      expect(body.error.message).toBe('Authentication required');
    },
  );

  it('UNAUTHORIZED from the subgraph: 401 in platform-forge shape', async () => {
    const h = await startHarness();
    h.respond.Echo = UNAUTHORIZED;
    const { status, body } = await h.request('/api/v1/edge/test-echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ device_id: 'dev_1', capabilities: ['compute'], location: { latitude: 1, longitude: 2 } }),
    });
    expect(status).toBe(401);
    expectDialectError('platform-forge', body, 'UNAUTHORIZED');
  });

  it('FORBIDDEN and TENANT_MISMATCH use core-platform names; allowPartial does not hide a failed root', async () => {
    const h = await startHarness();
    h.respond.Health = {
      data: null,
      errors: [
        {
          message: 'Missing required scope read:system',
          extensions: { code: 'FORBIDDEN', details: { required_scope: 'read:system' } },
        },
      ],
    };
    const forbidden = await h.request('/api/health/detailed');
    expect(forbidden.status).toBe(403);
    expectDialectError('core-platform', forbidden.body, 'insufficient_permissions');
    expect(forbidden.body.error.details).toEqual({ required_scope: 'read:system' });

    h.respond.Health = {
      data: null,
      errors: [{ message: 'Cross-tenant access attempt', extensions: { code: 'TENANT_MISMATCH' } }],
    };
    const mismatch = await h.request('/api/health/detailed');
    expect(mismatch.status).toBe(403);
    expect(mismatch.body.error.code).toBe('tenant_access_denied');
  });

  it('bad credentials are a 401 in the dialect, before anything runs', async () => {
    const h = await startHarness();
    const core = await h.request('/api/health', { headers: { authorization: 'Bearer wrong' } });
    expect(core.status).toBe(401);
    expectCommonHeaders(core.headers);
    expectDialectError('core-platform', core.body, 'unauthorized');
    const nexus = await h.request('/api/v1/health', { headers: { authorization: 'Bearer wrong' } });
    expect(nexus.status).toBe(401);
    expectDialectError('nexus-core', nexus.body, 'UNAUTHORIZED');
    expect(h.calls).toHaveLength(0);
  });

  it('unexpected exceptions are a masked 500, logged with the request id', async () => {
    const h = await startHarness();
    h.respond.Liveness = () => {
      throw new Error('connect ECONNREFUSED postgres://admin:hunter2@db');
    };
    const { status, headers, body, text } = await h.request('/api/v1/health', {
      headers: { 'x-request-id': 'req_trace_12345' },
    });
    expect(status).toBe(500);
    expect(headers.get('x-request-id')).toBe('req_trace_12345');
    expectDialectError('nexus-core', body, 'INTERNAL_ERROR');
    expect(body.error.message).toBe('Internal server error');
    expect(text).not.toContain('hunter2');
    const logged = h.logs.find((line) => line.requestId === 'req_trace_12345' && line.level === 50);
    expect((logged?.err as { message: string }).message).toContain('ECONNREFUSED');
  });

  it('an INTERNAL_ERROR from GraphQL is a 500 in the dialect', async () => {
    const h = await startHarness();
    h.respond.Liveness = {
      data: null,
      errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_ERROR' } }],
    };
    const { status, body } = await h.request('/v1/health');
    expect(status).toBe(500);
    expectDialectError('cloudpioneer', body, 'INTERNAL_ERROR');
  });
});

describe('request bodies and validation', () => {
  const post = (h: Harness, body: string, contentType = 'application/json') =>
    h.request('/api/v1/edge/test-echo', { method: 'POST', headers: { 'content-type': contentType }, body });

  it('a valid body reaches variables, with the route status and forge envelope', async () => {
    const h = await startHarness();
    const { status, headers, body } = await post(
      h,
      JSON.stringify({ device_id: 'dev_1', capabilities: ['compute'], location: { latitude: 1, longitude: 2 } }),
      'application/json; charset=utf-8',
    );
    expect(status).toBe(201);
    expectCommonHeaders(headers);
    expect(body).toEqual({
      status: 'success',
      data: { deviceId: 'dev_1', capabilities: ['compute'] },
      meta: { timestamp: expect.stringMatching(ISO_TIMESTAMP), version: '1.0' },
    });
  });

  it('malformed JSON is a 400 MALFORMED_JSON saying why', async () => {
    const h = await startHarness();
    const { status, body } = await post(h, '{"device_id": ');
    expect(status).toBe(400);
    expectDialectError('platform-forge', body, 'MALFORMED_JSON');
    expect(body.error.message).toMatch(/^Request body is not valid JSON: .+/);
    expect(h.calls).toHaveLength(0);
  });

  it('a body that is not JSON is a 415', async () => {
    const h = await startHarness();
    const { status, body } = await post(h, 'device_id=dev_1', 'application/x-www-form-urlencoded');
    expect(status).toBe(415);
    expectDialectError('platform-forge', body, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('a body over 1 MiB is a 413', async () => {
    const h = await startHarness();
    const { status, body } = await post(h, JSON.stringify({ device_id: 'x'.repeat(1024 * 1024) }));
    expect(status).toBe(413);
    expectDialectError('platform-forge', body, 'PAYLOAD_TOO_LARGE');
  });

  it('validation lists every issue with where it is', async () => {
    const h = await startHarness();
    const { status, body } = await post(
      h,
      JSON.stringify({ device_id: 'x', capabilities: ['gpu'], location: { latitude: 'north' } }),
    );
    expect(status).toBe(400);
    expectDialectError('platform-forge', body, 'VALIDATION_ERROR');
    const fields = body.error.details.fields as Array<{ in: string; path: string; message: string }>;
    expect(fields.map((f) => `${f.in}:${f.path}`)).toEqual([
      'body:device_id',
      'body:capabilities.0',
      'body:location.latitude',
      'body:location.longitude',
    ]);
    for (const field of fields) expect(field.message).toEqual(expect.any(String));

    const missing = await h.request('/api/v1/edge/test-echo', { method: 'POST' });
    expect(missing.status).toBe(400);
    expect(missing.body.error.details.fields).toEqual([{ in: 'body', path: '', message: expect.any(String) }]);
  });

  it('params and query are validated together and coerced into variables', async () => {
    const h = await startHarness();
    const bad = await h.request('/api/test/items/abc?limit=500');
    expect(bad.status).toBe(400);
    expectDialectError('core-platform', bad.body, 'validation_error');
    expect(bad.body.error.details.fields.map((f: { in: string; path: string }) => `${f.in}:${f.path}`)).toEqual([
      'params:item_id',
      'query:limit',
    ]);

    const good = await h.request('/api/test/items/item_7?limit=5&tag=a&tag=b');
    expect(good.status).toBe(200);
    expect(good.body.data).toEqual({ id: 'item_7', limit: 5 });
  });
});

describe('headers', () => {
  it('keeps a caller X-Request-Id that looks like one, otherwise issues one', async () => {
    const h = await startHarness();
    const given = await h.request('/health', { headers: { 'x-request-id': 'abc-123-def-456' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123-def-456');
    expect(h.calls[0]!.requestId).toBe('abc-123-def-456');
    const generated = await h.request('/health', { headers: { 'x-request-id': 'bad id!' } });
    expect(generated.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]+$/);
  });

  it('platform-forge accepts and echoes X-API-Version; core-platform echoes API-Version on errors too', async () => {
    const h = await startHarness();
    const forge = await h.request('/api/v1/billing/nope', { headers: { 'X-API-Version': '1' } });
    expect(forge.headers.get('x-api-version')).toBe('1');
    const forgeDefault = await h.request('/api/v1/billing/nope');
    expect(forgeDefault.headers.get('x-api-version')).toBe('1');
    const core = await h.request('/api/nope', { headers: { 'API-Version': '2025-11-17' } });
    expect(core.status).toBe(404);
    expect(core.headers.get('api-version')).toBe('2025-11-17');
    // Other dialects document no version header.
    expect((await h.request('/health')).headers.get('api-version')).toBeNull();
  });
});

describe('rate limits', () => {
  const cases: Array<[DialectName, string]> = [
    ['core-platform', '/api/health'],
    ['platform-forge', '/api/v1/billing/nope'],
    ['nexus-core', '/api/v1/health'],
    ['tenantsdb', '/health'],
    ['cloudpioneer', '/v1/health'],
  ];

  it.each(cases)('%s: a real 429 in the dialect shape with Retry-After', async (dialect, path) => {
    const h = await startHarness({
      policies: {
        'core-platform.system': { points: 2, durationSeconds: 60 },
        'platform-forge.default': { points: 2, durationSeconds: 60 },
        'nexus-core.default': { points: 2, durationSeconds: 60 },
        'tenantsdb.default': { points: 2, durationSeconds: 60 },
        'cloudpioneer.default': { points: 2, durationSeconds: 60 },
      },
    });
    const first = await h.request(path);
    expect(first.headers.get('x-ratelimit-limit')).toBe('2');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('1');
    await h.request(path);
    const limited = await h.request(path);
    expect(limited.status).toBe(429);
    expectCommonHeaders(limited.headers);
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expectDialectError(dialect, limited.body, codeIn(dialect, 'RATE_LIMIT_EXCEEDED'));
    expect(limited.body.error.details).toEqual({ limit: 2, retry_after_seconds: retryAfter });
  });

  it('the limit is checked before the operation runs, and keyed by tenant when authenticated', async () => {
    const h = await startHarness({ policies: { 'tenantsdb.default': { points: 1, durationSeconds: 60 } } });
    expect((await h.request('/health')).status).toBe(200);
    expect((await h.request('/health')).status).toBe(429);
    expect(h.calls).toHaveLength(1);
    // An authenticated caller spends its tenant's allowance, not the address's.
    expect((await h.request('/health', { headers: { authorization: 'Bearer good' } })).status).toBe(200);
    // Bad credentials still spend the address's allowance: guessing keys is limited too.
    expect((await h.request('/health', { headers: { authorization: 'Bearer wrong' } })).status).toBe(429);
  });

  it('the documented default limits and the cloudpioneer /v1 mount use their own policy', async () => {
    const h = await startHarness();
    expect((await h.request('/api/health')).headers.get('x-ratelimit-limit')).toBe('1000');
    expect((await h.request('/api/v1/billing/nope')).headers.get('x-ratelimit-limit')).toBe('1000');
    expect((await h.request('/v1/health')).headers.get('x-ratelimit-limit')).toBe('1000');
  });

  it('every route that runs a sign-in mutation spends the sign-in allowance (platform-forge.auth)', () => {
    const signInRoutes = allRoutes.filter((route) =>
      route.operation.definitions.some(
        (d) =>
          d.kind === Kind.OPERATION_DEFINITION &&
          d.operation === 'mutation' &&
          d.selectionSet.selections.some((s) => s.kind === Kind.FIELD && SIGN_IN_FIELDS.has(s.name.value)),
      ),
    );
    // login at platform-forge and cloudpioneer, refresh, register, MFA, accounts: a real set.
    expect(signInRoutes.map((r) => `${r.method} ${r.path}`)).toContain('POST /auth/login');
    const others = signInRoutes.filter((r) => r.rateLimit !== 'platform-forge.auth');
    expect(others.map((r) => `${r.dialect} ${r.method} ${r.path}`)).toEqual([]);
  });

  it('a failing limiter store lets requests through without headers; disabled means no headers', async () => {
    const broken = await startHarness({
      rateLimiter: () => ({
        consume: async () => {
          throw new Error('redis down');
        },
      }),
    });
    const through = await broken.request('/health');
    expect(through.status).toBe(200);
    expect(through.headers.get('x-ratelimit-limit')).toBeNull();

    const disabled = await startHarness({ rateLimitEnabled: false });
    const plain = await disabled.request('/health');
    expect(plain.status).toBe(200);
    expect(plain.headers.get('x-ratelimit-limit')).toBeNull();
  });
});

describe('route table, OpenAPI and catalog', () => {
  it('refuses two routes on the same method and path', () => {
    const duplicate = defineRoute({ ...echoDevice });
    expect(() =>
      createRestHandler({
        routes: [echoDevice, duplicate],
        execute: async () => ({}),
        pipeline: createRequestPipeline({
          authenticate: async () => null,
          rateLimiter: createMemoryLimiter,
          logger: pino({ level: 'silent' }),
        }),
      }),
    ).toThrow(/Two REST routes serve POST \/api\/v1\/edge\/test-echo/);
  });

  it('builds an OpenAPI 3.1 document per dialect with every route', () => {
    for (const dialect of DIALECT_NAMES) {
      const doc = buildOpenApi(dialect, [...allRoutes, ...TEST_ROUTES]);
      expect(doc.openapi).toBe('3.1.0');
      expect(doc.info.title).toEqual(expect.any(String));
      expect(() => JSON.stringify(doc)).not.toThrow();
      const expected = [...allRoutes, ...TEST_ROUTES].filter(
        (r) => r.dialect === dialect || r.sharedWith?.includes(dialect),
      );
      for (const route of expected) {
        const operation = doc.paths[route.path]?.[route.method.toLowerCase()] as Record<string, Json> | undefined;
        expect(operation, `${dialect} ${route.method} ${route.path}`).toBeDefined();
        expect(operation!.summary).toBe(route.summary);
        expect(operation!.responses['429']).toBeDefined();
        const success = operation!.responses[String(route.status ?? 200)].content['application/json'].schema;
        expect(success).toEqual(expect.any(Object));
      }
      const operations = Object.values(doc.paths).flatMap((item) => Object.keys(item));
      expect(operations).toHaveLength(expected.length);
    }
  });

  it('describes envelopes, parameters, bodies and security per dialect', () => {
    const core = buildOpenApi('core-platform', [...allRoutes, ...TEST_ROUTES]);
    const health = core.paths['/api/health']!.get as Json;
    expect(health.responses['200'].content['application/json'].schema).toMatchObject({
      properties: {
        status: { const: 'success' },
        data: { properties: { health: { enum: ['healthy', 'degraded', 'unhealthy'] } } },
      },
    });
    expect(health.responses['503']).toBeDefined();
    expect(core.components.securitySchemes).toEqual({
      bearerAuth: { type: 'http', scheme: 'bearer', description: expect.any(String) },
    });
    const item = core.paths['/api/test/items/{item_id}']!.get as Json;
    expect(item.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'item_id', in: 'path', required: true }),
        expect.objectContaining({ name: 'limit', in: 'query', required: false }),
        { $ref: '#/components/parameters/VersionHeader' },
      ]),
    );

    const forge = buildOpenApi('platform-forge', TEST_ROUTES);
    const echo = forge.paths['/api/v1/edge/test-echo']!.post as Json;
    expect(echo.requestBody.content['application/json'].schema.required).toEqual([
      'device_id',
      'capabilities',
      'location',
    ]);
    expect(echo.responses['201'].content['application/json'].schema.required).toEqual(['status', 'data', 'meta']);
    expect(forge.components.schemas!.Error).toMatchObject({ required: ['status', 'error', 'meta'] });

    const nexus = buildOpenApi('nexus-core', allRoutes);
    expect(nexus.components.securitySchemes).toEqual({
      apiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
    });
    // Documented bare: no envelope in the schema either.
    expect(
      (nexus.paths['/api/v1/health']!.get as Json).responses['200'].content['application/json'].schema.properties,
    ).toHaveProperty('timestamp');

    const cloudpioneer = buildOpenApi('cloudpioneer', allRoutes);
    expect(cloudpioneer.servers).toEqual([{ url: '/' }, { url: '/v1' }]);
    expect(Object.keys(cloudpioneer.paths)).toEqual(expect.arrayContaining(['/health', '/auth/login']));
  });

  it('renders a self-contained HTML page per dialect', () => {
    for (const dialect of DIALECT_NAMES) {
      const html = renderOpenApiHtml(dialect);
      expect(html).toMatch(/^<!doctype html>/);
      expect(html).toContain(`fetch("/openapi/${dialect}.json")`);
      expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\//);
    }
  });

  it("every route's operation is valid against the checked-in supergraph", () => {
    const sdl = readFileSync(new URL('../schema/supergraph.graphql', import.meta.url), 'utf8');
    const schema = Supergraph.build(sdl).apiSchema().toGraphQLJSSchema();
    for (const route of allRoutes) {
      const errors = validate(schema, route.operation).map((error) => error.message);
      expect(errors, `${route.method} ${route.path}`).toEqual([]);
    }
  });

  it('has all 144 documented endpoints, and every route is one of them', () => {
    expect(ENDPOINT_CATALOG).toHaveLength(144);
    const keys = new Set(ENDPOINT_CATALOG.map(endpointKey));
    expect(keys.size).toBe(144);
    const counts = Object.fromEntries(
      DIALECT_NAMES.map((d) => [d, ENDPOINT_CATALOG.filter((e) => e.dialect === d).length]),
    );
    expect(counts).toEqual({
      'core-platform': 19,
      'platform-forge': 46,
      'nexus-core': 21,
      tenantsdb: 49,
      cloudpioneer: 9,
    });
    for (const route of allRoutes) {
      for (const dialect of [route.dialect, ...(route.sharedWith ?? [])]) {
        expect(
          keys.has(endpointKey({ dialect, method: route.method, path: route.path })),
          `${dialect} ${route.method} ${route.path}`,
        ).toBe(true);
      }
    }
  });
});

describe('response schema check (on in tests)', () => {
  const drifting = defineRoute({
    dialect: 'core-platform',
    method: 'GET',
    path: '/api/test/drift',
    summary: 'Answers outside its documented shape (test only)',
    operation: testOperation<{ echo: unknown }>('query Echo { echo }'),
    respond: () => ({ id: 42 }) as unknown as { id: string },
    response: z.object({ id: z.string() }),
  });

  it('fails an answer that does not match the route’s documented response schema', async () => {
    const checked = await startHarness({ routes: [drifting], checkResponses: true });
    const answer = await checked.request('/api/test/drift');
    expect(answer.status).toBe(500);
    expect(JSON.stringify(checked.logs)).toContain('answered outside its documented response schema');

    const unchecked = await startHarness({ routes: [drifting] });
    expect((await unchecked.request('/api/test/drift')).status).toBe(200);
  });
});
