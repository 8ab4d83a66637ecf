import { randomBytes } from 'node:crypto';
import { startBenchPlatform } from './support.js';

// `npm run bench:tenants`: how long creating a tenant takes through the gateway, end to end:
// core-platform POST /api/tenants with an admin user, i.e. the row, CREATE SCHEMA, the tenant's
// role and grants, the baseline migrations and an extension in one transaction, then the admin
// through identity (argon2id hash included). One at a time, so the figures are latencies, not
// throughput. Target: p50 under 250 ms on real PostgreSQL. Uses BENCH_DATABASE_URL /
// BENCH_REDIS_URL when set, else the embedded default. BENCH_TENANTS (default 40) tenants are timed after 3 warm-ups,
// and every tenant is hard-deleted afterwards (not timed).
const COUNT = Number(process.env.BENCH_TENANTS ?? 40);
const WARMUP = 3;

const bench = await startBenchPlatform();
const { platform } = bench;
const call = (method: string, path: string, body?: unknown) => bench.request(method, path, { body });

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
  await bench.close();
}

const sorted = [...timings].sort((a, b) => a - b);
const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
console.log(`\ntenant creation through the gateway (POST /api/tenants, with admin user), n=${sorted.length}`);
console.log(`  p50 ${fmt(pick(0.5))}   p95 ${fmt(pick(0.95))}   max ${fmt(sorted.at(-1)!)}   min ${fmt(sorted[0]!)}`);
console.log(`  target p50 < 250 ms: ${pick(0.5) < 250 ? 'met' : 'NOT met'}`);
