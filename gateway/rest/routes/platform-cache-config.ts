import { z } from 'zod';
import { graphql, type ResultOf } from '../graphql.js';
import { bytesToMegabytes } from '../health.js';
import { defineRoute, type RestRoute } from '../route.js';

// Cache and configuration routes of three dialects, all served by the platform subgraph's
// cacheStats / warmCache / clearCache / configureCache / runtimeConfig / updateRuntimeConfig.

const CACHE_STATS_OPERATION = graphql(`
  query CacheStats {
    cacheStats {
      backend
      usedMemoryBytes
      maxMemoryBytes
      overheadMemoryBytes
      totalKeys
      expiredKeys
      evictedKeys
      hits
      misses
      hitRate
      responseTimeMs
      opsPerSecond
      connectedClients
      distribution {
        family
        keys
      }
      distributionComplete
      responseCache {
        enabled
        hits
        misses
        stores
        invalidations
        hitRate
      }
    }
  }
`);

type CacheStatsData = ResultOf<typeof CACHE_STATS_OPERATION>['cacheStats'];

const responseCacheSchema = z
  .object({
    enabled: z.boolean(),
    hits: z.number(),
    misses: z.number(),
    stores: z.number(),
    invalidations: z.number(),
    hit_rate: z.number().nullable(),
  })
  .describe("The gateways' response cache of reads (api_responses), summed over every gateway");

function responseCacheBlock(s: CacheStatsData) {
  const r = s.responseCache;
  return {
    enabled: r.enabled,
    hits: r.hits,
    misses: r.misses,
    stores: r.stores,
    invalidations: r.invalidations,
    hit_rate: r.hitRate,
  };
}

const nullableNumber = z.number().nullable();

function usagePercent(used: number | null, max: number | null): number | null {
  return used === null || max === null || max === 0 ? null : Math.round((used / max) * 1000) / 10;
}

const cacheStats = defineRoute({
  dialect: 'core-platform',
  method: 'GET',
  path: '/api/cache/stats',
  summary: 'Cache performance and usage statistics',
  operation: CACHE_STATS_OPERATION,
  rateLimit: 'core-platform.cache',
  // Redis figures are server-wide (INFO); the in-memory cache counts its own. Connection idle/max
  // are not reported by Redis per client pool: null. `distribution` counts this platform's keys by
  // family (first key segment) over a bounded SCAN.
  respond: ({ cacheStats: s }) => ({
    memory: {
      used_memory_mb: bytesToMegabytes(s.usedMemoryBytes),
      max_memory_mb: bytesToMegabytes(s.maxMemoryBytes),
      usage_percent: usagePercent(s.usedMemoryBytes, s.maxMemoryBytes),
      overhead_memory_mb: bytesToMegabytes(s.overheadMemoryBytes),
    },
    keys: {
      total_keys: s.totalKeys,
      expired_keys: s.expiredKeys,
      evicted_keys: s.evictedKeys,
      keyspace_hits: s.hits,
      keyspace_misses: s.misses,
    },
    performance: {
      hit_rate: s.hitRate,
      average_response_time_ms: s.responseTimeMs,
      queries_per_second: s.opsPerSecond,
      connections: { active: s.connectedClients, idle: null, max: null },
    },
    distribution: Object.fromEntries(s.distribution.map((d) => [d.family, d.keys])),
    backend: s.backend as 'redis' | 'memory',
    response_cache: responseCacheBlock(s),
  }),
  response: z.object({
    memory: z.object({
      used_memory_mb: nullableNumber,
      max_memory_mb: nullableNumber.describe('Null: no memory limit configured'),
      usage_percent: nullableNumber,
      overhead_memory_mb: nullableNumber,
    }),
    keys: z.object({
      total_keys: z.number().int(),
      expired_keys: nullableNumber,
      evicted_keys: nullableNumber,
      keyspace_hits: z.number(),
      keyspace_misses: z.number(),
    }),
    performance: z.object({
      hit_rate: nullableNumber,
      average_response_time_ms: z.number().describe('One PING round trip, measured now'),
      queries_per_second: nullableNumber,
      connections: z.object({ active: nullableNumber, idle: z.null(), max: z.null() }),
    }),
    distribution: z.record(z.string(), z.number().int()),
    backend: z.enum(['redis', 'memory']),
    response_cache: responseCacheSchema,
  }),
});

const patternField = z.string().min(1).max(256);
const keysField = z.array(z.string().min(1).max(256)).max(1000);

const warm = defineRoute({
  dialect: 'core-platform',
  method: 'POST',
  path: '/api/cache/warm',
  summary: 'Warm the cache with the registered loaders for the given patterns and keys',
  operation: graphql(`
    mutation WarmCache($input: WarmCacheInput!) {
      warmCache(input: $input) {
        warmId
        totalKeysProcessed
        successfulLoads
        failedLoads
        executionTimeSeconds
        cacheHitsAdded
        patternsProcessed
        keysProcessed
        unmatched
        timedOut
      }
    }
  `),
  input: {
    body: z.object({
      patterns: z.array(patternField).max(50).optional(),
      keys: keysField.optional(),
      concurrency: z.number().int().min(1).max(50).optional(),
      timeout_seconds: z.number().int().min(1).max(300).optional(),
    }),
  },
  variables: ({ body }) => ({
    input: {
      patterns: body.patterns ?? null,
      keys: body.keys ?? null,
      concurrency: body.concurrency ?? null,
      timeoutSeconds: body.timeout_seconds ?? null,
    },
  }),
  rateLimit: 'core-platform.cache',
  respond: ({ warmCache: w }) => ({
    warm_id: w.warmId,
    total_keys_processed: w.totalKeysProcessed,
    successful_loads: w.successfulLoads,
    failed_loads: w.failedLoads,
    execution_time_seconds: w.executionTimeSeconds,
    cache_hits_added: w.cacheHitsAdded,
    patterns_processed: w.patternsProcessed,
    keys_processed: w.keysProcessed,
    unmatched: w.unmatched,
    timed_out: w.timedOut,
  }),
  response: z.object({
    warm_id: z.string(),
    total_keys_processed: z.number().int(),
    successful_loads: z.number().int(),
    failed_loads: z.number().int(),
    execution_time_seconds: z.number(),
    cache_hits_added: z.number().int(),
    patterns_processed: z.number().int(),
    keys_processed: z.number().int(),
    unmatched: z.array(z.string()).describe('Patterns and keys no registered loader owns'),
    timed_out: z.boolean(),
  }),
});

const CLEAR_OPERATION = graphql(`
  mutation ClearCache($input: ClearCacheInput!) {
    clearCache(input: $input) {
      clearedKeysCount
      affectedPatterns
      executionTimeMs
      memoryFreedBytes
      levels
    }
  }
`);

const clear = defineRoute({
  dialect: 'core-platform',
  method: 'DELETE',
  path: '/api/cache/clear',
  summary: 'Clear cache entries by pattern, keys and scope',
  operation: CLEAR_OPERATION,
  input: {
    body: z
      .object({
        pattern: patternField.optional(),
        keys: keysField.optional(),
        scope: z.enum(['global', 'tenant', 'user']).optional(),
        tenant_id: z.string().min(1).max(64).optional(),
        user_id: z.string().min(1).max(64).optional(),
      })
      .optional(),
  },
  variables: ({ body }) => ({
    input: {
      pattern: body?.pattern ?? null,
      keys: body?.keys ?? null,
      scope: body?.scope ?? null,
      tenantId: body?.tenant_id ?? null,
      userId: body?.user_id ?? null,
    },
  }),
  rateLimit: 'core-platform.cache',
  respond: ({ clearCache: c }) => ({
    cleared_keys_count: c.clearedKeysCount,
    affected_patterns: c.affectedPatterns,
    execution_time_ms: c.executionTimeMs,
    memory_freed_mb: bytesToMegabytes(c.memoryFreedBytes)!,
  }),
  response: z.object({
    cleared_keys_count: z.number().int(),
    affected_patterns: z.array(z.string()),
    execution_time_ms: z.number(),
    memory_freed_mb: z.number(),
  }),
});

const cacheStatus = defineRoute({
  dialect: 'nexus-core',
  method: 'GET',
  path: '/api/v1/cache/status',
  summary: 'Cache status and statistics',
  operation: CACHE_STATS_OPERATION,
  // One cache level exists: the in-memory store (L1) on the embedded default, Redis (L2) otherwise.
  respond: ({ cacheStats: s }) => {
    const used = bytesToMegabytes(s.usedMemoryBytes);
    const total = bytesToMegabytes(s.maxMemoryBytes);
    const lookups = s.hits + s.misses;
    return {
      status: 'healthy' as const,
      memory_usage: {
        used_mb: used,
        available_mb: used === null || total === null ? null : Math.round((total - used) * 100) / 100,
        total_mb: total,
      },
      statistics: {
        hit_rate: s.hitRate,
        miss_rate: lookups === 0 ? null : Math.round((s.misses / lookups) * 10_000) / 10_000,
        total_hits: s.hits,
        total_misses: s.misses,
        evictions: s.evictedKeys,
      },
      cache_levels: [
        { level: levelOf(s.backend), type: s.backend as 'redis' | 'memory', size_mb: used, hit_rate: s.hitRate },
      ],
      response_cache: responseCacheBlock(s),
    };
  },
  response: z.object({
    status: z.literal('healthy').describe('Answered only when the store answered a PING'),
    memory_usage: z.object({ used_mb: nullableNumber, available_mb: nullableNumber, total_mb: nullableNumber }),
    statistics: z.object({
      hit_rate: nullableNumber,
      miss_rate: nullableNumber,
      total_hits: z.number(),
      total_misses: z.number(),
      evictions: nullableNumber,
    }),
    cache_levels: z.array(
      z.object({
        level: z.enum(['L1', 'L2']),
        type: z.enum(['memory', 'redis']),
        size_mb: nullableNumber,
        hit_rate: nullableNumber,
      }),
    ),
    response_cache: responseCacheSchema,
  }),
});

function levelOf(backend: string): 'L1' | 'L2' {
  return backend === 'memory' ? 'L1' : 'L2';
}

const LEVELS = ['L1', 'L2', 'all'] as const;

const nexusClear = defineRoute({
  dialect: 'nexus-core',
  method: 'DELETE',
  path: '/api/v1/cache',
  summary: 'Clear cache entries by pattern, or all',
  operation: CLEAR_OPERATION,
  input: {
    query: z.object({ pattern: patternField.optional(), level: z.enum(LEVELS).optional() }),
    body: z.object({ pattern: patternField.optional(), level: z.enum(LEVELS).optional() }).optional(),
  },
  // The body wins over the query string when both name a value.
  variables: ({ query, body }) => ({
    input: { pattern: body?.pattern ?? query.pattern ?? null, level: body?.level ?? query.level ?? null },
  }),
  respond: ({ clearCache: c }, { query, body }) => ({
    cleared_keys: c.clearedKeysCount,
    pattern: body?.pattern ?? query.pattern ?? '*',
    levels: c.levels,
  }),
  response: z.object({
    cleared_keys: z.number().int(),
    pattern: z.string(),
    levels: z
      .array(z.string())
      .describe('Levels reached: L1 (in-memory store) or L2 (Redis); empty if the level does not exist'),
  }),
});

const strategy = z.object({
  enabled: z.boolean().optional(),
  ttl: z.number().int().min(1).max(86_400).optional(),
  invalidation: z.enum(['tag-based', 'ttl']).optional(),
  types: z.record(z.string(), z.number().int().min(1).max(86_400)).optional(),
});

const cacheConfig = defineRoute({
  dialect: 'platform-forge',
  method: 'PUT',
  path: '/api/v1/performance/cache/config',
  summary: 'Configure caching strategies (applies live)',
  operation: graphql(`
    mutation ConfigureCache($strategies: JSON!) {
      configureCache(strategies: $strategies) {
        strategies
        updatedKeys
      }
    }
  `),
  input: {
    body: z.object({
      strategies: z
        .object({
          api_responses: strategy.optional(),
          database_queries: strategy.omit({ invalidation: true, types: true }).strict().optional(),
        })
        .strict(),
    }),
  },
  variables: ({ body }) => ({ strategies: body.strategies }),
  respond: ({ configureCache: c }) => ({
    strategies: c.strategies as Record<string, unknown>,
    updated_keys: c.updatedKeys,
  }),
  response: z.object({ strategies: z.record(z.string(), z.unknown()), updated_keys: z.array(z.string()) }),
});

const GET_CONFIG_OPERATION = graphql(`
  query RuntimeConfig($section: String, $maskSecrets: Boolean) {
    runtimeConfig(section: $section, maskSecrets: $maskSecrets) {
      version
      updatedAt
      document
    }
  }
`);
const UPDATE_CONFIG_OPERATION = graphql(`
  mutation UpdateRuntimeConfig($patch: JSON!) {
    updateRuntimeConfig(patch: $patch) {
      version
      updatedKeys
      restartRequired
      restartKeys
    }
  }
`);

const booleanQuery = z.enum(['true', 'false']).transform((v) => v === 'true');
const sectionName = z.string().regex(/^[a-z_]{1,64}$/);

const nexusGetConfig = defineRoute({
  dialect: 'nexus-core',
  method: 'GET',
  path: '/api/v1/config',
  summary: 'Current configuration by section (secrets masked)',
  operation: GET_CONFIG_OPERATION,
  input: { query: z.object({ section: sectionName.optional(), mask_secrets: booleanQuery.optional() }) },
  variables: ({ query }) => ({ section: query.section ?? null, maskSecrets: query.mask_secrets ?? true }),
  respond: ({ runtimeConfig: c }) => c.document as Record<string, unknown>,
  response: z.record(z.string(), z.unknown()),
});

const configPatch = z.record(sectionName, z.record(z.string(), z.unknown()));

const nexusPutConfig = defineRoute({
  dialect: 'nexus-core',
  method: 'PUT',
  path: '/api/v1/config',
  summary: 'Update configuration (validated, versioned, audited; live keys apply at once)',
  operation: UPDATE_CONFIG_OPERATION,
  input: { body: configPatch },
  variables: ({ body }) => ({ patch: body }),
  respond: ({ updateRuntimeConfig: u }) => ({
    updated_keys: u.updatedKeys,
    restart_required: u.restartRequired,
    version: u.version,
  }),
  response: z.object({ updated_keys: z.array(z.string()), restart_required: z.boolean(), version: z.number().int() }),
});

const forgeGetConfig = defineRoute({
  dialect: 'platform-forge',
  method: 'GET',
  path: '/api/v1/admin/config',
  summary: 'System configuration (secrets masked)',
  operation: GET_CONFIG_OPERATION,
  variables: () => ({ section: null, maskSecrets: true }),
  rateLimit: 'platform-forge.admin',
  respond: ({ runtimeConfig: c }) => ({
    settings: c.document as Record<string, unknown>,
    version: c.version,
    updated_at: c.updatedAt,
  }),
  response: z.object({
    settings: z.record(z.string(), z.unknown()),
    version: z.number().int(),
    updated_at: z.string().nullable(),
  }),
});

/** The document's flat settings names, as the configuration keys they are. */
const FORGE_SETTING_ALIASES: Record<string, [string, string]> = {
  maintenance_mode: ['maintenance', 'maintenance_mode'],
};

const forgePutConfig = defineRoute({
  dialect: 'platform-forge',
  method: 'PUT',
  path: '/api/v1/admin/config',
  summary: 'Update system configuration (validated, versioned, audited)',
  operation: UPDATE_CONFIG_OPERATION,
  input: { body: z.object({ settings: z.record(z.string().regex(/^[a-z_]{1,64}$/), z.unknown()) }) },
  // Flat documented names (maintenance_mode) map onto their section; sections pass through. A
  // documented name the platform has no setting for reaches the subgraph and is refused there.
  variables: ({ body }) => {
    const patch: Record<string, Record<string, unknown>> = {};
    for (const [name, value] of Object.entries(body.settings)) {
      const alias = FORGE_SETTING_ALIASES[name];
      if (alias) (patch[alias[0]] ??= {})[alias[1]] = value;
      else if (typeof value === 'object' && value !== null && !Array.isArray(value))
        patch[name] = { ...patch[name], ...(value as Record<string, unknown>) };
      else (patch.settings ??= {})[name] = value;
    }
    return { patch };
  },
  rateLimit: 'platform-forge.admin',
  respond: ({ updateRuntimeConfig: u }) => ({
    updated_keys: u.updatedKeys,
    restart_required: u.restartRequired,
    version: u.version,
  }),
  response: z.object({ updated_keys: z.array(z.string()), restart_required: z.boolean(), version: z.number().int() }),
});

export const cacheConfigRoutes: readonly RestRoute[] = [
  cacheStats,
  warm,
  clear,
  cacheStatus,
  nexusClear,
  cacheConfig,
  nexusGetConfig,
  nexusPutConfig,
  forgeGetConfig,
  forgePutConfig,
];
