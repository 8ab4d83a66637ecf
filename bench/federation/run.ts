import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER } from '../../lib/access-token.js';
import type { SubgraphName } from './subgraphs.js';
import { composeBenchSupergraph, QUERY } from './workload.js';

// `npm run bench:federation`: The Guild's graphql-gateways-benchmark federation workload (four
// subgraphs, one deeply nested query with an 87 KB answer) through stock @apollo/gateway in
// @apollo/server and through ours (createGateway, remote subgraphs, every request carrying a
// different ES256 access token), side by side on the same subgraphs, in interleaved rounds.
// Each gateway runs in its own process pinned to one core (taskset, when present); the subgraphs
// and the load generator (autocannon) share the other. Every response body is compared with the
// reference answer. Prints RPS, p50/p95/p99, peak RSS and subgraph requests per operation, and
// ours/stock ratios. BENCH_CONNECTIONS (50), BENCH_DURATION seconds per round (10), BENCH_ROUNDS (3),
// BENCH_WARMUP seconds (3), BENCH_ONLY=ours|stock.
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const ONLY = process.env.BENCH_ONLY;
const GATEWAY_CORE = process.env.BENCH_GATEWAY_CORE ?? '1';
const LOAD_CORE = process.env.BENCH_LOAD_CORE ?? '0';
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);

const hasTaskset = spawnSync('taskset', ['--version']).status === 0;
const children: ChildProcess[] = [];

/** Starts `node --import tsx <script>` (pinned to `core` when taskset exists) and waits for its "ready <x>" line. */
async function start(script: string, core: string, env: Record<string, string> = {}, flags: string[] = []) {
  const args = ['--import', 'tsx', ...flags, join(import.meta.dirname, script)];
  const child = hasTaskset
    ? spawn('taskset', ['-c', core, process.execPath, ...args], { env: { ...process.env, ...env } })
    : spawn(process.execPath, args, { env: { ...process.env, ...env } });
  children.push(child);
  child.stderr!.pipe(process.stderr);
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /^ready (.+)$/m.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
  });
  return { child, ready: line };
}

async function cleanup() {
  await Promise.all(
    children.map((child) =>
      child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve).kill('SIGTERM')) : undefined,
    ),
  );
}
process.on('exit', () => children.forEach((child) => child.kill('SIGTERM')));
process.on('SIGINT', () => process.exit(130));

// --- credentials: an ES256 key the gateway trusts; a fresh token (own sub and jti) per request.
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const kid = `bench-${randomUUID()}`;
const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }] };
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const header = b64({ alg: 'ES256', typ: 'at+jwt', kid });
let issued = 0;
function accessToken(key: KeyObject): string {
  issued += 1;
  const now = Math.floor(Date.now() / 1000);
  const payload = b64({
    iss: ACCESS_TOKEN_ISSUER,
    aud: ACCESS_TOKEN_AUDIENCE,
    sub: `bench-user-${issued}`,
    tenant_id: null,
    roles: ['member'],
    iat: now,
    exp: now + 3600,
    jti: randomUUID(),
  });
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), { key, dsaEncoding: 'ieee-p1363' });
  return `${header}.${payload}.${signature.toString('base64url')}`;
}
const signingKey = createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' }));

// --- processes
const subgraphs = await start('subgraphs-main.ts', LOAD_CORE);
const { urls, countsUrl } = JSON.parse(subgraphs.ready) as { urls: Record<SubgraphName, string>; countsUrl: string };
const dir = mkdtempSync(join(tmpdir(), 'bench-federation-'));
const supergraphFile = join(dir, 'supergraph.graphql');
writeFileSync(supergraphFile, composeBenchSupergraph(urls));
const env = { BENCH_SUPERGRAPH_FILE: supergraphFile, BENCH_JWKS: JSON.stringify(jwks), NODE_ENV: 'production' };

interface Target {
  name: 'stock' | 'ours';
  url: string;
  pid: number;
}
const targets: Target[] = [];
for (const [name, script] of [
  ['stock', 'stock-gateway.ts'],
  ['ours', 'our-gateway.ts'],
] as const) {
  if (ONLY && ONLY !== name) continue;
  const started = await start(script, GATEWAY_CORE, env, NODE_FLAGS);
  targets.push({ name, url: started.ready, pid: started.child.pid! });
}

const body = JSON.stringify({ query: QUERY, operationName: 'TestQuery' });
const post = async (url: string) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken(signingKey)}` },
    body,
  });
  return { status: response.status, text: await response.text() };
};

// The reference answer: stock @apollo/gateway's, which must have data and no errors; ours must
// answer the same bytes (checked on every response below).
const reference = await post(targets[0]!.url);
const parsed = JSON.parse(reference.text) as { data?: unknown; errors?: unknown };
if (reference.status !== 200 || parsed.errors || !parsed.data)
  throw new Error(`reference answer is not a clean 200: ${reference.status} ${reference.text.slice(0, 500)}`);
for (const t of targets) {
  const answer = await post(t.url);
  if (answer.text !== reference.text) throw new Error(`${t.name} answers differently: ${answer.text.slice(0, 500)}`);
}

const rssKb = (pid: number): number => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
};
/** CPU time (user + system) the process has used, in ms (/proc/<pid>/stat, clock ticks of 10 ms). */
const cpuMs = (pid: number): number => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
};
const counts = async () => (await (await fetch(countsUrl)).json()) as Record<SubgraphName, number>;
const totalCount = async () => Object.values(await counts()).reduce((a, b) => a + b, 0);
// Subgraph requests per operation, counted on a few sequential operations (under load, requests
// still in flight when a round ends would blur the count).
const perOperation: Record<string, number> = {};
for (const t of targets) {
  const before = await totalCount();
  for (let i = 0; i < 5; i++) await post(t.url);
  perOperation[t.name] = ((await totalCount()) - before) / 5;
}

interface RoundResult {
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  requests: number;
  failed: number;
  mismatched: number;
  peakRssMb: number;
  subgraphRequestsPerOp: number;
  /** Gateway CPU per answered request: what the pinned core can serve is 1000 / this, whatever the load. */
  cpuMsPerOp: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function round(t: Target, seconds: number): Promise<RoundResult> {
  const latencies: number[] = [];
  let mismatched = 0;
  let firstMismatch: string | undefined;
  let peakRss = rssKb(t.pid);
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssKb(t.pid))), 200);
  const cpuBefore = cpuMs(t.pid);
  const instance = autocannon({
    url: t.url,
    connections: CONNECTIONS,
    duration: seconds,
    // Long enough that a slow answer is measured as slow rather than dropped as a timeout.
    timeout: 60,
    requests: [
      {
        method: 'POST',
        setupRequest: (request) => ({
          ...request,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken(signingKey)}` },
          body,
        }),
        onResponse: (status, responseBody) => {
          if (status === 200 && responseBody === reference.text) return;
          mismatched += 1;
          firstMismatch ??= `${status} ${String(responseBody).slice(0, 300)}`;
        },
      },
    ],
  });
  (instance as unknown as NodeJS.EventEmitter).on(
    'response',
    (_client: unknown, _status: number, _bytes: number, ms: number) => latencies.push(ms),
  );
  const result = await instance;
  clearInterval(sampler);
  const cpuUsed = cpuMs(t.pid) - cpuBefore;
  latencies.sort((a, b) => a - b);
  if (firstMismatch) process.stdout.write(`  ! ${t.name}: first wrong answer: ${firstMismatch}\n`);
  const requests = result.requests.total;
  return {
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    requests,
    failed: result.non2xx + result.errors + result.timeouts,
    mismatched,
    peakRssMb: Math.round(peakRss / 1024),
    subgraphRequestsPerOp: perOperation[t.name]!,
    cpuMsPerOp: cpuUsed / Math.max(1, result.requests.total),
  };
}

const f = (n: number, digits = 1) => n.toFixed(digits);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
process.stdout.write(
  `federation benchmark: ${CONNECTIONS} connections, ${DURATION}s rounds x ${ROUNDS}, answer ${reference.text.length} bytes, ` +
    `gateways ${hasTaskset ? `pinned to core ${GATEWAY_CORE}` : 'not pinned (no taskset)'}, load average ${load()}\n`,
);
for (const t of targets) await round(t, WARMUP);

const results: Record<string, RoundResult[]> = { stock: [], ours: [] };
let failures = 0;
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? targets : [...targets].reverse();
  for (const t of order) {
    const res = await round(t, DURATION);
    results[t.name]!.push(res);
    // A wrong body from either gateway fails the run; so does any failed request of ours.
    failures += res.mismatched + (t.name === 'ours' ? res.failed : 0);
    process.stdout.write(
      `round ${r + 1} ${t.name.padEnd(5)} ${f(res.rps).padStart(7)} req/s  p50 ${f(res.p50)} ms  p95 ${f(res.p95)} ms  p99 ${f(res.p99)} ms  ` +
        `CPU ${f(res.cpuMsPerOp, 2)} ms/op  RSS ${res.peakRssMb} MB  ${f(res.subgraphRequestsPerOp, 2)} subgraph req/op  ${res.requests} requests, ` +
        `${res.failed} failed, ${res.mismatched} wrong bodies  (load ${load()})\n`,
    );
  }
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const summary = (name: string) => {
  const rs = results[name]!;
  return {
    rps: median(rs.map((x) => x.rps)),
    p50: median(rs.map((x) => x.p50)),
    p95: median(rs.map((x) => x.p95)),
    p99: median(rs.map((x) => x.p99)),
    rss: median(rs.map((x) => x.peakRssMb)),
    perOp: median(rs.map((x) => x.subgraphRequestsPerOp)),
    cpu: median(rs.map((x) => x.cpuMsPerOp)),
  };
};
if (results.stock!.length && results.ours!.length) {
  const s = summary('stock');
  const o = summary('ours');
  const perRound = results.ours!.map((x, i) => f(x.rps / results.stock![i]!.rps, 2)).join(', ');
  process.stdout.write(
    `\nmedians        stock / ours\n` +
      `  req/s        ${f(s.rps)} / ${f(o.rps)}   ours/stock ${f(o.rps / s.rps, 2)}x (per round: ${perRound})\n` +
      `  p50 ms       ${f(s.p50)} / ${f(o.p50)}   ${f(o.p50 / s.p50, 2)}x\n` +
      `  p95 ms       ${f(s.p95)} / ${f(o.p95)}   ${f(o.p95 / s.p95, 2)}x\n` +
      `  p99 ms       ${f(s.p99)} / ${f(o.p99)}   ${f(o.p99 / s.p99, 2)}x\n` +
      `  CPU ms/op    ${f(s.cpu, 2)} / ${f(o.cpu, 2)}   capacity of the pinned core ours/stock ${f(s.cpu / o.cpu, 2)}x\n` +
      `  peak RSS MB  ${s.rss} / ${o.rss}   ${f(o.rss / s.rss, 2)}x\n` +
      `  subgraph requests per operation  ${f(s.perOp, 2)} / ${f(o.perOp, 2)}\n` +
      `  load average ${load()}; ${issued} distinct access tokens issued\n`,
  );
}
await cleanup();
rmSync(dir, { recursive: true, force: true });
if (failures > 0) {
  process.stdout.write(`${failures} requests failed or answered a wrong body\n`);
  process.exit(1);
}
process.exit(0);
