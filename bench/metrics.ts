import { cpus, loadavg } from 'node:os';
import { METRIC_BUCKETS_MS } from '../lib/runtime/metric-recorder.js';
import { startBenchPlatform } from './support.js';

// `npm run bench:metrics`: the metric store. BENCH_DATABASE_URL for real PostgreSQL (embedded
// PGlite otherwise). Three figures:
// 1. the sampler's flush (drain the recorder with a realistic window of gateway traffic, collect
//    process/db/cache/jobs/bus figures, one INSERT … SELECT unnest, announce on the bus);
// 2. loading BENCH_SAMPLES (default 1,000,000) samples: two instances, 24 h at 10 s;
// 3. query latency over them, through the gateway's documented endpoints.

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 1_000_000);
const FLUSHES = Number(process.env.BENCH_FLUSHES ?? 50);
const ROUTES = 20;
const QUERY_RUNS = Number(process.env.BENCH_QUERY_RUNS ?? 7);

const bench = await startBenchPlatform({ metrics: { sampleIntervalMs: 300_000, instance: 'bench-live' } });
const prisma = bench.platform.db.prisma;
const prefix = `bench-${Date.now().toString(36)}`;
const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `median ${at(0.5).toFixed(1)} ms, p95 ${at(0.95).toFixed(1)} ms`;
};
try {
  console.log(
    `database: ${bench.platform.db.kind}, kv: ${bench.platform.kv.kind}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${cpus().length} cores`,
  );

  // 1. Flush cost: each window holds ROUTES routes × 3 statuses of requests (counter + histogram).
  const recorder = bench.platform.gateway.metricRecorder;
  const flushTimes: number[] = [];
  let perFlush = 0;
  for (let f = 0; f < FLUSHES; f += 1) {
    for (let r = 0; r < ROUTES; r += 1) {
      for (const status of ['200', '400', '500']) {
        const labels = { method: 'GET', route: `/bench/${r}`, dialect: 'nexus-core', operation: `Bench${r}`, status };
        for (let i = 0; i < 5; i += 1) {
          recorder.add('http_requests', labels, null);
          recorder.observe('http_request_duration_ms', labels, null, 1 + Math.random() * 200);
        }
      }
    }
    const started = performance.now();
    const batch = await bench.platform.metrics.flush();
    flushTimes.push(performance.now() - started);
    perFlush = batch.samples.length;
  }
  console.log(`sampler flush (${perFlush} samples, one INSERT): ${stats(flushTimes)} over ${FLUSHES} flushes`);

  // 2. Load: two instances every 10 s over the last 24 h, ROUTES × (counter + histogram) + gauges.
  const gauges = ['process_cpu_percent', 'process_resident_memory_bytes', 'system_cpu_percent', 'db_ping_ms'];
  const perSampleFlush = ROUTES * 2 + gauges.length;
  const flushesNeeded = Math.ceil(SAMPLES / perSampleFlush);
  const instances = 2;
  const stepMs = 10_000;
  const now = Date.now();
  const CHUNK = 20_000;
  let written = 0;
  const loadStarted = performance.now();
  let rows: {
    at: string[];
    instance: string[];
    name: string[];
    kind: string[];
    labels: string[];
    value: number[];
    count: number[];
    buckets: Array<string | null>;
  } = { at: [], instance: [], name: [], kind: [], labels: [], value: [], count: [], buckets: [] };
  const flushRows = async () => {
    if (rows.at.length === 0) return;
    await prisma.$executeRawUnsafe(
      `INSERT INTO telemetry.metric_samples (recorded_at, instance, name, kind, labels, value, count, min, max, buckets)
       SELECT u.at::timestamptz, u.instance, u.name, u.kind, u.labels::jsonb, u.value, u.count, u.value / greatest(u.count, 1), u.value,
              CASE WHEN u.buckets IS NULL THEN NULL ELSE u.buckets::float8[] END
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::float8[], $8::text[])
           AS u(at, instance, name, kind, labels, value, count, buckets)`,
      rows.at,
      rows.instance,
      rows.name,
      rows.kind,
      rows.labels,
      rows.value,
      rows.count,
      rows.buckets,
    );
    written += rows.at.length;
    rows = { at: [], instance: [], name: [], kind: [], labels: [], value: [], count: [], buckets: [] };
  };
  for (let f = 0; f < flushesNeeded && written + rows.at.length < SAMPLES; f += 1) {
    const instance = `${prefix}-${f % instances}`;
    const at = new Date(now - 86_400_000 + Math.floor(f / instances) * stepMs).toISOString();
    for (let r = 0; r < ROUTES; r += 1) {
      const labels = JSON.stringify({
        route: `/bench/${r}`,
        dialect: 'nexus-core',
        status: r % 7 === 0 ? '500' : '200',
      });
      const n = 1 + (r % 5);
      const buckets = new Array<number>(METRIC_BUCKETS_MS.length + 1).fill(0);
      buckets[3 + (r % 6)] = n;
      rows.at.push(at, at);
      rows.instance.push(instance, instance);
      rows.name.push('http_requests', 'http_request_duration_ms');
      rows.kind.push('counter', 'histogram');
      rows.labels.push(labels, labels);
      rows.value.push(n, n * (10 + r * 5));
      rows.count.push(1, n);
      rows.buckets.push(null, `{${buckets.join(',')}}`);
    }
    for (const name of gauges) {
      rows.at.push(at);
      rows.instance.push(instance);
      rows.name.push(name);
      rows.kind.push('gauge');
      rows.labels.push('{}');
      rows.value.push(Math.random() * 100);
      rows.count.push(1);
      rows.buckets.push(null);
    }
    if (rows.at.length >= CHUNK) await flushRows();
  }
  await flushRows();
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  console.log(
    `load: ${written.toLocaleString('en')} samples in ${loadSeconds.toFixed(1)} s = ` +
      `${Math.round(written / loadSeconds).toLocaleString('en')} samples/s (INSERT … unnest, ${CHUNK.toLocaleString('en')} a statement)`,
  );
  if (bench.platform.db.kind === 'postgres') await prisma.$executeRawUnsafe('ANALYZE telemetry.metric_samples');

  // 3. Queries through the gateway.
  const since = (ms: number) => encodeURIComponent(new Date(Date.now() - ms).toISOString());
  const cases: Array<[string, string]> = [
    [
      '1 h, sum by route, 1m',
      `/api/v1/telemetry/metrics?metric_names=http_requests&aggregation=sum&group_by=route&interval=1m&start_time=${since(3600_000)}`,
    ],
    [
      '24 h, p95 latency, 1h',
      `/api/v1/telemetry/metrics?metric_names=http_request_duration_ms&aggregation=p95&interval=1h&start_time=${since(86_400_000)}`,
    ],
    [
      '24 h, avg cpu by instance, 5m',
      `/api/v1/telemetry/metrics?metric_names=process_cpu_percent&aggregation=avg&group_by=instance&interval=5m&start_time=${since(86_400_000)}`,
    ],
    ['nexus summary (24 h overview)', '/api/v1/metrics/summary'],
    ['nexus series (1 h, 1m)', '/api/v1/metrics?resolution=1m'],
  ];
  for (const [label, path] of cases) {
    const times: number[] = [];
    for (let i = 0; i < QUERY_RUNS; i += 1) {
      const started = performance.now();
      const answer = (await bench.request('GET', path)) as { status?: string; success?: boolean };
      times.push(performance.now() - started);
      if (answer.status !== 'success' && answer.success !== true)
        throw new Error(`${label}: ${JSON.stringify(answer)}`);
    }
    console.log(`query ${label}: ${stats(times)} (${QUERY_RUNS} runs)`);
  }
} finally {
  await prisma.$executeRawUnsafe(
    `DELETE FROM telemetry.metric_samples WHERE instance LIKE $1 OR instance = 'bench-live'`,
    `${prefix}-%`,
  );
  await bench.close();
}
