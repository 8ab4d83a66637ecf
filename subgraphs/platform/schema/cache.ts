import { requireScope } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import {
  CLEAR_SCOPES,
  clearCache,
  getCacheStats,
  warmCache,
  type CacheStatsView,
  type ResponseCacheView,
  type ClearResult,
  type WarmResult,
} from '../services/cache/cache-admin.js';
import { getRuntimeConfig, updateConfig, type RuntimeConfig } from '../services/config/runtime-config.js';
import '../services/config/config-loader.js';

const KeyFamilyRef = builder.objectRef<{ family: string; keys: number }>('CacheKeyFamily').implement({
  fields: (t) => ({ family: t.exposeString('family'), keys: t.exposeInt('keys') }),
});

const ResponseCacheRef = builder.objectRef<ResponseCacheView>('ResponseCacheStats').implement({
  description: "The gateways' response cache of reads (summed over every gateway, about a second behind).",
  fields: (t) => ({
    enabled: t.exposeBoolean('enabled'),
    hits: t.exposeFloat('hits'),
    misses: t.exposeFloat('misses'),
    stores: t.exposeFloat('stores'),
    invalidations: t.exposeFloat('invalidations', { description: 'Mutations that moved the generation of their types.' }),
    hitRate: t.exposeFloat('hitRate', { nullable: true }),
  }),
});

const CacheStatsRef = builder.objectRef<CacheStatsView>('CacheStats').implement({
  description:
    'Figures from the store: Redis INFO (server-wide) or the in-memory cache\'s own counters. Null: the backend has no such figure.',
  fields: (t) => ({
    backend: t.exposeString('backend'),
    usedMemoryBytes: t.exposeFloat('usedMemoryBytes', { nullable: true }),
    maxMemoryBytes: t.exposeFloat('maxMemoryBytes', { nullable: true, description: 'Null: no limit configured.' }),
    overheadMemoryBytes: t.exposeFloat('overheadMemoryBytes', { nullable: true }),
    totalKeys: t.exposeInt('totalKeys'),
    expiredKeys: t.exposeFloat('expiredKeys', { nullable: true }),
    evictedKeys: t.exposeFloat('evictedKeys', { nullable: true }),
    hits: t.exposeFloat('hits'),
    misses: t.exposeFloat('misses'),
    hitRate: t.exposeFloat('hitRate', { nullable: true }),
    responseTimeMs: t.exposeFloat('responseTimeMs'),
    opsPerSecond: t.exposeFloat('opsPerSecond', { nullable: true }),
    connectedClients: t.exposeInt('connectedClients', { nullable: true }),
    distribution: t.field({ type: [KeyFamilyRef], resolve: (s) => s.distribution }),
    distributionComplete: t.exposeBoolean('distributionComplete'),
    responseCache: t.field({ type: ResponseCacheRef, resolve: (s) => s.responseCache }),
  }),
});

const WarmResultRef = builder.objectRef<WarmResult>('CacheWarmResult').implement({
  fields: (t) => ({
    warmId: t.exposeString('warmId'),
    totalKeysProcessed: t.exposeInt('totalKeysProcessed'),
    successfulLoads: t.exposeInt('successfulLoads'),
    failedLoads: t.exposeInt('failedLoads'),
    executionTimeSeconds: t.exposeFloat('executionTimeSeconds'),
    cacheHitsAdded: t.exposeInt('cacheHitsAdded'),
    patternsProcessed: t.exposeInt('patternsProcessed'),
    keysProcessed: t.exposeInt('keysProcessed'),
    unmatched: t.exposeStringList('unmatched'),
    timedOut: t.exposeBoolean('timedOut'),
  }),
});

const ClearResultRef = builder.objectRef<ClearResult>('CacheClearResult').implement({
  fields: (t) => ({
    clearedKeysCount: t.exposeInt('clearedKeysCount'),
    affectedPatterns: t.exposeStringList('affectedPatterns'),
    executionTimeMs: t.exposeFloat('executionTimeMs'),
    memoryFreedBytes: t.exposeFloat('memoryFreedBytes'),
    levels: t.exposeStringList('levels'),
  }),
});

type Strategies = RuntimeConfig['cache']['strategies'];

const CacheConfigurationRef = builder.objectRef<{ strategies: Strategies; updatedKeys: string[] }>('CacheConfiguration').implement({
  fields: (t) => ({
    strategies: t.field({ type: 'JSON', resolve: (c) => c.strategies }),
    updatedKeys: t.exposeStringList('updatedKeys'),
  }),
});

const ClearScopeEnum = builder.enumType('CacheClearScope', { values: CLEAR_SCOPES });

const WarmCacheInput = builder.inputType('WarmCacheInput', {
  fields: (t) => ({
    patterns: t.stringList(),
    keys: t.stringList(),
    concurrency: t.int(),
    timeoutSeconds: t.int(),
  }),
});

const ClearCacheInput = builder.inputType('ClearCacheInput', {
  fields: (t) => ({
    pattern: t.string(),
    keys: t.stringList(),
    scope: t.field({ type: ClearScopeEnum }),
    tenantId: t.string(),
    userId: t.string(),
    level: t.string({ description: 'L1 (in-memory store), L2 (Redis) or all (default).' }),
  }),
});

builder.queryField('cacheStats', (t) =>
  t.field({
    type: CacheStatsRef,
    description: 'Cache figures. Requires read:system.',
    resolve: (_root, _args, ctx) => {
      requireScope(ctx.principal, 'read:system');
      return getCacheStats({ deps: ctx.deps });
    },
  }),
);

builder.mutationFields((t) => ({
  warmCache: t.field({
    type: WarmResultRef,
    description: 'Runs the registered loaders for the key families the patterns and keys name. Requires write:cache.',
    args: { input: t.arg({ type: WarmCacheInput, required: true }) },
    resolve: (_root, { input }, ctx) => {
      requireScope(ctx.principal, 'write:cache');
      return warmCache({
        deps: ctx.deps,
        input: {
          patterns: input.patterns ?? undefined,
          keys: input.keys ?? undefined,
          concurrency: input.concurrency ?? undefined,
          timeoutSeconds: input.timeoutSeconds ?? undefined,
        },
      });
    },
  }),
  clearCache: t.field({
    type: ClearResultRef,
    description: 'Deletes cache entries by pattern and/or keys, in a scope (SCAN, never KEYS). Requires write:cache.',
    args: { input: t.arg({ type: ClearCacheInput, required: true }) },
    resolve: (_root, { input }, ctx) => {
      const principal = requireScope(ctx.principal, 'write:cache');
      return clearCache({
        deps: ctx.deps,
        principal,
        input: {
          pattern: input.pattern,
          keys: input.keys,
          scope: input.scope ?? undefined,
          tenantId: input.tenantId,
          userId: input.userId,
          level: (input.level ?? undefined) as 'L1' | 'L2' | 'all' | undefined,
        },
      });
    },
  }),
  configureCache: t.field({
    type: CacheConfigurationRef,
    description:
      'Cache strategies (api_responses: the response cache, per-type TTLs, invalidation; database_queries: cached platform reads). Applies live. Requires write:cache.',
    args: { strategies: t.arg({ type: 'JSON', required: true }) },
    resolve: async (_root, args, ctx) => {
      const principal = requireScope(ctx.principal, 'write:cache');
      const result = await updateConfig({
        deps: ctx.deps,
        principal,
        requestId: ctx.requestId,
        patch: { cache: { strategies: args.strategies } },
      });
      const config = await getRuntimeConfig(ctx.deps);
      return { strategies: config.cache.strategies, updatedKeys: result.updatedKeys };
    },
  }),
}));
