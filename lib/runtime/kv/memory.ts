import { EventEmitter } from 'node:events';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { Logger } from '../../logger.js';
import type { Cache, Kv } from '../kv.js';
import { elapsedMs, rate, ttlToMs } from './measure.js';
import { createPubSub } from './pubsub.js';
import { createLimiterRegistry, RATE_LIMIT_NAMESPACE } from './rate-limits.js';

interface MemoryEntry {
  value: string;
  expiresAt: number | null;
}

/** Expired entries nobody reads again would otherwise stay forever. */
const MEMORY_SWEEP_INTERVAL_MS = 30_000;

export function createMemoryKv(keyPrefix: string, logger: Logger): Kv {
  const entries = new Map<string, MemoryEntry>();
  let hits = 0;
  let misses = 0;
  let expired = 0;

  const isLive = (entry: MemoryEntry, now: number) => entry.expiresAt === null || entry.expiresAt > now;
  const sweep = () => {
    const now = Date.now();
    for (const [key, entry] of entries) {
      if (isLive(entry, now)) continue;
      entries.delete(key);
      expired += 1;
    }
  };
  const sweeper = setInterval(sweep, MEMORY_SWEEP_INTERVAL_MS);
  sweeper.unref();

  const cache: Cache = {
    async get(key) {
      const entry = entries.get(key);
      if (entry && isLive(entry, Date.now())) {
        hits += 1;
        return entry.value;
      }
      if (entry) {
        entries.delete(key);
        expired += 1;
      }
      misses += 1;
      return null;
    },
    async set(key, value, ttlSeconds) {
      const expiresAt = ttlSeconds === undefined ? null : Date.now() + ttlToMs(ttlSeconds);
      entries.set(key, { value, expiresAt });
    },
    async setIfAbsent(key, value, ttlSeconds) {
      const current = entries.get(key);
      if (current && isLive(current, Date.now())) return false;
      entries.set(key, { value, expiresAt: Date.now() + ttlToMs(ttlSeconds) });
      return true;
    },
    async increment(key, ttlSeconds, by = 1) {
      const now = Date.now();
      const current = entries.get(key);
      if (current && isLive(current, now)) {
        const value = Number(current.value) + by;
        current.value = String(value);
        return value;
      }
      entries.set(key, { value: String(by), expiresAt: now + ttlToMs(ttlSeconds) });
      return by;
    },
    async del(...keys) {
      const now = Date.now();
      let deleted = 0;
      for (const key of keys) {
        const entry = entries.get(key);
        if (!entry) continue;
        entries.delete(key);
        if (isLive(entry, now)) deleted += 1;
      }
      return deleted;
    },
    async clear(pattern) {
      const matcher = globToRegExp(pattern);
      const now = Date.now();
      let deleted = 0;
      for (const [key, entry] of entries) {
        if (!matcher.test(key)) continue;
        entries.delete(key);
        if (isLive(entry, now)) deleted += 1;
      }
      return deleted;
    },
    async stats() {
      sweep();
      let bytes = 0;
      for (const [key, entry] of entries) bytes += Buffer.byteLength(key) + Buffer.byteLength(entry.value);
      return {
        hits,
        misses,
        hitRate: rate(hits, misses),
        keys: entries.size,
        memoryBytes: bytes,
        expiredKeys: expired,
        evictedKeys: 0,
        maxMemoryBytes: null,
        overheadBytes: null,
        opsPerSecond: null,
      };
    },
    async scan(pattern, limit) {
      const matcher = globToRegExp(pattern);
      const now = Date.now();
      const keys: string[] = [];
      for (const [key, entry] of entries) {
        if (!isLive(entry, now) || !matcher.test(key)) continue;
        if (keys.length >= limit) return { keys, complete: false };
        keys.push(key);
      }
      return { keys, complete: true };
    },
    async purge(target) {
      const now = Date.now();
      const matches =
        'pattern' in target
          ? ((matcher) => [...entries.keys()].filter((key) => matcher.test(key)))(globToRegExp(target.pattern))
          : target.keys;
      let deleted = 0;
      let freedBytes = 0;
      for (const key of matches) {
        const entry = entries.get(key);
        if (!entry) continue;
        entries.delete(key);
        if (!isLive(entry, now)) continue;
        deleted += 1;
        freedBytes += Buffer.byteLength(key) + Buffer.byteLength(entry.value);
      }
      return { deleted, freedBytes };
    },
  };

  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  let dispatch: ((channel: string, message: string) => void) | undefined;
  const relay = new Map<string, (message: string) => void>();
  let closed = false;
  const pubsub = createPubSub({
    keyPrefix,
    logger,
    async publish(channel, message) {
      // Delivered on a later tick, as over a socket: handlers never run inside the publisher's call.
      setImmediate(() => emitter.emit(channel, message));
    },
    async publishMany(channel, messages) {
      setImmediate(() => {
        for (const message of messages) emitter.emit(channel, message);
      });
    },
    async listen(channel) {
      if (closed) throw new Error('Kv is closed');
      const listener = (message: string) => dispatch?.(channel, message);
      relay.set(channel, listener);
      emitter.on(channel, listener);
    },
    async unlisten(channel) {
      const listener = relay.get(channel);
      relay.delete(channel);
      if (listener) emitter.off(channel, listener);
    },
    attach(fn) {
      dispatch = fn;
    },
  });

  const limiters = createLimiterRegistry(
    (policy) =>
      new RateLimiterMemory({
        keyPrefix: `${keyPrefix}${RATE_LIMIT_NAMESPACE}${policy.name}`,
        points: policy.points,
        duration: policy.durationSeconds,
      }),
  );

  return {
    kind: 'memory',
    keyPrefix,
    cache,
    pubsub,
    rateLimiter: limiters.get,
    async ping() {
      const started = performance.now();
      entries.has('');
      return elapsedMs(started);
    },
    async info() {
      // No server to ask: the store's memory is the process's heap and there are no clients.
      return { usedMemoryBytes: null, connectedClients: null, version: null };
    },
    connection: () => null,
    async reconnect() {
      if (closed) throw new Error('Kv is closed');
      // Nothing to reconnect: the store is a Map in this process. Clearing it is DELETE /api/v1/cache.
      return 'in-memory store: no connection to reopen; it lives in this process and keeps its entries';
    },
    async close() {
      closed = true;
      clearInterval(sweeper);
      emitter.removeAllListeners();
      relay.clear();
      entries.clear();
    },
  };
}

/** Redis glob semantics (stringmatchlen): `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x` escapes. */
function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') {
      source += '.*';
    } else if (ch === '?') {
      source += '.';
    } else if (ch === '\\' && i + 1 < pattern.length) {
      i += 1;
      source += escapeRegExp(pattern[i]!);
    } else if (ch === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close === -1) {
        source += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      const escaped = body.replace(/\\(.)/g, '$1').replace(/[\\\]^]/g, '\\$&');
      source += `[${negate ? '^' : ''}${escaped}]`;
      i = close;
    } else {
      source += escapeRegExp(ch);
    }
  }
  return new RegExp(`^${source}$`, 's');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
