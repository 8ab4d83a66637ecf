import { z } from 'zod';
import { graphql } from '../graphql.js';
import { defineRoute, type RestRoute } from '../route.js';
import { commaList, isoTimestamp } from '../schemas.js';

/**
 * cloudpioneer's GET /health is the tenantsdb route (same path, same body), shared with this
 * dialect: it is served at /health and at /v1/health, and counted as served for both.
 */

/** POST /auth/login (and /v1/auth/login): the OAuth-style bare token object the document shows. */
const login = defineRoute({
  dialect: 'cloudpioneer',
  method: 'POST',
  path: '/auth/login',
  summary: 'Sign in with email and password',
  operation: graphql(`
    mutation CloudPioneerLogin($email: String!, $password: String!, $mfaCode: String, $tenantId: ID) {
      login(email: $email, password: $password, mfaCode: $mfaCode, tenantId: $tenantId) {
        accessToken
        refreshToken
        expiresIn
      }
    }
  `),
  input: {
    body: z.object({
      email: z.email().max(320),
      password: z.string().min(1).max(1024),
      // Not in the document; accepted so accounts with MFA, and emails in several tenants, can sign in.
      mfa_code: z.string().trim().min(1).max(64).optional(),
      tenant_id: z.string().trim().min(1).max(100).optional(),
    }),
  },
  variables: ({ body }) => ({
    email: body.email,
    password: body.password,
    mfaCode: body.mfa_code ?? null,
    tenantId: body.tenant_id ?? null,
  }),
  // cloudpioneer documents only its general tier limit; a password guess costs the same here as at
  // every other sign-in route (one 20/minute allowance per caller, shared by all of them).
  rateLimit: 'platform-forge.auth',
  respond: ({ login: s }) => ({
    access_token: s.accessToken,
    refresh_token: s.refreshToken,
    token_type: 'bearer' as const,
    expires_in: s.expiresIn,
  }),
  response: z.object({
    access_token: z.string(),
    refresh_token: z.string(),
    token_type: z.literal('bearer'),
    expires_in: z.number().int(),
  }),
});

const intParam = (min: number, max: number) => z.coerce.number().int().min(min).max(max).optional();

/**
 * GET /resources: the platform's resources with real figures (edge devices, from their
 * heartbeats; each tenant's edge object storage, measured when asked; tenants' databases with
 * their size; platform services with their request figures, for callers bound to no tenant).
 * `cost` is null: the platform has no pricing source. `filter` is `key:value[,key:value]` (type, status, name,
 * tenant_id, group, tag.<key>).
 */
const listResources = defineRoute({
  dialect: 'cloudpioneer',
  method: 'GET',
  path: '/resources',
  summary: "List resources (devices, storage, tenants' databases, services) with pagination, sort and filter",
  input: {
    query: z.object({
      page: intParam(1, 100_000),
      per_page: intParam(1, 100),
      sort: z.enum(['name', 'type', 'status', 'created_at', 'last_seen_at']).optional(),
      order: z.enum(['asc', 'desc']).optional(),
      filter: z.string().max(500).optional(),
      tenant_id: z.string().min(1).max(100).optional().describe('Operators only'),
    }),
  },
  operation: graphql(`
    query CloudPioneerResources(
      $tenantId: ID
      $page: Int
      $perPage: Int
      $sort: String
      $order: String
      $filter: String
    ) {
      cloudResources(tenantId: $tenantId, page: $page, perPage: $perPage, sort: $sort, order: $order, filter: $filter) {
        total
        page
        perPage
        items {
          id
          tenantId
          name
          type
          status
          metrics {
            cpuUsage
            memoryUsage
            diskUsage
            storageBytes
            requests
            responseTimeMs
            errorRate
          }
          tags
          createdAt
          lastSeenAt
        }
      }
    }
  `),
  variables: ({ query }) => ({
    tenantId: query.tenant_id ?? null,
    page: query.page ?? null,
    perPage: query.per_page ?? null,
    sort: query.sort ?? null,
    order: query.order ?? null,
    filter: query.filter ?? null,
  }),
  respond: ({ cloudResources: r }) => ({
    items: r.items.map((x) => ({
      id: x.id,
      name: x.name,
      type: x.type,
      status: x.status,
      metrics: (x.type === 'storage' || x.type === 'database'
        ? { storage_bytes: x.metrics.storageBytes }
        : x.type === 'service'
          ? {
              requests: x.metrics.requests,
              response_time_ms: x.metrics.responseTimeMs,
              error_rate: x.metrics.errorRate,
            }
          : {
              cpu_usage: x.metrics.cpuUsage,
              memory_usage: x.metrics.memoryUsage,
              disk_usage: x.metrics.diskUsage,
            }) as Record<string, number | null>,
      cost: null,
      tags: x.tags as Record<string, string>,
      tenant_id: x.tenantId,
      created_at: x.createdAt,
      last_seen_at: x.lastSeenAt,
    })),
    total: r.total,
    page: r.page,
    per_page: r.perPage,
  }),
  response: z.object({
    items: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        type: z.string().describe('device | storage | database | service'),
        status: z.string(),
        metrics: z.record(z.string(), z.number().nullable()).describe('Latest figures; null where none was reported'),
        cost: z.null().describe('No pricing source: always null'),
        tags: z.record(z.string(), z.string()),
        tenant_id: z.string().nullable().describe('null: a platform service'),
        created_at: isoTimestamp,
        last_seen_at: isoTimestamp.nullable(),
      }),
    ),
    total: z.number().int(),
    page: z.number().int(),
    per_page: z.number().int(),
  }),
});

const METRIC_NAMES = [
  'cpu_usage',
  'memory_usage',
  'disk_usage',
  'storage_bytes',
  'requests',
  'response_time_ms',
  'error_rate',
] as const;

/** GET /resources/{resource_id}/metrics: one series per metric; null for a metric the resource has no source for. */
const resourceMetrics = defineRoute({
  dialect: 'cloudpioneer',
  method: 'GET',
  path: '/resources/{resource_id}/metrics',
  summary: "A resource's metrics as a time series (averages per interval of recorded figures)",
  input: {
    params: z.object({ resource_id: z.string().min(1).max(128) }),
    query: z.object({
      start_time: z.iso.datetime({ offset: true }).optional(),
      end_time: z.iso.datetime({ offset: true }).optional(),
      interval: z.enum(['1m', '5m', '15m', '1h', '6h', '1d']).optional(),
      metrics: commaList(METRIC_NAMES.length, z.enum(METRIC_NAMES)),
    }),
  },
  operation: graphql(`
    query CloudPioneerResourceMetrics(
      $resourceId: ID!
      $startTime: DateTime
      $endTime: DateTime
      $interval: String
      $metrics: [String!]
    ) {
      cloudResourceMetrics(
        resourceId: $resourceId
        startTime: $startTime
        endTime: $endTime
        interval: $interval
        metrics: $metrics
      ) {
        resourceId
        interval
        series {
          metric
          points {
            timestamp
            value
          }
        }
      }
    }
  `),
  variables: ({ params, query }) => ({
    resourceId: params.resource_id,
    startTime: query.start_time ?? null,
    endTime: query.end_time ?? null,
    interval: query.interval ?? null,
    metrics: query.metrics ?? null,
  }),
  respond: ({ cloudResourceMetrics: m }) => ({
    resource_id: m.resourceId,
    interval: m.interval,
    metrics: Object.fromEntries(m.series.map((s) => [s.metric, s.points])),
  }),
  response: z.object({
    resource_id: z.string(),
    interval: z.string(),
    metrics: z.record(
      z.string(),
      z
        .array(z.object({ timestamp: isoTimestamp, value: z.number() }))
        .nullable()
        .describe('null: no source'),
    ),
  }),
});

export const cloudpioneerRoutes: RestRoute[] = [login, listResources, resourceMetrics];
