import { z } from 'zod';
import type { Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import type { QueryLog } from '../../../../prisma/generated/client.js';
import { loadTenantFor } from '../tenants/tenant-access.js';
import { databaseUrl, dedicatedServerUrl, withClient } from '../tenants/tenant-databases.js';

export type { QueryLog };

/** The documented windows; anything else is a validation error rather than a guess. */
export const LOG_WINDOWS = { '1h': '1 hour', '24h': '24 hours', '7d': '7 days' } as const;
export type LogWindow = keyof typeof LOG_WINDOWS;

const logsInput = z.object({
  type: z.enum(['error', 'slow']).nullish(),
  since: z.enum(['1h', '24h', '7d']).default('24h'),
  limit: z.number().int().min(1).max(1000).default(100),
});

/** The tenant's recorded queries, newest first, optionally only the failed or the slow ones. */
export async function listTenantQueryLogs({
  deps,
  principal,
  tenantId,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  tenantId: string;
  input: z.input<typeof logsInput>;
}): Promise<{ tenantId: string; logs: QueryLog[]; count: number; hasMore: boolean; since: LogWindow }> {
  const tenant = await loadTenantFor(deps, principal, tenantId, 'read:tenants');
  const data = parseInput(logsInput, input);
  const from = new Date(Date.now() - windowMs(data.since));
  const rows = await deps.db.prisma.queryLog.findMany({
    where: {
      tenantId: tenant.id,
      createdAt: { gte: from },
      ...(data.type === 'error' ? { status: 'error' } : {}),
      ...(data.type === 'slow' ? { slow: true } : {}),
    },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: data.limit + 1,
  });
  const logs = rows.slice(0, data.limit);
  return { tenantId: tenant.slug, logs, count: logs.length, hasMore: rows.length > data.limit, since: data.since };
}

function windowMs(since: LogWindow): number {
  return { '1h': 3600_000, '24h': 24 * 3600_000, '7d': 7 * 24 * 3600_000 }[since];
}

export interface QueryLogStats {
  tenantId: string;
  since: LogWindow;
  total: number;
  succeeded: number;
  failed: number;
  slow: number;
  readOnly: number;
  avgLatencyMs: number;
  p95LatencyMs: number;
  maxLatencyMs: number;
  rowsReturned: number;
  byKind: Array<{ kind: string; total: number; failed: number; avgLatencyMs: number }>;
  bySource: Array<{ source: string; total: number; failed: number }>;
  topErrors: Array<{ errorCode: string; count: number }>;
}

const statsInput = z.object({ since: z.enum(['1h', '24h', '7d']).default('24h') });

const round2 = (n: number | null | undefined) => Math.round((n ?? 0) * 100) / 100;

/** Totals over the window, computed in SQL over tenancy.query_logs. */
export async function getTenantQueryLogStats({
  deps,
  principal,
  tenantId,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  tenantId: string;
  input: z.input<typeof statsInput>;
}): Promise<QueryLogStats> {
  const tenant = await loadTenantFor(deps, principal, tenantId, 'read:tenants');
  const { since } = parseInput(statsInput, input);
  const interval = LOG_WINDOWS[since];
  const where = `tenant_id = $1 AND created_at >= now() - $2::interval`;
  const prisma = deps.db.prisma;
  const [totals] = await prisma.$queryRawUnsafe<
    Array<{
      total: number;
      succeeded: number;
      failed: number;
      slow: number;
      read_only: number;
      avg_ms: number | null;
      p95_ms: number | null;
      max_ms: number | null;
      rows: number | null;
    }>
  >(
    `SELECT count(*)::int AS total,
            count(*) FILTER (WHERE status = 'success')::int AS succeeded,
            count(*) FILTER (WHERE status = 'error')::int AS failed,
            count(*) FILTER (WHERE slow)::int AS slow,
            count(*) FILTER (WHERE read_only)::int AS read_only,
            avg(duration_ms)::float8 AS avg_ms,
            (percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms))::float8 AS p95_ms,
            max(duration_ms)::float8 AS max_ms,
            coalesce(sum(row_count), 0)::float8 AS rows
       FROM tenancy.query_logs WHERE ${where}`,
    tenant.id,
    interval,
  );
  const byKind = await prisma.$queryRawUnsafe<Array<{ kind: string; total: number; failed: number; avg_ms: number }>>(
    `SELECT coalesce(statement_kind, 'other') AS kind, count(*)::int AS total,
            count(*) FILTER (WHERE status = 'error')::int AS failed, avg(duration_ms)::float8 AS avg_ms
       FROM tenancy.query_logs WHERE ${where} GROUP BY 1 ORDER BY 2 DESC, 1`,
    tenant.id,
    interval,
  );
  const bySource = await prisma.$queryRawUnsafe<Array<{ source: string; total: number; failed: number }>>(
    `SELECT source, count(*)::int AS total, count(*) FILTER (WHERE status = 'error')::int AS failed
       FROM tenancy.query_logs WHERE ${where} GROUP BY 1 ORDER BY 2 DESC, 1`,
    tenant.id,
    interval,
  );
  const topErrors = await prisma.$queryRawUnsafe<Array<{ error_code: string; count: number }>>(
    `SELECT coalesce(error_code, 'unknown') AS error_code, count(*)::int AS count
       FROM tenancy.query_logs WHERE ${where} AND status = 'error' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10`,
    tenant.id,
    interval,
  );
  return {
    tenantId: tenant.slug,
    since,
    total: totals?.total ?? 0,
    succeeded: totals?.succeeded ?? 0,
    failed: totals?.failed ?? 0,
    slow: totals?.slow ?? 0,
    readOnly: totals?.read_only ?? 0,
    avgLatencyMs: round2(totals?.avg_ms),
    p95LatencyMs: round2(totals?.p95_ms),
    maxLatencyMs: round2(totals?.max_ms),
    rowsReturned: Number(totals?.rows ?? 0),
    byKind: byKind.map((k) => ({ kind: k.kind, total: k.total, failed: k.failed, avgLatencyMs: round2(k.avg_ms) })),
    bySource: bySource.map((s) => ({ source: s.source, total: s.total, failed: s.failed })),
    topErrors: topErrors.map((e) => ({ errorCode: e.error_code, count: e.count })),
  };
}

export interface TenantMetrics {
  tenantId: string;
  isolationLevel: number;
  databaseType: 'PostgreSQL';
  queryMetrics: {
    queriesToday: number;
    queriesThisHour: number;
    queriesThisWeek: number;
    avgLatencyMs: number;
    maxLatencyMs: number;
    successRate: number;
    failedQueries: number;
    slowQueries: number;
  };
  databaseMetrics: {
    note: string | null;
    databaseName: string | null;
    databaseStatus: string | null;
    sizeBytes: number | null;
    connections: number | null;
    activeConnections: number | null;
    maxConnections: number | null;
  };
}

const L1_NOTE = 'Storage and connection metrics only available for L2 (dedicated) tenants';

/**
 * The documented metrics. Calendar periods are UTC (today, this hour, this ISO week from Monday);
 * latency, success rate, failed and slow cover this week's queries. A tenant with no queries has a
 * 100% success rate, as the document shows.
 */
export async function getTenantMetrics({
  deps,
  principal,
  tenantId,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  tenantId: string;
}): Promise<TenantMetrics> {
  const tenant = await loadTenantFor(deps, principal, tenantId, 'read:tenants');
  const [m] = await deps.db.prisma.$queryRawUnsafe<
    Array<{
      today: number;
      hour: number;
      week: number;
      avg_ms: number | null;
      max_ms: number | null;
      failed: number;
      slow: number;
    }>
  >(
    `WITH bounds AS (
       SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day,
              date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
              date_trunc('week', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS week
     )
     SELECT count(q.id) FILTER (WHERE q.created_at >= b.day)::int AS today,
            count(q.id) FILTER (WHERE q.created_at >= b.hour)::int AS hour,
            count(q.id)::int AS week,
            avg(q.duration_ms)::float8 AS avg_ms,
            max(q.duration_ms)::float8 AS max_ms,
            count(q.id) FILTER (WHERE q.status = 'error')::int AS failed,
            count(q.id) FILTER (WHERE q.slow)::int AS slow
       FROM bounds b LEFT JOIN tenancy.query_logs q ON q.tenant_id = $1 AND q.created_at >= b.week`,
    tenant.id,
  );
  const week = m?.week ?? 0;
  const failed = m?.failed ?? 0;
  const queryMetrics = {
    queriesToday: m?.today ?? 0,
    queriesThisHour: m?.hour ?? 0,
    queriesThisWeek: week,
    avgLatencyMs: round2(m?.avg_ms),
    maxLatencyMs: round2(m?.max_ms),
    successRate: week === 0 ? 100 : round2(((week - failed) / week) * 100),
    failedQueries: failed,
    slowQueries: m?.slow ?? 0,
  };
  const none = { sizeBytes: null, connections: null, activeConnections: null, maxConnections: null };
  let databaseMetrics: TenantMetrics['databaseMetrics'];
  if (tenant.isolationLevel === 2 && tenant.databaseName && tenant.databaseStatus === 'ready') {
    const url = databaseUrl(dedicatedServerUrl(deps), tenant.databaseName);
    const stats = await withClient(url, async (client) => {
      const { rows } = await client.query<{ size: string; connections: number; active: number; max: number }>(
        `SELECT pg_database_size(current_database())::text AS size,
                (SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database()) AS connections,
                (SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND state = 'active') AS active,
                current_setting('max_connections')::int AS max`,
      );
      return rows[0]!;
    });
    databaseMetrics = {
      note: null,
      databaseName: tenant.databaseName,
      databaseStatus: tenant.databaseStatus,
      sizeBytes: Number(stats.size),
      connections: stats.connections,
      activeConnections: stats.active,
      maxConnections: stats.max,
    };
  } else if (tenant.isolationLevel === 2) {
    databaseMetrics = {
      note: `The dedicated database is ${tenant.databaseStatus}`,
      databaseName: tenant.databaseName,
      databaseStatus: tenant.databaseStatus,
      ...none,
    };
  } else {
    databaseMetrics = { note: L1_NOTE, databaseName: null, databaseStatus: null, ...none };
  }
  return {
    tenantId: tenant.slug,
    isolationLevel: tenant.isolationLevel,
    databaseType: 'PostgreSQL',
    queryMetrics,
    databaseMetrics,
  };
}
