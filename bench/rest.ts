import { print, type DocumentNode } from 'graphql';
import autocannon from 'autocannon';
import { loadavg } from 'node:os';
import { randomBytes } from 'node:crypto';
import { corePlatformTenantRoutes } from '../gateway/rest/routes/core-platform-tenants.js';
import { startBenchPlatform } from './support.js';

// `npm run bench:rest`: a REST dialect route against the same GraphQL operation sent to /graphql,
// on one platform (embedded default, or BENCH_DATABASE_URL / BENCH_REDIS_URL), same caller,
// interleaved rounds. The route is core-platform GET /api/tenants/{tenant_id}, which runs
// CorePlatformTenant (tenancy + billing's usage + identity's user count); the GraphQL side posts
// that very document. Prints p50/p95/p99 and RPS of each and REST/GraphQL ratios under load, then
// the same ratios for BENCH_PAIRS (400) alternating one-at-a-time pairs.
// BENCH_CONNECTIONS (16), BENCH_DURATION seconds per round (8), BENCH_ROUNDS (3).
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const bench = await startBenchPlatform();
const { platform, operatorKey } = bench;
const slug = `bench-${randomBytes(4).toString('hex')}`;
const created = (await bench.request('POST', '/graphql', {
  body: {
    query: 'mutation ($i: CreateTenantInput!) { createTenant(input: $i) { id } }',
    variables: { i: { name: 'Bench', slug } },
  },
})) as { data: { createTenant: { id: string } } };
const tenantId = created.data.createTenant.id;

const route = corePlatformTenantRoutes.find((r) => r.method === 'GET')!;
const document = print(route.operation as DocumentNode);
const cases = [
  { name: 'REST GET /api/tenants/{id}', method: 'GET' as const, path: `/api/tenants/${tenantId}` },
  {
    name: 'GraphQL CorePlatformTenant',
    method: 'POST' as const,
    path: '/graphql',
    body: JSON.stringify({ query: document, variables: { id: tenantId } }),
  },
];

// Both answer 200 with the tenant before any load.
for (const c of cases) {
  const response = await fetch(`${platform.url}${c.path}`, {
    method: c.method,
    headers: { authorization: `Bearer ${operatorKey}`, 'content-type': 'application/json' },
    body: c.body,
  });
  const text = await response.text();
  if (response.status !== 200 || !text.includes(tenantId)) throw new Error(`${c.name}: ${response.status} ${text}`);
}

interface Round {
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  failed: number;
}
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
async function round(c: (typeof cases)[number], seconds: number): Promise<Round> {
  const latencies: number[] = [];
  const instance = autocannon({
    url: `${platform.url}${c.path}`,
    method: c.method,
    headers: { authorization: `Bearer ${operatorKey}`, 'content-type': 'application/json' },
    body: c.body,
    connections: CONNECTIONS,
    duration: seconds,
  });
  (instance as unknown as NodeJS.EventEmitter).on('response', (_c: unknown, _s: number, _b: number, ms: number) =>
    latencies.push(ms),
  );
  const result = await instance;
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
process.stdout.write(
  `REST vs GraphQL: ${platform.db.kind} + ${platform.kv.kind}, ${CONNECTIONS} connections, ${DURATION}s rounds x ${ROUNDS}, load average ${load()}\n`,
);
for (const c of cases) await round(c, 2);
const results: Round[][] = [[], []];
let failed = 0;
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? [0, 1] : [1, 0];
  for (const i of order) {
    const res = await round(cases[i]!, DURATION);
    results[i]!.push(res);
    failed += res.failed;
    process.stdout.write(
      `round ${r + 1} ${cases[i]!.name.padEnd(28)} ${res.rps.toFixed(1).padStart(7)} req/s  p50 ${res.p50.toFixed(1)} ms  ` +
        `p95 ${res.p95.toFixed(1)} ms  p99 ${res.p99.toFixed(1)} ms  ${res.failed} failed  (load ${load()})\n`,
    );
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const m = (i: number, k: keyof Round) => median(results[i]!.map((x) => x[k]));
process.stdout.write(
  `\nmedians        REST / GraphQL\n` +
    (['p50', 'p95', 'p99', 'rps'] as const)
      .map(
        (k) =>
          `  ${k.padEnd(12)} ${m(0, k).toFixed(1)} / ${m(1, k).toFixed(1)}   REST/GraphQL ${(m(0, k) / m(1, k)).toFixed(2)}x\n`,
      )
      .join('') +
    `  load average ${load()}\n`,
);

// Paired: one REST call, then the same operation over /graphql, one at a time, PAIRS times. Both
// of a pair see the same machine, so on a shared, loaded machine this ratio is the steadier one.
const PAIRS = Number(process.env.BENCH_PAIRS ?? 400);
const send = async (c: (typeof cases)[number]) => {
  const started = performance.now();
  const response = await fetch(`${platform.url}${c.path}`, {
    method: c.method,
    headers: { authorization: `Bearer ${operatorKey}`, 'content-type': 'application/json' },
    body: c.body,
  });
  await response.arrayBuffer();
  if (response.status !== 200) failed += 1;
  return performance.now() - started;
};
const paired: number[][] = [[], []];
for (let i = 0; i < PAIRS; i++) {
  const order = i % 2 === 0 ? [0, 1] : [1, 0];
  for (const c of order) paired[c]!.push(await send(cases[c]!));
}
const pairLine = (pairs: number[][], p: number) => {
  const sorted = pairs.map((xs) => [...xs].sort((a, b) => a - b));
  const rest = percentile(sorted[0]!, p);
  const graphql = percentile(sorted[1]!, p);
  return `  p${p}${' '.repeat(10 - String(p).length)} ${rest.toFixed(2)} / ${graphql.toFixed(2)} ms   REST/GraphQL ${(rest / graphql).toFixed(2)}x\n`;
};
process.stdout.write(
  `\npaired, one request at a time (${PAIRS} pairs)   REST / GraphQL\n${pairLine(paired, 50)}${pairLine(paired, 95)}${pairLine(paired, 99)}` +
    `  load average ${load()}\n`,
);

// Paired under load: CONNECTIONS callers at once, each sending a REST call and the same operation
// over /graphql in turn (order alternating), for DURATION seconds per round. Both kinds share every
// moment of the machine's load, which the separate rounds above cannot promise on a shared machine.
const underLoad: number[][] = [[], []];
for (let r = 0; r < ROUNDS; r++) {
  const roundPairs: number[][] = [[], []];
  const until = Date.now() + DURATION * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, worker) => {
      for (let i = worker; Date.now() < until; i++) {
        const order = i % 2 === 0 ? [0, 1] : [1, 0];
        for (const c of order) roundPairs[c]!.push(await send(cases[c]!));
      }
    }),
  );
  underLoad[0]!.push(...roundPairs[0]!);
  underLoad[1]!.push(...roundPairs[1]!);
  process.stdout.write(
    `round ${r + 1} paired under load: ${roundPairs[0]!.length} pairs\n${pairLine(roundPairs, 50)}${pairLine(roundPairs, 95)}  (load ${load()})\n`,
  );
}
process.stdout.write(
  `\npaired under load (${CONNECTIONS} connections, all rounds)   REST / GraphQL\n${pairLine(underLoad, 50)}${pairLine(underLoad, 95)}${pairLine(underLoad, 99)}` +
    `  load average ${load()}\n`,
);
await bench.close();
process.exit(failed > 0 ? 1 : 0);
