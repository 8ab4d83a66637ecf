import {
  checkComponent,
  probeSubgraph,
  round,
  type ComponentCheck,
  type HealthStatus,
  type SubgraphProbe,
} from '../../../lib/subgraph/health.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { checkStorage } from './storage/stats.js';

export interface DatabaseHealth extends ComponentCheck {
  driver: 'postgres' | 'pglite';
  connections: { active: number; idle: number; waiting: number; max: number } | null;
}

export interface CacheHealth extends ComponentCheck {
  kind: 'redis' | 'memory';
  hitRate: number | null;
  memoryUsageBytes: number | null;
  keys: number | null;
}

export interface JobsHealth extends ComponentCheck {
  kind: 'bullmq' | 'memory';
  waiting: number | null;
  active: number | null;
  delayed: number | null;
  failed: number | null;
  /** Jobs finished (completed or failed) in total, as the queue counts them (JobQueue.finishedTotal). */
  finishedTotal: number | null;
}

export interface StorageHealth extends ComponentCheck {
  backend: 'filesystem' | 's3';
  /** Files recorded in the platform's storage metadata (every owner). */
  totalFiles: number | null;
  /** Free space of the filesystem backend's volume; null on S3. */
  availableSpaceBytes: number | null;
}

export interface HealthReport {
  id: string;
  status: HealthStatus;
  timestamp: Date;
  uptimeSeconds: number;
  version: string;
  environment: string;
  database: DatabaseHealth;
  cache: CacheHealth;
  jobs: JobsHealth;
  storage: StorageHealth;
  platform: SubgraphProbe;
}

export interface Liveness {
  status: HealthStatus;
  timestamp: Date;
  uptimeSeconds: number;
  version: string;
}

/** The one HealthReport entity; other subgraphs add their probes to it through federation. */
export const HEALTH_REPORT_ID = 'system';

function uptimeSeconds(deps: SubgraphDeps): number {
  return Math.floor((Date.now() - deps.startedAt.getTime()) / 1000);
}

/** Cheap enough for load balancers: one round trip to the database, nothing else. */
export async function checkLiveness({ deps }: { deps: SubgraphDeps }): Promise<Liveness> {
  const database = await checkComponent(() => deps.db.ping());
  return { status: database.status, timestamp: new Date(), uptimeSeconds: uptimeSeconds(deps), version: deps.version };
}

export async function checkHealth({ deps }: { deps: SubgraphDeps }): Promise<HealthReport> {
  const [database, cache, jobs, platform, storage] = await Promise.all([
    checkDatabase(deps),
    checkCache(deps),
    checkJobs(deps),
    probeSubgraph('platform', deps),
    checkStorageHealth(deps),
  ]);
  // The database is what everything stands on; losing cache or jobs leaves requests working, slower.
  const status: HealthStatus =
    database.status === 'UNHEALTHY'
      ? 'UNHEALTHY'
      : [cache, jobs].some((c) => c.status !== 'HEALTHY')
        ? 'DEGRADED'
        : 'HEALTHY';
  return {
    id: HEALTH_REPORT_ID,
    status,
    timestamp: new Date(),
    uptimeSeconds: uptimeSeconds(deps),
    version: deps.version,
    environment: deps.environment,
    database,
    cache,
    jobs,
    storage,
    platform,
  };
}

/** A real round trip to the object store (a stat) and the recorded file count. */
async function checkStorageHealth(deps: SubgraphDeps): Promise<StorageHealth> {
  try {
    const probe = await checkStorage(deps);
    return {
      status: 'HEALTHY',
      responseTimeMs: probe.responseTimeMs,
      error: null,
      backend: deps.blobs.backend,
      totalFiles: probe.totalFiles,
      availableSpaceBytes: probe.availableSpaceBytes,
    };
  } catch (error) {
    return {
      status: 'UNHEALTHY',
      responseTimeMs: null,
      error: (error as Error).message,
      backend: deps.blobs.backend,
      totalFiles: null,
      availableSpaceBytes: null,
    };
  }
}

async function checkDatabase(deps: SubgraphDeps): Promise<DatabaseHealth> {
  const check = await checkComponent(() => deps.db.ping());
  return { ...check, driver: deps.db.kind, connections: deps.db.poolStats() };
}

async function checkCache(deps: SubgraphDeps): Promise<CacheHealth> {
  const check = await checkComponent(() => deps.kv.ping());
  const base = { ...check, kind: deps.kv.kind, hitRate: null, memoryUsageBytes: null, keys: null };
  if (check.status !== 'HEALTHY') return base;
  try {
    const stats = await deps.kv.cache.stats();
    return {
      ...base,
      hitRate: stats.hitRate === null ? null : round(stats.hitRate),
      memoryUsageBytes: stats.memoryBytes,
      keys: stats.keys,
    };
  } catch (error) {
    return { ...base, status: 'DEGRADED', error: (error as Error).message };
  }
}

async function checkJobs(deps: SubgraphDeps): Promise<JobsHealth> {
  const started = performance.now();
  try {
    const [counts, finishedTotal] = await Promise.all([deps.jobs.counts(), deps.jobs.finishedTotal()]);
    return {
      status: 'HEALTHY',
      responseTimeMs: round(performance.now() - started),
      error: null,
      kind: deps.jobs.kind,
      waiting: counts.waiting,
      active: counts.active,
      delayed: counts.delayed,
      failed: counts.failed,
      finishedTotal,
    };
  } catch (error) {
    return {
      status: 'UNHEALTHY',
      responseTimeMs: null,
      error: (error as Error).message,
      kind: deps.jobs.kind,
      waiting: null,
      active: null,
      delayed: null,
      failed: null,
      finishedTotal: null,
    };
  }
}
