import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../lib/logger.js';
import { startPlatform } from '../lib/platform.js';

// `npm run bench:tenants`: how long creating a tenant takes through the gateway, end to end:
// core-platform POST /api/tenants with an admin user, i.e. the row, CREATE SCHEMA, the tenant's
// role and grants, the baseline migrations and an extension in one transaction, then the admin
// through identity (argon2id hash included). One at a time, so the figures are latencies, not
// throughput. Target: p50 under 250 ms on real PostgreSQL. Uses DATABASE_URL / REDIS_URL when
// set, else the embedded default. BENCH_TENANTS (default 40) tenants are timed after 3 warm-ups,
// and every tenant is hard-deleted afterwards (not timed).
const COUNT = Number(process.env.BENCH_TENANTS ?? 40);
const WARMUP = 3;

const dataDir = await mkdtemp(join(tmpdir(), 'platform-bench-'));
const operatorKey = `op_bench_${randomBytes(24).toString('hex')}`;
const databaseUrl = process.env.DATABASE_URL || process.env.BENCH_DATABASE_URL || undefined;
const redisUrl = process.env.REDIS_URL || process.env.BENCH_REDIS_URL || undefined;
const platform = await startPlatform(
  {
    environment: 'test',
    databaseUrl,
    redisUrl,
    dataDir,
    poolMax: 10,
    adminApiKey: operatorKey,
    port: 0,
    host: '127.0.0.1',
    requestTimeoutMs: 30_000,
    rateLimitEnabled: false,
    transport: 'in-process',
    keyPrefix: `bench:${randomBytes(4).toString('hex')}:`,
  },
  createLogger({ level: 'silent' }),
);

async function call(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${platform.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${operatorKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

const run = randomBytes(3).toString('hex');
const created: string[] = [];
const timings: number[] = [];
try {
  for (let i = 0; i < WARMUP + COUNT; i++) {
    const name = `bench_${run}_${i}`;
    const body = {
      tenant: {
        name: `Bench ${run} ${i}`,
        schema_name: name,
        settings: { timezone: 'UTC', features: { advanced_analytics: true } },
        extensions: ['pgcrypto'],
        admin_user: {
          email: `admin-${run}-${i}@example.com`,
          name: 'Bench Admin',
          password: `Bench-${run}-passphrase`,
        },
        limits: { users: 100, storage_gb: 1, api_calls_per_day: 10000 },
      },
    };
    const started = performance.now();
    const answer = await call('POST', '/api/tenants', body);
    const ms = performance.now() - started;
    created.push(name.replaceAll('_', '-'));
    if (i >= WARMUP) timings.push(ms);
    if (i === 0) {
      const db = (answer.data as { database: Record<string, unknown> }).database;
      console.log(`database: ${platform.db.kind}, kv: ${platform.kv.kind}; first answer's database block:`, db);
    }
  }
} finally {
  for (const slug of created) await call('DELETE', `/tenants/${slug}?hard=true`).catch(() => undefined);
  await platform.close();
  await rm(dataDir, { recursive: true, force: true });
}

const sorted = [...timings].sort((a, b) => a - b);
const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
console.log(`\ntenant creation through the gateway (POST /api/tenants, with admin user), n=${sorted.length}`);
console.log(`  p50 ${fmt(pick(0.5))}   p95 ${fmt(pick(0.95))}   max ${fmt(sorted.at(-1)!)}   min ${fmt(sorted[0]!)}`);
console.log(`  target p50 < 250 ms: ${pick(0.5) < 250 ? 'met' : 'NOT met'}`);
