import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type Logger } from '../../lib/logger.js';
import { startPlatform, type Platform, type PlatformConfig } from '../../app/platform.js';
import { uniqueClientIp } from './rest.js';

/**
 * Boots the whole platform the way `npm start` does, on an ephemeral port. With TEST_DATABASE_URL
 * and TEST_REDIS_URL set (CI) it runs on the real servers; otherwise on the embedded default.
 */
export interface TestPlatform {
  platform: Platform;
  url: string;
  operatorKey: string;
  /**
   * This platform's client address, sent as X-Forwarded-For by `graphql` and `rest` (loopback is a
   * trusted proxy): suites share one database, and sign-in threat detection and rate limits
   * remember an address, so each platform is a client of its own. A header given per call wins.
   */
  clientIp: string;
  graphql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    options?: { token?: string | null; headers?: Record<string, string> },
  ): Promise<{
    status: number;
    body: { data?: T | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
  }>;
  /**
   * A request to any gateway path: `body` is sent as JSON, `rawBody` as given (malformed JSON, other
   * types with their content-type header); `token` defaults to the operator key, null sends none.
   */
  rest(path: string, init?: RestInit): Promise<RestAnswer>;
  close(): Promise<void>;
}

export interface RestInit {
  method?: string;
  token?: string | null;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  /** This call's client address (X-Forwarded-For); `t.rest` sends its platform's by default. */
  clientIp?: string;
}

export interface RestAnswer {
  status: number;
  headers: Headers;
  /** The body as sent, for assertions about what it must not contain. */
  text?: string;
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

/** `logger`: where the platform logs (silent unless TEST_LOG_LEVEL); a suite that checks its logs passes its own. */
export async function bootPlatform(
  overrides: Partial<PlatformConfig> = {},
  { logger }: { logger?: Logger } = {},
): Promise<TestPlatform> {
  const dataDir = await mkdtemp(join(tmpdir(), 'platform-test-'));
  const operatorKey = `op_test_${randomBytes(24).toString('hex')}`;
  const keyPrefix = `test:${randomBytes(6).toString('hex')}:`;
  const clientIp = uniqueClientIp();
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
      trustedProxies: ['127.0.0.1', '::1'],
      ...overrides,
    },
    logger ?? createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  );
  return {
    platform,
    url: platform.url,
    operatorKey,
    clientIp,
    async graphql(query, variables, options = {}) {
      const token = options.token === undefined ? operatorKey : options.token;
      const response = await fetch(`${platform.url}/graphql`, {
        method: 'POST',
        headers: requestHeaders(
          { 'content-type': 'application/json', 'x-forwarded-for': clientIp },
          token,
          options.headers,
        ),
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, body: (await response.json()) as never };
    },
    rest(path, init = {}) {
      return restAt(platform.url, path, {
        ...init,
        token: init.token === undefined ? operatorKey : init.token,
        clientIp: init.clientIp ?? clientIp,
      });
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

/**
 * A request to a gateway by its address (one a test started itself; `t.rest` is this with its
 * platform's operator key and client address). No `token`, no credential.
 */
export async function restAt(baseUrl: string, path: string, init: RestInit = {}): Promise<RestAnswer> {
  const response = await fetch(`${baseUrl}${path}`, {
    method: init.method ?? 'GET',
    headers: requestHeaders(
      {
        ...(init.clientIp ? { 'x-forwarded-for': init.clientIp } : {}),
        ...(init.body !== undefined || init.rawBody !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      init.token ?? null,
      init.headers,
    ),
    body: init.rawBody ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: text ? JSON.parse(text) : {} };
}

/** Defaults, then the bearer token, then the call's own headers, whatever their case, win. */
function requestHeaders(
  defaults: Record<string, string>,
  token: string | null,
  overrides: Record<string, string> = {},
): Headers {
  const headers = new Headers(defaults);
  if (token) headers.set('authorization', `Bearer ${token}`);
  for (const [name, value] of Object.entries(overrides)) headers.set(name, value);
  return headers;
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
