import { Redis, type RedisOptions } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { Logger } from '../../logger.js';
import type { Cache, Kv } from '../kv.js';
import { elapsedMs, rate, ttlToMs } from './measure.js';
import { createPubSub } from './pubsub.js';
import { createLimiterRegistry, RATE_LIMIT_NAMESPACE } from './rate-limits.js';

/** Cache keys live under `<prefix>cache:`, so clearing the cache never touches rate limits or jobs. */
const CACHE_NAMESPACE = 'cache:';
const SCAN_COUNT = 500;

/**
 * Request-path connection: a command fails within about one reconnect attempt instead of waiting
 * for Redis to come back, so a health check can say "down" and a request can degrade quickly.
 */
const REQUEST_PATH_OPTIONS: RedisOptions = {
  lazyConnect: false,
  maxRetriesPerRequest: 1,
  enableOfflineQueue: false,
  connectTimeout: 5_000,
  commandTimeout: 5_000,
};

export async function createRedisKv(
  redisUrl: string,
  keyPrefix: string,
  logger: Logger,
  connectTimeoutMs: number,
): Promise<Kv> {
  const safeUrl = redactUrl(redisUrl);
  const client = new Redis(redisUrl, { ...REQUEST_PATH_OPTIONS, connectionName: 'platform' });
  watchConnection(client, logger.child({ connection: 'command' }), safeUrl);
  await waitForReady(client, connectTimeoutMs, safeUrl);

  const cacheNs = `${keyPrefix}${CACHE_NAMESPACE}`;
  const limiters = createLimiterRegistry(
    (policy) =>
      new RateLimiterRedis({
        storeClient: client,
        keyPrefix: `${keyPrefix}${RATE_LIMIT_NAMESPACE}${policy.name}`,
        points: policy.points,
        duration: policy.durationSeconds,
        // Fail at once while disconnected instead of queueing behind a dead socket.
        rejectIfRedisNotReady: true,
      }),
  );

  const cache: Cache = {
    async get(key) {
      return client.get(cacheNs + key);
    },
    async set(key, value, ttlSeconds) {
      if (ttlSeconds === undefined) {
        await client.set(cacheNs + key, value);
      } else {
        await client.set(cacheNs + key, value, 'PX', ttlToMs(ttlSeconds));
      }
    },
    async setIfAbsent(key, value, ttlSeconds) {
      return (await client.set(cacheNs + key, value, 'PX', ttlToMs(ttlSeconds), 'NX')) === 'OK';
    },
    async increment(key, ttlSeconds, by = 1) {
      // One round trip: INCRBY, and PEXPIRE NX only sets the expiry when the counter has none yet.
      const [[incrError, value], [expireError]] = (await client
        .multi()
        .incrby(cacheNs + key, by)
        .pexpire(cacheNs + key, ttlToMs(ttlSeconds), 'NX')
        .exec())! as [[Error | null, number], [Error | null, unknown]];
      if (incrError) throw incrError;
      if (expireError) throw expireError;
      return value;
    },
    async del(...keys) {
      if (keys.length === 0) return 0;
      return client.del(...keys.map((k) => cacheNs + k));
    },
    async clear(pattern) {
      let deleted = 0;
      await scanKeys(client, escapeGlob(cacheNs) + pattern, async (batch) => {
        // UNLINK frees memory off the main thread, so a large clear does not stall other clients.
        deleted += await client.unlink(...batch);
      });
      return deleted;
    },
    async stats() {
      // The server's figures, not this prefix's: Redis keeps no per-prefix hit counters, counting in
      // this process would miss every other gateway instance, and counting keys by SCAN would make
      // every health probe walk the whole keyspace. DBSIZE is O(1) and agrees with the other numbers.
      const [stats, memory, keys] = await Promise.all([client.info('stats'), client.info('memory'), client.dbsize()]);
      const s = parseInfo(stats);
      const m = parseInfo(memory);
      const hits = toInt(s.keyspace_hits) ?? 0;
      const misses = toInt(s.keyspace_misses) ?? 0;
      const maxMemory = toInt(m.maxmemory);
      return {
        hits,
        misses,
        hitRate: rate(hits, misses),
        keys,
        memoryBytes: toInt(m.used_memory),
        expiredKeys: toInt(s.expired_keys),
        evictedKeys: toInt(s.evicted_keys),
        maxMemoryBytes: maxMemory === 0 ? null : maxMemory,
        overheadBytes: toInt(m.used_memory_overhead),
        opsPerSecond: toInt(s.instantaneous_ops_per_sec),
      };
    },
    async scan(pattern, limit) {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await client.scan(cursor, 'MATCH', escapeGlob(cacheNs) + pattern, 'COUNT', SCAN_COUNT);
        cursor = next;
        for (const key of batch) {
          if (keys.length >= limit) return { keys, complete: false };
          keys.push(key.slice(cacheNs.length));
        }
      } while (cursor !== '0');
      return { keys, complete: true };
    },
    async purge(target) {
      let deleted = 0;
      let freedBytes = 0;
      const removeBatch = async (batch: string[]) => {
        // MEMORY USAGE before UNLINK, in one pipeline per SCAN batch: the bytes the entries held.
        const pipeline = client.pipeline();
        for (const key of batch) pipeline.memory('USAGE', key);
        const sizes = (await pipeline.exec()) ?? [];
        for (const [error, size] of sizes) if (!error && typeof size === 'number') freedBytes += size;
        deleted += await client.unlink(...batch);
      };
      if ('pattern' in target) {
        await scanKeys(client, escapeGlob(cacheNs) + target.pattern, removeBatch);
      } else {
        for (let i = 0; i < target.keys.length; i += SCAN_COUNT) {
          await removeBatch(target.keys.slice(i, i + SCAN_COUNT).map((k) => cacheNs + k));
        }
      }
      return { deleted, freedBytes };
    },
  };

  const subscriber = createRedisSubscriber(client, logger, safeUrl, connectTimeoutMs);
  const pubsub = createPubSub({
    keyPrefix,
    logger,
    publish: async (channel, message) => {
      await client.publish(channel, message);
    },
    publishMany: async (channel, messages) => {
      const pipeline = client.pipeline();
      for (const message of messages) pipeline.publish(channel, message);
      // exec() reports a failed command in its result instead of rejecting: surface the first.
      for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
    },
    listen: async (channel) => (await subscriber.get()).subscribe(channel).then(() => undefined),
    unlisten: async (channel) => (await subscriber.get()).unsubscribe(channel).then(() => undefined),
    attach: (dispatch) => subscriber.onMessage(dispatch),
  });

  let closing: Promise<void> | undefined;
  return {
    kind: 'redis',
    keyPrefix,
    cache,
    pubsub,
    rateLimiter: limiters.get,
    async ping() {
      const started = performance.now();
      await client.ping();
      return elapsedMs(started);
    },
    async info() {
      const [server, memory, clients] = await Promise.all([
        client.info('server'),
        client.info('memory'),
        client.info('clients'),
      ]);
      return {
        usedMemoryBytes: toInt(parseInfo(memory).used_memory),
        connectedClients: toInt(parseInfo(clients).connected_clients),
        version: parseInfo(server).redis_version ?? null,
      };
    },
    connection: () => client,
    async reconnect() {
      if (closing) throw new Error('Kv is closed');
      await reconnectInPlace(client, connectTimeoutMs, safeUrl);
      const sub = await subscriber.current();
      if (sub) await reconnectInPlace(sub, connectTimeoutMs, safeUrl);
      return `redis: ${sub ? 'command and subscriber connections' : 'command connection'} reopened (${safeUrl}); in-flight commands answered first, commands meanwhile queued, subscriptions renewed`;
    },
    close() {
      closing ??= (async () => {
        await subscriber.close();
        await quitQuietly(client);
      })();
      return closing;
    },
  };
}

/** The subscriber connection is opened on first subscribe: most processes never subscribe. */
function createRedisSubscriber(client: Redis, logger: Logger, safeUrl: string, connectTimeoutMs: number) {
  let connection: Promise<Redis> | undefined;
  let dispatch: ((channel: string, message: string) => void) | undefined;
  let closed = false;
  return {
    get(): Promise<Redis> {
      if (closed) return Promise.reject(new Error('Kv is closed'));
      connection ??= (async () => {
        const sub = client.duplicate({ connectionName: 'platform-subscriber' });
        watchConnection(sub, logger.child({ connection: 'subscriber' }), safeUrl);
        sub.on('message', (channel: string, message: string) => dispatch?.(channel, message));
        try {
          await waitForReady(sub, connectTimeoutMs, safeUrl);
        } catch (error) {
          connection = undefined;
          throw error;
        }
        return sub;
      })();
      return connection;
    },
    /** The open subscriber connection, if any (none is opened for this). */
    async current(): Promise<Redis | null> {
      return connection ? connection.catch(() => null) : null;
    },
    onMessage(fn: (channel: string, message: string) => void) {
      dispatch = fn;
    },
    async close() {
      closed = true;
      const pending = connection;
      connection = undefined;
      if (!pending) return;
      const sub = await pending.catch(() => null);
      if (sub) await quitQuietly(sub);
    },
  };
}

/**
 * Reopens a connection, keeping the client object (BullMQ's queue and the rate limiters hold it):
 * the commands already sent are answered first, commands issued while it reconnects wait in the
 * offline queue (turned on for that moment only: the request path fails fast otherwise), and a
 * subscriber renews its channels (ioredis autoResubscribe).
 */
async function reconnectInPlace(client: Redis, timeoutMs: number, safeUrl: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (client.commandQueue.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const offlineQueue = client.options.enableOfflineQueue;
  client.options.enableOfflineQueue = true;
  try {
    let timer: NodeJS.Timeout | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis at ${safeUrl} not back within ${timeoutMs} ms`)), timeoutMs);
      client.once('ready', () => resolve());
    });
    client.disconnect(true);
    await ready.finally(() => clearTimeout(timer));
  } finally {
    client.options.enableOfflineQueue = offlineQueue;
  }
}

function watchConnection(client: Redis, logger: Logger, safeUrl: string): void {
  // ioredis emits an error per failed reconnect; log each distinct failure once, not every few seconds.
  let lastError: string | undefined;
  client.on('error', (error: Error) => {
    if (error.message === lastError) return;
    lastError = error.message;
    logger.warn({ err: error, url: safeUrl }, 'redis connection error');
  });
  client.on('ready', () => {
    if (lastError !== undefined) logger.info({ url: safeUrl }, 'redis connection restored');
    lastError = undefined;
  });
}

function waitForReady(client: Redis, timeoutMs: number, safeUrl: string): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    let lastError: Error | undefined;
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
      client.off('end', onEnd);
    };
    const fail = (reason: string) => {
      cleanup();
      client.disconnect();
      reject(new Error(`Redis at ${safeUrl} ${reason}${lastError ? `: ${lastError.message}` : ''}`));
    };
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onError = (error: Error) => {
      lastError = error;
    };
    const onEnd = () => fail('closed the connection');
    const timer = setTimeout(() => fail(`not reachable within ${timeoutMs} ms`), timeoutMs);
    client.on('ready', onReady);
    client.on('error', onError);
    client.on('end', onEnd);
  });
}

async function quitQuietly(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  try {
    await client.quit();
  } catch {
    // Already down: nothing left to flush, just drop the socket and stop reconnecting.
    client.disconnect();
  }
}

async function scanKeys(client: Redis, match: string, onBatch: (keys: string[]) => Promise<void>): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
    cursor = next;
    if (keys.length > 0) await onBatch(keys);
  } while (cursor !== '0');
}

function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields[line.slice(0, at)] = line.slice(at + 1).trim();
  }
  return fields;
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable REDIS_URL)';
  }
}

/** Escapes a literal (the key prefix) so Redis MATCH does not read its `*`, `?` or `[` as a pattern. */
function escapeGlob(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, '\\$&');
}

function toInt(value: string | undefined): number | null {
  if (value === undefined) return null;
  const n = Number.parseInt(value, 10);
  return Number.isFinite(n) ? n : null;
}
