import { randomBytes } from 'node:crypto';
import { DEPLOY_CONCURRENCY } from '../subgraphs/tenancy/services/blueprints/deployments.js';
import { startBenchPlatform } from './support.js';

// `npm run bench:deploy`: rolling one blueprint change out to BENCH_TENANTS tenants (default 100)
// through the gateway. Setup (not timed): a tenantsdb project, a workspace with a table, version
// 1.0 published, BENCH_TENANTS tenants each with a `<blueprint>__<tenant>` database from it, then
// a second table added and version 1.1 published. Timed: POST /deployments {deploy_all} until the
// job reports a final status, i.e. per tenant one transaction (lock its row, enter its role, the
// CREATE TABLE, record its version) plus the progress counters; DEPLOY_CONCURRENCY tenants at a
// time inside the one job. Target: 1,000 tenants in under 60 s on real PostgreSQL
// (BENCH_DATABASE_URL / BENCH_REDIS_URL; the embedded default otherwise). Tenants are
// hard-deleted afterwards (not timed).
const COUNT = Number(process.env.BENCH_TENANTS ?? 100);
const SETUP_CONCURRENCY = 8;

const bench = await startBenchPlatform();
const { platform } = bench;
const run = randomBytes(3).toString('hex');

async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const signup = await bench.request('POST', '/signup', {
  body: { email: `bench-deploy-${run}@example.com`, password: `Bench-${run}-passphrase`, project_name: 'Bench' },
});
const key = signup.api_key as string;
const call = (method: string, path: string, body?: unknown) => bench.request(method, path, { token: key, body });
const publish = async (workspace: string) => {
  const answer = await call('POST', '/graphql', {
    query: 'mutation ($id: ID!) { publishBlueprint(workspaceId: $id) { version { version } } }',
    variables: { id: workspace },
  });
  if (answer.errors) throw new Error(JSON.stringify(answer.errors));
};

const workspace = `bench-${run}`;
const slugs = Array.from({ length: COUNT }, (_, i) => `b${run}-${i}`);
const created: string[] = [];
try {
  await call('POST', '/workspaces', { name: workspace, database: 'PostgreSQL' });
  await call('POST', `/workspaces/${workspace}/queries`, {
    query: 'CREATE TABLE accounts (id bigserial PRIMARY KEY, name text NOT NULL, created_at timestamptz DEFAULT now())',
  });
  await publish(workspace);

  const setupStarted = performance.now();
  await pool(slugs, SETUP_CONCURRENCY, async (slug) => {
    await call('POST', '/tenants', { tenant_id: slug, databases: [{ blueprint: workspace, isolation_level: 1 }] });
    created.push(slug);
  });
  console.log(
    `database: ${platform.db.kind}, kv: ${platform.kv.kind}, jobs: ${platform.jobs.kind}; ` +
      `${COUNT} tenants with a blueprint database created in ${((performance.now() - setupStarted) / 1000).toFixed(1)} s (setup, not timed)`,
  );

  await call('POST', `/workspaces/${workspace}/queries`, {
    query:
      'CREATE TABLE invoices (id bigserial PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts (id), amount numeric(12,2) NOT NULL)',
  });
  await publish(workspace);

  const started = performance.now();
  const queued = await call('POST', '/deployments', { blueprint_name: workspace, version: '1.1', deploy_all: true });
  let status: Record<string, unknown>;
  for (;;) {
    status = await call('GET', `/deployments/${queued.job_id as string}`);
    if (!['pending', 'running'].includes(status.status as string)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const seconds = (performance.now() - started) / 1000;
  const durations = (status.tenants as { duration_ms: number | null }[])
    .map((t) => t.duration_ms ?? 0)
    .sort((a, b) => a - b);
  const p50 = durations[Math.floor(durations.length / 2)] ?? 0;
  console.log(`\ndeploying one blueprint change (CREATE TABLE with a foreign key) to ${COUNT} tenants`);
  console.log(
    `  status ${String(status.status)}: ${String(status.completed_tenants)} completed, ${String(status.failed_tenants)} failed`,
  );
  console.log(
    `  total ${seconds.toFixed(2)} s, ${(COUNT / seconds).toFixed(1)} tenants/s (concurrency ${DEPLOY_CONCURRENCY} in the job)`,
  );
  console.log(`  per tenant: p50 ${p50.toFixed(1)} ms, max ${(durations.at(-1) ?? 0).toFixed(1)} ms`);
  const projected = (1000 / COUNT) * seconds;
  console.log(
    `  target 1,000 tenants < 60 s: ${COUNT >= 1000 ? (seconds < 60 ? 'met' : 'NOT met') : `projected ${projected.toFixed(1)} s`}`,
  );
} finally {
  await pool(created, SETUP_CONCURRENCY, async (slug) => {
    await call('DELETE', `/tenants/${slug}?hard=true`).catch(() => undefined);
  });
  await call('DELETE', `/workspaces/${workspace}`).catch(() => undefined);
  await bench.close();
}
