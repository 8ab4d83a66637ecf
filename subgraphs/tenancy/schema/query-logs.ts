import { builder } from '../builder.js';
import {
  getTenantMetrics,
  getTenantQueryLogStats,
  listTenantQueryLogs,
  type QueryLog,
  type QueryLogStats,
  type TenantMetrics,
} from '../services/sql/query-logs.js';

const QueryLogRef = builder.objectRef<QueryLog>('TenantQueryLog').implement({
  description: 'One tenant SQL statement run through the platform (parameters are not stored).',
  fields: (t) => ({
    id: t.exposeID('id'),
    source: t.exposeString('source', { description: 'api | admin' }),
    statement: t.exposeString('statement'),
    statementKind: t.exposeString('statementKind', { nullable: true }),
    readOnly: t.exposeBoolean('readOnly'),
    status: t.exposeString('status', { description: 'success | error' }),
    errorCode: t.exposeString('errorCode', { nullable: true }),
    errorMessage: t.exposeString('errorMessage', { nullable: true }),
    durationMs: t.exposeFloat('durationMs'),
    rowCount: t.exposeInt('rowCount', { nullable: true }),
    slow: t.exposeBoolean('slow'),
    createdAt: t.field({ type: 'DateTime', resolve: (q) => q.createdAt }),
  }),
});

interface LogPage {
  tenantId: string;
  logs: QueryLog[];
  count: number;
  hasMore: boolean;
  since: string;
}

const LogPageRef = builder.objectRef<LogPage>('TenantQueryLogPage').implement({
  fields: (t) => ({
    tenantId: t.exposeString('tenantId'),
    logs: t.field({ type: [QueryLogRef], resolve: (p) => p.logs }),
    count: t.exposeInt('count'),
    hasMore: t.exposeBoolean('hasMore'),
    since: t.exposeString('since'),
  }),
});

const KindStatsRef = builder.objectRef<QueryLogStats['byKind'][number]>('TenantQueryKindStats').implement({
  fields: (t) => ({
    kind: t.exposeString('kind'),
    total: t.exposeInt('total'),
    failed: t.exposeInt('failed'),
    avgLatencyMs: t.exposeFloat('avgLatencyMs'),
  }),
});

const SourceStatsRef = builder.objectRef<QueryLogStats['bySource'][number]>('TenantQuerySourceStats').implement({
  fields: (t) => ({ source: t.exposeString('source'), total: t.exposeInt('total'), failed: t.exposeInt('failed') }),
});

const ErrorStatsRef = builder.objectRef<QueryLogStats['topErrors'][number]>('TenantQueryErrorStats').implement({
  fields: (t) => ({ errorCode: t.exposeString('errorCode'), count: t.exposeInt('count') }),
});

const StatsRef = builder.objectRef<QueryLogStats>('TenantQueryLogStats').implement({
  description: 'Totals over the window, from the recorded queries.',
  fields: (t) => ({
    tenantId: t.exposeString('tenantId'),
    since: t.exposeString('since'),
    total: t.exposeInt('total'),
    succeeded: t.exposeInt('succeeded'),
    failed: t.exposeInt('failed'),
    slow: t.exposeInt('slow'),
    readOnly: t.exposeInt('readOnly'),
    avgLatencyMs: t.exposeFloat('avgLatencyMs'),
    p95LatencyMs: t.exposeFloat('p95LatencyMs'),
    maxLatencyMs: t.exposeFloat('maxLatencyMs'),
    rowsReturned: t.exposeFloat('rowsReturned'),
    byKind: t.field({ type: [KindStatsRef], resolve: (s) => s.byKind }),
    bySource: t.field({ type: [SourceStatsRef], resolve: (s) => s.bySource }),
    topErrors: t.field({ type: [ErrorStatsRef], resolve: (s) => s.topErrors }),
  }),
});

const QueryMetricsRef = builder.objectRef<TenantMetrics['queryMetrics']>('TenantQueryMetrics').implement({
  description: 'UTC calendar periods; latency, success rate, failed and slow cover this week (from Monday).',
  fields: (t) => ({
    queriesToday: t.exposeInt('queriesToday'),
    queriesThisHour: t.exposeInt('queriesThisHour'),
    queriesThisWeek: t.exposeInt('queriesThisWeek'),
    avgLatencyMs: t.exposeFloat('avgLatencyMs'),
    maxLatencyMs: t.exposeFloat('maxLatencyMs'),
    successRate: t.exposeFloat('successRate', { description: 'Percent; 100 with no queries' }),
    failedQueries: t.exposeInt('failedQueries'),
    slowQueries: t.exposeInt('slowQueries'),
  }),
});

const DatabaseMetricsRef = builder.objectRef<TenantMetrics['databaseMetrics']>('TenantDatabaseMetrics').implement({
  description: 'Read from the dedicated database itself (level 2); a note otherwise.',
  fields: (t) => ({
    note: t.exposeString('note', { nullable: true }),
    databaseName: t.exposeString('databaseName', { nullable: true }),
    databaseStatus: t.exposeString('databaseStatus', { nullable: true }),
    sizeBytes: t.exposeFloat('sizeBytes', { nullable: true }),
    connections: t.exposeInt('connections', { nullable: true }),
    activeConnections: t.exposeInt('activeConnections', { nullable: true }),
    maxConnections: t.exposeInt('maxConnections', { nullable: true }),
  }),
});

const MetricsRef = builder.objectRef<TenantMetrics>('TenantMetrics').implement({
  fields: (t) => ({
    tenantId: t.exposeString('tenantId'),
    isolationLevel: t.exposeInt('isolationLevel'),
    databaseType: t.exposeString('databaseType'),
    queryMetrics: t.field({ type: QueryMetricsRef, resolve: (m) => m.queryMetrics }),
    databaseMetrics: t.field({ type: DatabaseMetricsRef, resolve: (m) => m.databaseMetrics }),
  }),
});

builder.queryFields((t) => ({
  tenantQueryLogs: t.field({
    type: LogPageRef,
    description: 'Requires read:tenants. Newest first; type error|slow, since 1h|24h|7d (default 24h).',
    args: {
      tenantId: t.arg.id({ required: true }),
      type: t.arg.string(),
      since: t.arg.string(),
      limit: t.arg.int(),
    },
    resolve: (_root, args, ctx) =>
      listTenantQueryLogs({
        deps: ctx.deps,
        principal: ctx.principal,
        tenantId: String(args.tenantId),
        input: {
          type: (args.type ?? undefined) as 'error' | 'slow' | undefined,
          since: (args.since ?? undefined) as '1h' | '24h' | '7d' | undefined,
          limit: args.limit ?? undefined,
        },
      }),
  }),
  tenantQueryLogStats: t.field({
    type: StatsRef,
    description: 'Requires read:tenants. since 1h|24h|7d (default 24h).',
    args: { tenantId: t.arg.id({ required: true }), since: t.arg.string() },
    resolve: (_root, args, ctx) =>
      getTenantQueryLogStats({
        deps: ctx.deps,
        principal: ctx.principal,
        tenantId: String(args.tenantId),
        input: { since: (args.since ?? undefined) as '1h' | '24h' | '7d' | undefined },
      }),
  }),
  tenantMetrics: t.field({
    type: MetricsRef,
    description: 'Requires read:tenants.',
    args: { tenantId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      getTenantMetrics({ deps: ctx.deps, principal: ctx.principal, tenantId: String(args.tenantId) }),
  }),
}));
