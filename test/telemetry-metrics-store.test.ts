import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { depsConfigFromEnv } from '../app/deps.js';
import { subgraphDepsEnv } from '../lib/env.js';
import { RECORD_METRICS_JOB } from '../subgraphs/telemetry/jobs/record-metrics.js';
import { storeMetricBatch, sweepExpiredMetricSamples } from '../subgraphs/telemetry/services/metric-store.js';
import { bootPlatform, uniqueSlug, type TestPlatform } from './support/platform.js';
import { connectWs } from './support/realtime.js';
import { expectRestError, waitFor } from './support/rest.js';
import { createTenant, signInTenantAdmin, type TenantInfo } from './support/tenants.js';

const FORWARDED = {
  'x-forwarded-for': `198.19.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`,
};
const PASSWORD = 'Metrics-Test-Password-1';

interface SeriesAnswer {
  metricSeries: {
    aggregation: string;
    interval: string | null;
    series: Array<{
      name: string;
      labels: Record<string, string | null>;
      points: Array<{ timestamp: string; value: number | null }>;
    }>;
  };
}

const SERIES = `query ($names: [String!]!, $aggregation: MetricAggregation, $groupBy: [String!], $interval: String, $labels: JSON, $tenantId: ID, $startTime: DateTime) {
  metricSeries(names: $names, aggregation: $aggregation, groupBy: $groupBy, interval: $interval, labels: $labels, tenantId: $tenantId, startTime: $startTime) {
    aggregation interval series { name labels points { timestamp value } }
  }
}`;

describe('metric store: sampler, query API, documented endpoints, subscription', () => {
  let t: TestPlatform;
  let tenant: TenantInfo;
  let token: string;
  const instance = uniqueSlug('inst');
  const TENANT_REQUESTS = 4;

  beforeAll(async () => {
    t = await bootPlatform({
      trustedProxies: ['127.0.0.1'],
      // The interval stays out of the way: the test flushes when it wants samples written.
      metrics: { sampleIntervalMs: 300_000, instance },
    });
    tenant = await createTenant(t, t.operatorKey, FORWARDED, 'met');
    token = await signInTenantAdmin(t, tenant.id, { password: PASSWORD, headers: FORWARDED });
    // A window with known traffic: the operator's cloudpioneer calls, an anonymous 401, the
    // tenant's own requests, and events on the bus.
    for (let i = 0; i < 3; i += 1) expect((await t.rest('/system/metrics', { headers: FORWARDED })).status).toBe(200);
    expect((await t.rest('/system/metrics', { token: null, headers: FORWARDED })).status).toBe(401);
    for (let i = 0; i < TENANT_REQUESTS; i += 1) {
      const answer = await t.rest('/api/v1/telemetry/events', {
        method: 'POST',
        token,
        headers: FORWARDED,
        body: { event_name: 'page_view', properties: { i } },
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(202);
    }
    await t.platform.metrics.flush();
  }, 180_000);
  afterAll(async () => {
    await t?.close();
  });

  it('the sampler writes one batch of real figures per flush, labelled by instance', async () => {
    const prisma = t.platform.db.prisma;
    const rows = await prisma.metricSample.findMany({ where: { instance }, select: { name: true, kind: true } });
    const names = new Set(rows.map((r) => r.name));
    for (const name of [
      'http_requests',
      'http_request_duration_ms',
      'process_cpu_percent',
      'process_resident_memory_bytes',
      'system_memory_used_bytes',
      'db_connections_active',
      'db_ping_ms',
      'cache_hits',
      'jobs',
      'event_bus_messages_published',
      'event_bus_subscribers',
      'realtime_sessions',
    ]) {
      expect(names, name).toContain(name);
    }
    const batches = await prisma.metricSample.groupBy({ by: ['recordedAt'], where: { instance } });
    expect(batches.length).toBeGreaterThanOrEqual(1);
    const tenantRows = await prisma.metricSample.findMany({ where: { instance, tenantId: tenant.id } });
    expect(tenantRows.every((r) => r.name.startsWith('http_'))).toBe(true);
  });

  it('metricSeries aggregates by label, interval and percentile; tenants see only their figures', async () => {
    const sums = await t.graphql<SeriesAnswer>(SERIES, {
      names: ['http_requests'],
      aggregation: 'SUM',
      groupBy: ['route', 'status'],
      labels: { dialect: 'cloudpioneer' },
    });
    expect(sums.body.errors).toBeUndefined();
    const ok = sums.body.data!.metricSeries.series.find(
      (s) => s.labels.route === '/system/metrics' && s.labels.status === '200',
    );
    expect(ok?.points[0]?.value).toBeGreaterThanOrEqual(3);
    const denied = sums.body.data!.metricSeries.series.find(
      (s) => s.labels.route === '/system/metrics' && s.labels.status === '401',
    );
    expect(denied?.points[0]?.value).toBeGreaterThanOrEqual(1);

    const p95 = await t.graphql<SeriesAnswer>(SERIES, {
      names: ['http_request_duration_ms'],
      aggregation: 'P95',
      interval: '1m',
    });
    expect(p95.body.errors).toBeUndefined();
    const points = p95.body.data!.metricSeries.series[0]!.points;
    expect(points.length).toBeGreaterThanOrEqual(1);
    expect(points.at(-1)!.value).toBeGreaterThan(0);
    expect(p95.body.data!.metricSeries.interval).toBe('1m');

    // The tenant's own requests, exactly; no platform figures.
    const mine = await t.graphql<SeriesAnswer>(
      SERIES,
      { names: ['http_requests', 'process_cpu_percent'], aggregation: 'SUM' },
      { token, headers: FORWARDED },
    );
    expect(mine.body.errors).toBeUndefined();
    const byName = Object.fromEntries(mine.body.data!.metricSeries.series.map((s) => [s.name, s.points]));
    expect(byName.http_requests?.[0]?.value).toBe(TENANT_REQUESTS);
    expect(byName.process_cpu_percent).toEqual([]);
    const other = await t.graphql<SeriesAnswer>(
      SERIES,
      { names: ['http_requests'], tenantId: 'ten_someone_else' },
      { token, headers: FORWARDED },
    );
    expect(other.body.errors?.[0]?.extensions?.code).toBe('TENANT_MISMATCH');
    const tooLong = await t.graphql<SeriesAnswer>(SERIES, {
      names: ['http_requests'],
      interval: '1m',
      startTime: new Date(Date.now() - 30 * 86_400_000).toISOString(),
    });
    expect(tooLong.body.errors?.[0]?.extensions?.code).toBe('VALIDATION_ERROR');
  });

  it('platform-forge GET /api/v1/telemetry/metrics answers the query API', async () => {
    const answer = await t.rest(
      '/api/v1/telemetry/metrics?metric_names=http_requests,process_cpu_percent&aggregation=sum&group_by=dialect&interval=5m',
      { headers: FORWARDED },
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({
      status: 'success',
      data: { aggregation: 'sum', interval: '5m', metrics: expect.any(Array) },
    });
    const cloud = answer.body.data.metrics.find(
      (m: { name: string; labels: Record<string, string> }) =>
        m.name === 'http_requests' && m.labels.dialect === 'cloudpioneer',
    );
    expect(cloud.points[0]).toEqual({ timestamp: expect.any(String), value: expect.any(Number) });
    expectRestError(
      'platform-forge',
      await t.rest('/api/v1/telemetry/metrics?metric_names=http_requests&aggregation=median', { headers: FORWARDED }),
      400,
      'VALIDATION_ERROR',
    );
    const tenantView = await t.rest('/api/v1/telemetry/metrics?metric_names=http_requests&aggregation=sum', {
      token,
      headers: FORWARDED,
    });
    expect(tenantView.status).toBe(200);
    expect(tenantView.body.data.metrics[0].points[0].value).toBe(TENANT_REQUESTS);
  });

  it('platform-forge GET /api/v1/performance/metrics', async () => {
    const answer = await t.rest('/api/v1/performance/metrics', { headers: FORWARDED });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.data).toEqual({
      api_response_time: { p50: expect.any(Number), p95: expect.any(Number), p99: expect.any(Number) },
      database_queries: { avg_duration: null, slow_queries: null, ping_avg_ms: expect.any(Number) },
      cache_hit_rate: expect.toBeOneOf([null, expect.any(Number)]),
      active_connections: expect.any(Number),
    });
    const d = answer.body.data.api_response_time;
    expect(d.p50).toBeLessThanOrEqual(d.p95);
    expect(d.p95).toBeLessThanOrEqual(d.p99);
  });

  it('core-platform GET /api/metrics: sections as documented, null where there is no source', async () => {
    const answer = await t.rest('/api/metrics?period=1h', { headers: FORWARDED });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const m = answer.body.data.metrics;
    expect(answer.body.data.period).toBe('1h');
    expect(m.performance).toMatchObject({
      response_time_p50: expect.any(Number),
      requests_per_second: expect.any(Number),
      throughput_mbps: null,
    });
    expect(m.system).toMatchObject({
      cpu_usage_percent: expect.any(Number),
      memory_usage_mb: expect.any(Number),
      disk_usage_percent: expect.any(Number),
      network_io_mbps: null,
    });
    expect(m.application).toMatchObject({ active_users: null, error_rate: expect.any(Number) });
    expect(m.business).toEqual({
      user_registrations: null,
      revenue_usd: null,
      api_calls: expect.any(Number),
      storage_uploads_gb: null,
    });
    const only = await t.rest('/api/metrics?metrics=system', { headers: FORWARDED });
    expect(Object.keys(only.body.data.metrics)).toEqual(['system']);
    expect(only.body.data.period).toBe('24h');
  });

  it('nexus-core GET /api/v1/metrics and /api/v1/metrics/summary', async () => {
    const series = await t.rest('/api/v1/metrics?resolution=1m', { headers: FORWARDED });
    expect(series.status, JSON.stringify(series.body)).toBe(200);
    expect(series.body.success).toBe(true);
    const m = series.body.data.metrics;
    for (const key of ['requests_per_second', 'response_time_ms', 'memory_usage_mb', 'cpu_usage_percent']) {
      expect(m[key].length, key).toBeGreaterThanOrEqual(1);
      expect(m[key][0]).toEqual({ timestamp: expect.any(String), value: expect.any(Number) });
    }
    expect(series.body.data.time_range).toEqual({ start: expect.any(String), end: expect.any(String) });

    const summary = await t.rest('/api/v1/metrics/summary', { headers: FORWARDED });
    expect(summary.status, JSON.stringify(summary.body)).toBe(200);
    const s = summary.body.data;
    expect(s.requests.total).toBeGreaterThanOrEqual(3 + 1 + TENANT_REQUESTS);
    expect(s.requests.success_rate).toBeGreaterThan(0);
    expect(s.requests.success_rate).toBeLessThan(1);
    expect(s.errors.by_status['401']).toBeGreaterThanOrEqual(1);
    expect(s.resources).toEqual({
      avg_cpu_percent: expect.any(Number),
      avg_memory_mb: expect.any(Number),
      peak_memory_mb: expect.any(Number),
      disk_usage_gb: expect.any(Number),
    });
    expect(s.resources.peak_memory_mb).toBeGreaterThanOrEqual(s.resources.avg_memory_mb);
  });

  it("cloudpioneer GET /kafka/metrics reports the platform's own bus", async () => {
    const answer = await t.rest('/kafka/metrics', { headers: FORWARDED });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({
      broker_id: null,
      bus: expect.stringContaining('not Kafka'),
      metrics: {
        messages_in_per_sec: expect.any(Number),
        active_controller_count: null,
        offline_partitions_count: null,
        under_replicated_partitions: null,
      },
    });
    const events = answer.body.consumer_groups.find((g: { group: string }) => g.group === 'telemetry.events');
    expect(events).toMatchObject({ lag: expect.any(Number), subscribers: expect.any(Number) });
    expect(events.messages_in_per_sec).toBeGreaterThan(0);
    expectRestError('cloudpioneer', await t.rest('/kafka/metrics', { token, headers: FORWARDED }), 403, 'FORBIDDEN');
  });

  it('the metrics subscription delivers each flush over graphql-ws, tenant-scoped', async () => {
    const operator = connectWs(t.url, { token: t.operatorKey });
    const tenantWs = connectWs(t.url, { token });
    await Promise.all([operator.connected, tenantWs.connected]);
    const query = `subscription ($names: [String!]!) {
      metrics(names: $names) { instance recordedAt windowSeconds samples { name kind tenantId labels value count } }
    }`;
    const all = operator.subscribe<{ metrics: { instance: string; samples: Array<{ name: string }> } }>(query, {
      names: ['process_cpu_percent', 'http_requests'],
    });
    const mine = tenantWs.subscribe<{
      metrics: { samples: Array<{ name: string; tenantId: string | null }> };
    }>(query, { names: ['http_requests', 'process_cpu_percent'] });
    try {
      // Until both subscriptions are listening, a flush may go unseen: flush, then look.
      await waitFor(
        async () => {
          await t.rest('/api/v1/telemetry/events', {
            method: 'POST',
            token,
            headers: FORWARDED,
            body: { event_name: 'page_view' },
          });
          await t.platform.metrics.flush();
          return all.events.some((e) => e.data?.metrics.instance === instance) && mine.events.length > 0
            ? true
            : undefined;
        },
        'metric samples over graphql-ws',
        { intervalMs: 100 },
      );
      const batch = all.events.find((e) => e.data?.metrics.instance === instance)!.data!.metrics;
      expect(batch.samples.every((s) => ['process_cpu_percent', 'http_requests'].includes(s.name))).toBe(true);
      expect(batch.samples.some((s) => s.name === 'process_cpu_percent')).toBe(true);
      for (const event of mine.events) {
        expect(event.errors).toBeUndefined();
        for (const sample of event.data!.metrics.samples) {
          expect(sample).toMatchObject({ name: 'http_requests', tenantId: tenant.id });
        }
      }
    } finally {
      all.stop();
      mine.stop();
      await Promise.all([operator.dispose(), tenantWs.dispose()]);
    }
  });

  it('retention removes samples older than the bound', async () => {
    const old = uniqueSlug('old');
    await storeMetricBatch(t.platform.deps, {
      instance: old,
      recordedAt: new Date(Date.now() - 10 * 86_400_000).toISOString(),
      windowSeconds: 10,
      samples: [
        {
          name: 'process_cpu_percent',
          kind: 'gauge',
          tenantId: null,
          labels: {},
          value: 1,
          count: 1,
          min: 1,
          max: 1,
          buckets: null,
        },
      ],
    });
    expect(await t.platform.db.prisma.metricSample.count({ where: { instance: old } })).toBe(1);
    await sweepExpiredMetricSamples(t.platform.deps, 7 * 86_400_000);
    expect(await t.platform.db.prisma.metricSample.count({ where: { instance: old } })).toBe(0);
  });
});

describe("cloudpioneer resources: tenants' databases and platform services", () => {
  let t: TestPlatform;
  let tenant: TenantInfo;
  let token: string;

  beforeAll(async () => {
    t = await bootPlatform({ trustedProxies: ['127.0.0.1'], metrics: { sampleIntervalMs: 300_000 } });
    tenant = await createTenant(t, t.operatorKey, FORWARDED, 'rsc');
    token = await signInTenantAdmin(t, tenant.id, { password: PASSWORD, headers: FORWARDED });
    // Some table data so the tenant's database has a measurable size.
    const sql = await t.rest('/api/database/query', {
      method: 'POST',
      token,
      headers: FORWARDED,
      body: { query: 'CREATE TABLE notes (id serial primary key, body text)', read_only: false },
    });
    expect(sql.status, JSON.stringify(sql.body)).toBe(200);
    for (let i = 0; i < 3; i += 1) await t.rest('/system/metrics', { headers: FORWARDED });
    await t.platform.metrics.flush();
  }, 180_000);
  afterAll(async () => {
    await t?.close();
  });

  it('lists databases (all callers, their tenant only) and services (operator only) with paging, sort and filter', async () => {
    const mine = await t.rest('/resources?filter=type:database', { token, headers: FORWARDED });
    expect(mine.status, JSON.stringify(mine.body)).toBe(200);
    expect(mine.body.items).toEqual([
      expect.objectContaining({
        id: `db_${tenant.id}`,
        type: 'database',
        name: tenant.schemaName,
        status: 'available',
        tenant_id: tenant.id,
        cost: null,
        tags: expect.objectContaining({ engine: 'postgresql', kind: 'tenant', isolation_level: '1' }),
      }),
    ]);
    expect(mine.body.items[0].metrics.storage_bytes).toBeGreaterThan(0);
    const noServices = await t.rest('/resources?filter=type:service', { token, headers: FORWARDED });
    expect(noServices.body).toMatchObject({ total: 0, items: [] });

    const services = await t.rest('/resources?filter=type:service&sort=name&order=asc&per_page=3&page=2', {
      headers: FORWARDED,
    });
    expect(services.status, JSON.stringify(services.body)).toBe(200);
    expect(services.body).toMatchObject({ total: 10, page: 2, per_page: 3 });
    const names = services.body.items.map((r: { name: string }) => r.name);
    expect(names).toEqual([...names].sort());
    expect(services.body.items[0]).toMatchObject({ type: 'service', tenant_id: null, cost: null });
    const gateway = await t.rest('/resources?filter=type:service,name:gateway', { headers: FORWARDED });
    expect(gateway.body.items[0]).toMatchObject({
      id: 'svc_gateway',
      status: 'running',
      metrics: { requests: expect.any(Number), response_time_ms: expect.any(Number), error_rate: expect.any(Number) },
    });
  });

  it('GET /resources/{id}/metrics: the gateway from the metric store, a database measured now', async () => {
    const gw = await t.rest('/resources/svc_gateway/metrics?interval=1m&metrics=requests,response_time_ms,cpu_usage', {
      headers: FORWARDED,
    });
    expect(gw.status, JSON.stringify(gw.body)).toBe(200);
    expect(gw.body.metrics.requests.length).toBeGreaterThanOrEqual(1);
    expect(gw.body.metrics.requests.reduce((a: number, p: { value: number }) => a + p.value, 0)).toBeGreaterThanOrEqual(
      3,
    );
    expect(gw.body.metrics.response_time_ms[0]).toEqual({ timestamp: expect.any(String), value: expect.any(Number) });
    expect(gw.body.metrics.cpu_usage).toBeNull();
    const tenancy = await t.rest('/resources/svc_tenancy/metrics?metrics=requests', { headers: FORWARDED });
    expect(tenancy.body.metrics.requests).toBeNull();

    const db = await t.rest(`/resources/db_${tenant.id}/metrics?metrics=storage_bytes,cpu_usage`, {
      token,
      headers: FORWARDED,
    });
    expect(db.status, JSON.stringify(db.body)).toBe(200);
    expect(db.body.metrics.storage_bytes).toHaveLength(1);
    expect(db.body.metrics.cpu_usage).toBeNull();
    expectRestError(
      'cloudpioneer',
      await t.rest('/resources/svc_gateway/metrics', { token, headers: FORWARDED }),
      404,
      'NOT_FOUND',
    );
    expectRestError(
      'cloudpioneer',
      await t.rest('/resources/db_ten_someone_else/metrics', { token, headers: FORWARDED }),
      404,
      'NOT_FOUND',
    );
  });
});

describe("the worker's record-metrics job", () => {
  let t: TestPlatform;

  beforeAll(async () => {
    // METRICS_RETENTION_HOURS=1 (depsConfigFromEnv maps it to deps.metrics.retentionMs).
    t = await bootPlatform({ metricsRetentionMs: 3600_000, metrics: { sampleIntervalMs: 300_000 } });
  }, 180_000);

  afterAll(async () => {
    await t?.close();
  });

  it('depsConfigFromEnv passes METRICS_RETENTION_HOURS on', () => {
    const env = subgraphDepsEnv.parse({ METRICS_RETENTION_HOURS: '2' });
    expect(depsConfigFromEnv(env).metricsRetentionMs).toBe(2 * 3600_000);
    expect(t.platform.deps.metrics).toEqual({ retentionMs: 3600_000 });
  });

  it('sweeps with the configured retention, not the 7-day default', async () => {
    const instance = uniqueSlug('job');
    const sample = {
      name: 'process_cpu_percent',
      kind: 'gauge' as const,
      tenantId: null,
      labels: {},
      value: 1,
      count: 1,
      min: 1,
      max: 1,
      buckets: null,
    };
    // Two hours old: within the default week, beyond the configured hour.
    const { jobId } = await t.platform.deps.jobs.enqueue(RECORD_METRICS_JOB, {
      instance,
      recordedAt: new Date(Date.now() - 2 * 3600_000).toISOString(),
      windowSeconds: 10,
      samples: [sample],
    });
    await expect
      .poll(async () => (await t.platform.deps.jobs.getJob(jobId))?.state, { timeout: 30_000 })
      .toBe('completed');
    expect(await t.platform.db.prisma.metricSample.count({ where: { instance } })).toBe(0);
  });
});
