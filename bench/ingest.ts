import { cpus, loadavg } from 'node:os';
import { GATEWAY_PRINCIPAL } from '../lib/principal.js';
import { ingestEvents } from '../subgraphs/telemetry/services/ingest.js';
import { startBenchPlatform } from './support.js';

// `npm run bench:ingest`: batch event ingest into the database, BENCH_DATABASE_URL for real
// PostgreSQL (the embedded PGlite otherwise). Two figures: the ingest service alone (one
// INSERT … SELECT unnest per batch of 2,500), and the documented REST batch endpoint end to end.

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

  const run = async (label: string, batches: number, one: (n: number) => Promise<unknown>) => {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < batches) await one(next++);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const events = batches * (label.startsWith('REST') ? REST_BATCH : BATCH);
    console.log(
      `${label}: ${events} events in ${seconds.toFixed(2)} s = ${Math.round(events / seconds).toLocaleString('en')} events/s`,
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
