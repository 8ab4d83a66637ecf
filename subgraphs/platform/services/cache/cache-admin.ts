import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import type { Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import { cacheLoaders, type CacheLoader } from './loaders.js';
import { getRuntimeConfig } from '../config/runtime-config.js';
import { RESPONSE_CACHE_STATS_PREFIX } from '../../../../lib/response-cache.js';

/** How many keys the family breakdown looks at: bounded, so stats never walk a huge keyspace. */
const DISTRIBUTION_SAMPLE = 10_000;
const MAX_WARM_KEYS = 10_000;
const MAX_PATTERN_LENGTH = 256;

export interface CacheStatsView {
  backend: 'redis' | 'memory';
  usedMemoryBytes: number | null;
  maxMemoryBytes: number | null;
  overheadMemoryBytes: number | null;
  totalKeys: number;
  expiredKeys: number | null;
  evictedKeys: number | null;
  hits: number;
  misses: number;
  hitRate: number | null;
  /** One PING, measured now. */
  responseTimeMs: number;
  opsPerSecond: number | null;
  connectedClients: number | null;
  distribution: Array<{ family: string; keys: number }>;
  /** False when the breakdown stopped at DISTRIBUTION_SAMPLE keys. */
  distributionComplete: boolean;
  responseCache: ResponseCacheView;
}

/** The gateways' response cache, summed over every gateway (flushed about once a second). */
export interface ResponseCacheView {
  enabled: boolean;
  hits: number;
  misses: number;
  stores: number;
  invalidations: number;
  hitRate: number | null;
}

async function responseCacheView(deps: SubgraphDeps): Promise<ResponseCacheView> {
  const counter = async (name: string) => Number((await deps.kv.cache.get(RESPONSE_CACHE_STATS_PREFIX + name)) ?? 0);
  const [config, hits, misses, stores, invalidations] = await Promise.all([
    getRuntimeConfig(deps),
    counter('hits'),
    counter('misses'),
    counter('stores'),
    counter('invalidations'),
  ]);
  const lookups = hits + misses;
  return {
    enabled: config.cache.strategies.api_responses.enabled,
    hits,
    misses,
    stores,
    invalidations,
    hitRate: lookups === 0 ? null : Math.round((hits / lookups) * 10_000) / 10_000,
  };
}

/**
 * Figures from the store itself: Redis INFO (server-wide: every client of that Redis, rate limits
 * and jobs included) or the in-memory cache's own counters. The family breakdown counts this
 * platform's cache keys by their first segment (`config:…` → config), with a bounded SCAN.
 */
export async function getCacheStats({ deps }: { deps: SubgraphDeps }): Promise<CacheStatsView> {
  const responseTimeMs = await deps.kv.ping();
  const [stats, info, sample, responseCache] = await Promise.all([
    deps.kv.cache.stats(),
    deps.kv.info(),
    deps.kv.cache.scan('*', DISTRIBUTION_SAMPLE),
    responseCacheView(deps),
  ]);
  const families = new Map<string, number>();
  for (const key of sample.keys) {
    const family = key.split(':')[0] ?? key;
    families.set(family, (families.get(family) ?? 0) + 1);
  }
  return {
    backend: deps.kv.kind,
    usedMemoryBytes: stats.memoryBytes,
    maxMemoryBytes: stats.maxMemoryBytes,
    overheadMemoryBytes: stats.overheadBytes,
    totalKeys: stats.keys,
    expiredKeys: stats.expiredKeys,
    evictedKeys: stats.evictedKeys,
    hits: stats.hits,
    misses: stats.misses,
    hitRate: stats.hitRate === null ? null : Math.round(stats.hitRate * 10_000) / 10_000,
    responseTimeMs: Math.round(responseTimeMs * 100) / 100,
    opsPerSecond: stats.opsPerSecond,
    connectedClients: info.connectedClients,
    distribution: [...families].map(([family, keys]) => ({ family, keys })).sort((a, b) => b.keys - a.keys),
    distributionComplete: sample.complete,
    responseCache,
  };
}

/** Redis glob characters allowed in patterns; anything else (spaces, control characters) is refused. */
const patternSchema = z
  .string()
  .min(1)
  .max(MAX_PATTERN_LENGTH)
  .regex(/^[\w:.*?\-[\]^\\/@]+$/, 'invalid_cache_pattern: use Redis glob syntax (letters, digits, : . - _ * ? [ ])');
const keySchema = z
  .string()
  .min(1)
  .max(MAX_PATTERN_LENGTH)
  .regex(/^[\w:.\-/@]+$/, 'keys are letters, digits and : . - _ / @');

const warmInput = z
  .object({
    patterns: z.array(patternSchema).max(50).default([]),
    keys: z.array(keySchema).max(1_000).default([]),
    concurrency: z.number().int().min(1).max(50).default(10),
    timeoutSeconds: z.number().int().min(1).max(300).default(30),
  })
  .refine((v) => v.patterns.length + v.keys.length > 0, {
    message: 'Give at least one pattern or key',
    path: ['patterns'],
  });

export interface WarmResult {
  warmId: string;
  totalKeysProcessed: number;
  successfulLoads: number;
  failedLoads: number;
  executionTimeSeconds: number;
  cacheHitsAdded: number;
  patternsProcessed: number;
  keysProcessed: number;
  /** Patterns and keys no registered loader owns: nothing could warm them. */
  unmatched: string[];
  /** True when the timeout stopped the run before every key was loaded. */
  timedOut: boolean;
}

export async function warmCache({
  deps,
  input,
}: {
  deps: SubgraphDeps;
  input: z.input<typeof warmInput>;
}): Promise<WarmResult> {
  const data = parseInput(warmInput, input);
  const started = performance.now();
  const deadline = Date.now() + data.timeoutSeconds * 1000;
  const unmatched: string[] = [];
  const work = new Map<string, CacheLoader>();
  for (const target of [...data.patterns, ...data.keys]) {
    const owners = cacheLoaders().filter((loader) => loader.owns(target));
    if (owners.length === 0) {
      unmatched.push(target);
      continue;
    }
    for (const loader of owners) {
      for (const key of await loader.expand(deps, target)) {
        if (work.size < MAX_WARM_KEYS) work.set(key, loader);
      }
    }
  }
  let successful = 0;
  let failed = 0;
  let timedOut = false;
  const queue = [...work];
  const runners = Array.from({ length: Math.min(data.concurrency, queue.length) }, async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      if (Date.now() > deadline) {
        timedOut = true;
        failed += 1;
        continue;
      }
      const [key, loader] = next;
      try {
        await loader.load(deps, key);
        successful += 1;
      } catch {
        failed += 1;
      }
    }
  });
  await Promise.all(runners);
  return {
    warmId: newId('warm', 8),
    totalKeysProcessed: work.size + unmatched.length,
    successfulLoads: successful,
    failedLoads: failed + unmatched.length,
    executionTimeSeconds: Math.round((performance.now() - started) / 10) / 100,
    cacheHitsAdded: successful,
    patternsProcessed: data.patterns.length,
    keysProcessed: data.keys.length,
    unmatched,
    timedOut,
  };
}

export const CLEAR_SCOPES = ['global', 'tenant', 'user'] as const;

const clearInput = z
  .object({
    pattern: patternSchema.nullish(),
    keys: z.array(keySchema).max(1_000).nullish(),
    scope: z.enum(CLEAR_SCOPES).default('global'),
    tenantId: z
      .string()
      .regex(/^[\w-]{1,64}$/)
      .nullish(),
    userId: z
      .string()
      .regex(/^[\w-]{1,64}$/)
      .nullish(),
    /** Nexus cache levels: the one store is L1 (in-memory) or L2 (Redis); `all` is whichever exists. */
    level: z.enum(['L1', 'L2', 'all']).default('all'),
  })
  .refine((v) => v.scope !== 'tenant' || v.tenantId, {
    message: 'tenant_id is required for tenant scope',
    path: ['tenantId'],
  })
  .refine((v) => v.scope !== 'user' || v.userId, { message: 'user_id is required for user scope', path: ['userId'] });

export interface ClearResult {
  clearedKeysCount: number;
  affectedPatterns: string[];
  executionTimeMs: number;
  memoryFreedBytes: number;
  /** The cache levels this clear reached (empty when the requested level does not exist here). */
  levels: string[];
}

/**
 * Tenant- and user-scoped entries live under `tenant:<id>:` and `user:<id>:`; a scoped clear
 * applies the pattern (or keys) inside that prefix only, so it can never reach another tenant's.
 * No pattern and no keys: everything in the scope. Deletion is SCAN + UNLINK on Redis.
 */
export async function clearCache({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof clearInput>;
}): Promise<ClearResult> {
  const data = parseInput(clearInput, input);
  // A key bound to a tenant that holds write:cache clears that tenant's entries and nothing else.
  if (principal.tenantId !== null && (data.scope !== 'tenant' || data.tenantId !== principal.tenantId)) {
    throw new AppError('TENANT_MISMATCH', 'A tenant-bound caller may clear only its own tenant scope', {
      tenant_id: principal.tenantId,
    });
  }
  const started = performance.now();
  const storeLevel = deps.kv.kind === 'memory' ? 'L1' : 'L2';
  if (data.level !== 'all' && data.level !== storeLevel) {
    return { clearedKeysCount: 0, affectedPatterns: [], executionTimeMs: 0, memoryFreedBytes: 0, levels: [] };
  }
  const prefix =
    data.scope === 'tenant' ? `tenant:${data.tenantId}:` : data.scope === 'user' ? `user:${data.userId}:` : '';
  const escapedPrefix = prefix.replace(/[*?[\]\\]/g, '\\$&');
  let deleted = 0;
  let freed = 0;
  const affected: string[] = [];
  if (data.keys && data.keys.length > 0) {
    const result = await deps.kv.cache.purge({ keys: data.keys.map((key) => prefix + key) });
    deleted += result.deleted;
    freed += result.freedBytes;
  }
  if (data.pattern || !data.keys || data.keys.length === 0) {
    const pattern = escapedPrefix + (data.pattern ?? '*');
    const result = await deps.kv.cache.purge({ pattern });
    deleted += result.deleted;
    freed += result.freedBytes;
    affected.push(prefix + (data.pattern ?? '*'));
  }
  return {
    clearedKeysCount: deleted,
    affectedPatterns: affected,
    executionTimeMs: Math.round(performance.now() - started),
    memoryFreedBytes: freed,
    levels: [storeLevel],
  };
}

/** Spec error code for a bad pattern, kept in details so every dialect shows it. */
export function assertPattern(pattern: string): void {
  if (!patternSchema.safeParse(pattern).success) {
    throw new AppError('VALIDATION_ERROR', 'Cache pattern syntax invalid', {
      reason: 'invalid_cache_pattern',
      pattern,
    });
  }
}
