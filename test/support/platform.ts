import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../lib/logger.js';
import { startPlatform, type Platform, type PlatformConfig } from '../../app/platform.js';

/**
 * Boots the whole platform the way `npm start` does, on an ephemeral port. With TEST_DATABASE_URL
 * and TEST_REDIS_URL set (CI) it runs on the real servers; otherwise on the embedded default.
 */
export interface TestPlatform {
  platform: Platform;
  url: string;
  operatorKey: string;
  graphql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    options?: { token?: string | null; headers?: Record<string, string> },
  ): Promise<{
    status: number;
    body: { data?: T | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
  }>;
  /** A JSON request to any gateway path; `token` defaults to the operator key, null sends none. */
  rest(path: string, init?: RestInit): Promise<RestAnswer>;
  close(): Promise<void>;
}

export interface RestInit {
  method?: string;
  token?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RestAnswer {
  status: number;
  headers: Headers;
  // Response bodies are checked by the assertions; typing each one would only restate them.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: Record<string, any>;
}

/**
 * Every platform a test run boots shares one secrets key, as every process of a deployment must:
 * suites share one database, and a signing key sealed by one must open in another. Test-only.
 */
const TEST_SECRETS_ENCRYPTION_KEY = 'a1'.repeat(32);

export const usingRealServices = Boolean(process.env.TEST_DATABASE_URL && process.env.TEST_REDIS_URL);

/**
 * Suites import from source databases made on the test PostgreSQL server, which is also the
 * platform's own server on 127.0.0.1: refused by default, so the operator allow-list names it,
 * as an operator would for an internal source. A short connect timeout keeps failing cases quick
 * (every connect failure answers only after it).
 */
export function testDataImportConfig(): { allowedHosts: string[]; connectTimeoutMs: number } {
  const server = process.env.TEST_DATABASE_URL;
  return { allowedHosts: server ? [new URL(server).hostname] : [], connectTimeoutMs: 1_500 };
}

export async function bootPlatform(overrides: Partial<PlatformConfig> = {}): Promise<TestPlatform> {
  const dataDir = await mkdtemp(join(tmpdir(), 'platform-test-'));
  const operatorKey = `op_test_${randomBytes(24).toString('hex')}`;
  const keyPrefix = `test:${randomBytes(6).toString('hex')}:`;
  const platform = await startPlatform(
    {
      environment: 'test',
      databaseUrl: process.env.TEST_DATABASE_URL || undefined,
      dataDir,
      poolMax: 5,
      redisUrl: process.env.TEST_REDIS_URL || undefined,
      adminApiKey: operatorKey,
      port: 0,
      host: '127.0.0.1',
      requestTimeoutMs: 10_000,
      rateLimitEnabled: true,
      transport: 'in-process',
      pgliteFromTemplate: true,
      secretsEncryptionKey: TEST_SECRETS_ENCRYPTION_KEY,
      keyPrefix,
      dataImport: testDataImportConfig(),
      ...overrides,
    },
    createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  );
  return {
    platform,
    url: platform.url,
    operatorKey,
    async graphql(query, variables, options = {}) {
      const token = options.token === undefined ? operatorKey : options.token;
      const response = await fetch(`${platform.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...options.headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, body: (await response.json()) as never };
    },
    async rest(path, init = {}) {
      const token = init.token === undefined ? operatorKey : init.token;
      const response = await fetch(`${platform.url}${path}`, {
        method: init.method ?? 'GET',
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...init.headers,
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : {} };
    },
    async close() {
      await platform.close();
      await rm(dataDir, { recursive: true, force: true });
      // Everything this platform wrote to Redis (cache, rate limits, BullMQ) lives under its own
      // prefix; a test that shares a prefix between platforms cleans up after the last of them.
      const redisUrl = overrides.redisUrl ?? process.env.TEST_REDIS_URL;
      if (platform.kv.kind === 'redis' && redisUrl && !overrides.keyPrefix) await deleteRedisKeys(redisUrl, keyPrefix);
    },
  };
}

/** Unique per call: tests share one database and never truncate it. */
export function uniqueSlug(prefix = 't'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** Deletes every key under a prefix (SCAN, never KEYS: the server may be shared). */
export async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) await redis.unlink(...keys);
    }
  } finally {
    redis.disconnect();
  }
}
