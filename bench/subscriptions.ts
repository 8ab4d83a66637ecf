import { cpus, loadavg } from 'node:os';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startBenchPlatform } from './support.js';

// `npm run bench:subscriptions`: N graphql-ws subscribers (BENCH_WS, default 10,000) and M SSE
// subscribers (BENCH_SSE, default 1,000) on one gateway, all on one event stream; one event is
// published and the time until each subscriber has it is measured (p50/p99/max from publish).
// BENCH_SHARE=0 turns off the shared resolution of identical subscriptions, for the before/after.
// Memory per idle subscriber is the heap + RSS growth after they connect, divided by N; the
// clients run in the same process, so it is an upper bound for the server side.

const WS = Number(process.env.BENCH_WS ?? 10_000);
const SSE = Number(process.env.BENCH_SSE ?? 1_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
// BENCH_SHARE=0: every subscription resolves each event itself (the baseline before shared resolution).
const SHARE = process.env.BENCH_SHARE !== '0';

const QUERY = `subscription ($tenantId: ID) { telemetryEvents(tenantId: $tenantId) { id type occurredAt } }`;

const bench = await startBenchPlatform({
  subscriptionLimits: { maxPerPrincipal: WS + SSE + 10, shareIdentical: SHARE },
});
console.log(`shared resolution of identical subscriptions: ${SHARE ? 'on' : 'off (BENCH_SHARE=0)'}`);
const { platform, operatorKey } = bench;
const url = platform.url;
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
try {
  const created = (await bench.request('POST', '/graphql', {
    body: {
      query: `mutation ($input: CreateTenantInput!) { createTenant(input: $input) { id } }`,
      variables: { input: { name: 'Bench subscriptions', slug: `bench-subs-${Date.now().toString(36)}` } },
    },
  })) as { data: { createTenant: { id: string } } };
  const tenantId = created.data.createTenant.id;
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${cpus().length} cores`,
  );

  const received: Array<(at: number) => void> = [];
  let onEvent: (index: number, at: number) => void = () => undefined;
  global.gc?.();
  const before = process.memoryUsage();
  const started = performance.now();
  const wsClients = [];
  for (let i = 0; i < WS; i += 1) {
    const client = createClient({
      url: `${url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { token: operatorKey },
      retryAttempts: 0,
    });
    wsClients.push(client);
    const index = i;
    await new Promise<void>((resolve, reject) => {
      client.on('connected', () => resolve());
      client.on('error', reject);
      client.subscribe(
        { query: QUERY, variables: { tenantId } },
        {
          next: () => onEvent(index, performance.now()),
          error: (e) => console.error('ws error', e),
          complete: () => undefined,
        },
      );
    });
    if ((i + 1) % 1000 === 0) console.log(`  ${i + 1} ws subscribers`);
  }
  const sessionsOpen = () => platform.gateway.realtime.sessions.stats().subscriptions;
  while (sessionsOpen() < WS) await new Promise((r) => setTimeout(r, 50));
  console.log(`${WS} graphql-ws subscribers in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  global.gc?.();
  const after = process.memoryUsage();
  const perSub = (key: 'heapUsed' | 'rss') => Math.round((after[key] - before[key]) / Math.max(1, WS));
  console.log(
    `memory per idle graphql-ws subscriber (server + client in one process): heap ${perSub('heapUsed')} B, rss ${perSub('rss')} B`,
  );

  const sseClients = [];
  for (let i = 0; i < SSE; i += 1) {
    const client = createSseClient({
      url: `${url}/graphql`,
      headers: { authorization: `Bearer ${operatorKey}` },
      retryAttempts: 0,
    });
    sseClients.push(client);
    const index = WS + i;
    client.subscribe(
      { query: QUERY, variables: { tenantId } },
      {
        next: () => onEvent(index, performance.now()),
        error: (e) => console.error('sse error', e),
        complete: () => undefined,
      },
    );
  }
  while (sessionsOpen() < WS + SSE) await new Promise((r) => setTimeout(r, 50));
  console.log(`${SSE} SSE subscribers open`);
  const shared = platform.gateway.realtime.federated.stats();
  console.log(`shared upstreams: ${shared.groups} for ${shared.members} subscriptions (one resolution per event each)`);
  void received;

  // When the bus carried the event (same process, same clock): what follows is the fan-out alone.
  let busAt = 0;
  const stopBus = await platform.kv.pubsub.subscribe('rt:telemetry.events', () => {
    busAt = performance.now();
  });
  for (let round = 1; round <= ROUNDS; round += 1) {
    const latencies: number[] = new Array(WS + SSE);
    let count = 0;
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    let publishedAt = 0;
    onEvent = (index, at) => {
      if (latencies[index] !== undefined) return;
      latencies[index] = at - publishedAt;
      count += 1;
      if (count === WS + SSE) done();
    };
    publishedAt = performance.now();
    const answered = bench.request('POST', '/graphql', {
      body: {
        query: `mutation ($input: RecordEventInput!) { recordEvent(input: $input) { id } }`,
        variables: { input: { tenantId, type: 'bench.broadcast', payload: { round } } },
      },
    });
    const mutationMs = await answered.then(() => performance.now() - publishedAt);
    await Promise.race([all, new Promise((r) => setTimeout(r, 60_000))]);
    console.log(
      `  the recording mutation answered after ${mutationMs.toFixed(0)} ms; the bus had the event after ${(busAt - publishedAt).toFixed(0)} ms`,
    );
    const ws = latencies
      .slice(0, WS)
      .filter((v) => v !== undefined)
      .sort((a, b) => a - b);
    const sse = latencies
      .slice(WS)
      .filter((v) => v !== undefined)
      .sort((a, b) => a - b);
    const line = (name: string, values: number[], n: number) =>
      `${name}: ${values.length}/${n} delivered, p50 ${pct(values, 50)?.toFixed(0)} ms, p99 ${pct(values, 99)?.toFixed(0)} ms, max ${values.at(-1)?.toFixed(0)} ms`;
    console.log(`round ${round}: ${line('graphql-ws', ws, WS)}; ${line('SSE', sse, SSE)}`);
    const fromBus = [...ws, ...sse].map((v) => v - (busAt - publishedAt)).sort((a, b) => a - b);
    console.log(
      `  from the bus to every subscriber: p50 ${pct(fromBus, 50).toFixed(0)} ms, p99 ${pct(fromBus, 99).toFixed(0)} ms`,
    );
  }
  await stopBus();
  for (const client of sseClients) client.dispose();
  await Promise.all(wsClients.map((client) => client.dispose()));
} finally {
  await bench.close();
}
