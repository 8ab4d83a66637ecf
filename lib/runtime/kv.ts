import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { createMemoryKv } from './kv/memory.js';
import { createRedisKv } from './kv/redis.js';

/**
 * Redis-backed runtime state (cache, pub/sub, rate limits) behind one interface, with an in-memory
 * twin for the embedded default. Callers never branch on `kind` for behaviour, only to report it.
 *
 * This file is the interface; the backends are kv/redis.ts and kv/memory.ts, and what both share
 * (pub/sub fan-out, rate-limit registry) lives beside them.
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
  /** Keys removed because their TTL ran out (Redis expired_keys; memory: counted by this cache). */
  expiredKeys: number | null;
  /** Keys removed under memory pressure (Redis evicted_keys; memory: it never evicts, 0). */
  evictedKeys: number | null;
  /** Redis maxmemory (null when 0, unlimited); memory: null. */
  maxMemoryBytes: number | null;
  /** Redis used_memory_overhead; memory: null. */
  overheadBytes: number | null;
  /** Redis instantaneous_ops_per_sec; memory: null (not sampled). */
  opsPerSecond: number | null;
}

/** What a purge removed: entries and the bytes they took (Redis MEMORY USAGE; memory: UTF-8 bytes). */
export interface PurgeResult {
  deleted: number;
  freedBytes: number;
}

export interface Cache {
  get(key: string): Promise<string | null>;
  /** No ttlSeconds: the value lives until deleted. Fractions of a second are kept (PX). */
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
  /** Sets the key only when it does not exist, atomically (SET NX); true when this call set it. */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  /**
   * Adds `by` to an integer counter atomically and returns the new value; a new counter starts at 0
   * and expires `ttlSeconds` after its creation (later increments keep that expiry).
   */
  increment(key: string, ttlSeconds: number, by?: number): Promise<number>;
  del(...keys: string[]): Promise<number>;
  /** Deletes every key matching a Redis glob (`user:*`, `tenant:?:flags`, `[ab]*`); returns how many. */
  clear(pattern: string): Promise<number>;
  stats(): Promise<CacheStats>;
  /**
   * Up to `limit` keys matching a glob (SCAN on Redis, never KEYS); `complete` is false when it
   * stopped at the limit. Keys come back without the namespace, as callers wrote them.
   */
  scan(pattern: string, limit: number): Promise<{ keys: string[]; complete: boolean }>;
  /** Deletes the keys matching a glob, or the named keys, measuring what they took first. */
  purge(target: { pattern: string } | { keys: string[] }): Promise<PurgeResult>;
}

export type MessageHandler = (message: string) => void;

export interface PubSub {
  publish(channel: string, message: string): Promise<void>;
  /**
   * Several messages on one channel in one round trip (a Redis pipeline), delivered in order:
   * what a batch announcing thousands of records costs one write for, not thousands.
   */
  publishMany(channel: string, messages: readonly string[]): Promise<void>;
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
  /**
   * Reopens this process's connections to the store in place (POST /api/v1/services/cache/restart):
   * Redis: the command connection (and the subscriber, when open) reconnect, the client objects
   * kept. Memory: there is no connection; the store keeps its entries. Returns what was done.
   */
  reconnect(): Promise<string>;
  close(): Promise<void>;
}

export interface CreateKvOptions {
  redisUrl?: string;
  logger: Logger;
  keyPrefix?: string;
  /** How long start-up waits for the first connection before giving up. */
  connectTimeoutMs?: number;
}

export async function createKv(options: CreateKvOptions): Promise<Kv> {
  const keyPrefix = options.keyPrefix ?? '';
  const logger = options.logger.child({ component: 'kv' });
  if (!options.redisUrl) return createMemoryKv(keyPrefix, logger);
  return createRedisKv(options.redisUrl, keyPrefix, logger, options.connectTimeoutMs ?? 10_000);
}
