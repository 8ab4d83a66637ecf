import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createLogger } from '../lib/logger.js';
import { startPlatform } from '../lib/platform.js';

// `npm run bench:gateway`: throughput and latency through the gateway, in one process, on the
// embedded default (or on real servers with BENCH_DATABASE_URL / BENCH_REDIS_URL). Rate limits
// are off: this measures the gateway, not the limiter. Bounded: each case runs DURATION seconds.
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);

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
    transport: (process.env.BENCH_TRANSPORT as 'in-process' | 'http' | undefined) ?? 'in-process',
    keyPrefix: `bench:${randomBytes(4).toString('hex')}:`,
  },
  createLogger({ level: 'silent' }),
);

const headers = { authorization: `Bearer ${operatorKey}`, 'content-type': 'application/json' };
const gql = async (query: string, variables: Record<string, unknown>) => {
  const response = await fetch(`${platform.url}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data: Record<string, { id: string }> };
};

// A tenant with a few users, so the cross-subgraph case really joins tenancy and identity.
const slug = `bench-${randomBytes(4).toString('hex')}`;
const tenant = (
  await gql('mutation ($i: CreateTenantInput!) { createTenant(input: $i) { id } }', { i: { name: 'Bench', slug } })
).data.createTenant!;
for (let i = 0; i < 5; i++) {
  await gql('mutation ($i: CreateUserInput!) { createUser(input: $i) { id } }', {
    i: { tenantId: tenant.id, email: `u${i}@bench.test`, name: `User ${i}` },
  });
}

const cases: Array<{ name: string; path: string; method?: 'GET' | 'POST'; body?: string }> = [
  { name: 'REST tenantsdb GET /health (liveness: 1 subgraph, 1 DB ping)', path: '/health' },
  {
    name: 'GraphQL tenant { users } (tenancy + identity via @requires)',
    path: '/graphql',
    method: 'POST',
    body: JSON.stringify({
      query: 'query ($id: ID!) { tenant(id: $id) { id name users { id email } } }',
      variables: { id: tenant.id },
    }),
  },
  { name: 'REST core GET /api/health/detailed (all 6 subgraphs, DB + cache + jobs)', path: '/api/health/detailed' },
];

process.stdout.write(
  `gateway benchmark: ${platform.db.kind} + ${platform.kv.kind}, transport ${process.env.BENCH_TRANSPORT ?? 'in-process'}, ` +
    `${CONNECTIONS} connections, ${DURATION}s per case\n\n`,
);
for (const c of cases) {
  const result = await autocannon({
    url: `${platform.url}${c.path}`,
    method: c.method ?? 'GET',
    headers,
    body: c.body,
    connections: CONNECTIONS,
    duration: DURATION,
  });
  const failures = result.non2xx + result.errors + result.timeouts;
  process.stdout.write(
    `${c.name}\n  ${result.requests.average.toFixed(0)} req/s  latency p50 ${result.latency.p50} ms  p97.5 ${result.latency.p97_5} ms  p99 ${result.latency.p99} ms  ` +
      `(${result.requests.total} requests, ${failures} failed)\n`,
  );
}

await platform.close();
await rm(dataDir, { recursive: true, force: true });
