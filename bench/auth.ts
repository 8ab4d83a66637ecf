import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createLogger } from '../lib/logger.js';
import { startPlatform } from '../lib/platform.js';

// `npm run bench:auth`: what authentication costs through the gateway, in one process, on the
// embedded default (or on real servers with BENCH_DATABASE_URL / BENCH_REDIS_URL). Rate limits
// are off. Sign-in is bound by argon2id on purpose (m=19 MiB, t=2): its figure is the ceiling
// per process, not a latency target. The JWT and API-key cases show the per-request cost of
// authenticating an already signed-in caller (local JWT verify + revocation lookup; cached key).
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
    transport: 'in-process',
    keyPrefix: `bench:${randomBytes(4).toString('hex')}:`,
  },
  createLogger({ level: 'silent' }),
);

async function post(path: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${platform.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${path} answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

// A tenant and a user in it (registered by the operator), and a tenantsdb account with its key.
const suffix = randomBytes(4).toString('hex');
const created = await post(
  '/graphql',
  {
    query: 'mutation ($i: CreateTenantInput!) { createTenant(input: $i) { id } }',
    variables: { i: { name: 'Bench', slug: `bench-${suffix}` } },
  },
  operatorKey,
);
const tenantId = (created.data as { createTenant: { id: string } }).createTenant.id;
const email = `bench-${suffix}@example.com`;
const password = `Bench-${suffix}-passphrase`;
const registered = await post(
  '/api/v1/auth/register',
  { email, password, name: 'Bench', tenant_id: tenantId },
  operatorKey,
);
const accessToken = (registered.data as { access_token: string }).access_token;
const signup = await post('/signup', { email: `owner-${email}`, password, project_name: 'Bench' });
const apiKey = signup.api_key as string;

const cases: Array<{ name: string; path: string; method: 'GET' | 'POST'; token?: string; body?: string }> = [
  {
    name: 'REST platform-forge POST /api/v1/auth/login (argon2id verify, token signing, refresh token, audit)',
    path: '/api/v1/auth/login',
    method: 'POST',
    body: JSON.stringify({ email, password, tenant_id: tenantId }),
  },
  {
    name: 'GraphQL { me } with a JWT (local ES256 verify + revocation lookup, identity round trip)',
    path: '/graphql',
    method: 'POST',
    token: accessToken,
    body: JSON.stringify({ query: '{ me { id email } }' }),
  },
  {
    name: 'REST tenantsdb GET /projects with an API key (cached key resolution, identity round trip)',
    path: '/projects',
    method: 'GET',
    token: apiKey,
  },
];

process.stdout.write(
  `auth benchmark: ${platform.db.kind} + ${platform.kv.kind}, ${CONNECTIONS} connections, ${DURATION}s per case\n\n`,
);
for (const c of cases) {
  const result = await autocannon({
    url: `${platform.url}${c.path}`,
    method: c.method,
    headers: { 'content-type': 'application/json', ...(c.token ? { authorization: `Bearer ${c.token}` } : {}) },
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
