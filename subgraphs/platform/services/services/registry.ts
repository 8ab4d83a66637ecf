import { AppError } from '../../../../lib/errors.js';
import { SUBGRAPH_NAMES } from '../../../../lib/env.js';
import {
  PLATFORM_SERVICE_PRINCIPAL,
  RESOURCE_CATALOG_SCOPE,
  requireScope,
  type Principal,
} from '../../../../lib/principal.js';
import { serviceMeter, type ServiceFigures } from '../../../../lib/runtime/service-metrics.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';

/**
 * The platform's services as nexus-core lists them: the six subgraphs and the gateway (request
 * counts, errors and latency counted where they handle requests, lib/runtime/service-metrics.ts),
 * the job worker (the queue's retained counts), the database (its own statistics:
 * pg_stat_database, pg_postmaster_start_time) and the cache (the store's hit and miss counters).
 * Health comes from a live probe of each. read:system to read, admin:services to restart.
 */

export const SERVICE_NAMES = [...SUBGRAPH_NAMES, 'gateway', 'worker', 'database', 'cache'] as const;

export interface ServiceError {
  timestamp: string;
  error: string;
  count: number;
}

export interface ServiceInfo {
  name: string;
  type: string;
  status: 'running' | 'stopped' | 'unknown';
  health: 'healthy' | 'degraded' | 'unhealthy' | 'unknown';
  version: string;
  dependencies: string[];
  dependents: string[];
  uptimeSeconds: number | null;
  requestsHandled: number | null;
  errors: number | null;
  avgResponseTimeMs: number | null;
  errorRate: number | null;
  config: Record<string, unknown>;
  recentErrors: ServiceError[];
  restartable: boolean;
}

const PROBE_TIMEOUT_MS = 3_000;

async function withTimeout<T>(work: Promise<T>, ms = PROBE_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The later of two start times: a service restarted through the API counts from its restart. */
function latest(a: Date | null | undefined, b: Date | null | undefined): Date | null {
  if (!a || !b) return a ?? b ?? null;
  return a > b ? a : b;
}

function uptimeOf(startedAt: Date | null): number | null {
  return startedAt ? Math.max(0, Math.floor((Date.now() - startedAt.getTime()) / 1000)) : null;
}

function fromFigures(f: ServiceFigures) {
  return {
    uptimeSeconds: uptimeOf(f.startedAt),
    requestsHandled: f.requests,
    errors: f.errors,
    avgResponseTimeMs: f.requests > 0 ? Math.round((f.totalMs / f.requests) * 100) / 100 : null,
    errorRate: f.requests > 0 ? f.errors / f.requests : null,
    recentErrors: f.recentErrors,
  };
}

/** A subgraph answers `{ __typename }` through its own pipeline (signed principal and all). */
export async function probeSubgraph(deps: SubgraphDeps, name: string): Promise<number> {
  if (!deps.subgraphs) throw new Error('no subgraph client in this process');
  const started = performance.now();
  const answer = await withTimeout(
    deps.subgraphs.call(name as (typeof SUBGRAPH_NAMES)[number], {
      document: '{ __typename }',
      principal: PLATFORM_SERVICE_PRINCIPAL,
    }),
  );
  if (answer.errors?.length) throw new Error(answer.errors[0]!.message);
  return performance.now() - started;
}

async function describe(deps: SubgraphDeps, name: string): Promise<ServiceInfo> {
  const meter = serviceMeter(deps.kv);
  const restartable = deps.services?.restartable().includes(name) ?? false;
  const base = { name, version: deps.version, restartable, recentErrors: [] as ServiceError[] };
  if ((SUBGRAPH_NAMES as readonly string[]).includes(name)) {
    const figures = fromFigures(await meter.read(name));
    const health: ServiceInfo['health'] = await probeSubgraph(deps, name).then(
      () => 'healthy',
      () => (deps.subgraphs ? 'unhealthy' : 'unknown'),
    );
    return {
      ...base,
      ...figures,
      type: 'Subgraph',
      status: health === 'unhealthy' ? 'stopped' : figures.uptimeSeconds === null ? 'unknown' : 'running',
      health,
      dependencies: ['database', 'cache'],
      dependents: ['gateway'],
      config: { transport: 'graphql', schema: `schema/${name}.graphql` },
    };
  }
  if (name === 'gateway') {
    const figures = fromFigures(await meter.read('gateway'));
    return {
      ...base,
      ...figures,
      type: 'Gateway',
      status: figures.uptimeSeconds === null ? 'unknown' : 'running',
      // The request for this list came through a gateway: one is serving.
      health: 'healthy',
      dependencies: [...SUBGRAPH_NAMES, 'cache'],
      dependents: [],
      config: {},
    };
  }
  if (name === 'worker') {
    const figures = await meter.read('worker');
    let counts: Awaited<ReturnType<SubgraphDeps['jobs']['counts']>> | null = null;
    let error: string | null = null;
    try {
      counts = await withTimeout(deps.jobs.counts());
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    const handled = counts ? counts.completed + counts.failed : null;
    return {
      ...base,
      type: 'JobWorker',
      status: figures.startedAt ? 'running' : 'unknown',
      health: counts ? 'healthy' : 'unhealthy',
      dependencies: ['cache', 'database'],
      dependents: [...SUBGRAPH_NAMES],
      uptimeSeconds: uptimeOf(figures.startedAt),
      // Retained jobs (24 h / 1000 completed, 7 days / 5000 failed), not an all-time total.
      requestsHandled: handled,
      errors: counts?.failed ?? null,
      avgResponseTimeMs: null,
      errorRate: counts && handled ? counts.failed / handled : null,
      config: {
        backend: deps.jobs.kind,
        ...(counts ? { waiting: counts.waiting, active: counts.active, delayed: counts.delayed } : {}),
      },
      recentErrors: error ? [{ timestamp: new Date().toISOString(), error, count: 1 }] : [],
    };
  }
  if (name === 'database') {
    let health: ServiceInfo['health'] = 'healthy';
    let stats: { started: Date | null; commits: number; rollbacks: number } | null = null;
    let error: string | null = null;
    try {
      await withTimeout(deps.db.ping());
      const [row] = await deps.db.prisma.$queryRawUnsafe<
        { started: Date | null; commits: bigint; rollbacks: bigint }[]
      >(
        `SELECT pg_postmaster_start_time() AS started, xact_commit AS commits, xact_rollback AS rollbacks
           FROM pg_stat_database WHERE datname = current_database()`,
      );
      stats = row ? { started: row.started, commits: Number(row.commits), rollbacks: Number(row.rollbacks) } : null;
    } catch (e) {
      health = 'unhealthy';
      error = e instanceof Error ? e.message : String(e);
    }
    const pool = deps.db.poolStats();
    const handled = stats ? stats.commits + stats.rollbacks : null;
    return {
      ...base,
      type: deps.db.kind === 'pglite' ? 'EmbeddedPostgres' : 'PostgreSQL',
      status: health === 'healthy' ? 'running' : 'stopped',
      health,
      dependencies: [],
      dependents: [...SUBGRAPH_NAMES, 'worker'],
      // The server's start, or this platform's pool restart (services restart) when later.
      uptimeSeconds: uptimeOf(latest(stats?.started, (await meter.read('database')).startedAt)),
      // Transactions the server has run in this database (pg_stat_database), every client included.
      requestsHandled: handled,
      errors: stats?.rollbacks ?? null,
      avgResponseTimeMs: null,
      errorRate: stats && handled ? stats.rollbacks / handled : null,
      config: pool ? { pool_size: pool.max, active: pool.active, idle: pool.idle, waiting: pool.waiting } : {},
      recentErrors: error ? [{ timestamp: new Date().toISOString(), error, count: 1 }] : [],
    };
  }
  // cache
  let health: ServiceInfo['health'] = 'healthy';
  let hits: number | null = null;
  let misses: number | null = null;
  let error: string | null = null;
  try {
    await withTimeout(deps.kv.ping());
    const stats = await deps.kv.cache.stats();
    hits = stats.hits;
    misses = stats.misses;
  } catch (e) {
    health = 'unhealthy';
    error = e instanceof Error ? e.message : String(e);
  }
  return {
    ...base,
    type: deps.kv.kind === 'redis' ? 'Redis' : 'MemoryCache',
    status: health === 'healthy' ? 'running' : 'stopped',
    health,
    dependencies: [],
    dependents: ['gateway', ...SUBGRAPH_NAMES, 'worker'],
    // The in-memory store lives as long as this process; Redis does not report its start here, so
    // its uptime counts from the platform's last reconnect (services restart), null before one.
    uptimeSeconds: uptimeOf(
      latest(deps.kv.kind === 'memory' ? deps.startedAt : null, (await meter.read('cache')).startedAt),
    ),
    // Lookups the store served (hits + misses).
    requestsHandled: hits === null || misses === null ? null : hits + misses,
    errors: null,
    avgResponseTimeMs: null,
    errorRate: null,
    config: { backend: deps.kv.kind },
    recentErrors: error ? [{ timestamp: new Date().toISOString(), error, count: 1 }] : [],
  };
}

export async function listServices(options: {
  deps: SubgraphDeps;
  principal: Principal | null;
}): Promise<ServiceInfo[]> {
  // Edge's resource catalog reads the list too (RESOURCE_CATALOG_SCOPE, service principal only).
  if (!options.principal?.scopes.includes(RESOURCE_CATALOG_SCOPE)) requireScope(options.principal, 'read:system');
  await serviceMeter(options.deps.kv).flush();
  return Promise.all(SERVICE_NAMES.map((name) => describe(options.deps, name)));
}

export async function getService(options: {
  deps: SubgraphDeps;
  principal: Principal | null;
  name: string;
}): Promise<ServiceInfo> {
  requireScope(options.principal, 'read:system');
  if (!(SERVICE_NAMES as readonly string[]).includes(options.name)) {
    throw new AppError('NOT_FOUND', 'Service not found', {
      service: options.name.slice(0, 50),
      services: SERVICE_NAMES,
    });
  }
  await serviceMeter(options.deps.kv).flush();
  return describe(options.deps, options.name);
}

export async function restartService(options: {
  deps: SubgraphDeps;
  principal: Principal | null;
  name: string;
}): Promise<{ service: string; durationMs: number; detail: string }> {
  requireScope(options.principal, 'admin:services');
  const { deps, name } = options;
  if (!(SERVICE_NAMES as readonly string[]).includes(name)) {
    throw new AppError('NOT_FOUND', 'Service not found', { service: name.slice(0, 50), services: SERVICE_NAMES });
  }
  const restartable = deps.services?.restartable() ?? [];
  if (!deps.services || !restartable.includes(name)) {
    // Split deployment (bin/*.ts): each service is its own process, restarted by whatever runs it
    // (its supervisor, orchestrator or a rolling deploy); this subgraph cannot reach into another process.
    const reason =
      deps.services?.whyNot?.(name) ??
      `${name} runs in its own process in this deployment (split: bin/gateway.ts, bin/subgraph.ts, bin/worker.ts), which this platform subgraph cannot restart: restart that process through its supervisor`;
    throw new AppError('CONFLICT', reason, {
      service: name,
      deployment: deps.services ? 'all-in-one' : 'split',
      restartable,
    });
  }
  const started = performance.now();
  const detail = await deps.services.restart(name);
  return { service: name, durationMs: Math.round(performance.now() - started), detail };
}
