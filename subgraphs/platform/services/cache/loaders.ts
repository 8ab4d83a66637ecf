import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';

/**
 * Warm loaders: a family of cache keys the platform knows how to fill from its own data. Warming
 * runs the loaders whose family a requested pattern or key belongs to; a key no loader owns is
 * reported as failed (nothing could load it), never pretended.
 */
export interface CacheLoader {
  family: string;
  /** Does this loader own the key (exact keys) or could it produce keys matching the pattern? */
  owns(keyOrPattern: string): boolean;
  /** The concrete keys this loader fills for a target it owns (all of them match the target). */
  expand(deps: SubgraphDeps, keyOrPattern: string): Promise<string[]>;
  /** Loads one key into the cache; resolves once the value is stored. */
  load(deps: SubgraphDeps, key: string): Promise<void>;
}

const loaders: CacheLoader[] = [];

/** Each module registers its loaders once, at import time (schema files import their services). */
export function registerCacheLoader(loader: CacheLoader): void {
  if (loaders.some((l) => l.family === loader.family)) return;
  loaders.push(loader);
}

export function cacheLoaders(): readonly CacheLoader[] {
  return loaders;
}

/** Redis glob → RegExp, for matching a loader's concrete keys against a caller's pattern. */
export function globMatcher(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else if (ch === '\\' && i + 1 < pattern.length) source += escape(pattern[++i]!);
    else source += escape(ch);
  }
  return new RegExp(`^${source}$`, 's');
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
