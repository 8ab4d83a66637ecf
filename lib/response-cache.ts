/**
 * What the gateway's response cache (gateway/plugins/response-cache.ts) and the platform subgraph,
 * which owns its configuration (cache.strategies.api_responses), share: kv key and channel names.
 *
 * The platform writes the effective `api_responses` settings to RESPONSE_CACHE_CONFIG_KEY (no TTL)
 * whenever it loads or changes its configuration and publishes them on RESPONSE_CACHE_CONFIG_CHANNEL,
 * so every gateway applies a change at once. Hit/miss/store/invalidation counters are kv counters
 * under RESPONSE_CACHE_STATS_PREFIX, summed over every gateway.
 */
export interface ResponseCacheSettings {
  enabled: boolean;
  /** Seconds an answer is kept when none of its types has a TTL of its own. */
  ttl: number;
  /** tag-based: a mutation touching a type invalidates every cached answer holding it; ttl: expiry only. */
  invalidation: 'tag-based' | 'ttl';
  /** Per-type TTLs by snake_case type name (`tenant`, `storage_stats`); the smallest in an answer wins. */
  types: Record<string, number>;
}

export const RESPONSE_CACHE_CONFIG_KEY = 'response-cache:config';
export const RESPONSE_CACHE_CONFIG_CHANNEL = 'response-cache:config';
export const RESPONSE_CACHE_STATS_PREFIX = 'response-cache:stats:';
export const RESPONSE_CACHE_COUNTERS = ['hits', 'misses', 'stores', 'invalidations'] as const;
export type ResponseCacheCounter = (typeof RESPONSE_CACHE_COUNTERS)[number];
/** Counters live this long from their first increment (30 days), then start again from zero. */
export const RESPONSE_CACHE_STATS_TTL_SECONDS = 30 * 86_400;
