/** Figures and TTLs computed the same way by both backends. */

export function ttlToMs(ttlSeconds: number): number {
  const ms = Math.round(ttlSeconds * 1000);
  if (!Number.isFinite(ms) || ms < 1) throw new RangeError(`Cache TTL must be positive, got ${ttlSeconds}`);
  return ms;
}

export function rate(hits: number, misses: number): number | null {
  const total = hits + misses;
  return total === 0 ? null : hits / total;
}

export function elapsedMs(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}
