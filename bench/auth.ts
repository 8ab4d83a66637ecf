import { randomBytes } from 'node:crypto';
import { runLoadCase, startBenchPlatform, type LoadCase } from './support.js';

// `npm run bench:auth`: what authentication costs through the gateway, in one process, on the
// embedded default (or on real servers with BENCH_DATABASE_URL / BENCH_REDIS_URL). Sign-in is
// bound by argon2id on purpose (m=19 MiB, t=2): its figure is the ceiling per process, not a
// latency target. The JWT and API-key cases show the per-request cost of authenticating an
// already signed-in caller (local JWT verify + revocation lookup; cached key).
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);

const bench = await startBenchPlatform();
const { platform } = bench;

// A tenant and a user in it (registered by the operator), and a tenantsdb account with its key.
const suffix = randomBytes(4).toString('hex');
const created = await bench.request('POST', '/graphql', {
  body: {
    query: 'mutation ($i: CreateTenantInput!) { createTenant(input: $i) { id } }',
    variables: { i: { name: 'Bench', slug: `bench-${suffix}` } },
  },
});
const tenantId = (created.data as { createTenant: { id: string } }).createTenant.id;
const email = `bench-${suffix}@example.com`;
const password = `Bench-${suffix}-passphrase`;
const registered = await bench.request('POST', '/api/v1/auth/register', {
  body: { email, password, name: 'Bench', tenant_id: tenantId },
});
const accessToken = (registered.data as { access_token: string }).access_token;
const signup = await bench.request('POST', '/signup', {
  body: { email: `owner-${email}`, password, project_name: 'Bench' },
});
const apiKey = signup.api_key as string;

const cases: LoadCase[] = [
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
    token: apiKey,
  },
];

process.stdout.write(
  `auth benchmark: ${platform.db.kind} + ${platform.kv.kind}, ${CONNECTIONS} connections, ${DURATION}s per case\n\n`,
);
for (const c of cases) {
  await runLoadCase(platform.url, c, { connections: CONNECTIONS, durationSeconds: DURATION });
}
await bench.close();
