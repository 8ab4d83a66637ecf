import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createLogger } from '../lib/logger.js';
import { startPlatform, type Platform, type PlatformConfig } from '../app/platform.js';

/**
 * What every benchmark starts from: the whole platform in one process, on the embedded default,
 * or on real servers with BENCH_DATABASE_URL / BENCH_REDIS_URL. Rate limits are off: benchmarks
 * measure the work, not the limiter.
 */
export interface BenchPlatform {
  platform: Platform;
  operatorKey: string;
  /** JSON request through the gateway; throws with the answer on a non-2xx status. */
  request(method: string, path: string, options?: { token?: string; body?: unknown }): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startBenchPlatform(overrides: Partial<PlatformConfig> = {}): Promise<BenchPlatform> {
  const dataDir = await mkdtemp(join(tmpdir(), 'platform-bench-'));
  const operatorKey = `op_bench_${randomBytes(24).toString('hex')}`;
  const platform = await startPlatform(
    {
      environment: 'test',
      databaseUrl: process.env.BENCH_DATABASE_URL || undefined,
      redisUrl: process.env.BENCH_REDIS_URL || undefined,
      dataDir,
      poolMax: 10,
      adminApiKey: operatorKey,
      port: 0,
      host: '127.0.0.1',
      requestTimeoutMs: 30_000,
      rateLimitEnabled: false,
      transport: 'in-process',
      keyPrefix: `bench:${randomBytes(4).toString('hex')}:`,
      // Bench runs may share a database: one key for all of them (BENCH_SECRETS_ENCRYPTION_KEY to choose).
      secretsEncryptionKey: process.env.BENCH_SECRETS_ENCRYPTION_KEY ?? 'b2'.repeat(32),
      ...overrides,
    },
    createLogger({ level: 'silent' }),
  );
  return {
    platform,
    operatorKey,
    async request(method, path, { token = operatorKey, body } = {}) {
      const response = await fetch(`${platform.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const json = (await response.json()) as Record<string, unknown>;
      if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(json)}`);
      return json;
    },
    async close() {
      await platform.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface LoadCase {
  name: string;
  path: string;
  method?: 'GET' | 'POST';
  token?: string;
  body?: string;
}

/** Runs one case with autocannon and prints throughput and latency, and how many requests failed. */
export async function runLoadCase(
  url: string,
  c: LoadCase,
  options: { connections: number; durationSeconds: number },
): Promise<void> {
  const result = await autocannon({
    url: `${url}${c.path}`,
    method: c.method ?? 'GET',
    headers: { 'content-type': 'application/json', ...(c.token ? { authorization: `Bearer ${c.token}` } : {}) },
    body: c.body,
    connections: options.connections,
    duration: options.durationSeconds,
  });
  const failures = result.non2xx + result.errors + result.timeouts;
  process.stdout.write(
    `${c.name}\n  ${result.requests.average.toFixed(0)} req/s  latency p50 ${result.latency.p50} ms  p97.5 ${result.latency.p97_5} ms  p99 ${result.latency.p99} ms  ` +
      `(${result.requests.total} requests, ${failures} failed)\n`,
  );
}
