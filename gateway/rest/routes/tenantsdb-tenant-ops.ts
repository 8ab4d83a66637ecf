import { z } from 'zod';
import { graphql, type ResultOf } from '../graphql.js';
import { defineRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

// tenantsdb tenant operations (tenancy): backups and rollback, the isolation level, query logs and
// metrics, and the vm-ready provisioning callback. `{id}` is the tenant_id (slug) as elsewhere in
// the document. Where the document shows no answer (backup, backups, rollback, isolation,
// logs/stats, vm-ready) the answers follow its style: snake_case fields beside `success`. Backup,
// rollback and isolation changes run as jobs: they answer 202 with the record to follow
// (`status`, `progress`).

const idParams = z.object({ id: z.string().min(1).max(100) });

// --- backups -----------------------------------------------------------------------------------

const BackupFields = graphql(`
  fragment BackupFields on TenantBackup {
    id
    status
    storagePath
    sizeBytes
    checksum
    tables
    rows
    error
    createdAt
    completedAt
  }
`);

function toBackup(b: ResultOf<typeof BackupFields>) {
  return {
    backup_id: b.id,
    status: b.status,
    created_at: b.createdAt,
    completed_at: b.completedAt,
    size_bytes: b.sizeBytes,
    storage_path: b.storagePath,
    checksum: b.checksum,
    tables: b.tables,
    rows: b.rows,
    error: b.error,
  };
}

const backupSchema = z.object({
  backup_id: z.string(),
  status: z.enum(['pending', 'running', 'completed', 'failed']),
  created_at: isoTimestamp.describe('When the backup was requested: the date a rollback {date} matches'),
  completed_at: isoTimestamp.nullable(),
  size_bytes: z.number().nullable().describe('Size of the dump file; null until completed'),
  storage_path: z.string().nullable().describe('Relative to the platform file storage; what rollback accepts'),
  checksum: z.string().nullable().describe('sha256 of the dump file, hex'),
  tables: z.number().int().nullable(),
  rows: z.number().nullable(),
  error: z.string().nullable(),
});

const backup = defineRoute({
  dialect: 'tenantsdb',
  method: 'POST',
  path: '/tenants/{id}/backup',
  summary: 'Trigger a backup (a job writing a restorable dump of the tenant’s schema); requires admin:backup',
  status: 202,
  input: { params: idParams },
  operation: graphql(
    `
      mutation TenantsdbBackup($id: ID!) {
        backupTenant(tenantId: $id) {
          ...BackupFields
        }
      }
    `,
    [BackupFields],
  ),
  variables: ({ params }) => ({ id: params.id }),
  respond: ({ backupTenant }, { params }) => ({
    tenant_id: params.id,
    ...toBackup(backupTenant),
    message: 'Backup started',
  }),
  response: backupSchema.extend({ tenant_id: z.string(), message: z.string() }),
});

const backups = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/tenants/{id}/backups',
  summary: 'List backups, newest first, with date and size; requires admin:backup',
  input: {
    params: idParams,
    query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
  },
  operation: graphql(
    `
      query TenantsdbBackups($id: ID!, $limit: Int) {
        tenantBackups(tenantId: $id, limit: $limit) {
          ...BackupFields
        }
      }
    `,
    [BackupFields],
  ),
  variables: ({ params, query }) => ({ id: params.id, limit: query.limit }),
  respond: ({ tenantBackups }, { params }) => ({
    tenant_id: params.id,
    backups: tenantBackups.map(toBackup),
    count: tenantBackups.length,
  }),
  response: z.object({ tenant_id: z.string(), backups: z.array(backupSchema), count: z.number().int() }),
});

// --- operations (rollback, isolation) ----------------------------------------------------------

const OperationFields = graphql(`
  fragment OperationFields on TenantOperation {
    id
    kind
    status
    progress
    input
    error
    createdAt
    completedAt
  }
`);

/** The operation's `input` (JSON): the arguments tenancy recorded when it queued the job. */
function operationInput(op: ResultOf<typeof OperationFields>): Record<string, unknown> {
  return op.input as Record<string, unknown>;
}

const operationSchema = z.object({
  tenant_id: z.string(),
  operation_id: z.string().describe('Follow it with the tenantOperation GraphQL query'),
  kind: z.enum(['restore', 'isolation_change']),
  status: z.enum(['pending', 'running', 'completed', 'failed']),
  progress: z.number().int().describe('Percent done'),
  created_at: isoTimestamp,
  message: z.string(),
});

type OperationPayload = z.infer<typeof operationSchema>;

const rollback = defineRoute({
  dialect: 'tenantsdb',
  method: 'POST',
  path: '/tenants/{id}/rollback',
  summary:
    'Roll back to a backup: {date} (latest completed backup on or before it) or {storage_path}; requires admin:backup',
  status: 202,
  input: {
    params: idParams,
    body: z
      .object({
        date: z.string().min(1).optional().describe('YYYY-MM-DD (the whole day, UTC) or an ISO timestamp'),
        storage_path: z
          .string()
          .min(1)
          .optional()
          .describe(
            'A backup’s storage_path; must be inside the platform file storage (object storage is not configured)',
          ),
      })
      .refine((b) => (b.date === undefined) !== (b.storage_path === undefined), {
        message: 'Give exactly one of date or storage_path',
      }),
  },
  operation: graphql(
    `
      mutation TenantsdbRollback($id: ID!, $date: String, $storagePath: String) {
        rollbackTenant(tenantId: $id, date: $date, storagePath: $storagePath) {
          ...OperationFields
        }
      }
    `,
    [OperationFields],
  ),
  variables: ({ params, body }) => ({ id: params.id, date: body.date ?? null, storagePath: body.storage_path ?? null }),
  respond: ({ rollbackTenant: op }, { params }) => ({
    tenant_id: params.id,
    operation_id: op.id,
    kind: op.kind as OperationPayload['kind'],
    status: op.status as OperationPayload['status'],
    progress: op.progress,
    backup_id: (operationInput(op).backup_id as string | null | undefined) ?? null,
    storage_path: String(operationInput(op).storage_path ?? ''),
    created_at: op.createdAt,
    message: 'Rollback started: the backup is restored into a fresh schema, verified, then swapped in',
  }),
  response: operationSchema.extend({ backup_id: z.string().nullable(), storage_path: z.string() }),
});

const isolation = defineRoute({
  dialect: 'tenantsdb',
  method: 'PATCH',
  path: '/tenants/{id}/isolation',
  summary:
    'Change the isolation level (1 shared schema, 2 dedicated database) as a job; requires write:tenants. Level 2 needs real PostgreSQL (NOT_CONFIGURED on the embedded database)',
  status: 202,
  input: {
    params: idParams,
    body: z.object({ isolation_level: z.union([z.literal(1), z.literal(2)]) }),
  },
  operation: graphql(
    `
      mutation TenantsdbIsolation($id: ID!, $level: Int!) {
        changeTenantIsolation(tenantId: $id, isolationLevel: $level) {
          ...OperationFields
        }
      }
    `,
    [OperationFields],
  ),
  variables: ({ params, body }) => ({ id: params.id, level: body.isolation_level }),
  respond: ({ changeTenantIsolation: op }, { params, body }) => ({
    tenant_id: params.id,
    operation_id: op.id,
    kind: op.kind as OperationPayload['kind'],
    status: op.status as OperationPayload['status'],
    progress: op.progress,
    isolation_level: body.isolation_level as number,
    created_at: op.createdAt,
    message: `Moving to isolation level ${body.isolation_level}`,
  }),
  response: operationSchema.extend({ isolation_level: z.number().int().describe('The target level') }),
});

// --- logs and metrics --------------------------------------------------------------------------

const windowSchema = z.enum(['1h', '24h', '7d']);

const logs = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/tenants/{id}/logs',
  summary: 'Query logs, newest first; requires read:tenants',
  input: {
    params: idParams,
    query: z.object({
      type: z.enum(['error', 'slow']).optional(),
      since: windowSchema.default('24h'),
      limit: z.coerce.number().int().min(1).max(1000).default(100),
    }),
  },
  operation: graphql(`
    query TenantsdbLogs($id: ID!, $type: String, $since: String, $limit: Int) {
      tenantQueryLogs(tenantId: $id, type: $type, since: $since, limit: $limit) {
        tenantId
        count
        hasMore
        logs {
          id
          source
          statement
          statementKind
          readOnly
          status
          errorCode
          errorMessage
          durationMs
          rowCount
          slow
          createdAt
        }
      }
    }
  `),
  variables: ({ params, query }) => ({
    id: params.id,
    type: query.type ?? null,
    since: query.since,
    limit: query.limit,
  }),
  respond: ({ tenantQueryLogs: page }) => ({
    tenant_id: page.tenantId,
    logs: page.logs.map((l) => ({
      query_id: l.id,
      query: l.statement,
      statement_kind: l.statementKind,
      source: l.source,
      read_only: l.readOnly,
      status: l.status,
      error_code: l.errorCode,
      error: l.errorMessage,
      duration_ms: l.durationMs,
      row_count: l.rowCount,
      slow: l.slow,
      created_at: l.createdAt,
    })),
    count: page.count,
    has_more: page.hasMore,
  }),
  response: z.object({
    tenant_id: z.string(),
    logs: z.array(
      z.object({
        query_id: z.string(),
        query: z.string().describe('The statement text, capped; parameters are never stored'),
        statement_kind: z.string().nullable(),
        source: z.string().describe('api or admin'),
        read_only: z.boolean(),
        status: z.enum(['success', 'error']),
        error_code: z.string().nullable(),
        error: z.string().nullable(),
        duration_ms: z.number(),
        row_count: z.number().int().nullable(),
        slow: z.boolean(),
        created_at: isoTimestamp,
      }),
    ),
    count: z.number().int().describe('Logs in this answer'),
    has_more: z.boolean().describe('More match than `limit` (default 100)'),
  }),
});

const logStats = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/tenants/{id}/logs/stats',
  summary: 'Query log statistics over a window (1h, 24h default, 7d); requires read:tenants',
  input: { params: idParams, query: z.object({ since: windowSchema.default('24h') }) },
  operation: graphql(`
    query TenantsdbLogStats($id: ID!, $since: String) {
      tenantQueryLogStats(tenantId: $id, since: $since) {
        tenantId
        since
        total
        succeeded
        failed
        slow
        readOnly
        avgLatencyMs
        p95LatencyMs
        maxLatencyMs
        rowsReturned
        byKind {
          kind
          total
          failed
          avgLatencyMs
        }
        bySource {
          source
          total
          failed
        }
        topErrors {
          errorCode
          count
        }
      }
    }
  `),
  variables: ({ params, query }) => ({ id: params.id, since: query.since }),
  respond: ({ tenantQueryLogStats: s }) => ({
    tenant_id: s.tenantId,
    since: s.since as z.infer<typeof windowSchema>,
    total_queries: s.total,
    successful_queries: s.succeeded,
    failed_queries: s.failed,
    slow_queries: s.slow,
    read_only_queries: s.readOnly,
    success_rate: s.total === 0 ? 100 : Math.round((s.succeeded / s.total) * 10_000) / 100,
    avg_latency_ms: s.avgLatencyMs,
    p95_latency_ms: s.p95LatencyMs,
    max_latency_ms: s.maxLatencyMs,
    rows_returned: s.rowsReturned,
    by_kind: Object.fromEntries(
      s.byKind.map((k) => [k.kind, { total: k.total, failed: k.failed, avg_latency_ms: k.avgLatencyMs }]),
    ),
    by_source: Object.fromEntries(s.bySource.map((k) => [k.source, { total: k.total, failed: k.failed }])),
    top_errors: s.topErrors.map((e) => ({ error_code: e.errorCode, count: e.count })),
  }),
  response: z.object({
    tenant_id: z.string(),
    since: windowSchema,
    total_queries: z.number().int(),
    successful_queries: z.number().int(),
    failed_queries: z.number().int(),
    slow_queries: z.number().int(),
    read_only_queries: z.number().int(),
    success_rate: z.number().describe('Percent; 100 with no queries'),
    avg_latency_ms: z.number(),
    p95_latency_ms: z.number(),
    max_latency_ms: z.number(),
    rows_returned: z.number(),
    by_kind: z
      .record(z.string(), z.object({ total: z.number().int(), failed: z.number().int(), avg_latency_ms: z.number() }))
      .describe('select, insert, update, delete, ddl, other'),
    by_source: z.record(z.string(), z.object({ total: z.number().int(), failed: z.number().int() })),
    top_errors: z.array(z.object({ error_code: z.string(), count: z.number().int() })),
  }),
});

const metrics = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/tenants/{id}/metrics',
  summary:
    'Performance metrics from the recorded queries (and the dedicated database at level 2); requires read:tenants',
  input: { params: idParams },
  operation: graphql(`
    query TenantsdbMetrics($id: ID!) {
      tenantMetrics(tenantId: $id) {
        tenantId
        isolationLevel
        databaseType
        queryMetrics {
          queriesToday
          queriesThisHour
          queriesThisWeek
          avgLatencyMs
          maxLatencyMs
          successRate
          failedQueries
          slowQueries
        }
        databaseMetrics {
          note
          databaseName
          databaseStatus
          sizeBytes
          connections
          activeConnections
          maxConnections
        }
      }
    }
  `),
  variables: ({ params }) => ({ id: params.id }),
  respond: ({ tenantMetrics: m }) => {
    const q = m.queryMetrics;
    const d = m.databaseMetrics;
    return {
      tenant_id: m.tenantId,
      isolation_level: m.isolationLevel,
      database_type: m.databaseType,
      query_metrics: {
        queries_today: q.queriesToday,
        queries_this_hour: q.queriesThisHour,
        queries_this_week: q.queriesThisWeek,
        avg_latency_ms: q.avgLatencyMs,
        max_latency_ms: q.maxLatencyMs,
        success_rate: q.successRate,
        failed_queries: q.failedQueries,
        slow_queries: q.slowQueries,
      },
      database_metrics:
        d.sizeBytes === null
          ? { note: d.note ?? '', ...(d.databaseName ? { database: d.databaseName, status: d.databaseStatus } : {}) }
          : {
              database: d.databaseName,
              status: d.databaseStatus,
              size_bytes: d.sizeBytes,
              connections: d.connections,
              active_connections: d.activeConnections,
              max_connections: d.maxConnections,
            },
    };
  },
  response: z.object({
    tenant_id: z.string(),
    isolation_level: z.number().int(),
    database_type: z.string(),
    query_metrics: z
      .object({
        queries_today: z.number().int(),
        queries_this_hour: z.number().int(),
        queries_this_week: z.number().int(),
        avg_latency_ms: z.number(),
        max_latency_ms: z.number(),
        success_rate: z.number().describe('Percent; 100 with no queries'),
        failed_queries: z.number().int(),
        slow_queries: z.number().int(),
      })
      .describe('UTC periods; latency, success rate, failed and slow cover this week (from Monday)'),
    database_metrics: z
      .union([
        z.object({ note: z.string(), database: z.string().optional(), status: z.string().nullable().optional() }),
        z.object({
          database: z.string().nullable(),
          status: z.string().nullable(),
          size_bytes: z.number(),
          connections: z.number().int().nullable(),
          active_connections: z.number().int().nullable(),
          max_connections: z.number().int().nullable(),
        }),
      ])
      .describe('Level 2: read from the dedicated database (pg_database_size, pg_stat_activity); level 1: a note'),
  }),
});

// --- webhook -----------------------------------------------------------------------------------

const header = (headers: Readonly<Record<string, string | string[] | undefined>> | undefined, name: string) => {
  const value = headers?.[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
};

const vmReady = defineRoute({
  dialect: 'tenantsdb',
  method: 'POST',
  path: '/webhooks/vm-ready',
  summary:
    'VM provisioning callback (internal): marks a dedicated tenant database ready. No API key: signed with X-Webhook-Timestamp and X-Webhook-Signature (sha256=HMAC-SHA256 of "<timestamp>.<raw body>" with WEBHOOK_SIGNING_SECRET)',
  // Anyone can reach it: the tight anonymous limit keeps signature guessing expensive.
  rateLimit: 'platform-forge.auth',
  input: {
    body: z.object({
      tenant_id: z.string().min(1),
      database_name: z.string().optional(),
      status: z.enum(['ready', 'failed']).optional(),
      error: z.string().optional(),
    }),
  },
  operation: graphql(`
    mutation TenantsdbVmReady($rawBody: String!, $timestamp: String, $signature: String) {
      vmReady(rawBody: $rawBody, timestamp: $timestamp, signature: $signature) {
        tenantId
        databaseName
        databaseStatus
        isolationLevel
      }
    }
  `),
  // The signature is over the bytes as sent: the subgraph verifies it against the raw body.
  variables: ({ rawBody, headers }) => ({
    rawBody: rawBody ?? '',
    timestamp: header(headers, 'x-webhook-timestamp'),
    signature: header(headers, 'x-webhook-signature'),
  }),
  respond: ({ vmReady: r }) => ({
    tenant_id: r.tenantId,
    database_name: r.databaseName,
    database_status: r.databaseStatus,
    isolation_level: r.isolationLevel,
  }),
  response: z.object({
    tenant_id: z.string(),
    database_name: z.string().nullable(),
    database_status: z.string().describe('ready or failed'),
    isolation_level: z.number().int(),
  }),
});

export const tenantsdbTenantOpsRoutes = [backup, backups, rollback, isolation, logs, logStats, metrics, vmReady];
