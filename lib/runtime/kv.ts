import { EventEmitter } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Logger } from '../logger.js';

/**
 * Redis-backed runtime state (cache, pub/sub, rate limits) behind one interface, with an in-memory
 * twin for the embedded default. Callers never branch on `kind` for behaviour, only to report it.
 */

/**
 * Redis: the server's own counters (INFO keyspace_hits/misses, DBSIZE, used_memory), so they cover
 * every client of that Redis, rate limits and jobs included. Memory: this cache alone.
 */
export interface CacheStats {
  hits: number;
  misses: number;
  /** hits / (hits + misses); null before the first lookup. */
  hitRate: number | null;
  keys: number;
  /** Memory mode: UTF-8 bytes of stored keys and values, without Map overhead. */
  memoryBytes: number | null;
}

export interface Cache {
  get(key: string): Promise<string | null>;
  /** No ttlSeconds: the value lives until deleted. Fractions of a second are kept (PX). */
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
  /** Sets the key only when it does not exist, atomically (SET NX); true when this call set it. */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  del(...keys: string[]): Promise<number>;
  /** Deletes every key matching a Redis glob (`user:*`, `tenant:?:flags`, `[ab]*`); returns how many. */
  clear(pattern: string): Promise<number>;
  stats(): Promise<CacheStats>;
}

export type MessageHandler = (message: string) => void;

export interface PubSub {
  publish(channel: string, message: string): Promise<void>;
  /** Resolves once the subscription is live; the returned function removes this handler only. */
  subscribe(channel: string, handler: MessageHandler): Promise<() => Promise<void>>;
}

export interface RateLimitPolicy {
  name: string;
  points: number;
  durationSeconds: number;
}

export interface RateLimitResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** When the current window ends and the full allowance is back. */
  resetAt: Date;
}

export interface RateLimiter {
  readonly policy: RateLimitPolicy;
  /** Takes one point. Over the limit is a result (allowed: false); a throw means the store failed. */
  consume(key: string): Promise<RateLimitResult>;
}

export interface KvInfo {
  usedMemoryBytes: number | null;
  connectedClients: number | null;
  version: string | null;
}

export interface Kv {
  kind: 'redis' | 'memory';
  /** Prepended to every key and channel; the job queue derives its namespace from it. */
  readonly keyPrefix: string;
  cache: Cache;
  pubsub: PubSub;
  rateLimiter(policy: RateLimitPolicy): RateLimiter;
  /** Round-trip time in ms; throws when Redis is unreachable. */
  ping(): Promise<number>;
  info(): Promise<KvInfo>;
  /** The shared command connection (for BullMQ's Queue); null in memory mode. */
  connection(): Redis | null;
  close(): Promise<void>;
}

export interface CreateKvOptions {
  redisUrl?: string;
  logger: Logger;
  keyPrefix?: string;
  /** How long start-up waits for the first connection before giving up. */
  connectTimeoutMs?: number;
}

const CACHE_NAMESPACE = 'cache:';
const RATE_LIMIT_NAMESPACE = 'rl:';
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

export async function createKv(options: CreateKvOptions): Promise<Kv> {
  const keyPrefix = options.keyPrefix ?? '';
  const logger = options.logger.child({ component: 'kv' });
  if (!options.redisUrl) return createMemoryKv(keyPrefix, logger);
  return createRedisKv(options.redisUrl, keyPrefix, logger, options.connectTimeoutMs ?? 10_000);
}

// ---------------------------------------------------------------------------------------------
// Redis

async function createRedisKv(
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
      const hits = toInt(s.keyspace_hits) ?? 0;
      const misses = toInt(s.keyspace_misses) ?? 0;
      return { hits, misses, hitRate: rate(hits, misses), keys, memoryBytes: toInt(parseInfo(memory).used_memory) };
    },
  };

  const subscriber = createRedisSubscriber(client, logger, safeUrl, connectTimeoutMs);
  const pubsub = createPubSub({
    keyPrefix,
    logger,
    publish: async (channel, message) => {
      await client.publish(channel, message);
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

// ---------------------------------------------------------------------------------------------
// Memory

interface MemoryEntry {
  value: string;
  expiresAt: number | null;
}

/** Expired entries nobody reads again would otherwise stay forever. */
const MEMORY_SWEEP_INTERVAL_MS = 30_000;

function createMemoryKv(keyPrefix: string, logger: Logger): Kv {
  const entries = new Map<string, MemoryEntry>();
  let hits = 0;
  let misses = 0;

  const isLive = (entry: MemoryEntry, now: number) => entry.expiresAt === null || entry.expiresAt > now;
  const sweep = () => {
    const now = Date.now();
    for (const [key, entry] of entries) if (!isLive(entry, now)) entries.delete(key);
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
      if (entry) entries.delete(key);
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
      return { hits, misses, hitRate: rate(hits, misses), keys: entries.size, memoryBytes: bytes };
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
    async close() {
      closed = true;
      clearInterval(sweeper);
      emitter.removeAllListeners();
      relay.clear();
      entries.clear();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Shared by both modes

interface PubSubTransport {
  keyPrefix: string;
  logger: Logger;
  publish(channel: string, message: string): Promise<void>;
  /** Starts delivery of a channel to `attach`'s dispatcher; called once per channel. */
  listen(channel: string): Promise<void>;
  unlisten(channel: string): Promise<void>;
  attach(dispatch: (channel: string, message: string) => void): void;
}

interface ChannelState {
  handlers: Set<MessageHandler>;
  /** Settles when the server has confirmed the subscription; later subscribers wait on it too. */
  ready: Promise<void>;
}

/**
 * One server subscription per channel however many local handlers listen, so a thousand
 * WebSocket clients on one event stream cost one SUBSCRIBE, not a thousand.
 */
function createPubSub(transport: PubSubTransport): PubSub {
  const channels = new Map<string, ChannelState>();
  // Subscribe and unsubscribe of one channel must reach the server in the order they were asked for.
  let chain: Promise<unknown> = Promise.resolve();
  const serialize = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn);
    chain = next.catch(() => undefined);
    return next;
  };

  transport.attach((channel, message) => {
    const state = channels.get(channel);
    if (!state) return;
    for (const handler of [...state.handlers]) {
      try {
        const returned: unknown = handler(message);
        if (returned instanceof Promise) {
          returned.catch((error: unknown) => transport.logger.error({ err: error, channel }, 'pubsub handler failed'));
        }
      } catch (error) {
        transport.logger.error({ err: error, channel }, 'pubsub handler failed');
      }
    }
  });

  return {
    publish(channel, message) {
      return transport.publish(transport.keyPrefix + channel, message);
    },
    async subscribe(channel, handler) {
      const full = transport.keyPrefix + channel;
      let state = channels.get(full);
      if (!state) {
        const created: ChannelState = { handlers: new Set(), ready: serialize(() => transport.listen(full)) };
        state = created;
        channels.set(full, created);
        created.ready.catch(() => {
          if (channels.get(full) === created) channels.delete(full);
        });
      }
      state.handlers.add(handler);
      try {
        await state.ready;
      } catch (error) {
        state.handlers.delete(handler);
        throw error;
      }
      const owner = state;
      let active = true;
      return async () => {
        if (!active) return;
        active = false;
        owner.handlers.delete(handler);
        if (owner.handlers.size > 0 || channels.get(full) !== owner) return;
        channels.delete(full);
        try {
          await serialize(() => transport.unlisten(full));
        } catch (error) {
          // The handler is already gone locally, so stray messages are dropped; a closing
          // WebSocket should not see an error for it.
          transport.logger.warn({ err: error, channel: full }, 'pubsub unsubscribe failed');
        }
      };
    },
  };
}

function createLimiterRegistry(build: (policy: RateLimitPolicy) => RateLimiterAbstract) {
  const limiters = new Map<string, RateLimiter>();
  return {
    get(policy: RateLimitPolicy): RateLimiter {
      const existing = limiters.get(policy.name);
      if (existing) {
        // Two policies under one name would share counters while disagreeing on the limit.
        if (existing.policy.points !== policy.points || existing.policy.durationSeconds !== policy.durationSeconds) {
          throw new Error(`Rate limit policy "${policy.name}" is already defined with different points or duration`);
        }
        return existing;
      }
      validatePolicy(policy);
      const frozen = Object.freeze({ ...policy });
      const limiter = build(frozen);
      const created: RateLimiter = {
        policy: frozen,
        async consume(key) {
          let res: RateLimiterRes;
          let allowed = true;
          try {
            res = await limiter.consume(key, 1);
          } catch (rejection) {
            // rate-limiter-flexible rejects with a RateLimiterRes when over the limit, an Error when the store fails.
            if (!(rejection instanceof RateLimiterRes)) throw rejection;
            res = rejection;
            allowed = false;
          }
          return {
            allowed,
            limit: frozen.points,
            remaining: Math.max(0, res.remainingPoints),
            resetAt: new Date(Date.now() + Math.max(0, res.msBeforeNext)),
          };
        },
      };
      limiters.set(policy.name, created);
      return created;
    },
  };
}

function validatePolicy(policy: RateLimitPolicy): void {
  if (!policy.name) throw new Error('Rate limit policy needs a name');
  if (!Number.isInteger(policy.points) || policy.points < 1) {
    throw new Error(`Rate limit policy "${policy.name}": points must be a positive integer`);
  }
  // rate-limiter-flexible stores whole seconds in Redis, and 0 would mean a window that never resets.
  if (!Number.isInteger(policy.durationSeconds) || policy.durationSeconds < 1) {
    throw new Error(`Rate limit policy "${policy.name}": durationSeconds must be a positive integer`);
  }
}

function ttlToMs(ttlSeconds: number): number {
  const ms = Math.round(ttlSeconds * 1000);
  if (!Number.isFinite(ms) || ms < 1) throw new RangeError(`Cache TTL must be positive, got ${ttlSeconds}`);
  return ms;
}

function rate(hits: number, misses: number): number | null {
  const total = hits + misses;
  return total === 0 ? null : hits / total;
}

function toInt(value: string | undefined): number | null {
  if (value === undefined) return null;
  const n = Number.parseInt(value, 10);
  return Number.isFinite(n) ? n : null;
}

function elapsedMs(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}

/** Escapes a literal (the key prefix) so Redis MATCH does not read its `*`, `?` or `[` as a pattern. */
function escapeGlob(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, '\\$&');
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
