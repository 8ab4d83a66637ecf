import { randomBytes } from 'node:crypto';
import { runLoadCase, startBenchPlatform, type LoadCase } from './support.js';

// `npm run bench:gateway`: throughput and latency through the gateway, in one process, on the
// embedded default (or on real servers with BENCH_DATABASE_URL / BENCH_REDIS_URL; BENCH_TRANSPORT=
// http puts every subgraph behind its own HTTP server). Bounded: each case runs DURATION seconds.
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const transport = (process.env.BENCH_TRANSPORT as 'in-process' | 'http' | undefined) ?? 'in-process';

const bench = await startBenchPlatform({ transport });
const { platform, operatorKey } = bench;
const gql = async (query: string, variables: Record<string, unknown>) =>
  (await bench.request('POST', '/graphql', { body: { query, variables } })) as {
    data: Record<string, { id: string }>;
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

const cases: LoadCase[] = [
  { name: 'REST tenantsdb GET /health (liveness: 1 subgraph, 1 DB ping)', path: '/health' },
  {
    name: 'GraphQL tenant { users } (tenancy + identity via @requires)',
    path: '/graphql',
    method: 'POST',
    token: operatorKey,
    body: JSON.stringify({
      query: 'query ($id: ID!) { tenant(id: $id) { id name users { id email } } }',
      variables: { id: tenant.id },
    }),
  },
  {
    name: 'REST core GET /api/health/detailed (all 6 subgraphs, DB + cache + jobs)',
    path: '/api/health/detailed',
    token: operatorKey,
  },
];

process.stdout.write(
  `gateway benchmark: ${platform.db.kind} + ${platform.kv.kind}, transport ${transport}, ` +
    `${CONNECTIONS} connections, ${DURATION}s per case\n\n`,
);
for (const c of cases) {
  await runLoadCase(platform.url, c, { connections: CONNECTIONS, durationSeconds: DURATION });
}
await bench.close();
