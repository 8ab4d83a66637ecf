import { readFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { GATEWAY_PRINCIPAL } from '../lib/principal.js';
import { ingestEvents } from '../subgraphs/telemetry/services/ingest.js';
import { startBenchPlatform } from './support.js';

// `npm run bench:ingest`: batch event ingest into the database, BENCH_DATABASE_URL for real
// PostgreSQL (the embedded PGlite otherwise). Two figures: the ingest service alone (one
// INSERT … SELECT unnest per batch of 2,500), and the documented REST batch endpoint end to end.
// Beside each figure, the CPU time spent per event by this process (gateway, subgraph and client
// alike) and, on a local PostgreSQL, by its backends serving this database: on a shared machine
// the events/s move with the load, the CPU per event much less.

const BATCH = 2_500;
// The REST layer's input guard allows 10,000 JSON keys a body: 1,000 events of this shape fit.
const REST_BATCH = 1_000;
const SERVICE_BATCHES = Number(process.env.BENCH_BATCHES ?? 40);
const REST_BATCHES = Number(process.env.BENCH_REST_BATCHES ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);

const bench = await startBenchPlatform();
try {
  const created = (await bench.request('POST', '/graphql', {
    body: {
      query: `mutation ($input: CreateTenantInput!) { createTenant(input: $input) { id } }`,
      variables: { input: { name: 'Bench ingest', slug: `bench-ingest-${Date.now().toString(36)}` } },
    },
  })) as { data: { createTenant: { id: string } } };
  const tenantId = created.data.createTenant.id;
  const operator = {
    ...GATEWAY_PRINCIPAL,
    kind: 'operator' as const,
    id: 'operator',
    scopes: ['write:telemetry' as const],
  };
  const batchOf = (n: number, size = BATCH) =>
    Array.from({ length: size }, (_, i) => ({
      type: 'page_view',
      properties: { page: `/p/${i % 50}`, n },
      messageId: `bench-${n}-${i}-${Math.random().toString(36).slice(2)}`,
    }));

  // Backend processes of this database and their CPU seconds so far (utime + stime in
  // /proc/<pid>/stat, in clock ticks of 1/100 s); empty when PostgreSQL is not on this host.
  const postgresCpu = async (): Promise<Map<number, number>> => {
    const cpu = new Map<number, number>();
    if (bench.platform.db.kind !== 'postgres') return cpu;
    const backends = await bench.platform.db.prisma.$queryRawUnsafe<Array<{ pid: number }>>(
      'SELECT pid FROM pg_stat_activity WHERE datname = current_database()',
    );
    for (const { pid } of backends) {
      try {
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        cpu.set(pid, (Number(fields[11]) + Number(fields[12])) / 100);
      } catch {
        // Not on this host (or already gone).
      }
    }
    return cpu;
  };

  const run = async (label: string, batches: number, one: (n: number) => Promise<unknown>) => {
    let next = 0;
    const pgBefore = await postgresCpu();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < batches) await one(next++);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const pgAfter = await postgresCpu();
    let pgSeconds = 0;
    for (const [pid, after] of pgAfter) pgSeconds += after - (pgBefore.get(pid) ?? 0);
    const events = batches * (label.startsWith('REST') ? REST_BATCH : BATCH);
    const perEvent = (s: number) => ((s * 1e6) / events).toFixed(1);
    console.log(
      `${label}: ${events} events in ${seconds.toFixed(2)} s = ${Math.round(events / seconds).toLocaleString('en')} events/s; ` +
        `CPU per event: node ${perEvent((cpu.user + cpu.system) / 1e6)} µs` +
        (pgAfter.size > 0 ? `, postgres ${perEvent(pgSeconds)} µs` : '') +
        `; load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}`,
    );
  };

  console.log(
    `database: ${bench.platform.db.kind}, batches of ${BATCH} (REST ${REST_BATCH}), ${CONCURRENCY} concurrent writers, ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${cpus().length} cores`,
  );
  await run('ingest service (INSERT … SELECT unnest)', SERVICE_BATCHES, (n) =>
    ingestEvents({ deps: bench.platform.deps, principal: operator, tenantId, events: batchOf(n) }),
  );
  await run('REST POST /api/v1/telemetry/events/batch', REST_BATCHES, (n) =>
    bench.request('POST', '/api/v1/telemetry/events/batch', {
      body: {
        tenant_id: tenantId,
        events: batchOf(100_000 + n, REST_BATCH).map((e) => ({
          event_name: e.type,
          properties: e.properties,
          message_id: e.messageId,
        })),
      },
    }),
  );
} finally {
  await bench.close();
}
