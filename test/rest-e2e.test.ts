import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBGRAPH_NAMES } from '../lib/env.js';
import { bootPlatform, uniqueSlug, usingRealServices, type TestPlatform } from './support/platform.js';
import { ISO_TIMESTAMP } from './support/rest.js';

// The first REST slice end to end: real gateway, real subgraphs, real database and limiter, each
// route checked against the fields its document shows. Unit-level cases (every error branch with
// stubbed executors) are in rest-layer.test.ts.

const iso = expect.stringMatching(ISO_TIMESTAMP);
const requestId = expect.stringMatching(/^[\w-]{8,}$/);

function expectRateLimitHeaders(headers: Headers) {
  // Matched as digits first: Number(null) is 0, so a missing header would pass a bare comparison.
  expect(headers.get('x-ratelimit-limit')).toMatch(/^\d+$/);
  expect(headers.get('x-ratelimit-remaining')).toMatch(/^\d+$/);
  expect(headers.get('x-ratelimit-reset')).toMatch(/^\d+$/);
  expect(Number(headers.get('x-ratelimit-limit'))).toBeGreaterThan(0);
  expect(Number(headers.get('x-ratelimit-remaining'))).toBeLessThanOrEqual(Number(headers.get('x-ratelimit-limit')));
  expect(Number(headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000 - 1);
  expect(headers.get('x-request-id')).toEqual(requestId);
}

describe('the health and status slice through the real gateway', () => {
  let t: TestPlatform;
  beforeAll(async () => {
    t = await bootPlatform();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('core-platform GET /api/health: public liveness in the success envelope, API-Version echoed', async () => {
    const answer = await t.rest('/api/health', { token: null, headers: { 'API-Version': '2024-01-01' } });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      status: 'success',
      data: { health: 'healthy', timestamp: iso, uptime_seconds: expect.any(Number), version: expect.any(String) },
    });
    expect(answer.headers.get('api-version')).toBe('2024-01-01');
    expectRateLimitHeaders(answer.headers);
  });

  it('core-platform GET /api/health/detailed: measured components and every subgraph', async () => {
    const answer = await t.rest('/api/health/detailed');
    expect(answer.status).toBe(200);
    const data = answer.body.data;
    expect(answer.body.status).toBe('success');
    expect(data.overall).toBe('healthy');
    expect(data.timestamp).toEqual(iso);
    expect(data.components.database).toEqual({
      status: 'healthy',
      response_time_ms: expect.any(Number),
      // PGlite has no pool; node-postgres reports its real one.
      // The embedded database is one in-process connection: its figures are that connection's.
      connections: usingRealServices
        ? { active: expect.any(Number), idle: expect.any(Number), max: 5 }
        : { active: expect.any(Number), idle: expect.any(Number), max: 1 },
    });
    expect(data.components.cache).toMatchObject({ status: 'healthy', response_time_ms: expect.any(Number) });
    expect(data.components.jobs).toMatchObject({ status: 'healthy', waiting: 0, active: 0 });
    expect(Object.keys(data.components.subgraphs).sort()).toEqual([...SUBGRAPH_NAMES].sort());
    for (const probe of Object.values<Record<string, unknown>>(data.components.subgraphs)) {
      expect(probe).toEqual({ status: 'healthy', response_time_ms: expect.any(Number) });
    }
    // From the metric store: the operator may read it; nothing records active users.
    expect(data.metrics).toEqual({
      active_users: null,
      requests_per_minute: expect.any(Number),
      error_rate: expect.toBeOneOf([null, expect.any(Number)]),
    });
  });

  it('core-platform GET /api/status: a reported incident shows until resolved; maintenance is listed', async () => {
    const reported = await t.graphql<{ reportIncident: { id: string } }>(
      `mutation { reportIncident(title: "Elevated latency", severity: high, impact: "API p99 up") { id } }`,
    );
    expect(reported.body.errors).toBeUndefined();
    const incidentId = reported.body.data!.reportIncident.id;
    const startsAt = new Date(Date.now() + 86_400_000).toISOString();
    const endsAt = new Date(Date.now() + 90_000_000).toISOString();
    const scheduled = await t.graphql<{ scheduleMaintenance: { id: string } }>(
      `mutation ($s: DateTime!, $e: DateTime!) {
        scheduleMaintenance(title: "DB upgrade", description: "PG 16", startsAt: $s, endsAt: $e) { id }
      }`,
      { s: startsAt, e: endsAt },
    );
    expect(scheduled.body.errors).toBeUndefined();

    const open = await t.rest('/api/status');
    expect(open.status).toBe(200);
    expect(open.body.status).toBe('success');
    expect(open.body.data.system_status).toBe('degraded');
    expect(open.body.data.maintenance_scheduled).toBe(true);
    expect(open.body.data.incident_history).toContainEqual({
      id: incidentId,
      title: 'Elevated latency',
      status: 'investigating',
      severity: 'high',
      created_at: iso,
      resolved_at: null,
      impact: 'API p99 up',
    });
    expect(open.body.data.service_disruptions).toContainEqual(
      expect.objectContaining({ type: 'incident', id: incidentId, severity: 'high' }),
    );
    expect(open.body.data.upcoming_maintenance).toContainEqual({
      id: scheduled.body.data!.scheduleMaintenance.id,
      title: 'DB upgrade',
      description: 'PG 16',
      starts_at: startsAt,
      ends_at: endsAt,
    });

    const resolved = await t.graphql(`mutation ($id: ID!) { updateIncidentStatus(id: $id, status: resolved) { id } }`, {
      id: incidentId,
    });
    expect(resolved.body.errors).toBeUndefined();
    const after = await t.rest('/api/status');
    expect(after.body.data.incident_history).toContainEqual(
      expect.objectContaining({ id: incidentId, status: 'resolved', resolved_at: iso }),
    );
    expect(after.body.data.service_disruptions).not.toContainEqual(expect.objectContaining({ id: incidentId }));
  });

  it('reporting an incident needs admin:services, checked by the platform subgraph', async () => {
    const anonymous = await t.graphql(`mutation { reportIncident(title: "x", severity: low) { id } }`, undefined, {
      token: null,
    });
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED');
  });

  it('nexus-core GET /api/v1/health, /api/v1/status and /api/v1/components/health', async () => {
    const live = await t.rest('/api/v1/health', { token: null });
    expect(live.status).toBe(200);
    expect(live.body).toEqual({ status: 'ok', timestamp: iso });

    const status = await t.rest('/api/v1/status', { headers: {} });
    expect(status.status).toBe(200);
    expect(status.body).toEqual({
      success: true,
      data: {
        status: 'healthy',
        version: expect.any(String),
        environment: 'test',
        uptime: expect.any(Number),
        components: {
          database: {
            status: 'healthy',
            response_time_ms: expect.any(Number),
            connection_pool: usingRealServices
              ? { active: expect.any(Number), idle: expect.any(Number), total: expect.any(Number) }
              : { active: expect.any(Number), idle: expect.any(Number), total: 1 },
          },
          event_bus: { status: 'healthy', queue_size: expect.any(Number), processed_events: expect.any(Number) },
          storage: {
            status: 'healthy',
            backend: 'filesystem',
            response_time_ms: expect.any(Number),
            total_files: expect.any(Number),
            available_space_gb: expect.any(Number),
          },
          plugins: {
            status: 'healthy',
            loaded: expect.any(Number),
            active: expect.any(Number),
            failed: null,
            extensions: expect.any(Array),
          },
          cache: {
            status: 'healthy',
            hit_rate: expect.toSatisfy((v: unknown) => v === null || typeof v === 'number'),
            memory_usage: expect.toSatisfy((v: unknown) => v === null || /^\d+(\.\d+)?MB$/.test(String(v))),
          },
        },
      },
    });

    const components = await t.rest('/api/v1/components/health', {
      token: null,
      headers: { 'X-API-Key': t.operatorKey },
    });
    expect(components.status).toBe(200);
    expect(components.body.success).toBe(true);
    expect(components.body.data.overall_status).toBe('healthy');
    const names = components.body.data.components.map((c: { name: string }) => c.name);
    expect(names).toEqual(['database', 'cache', 'jobs', ...SUBGRAPH_NAMES]);
    expect(components.body.data.components[0].checks[0]).toEqual({
      name: 'connection',
      status: 'pass',
      response_time_ms: expect.any(Number),
    });
  });

  it('tenantsdb GET / and GET /health; cloudpioneer GET /health and /v1/health', async () => {
    const info = await t.rest('/', { token: null });
    expect(info.status).toBe(200);
    expect(info.body).toEqual({ service: 'TenantsDB API', version: expect.any(String) });
    for (const path of ['/health', '/v1/health']) {
      const health = await t.rest(path, { token: null });
      expect(health.status).toBe(200);
      expect(health.body).toEqual({ status: 'healthy' });
      expectRateLimitHeaders(health.headers);
    }
  });

  it.each([
    // core-platform writes codes in lower case (its error table's style).
    ['/api/health/detailed', 401, { status: 'error', error: expect.objectContaining({ code: 'unauthorized' }) }],
    ['/api/v1/status', 401, { success: false, error: expect.objectContaining({ code: 'UNAUTHORIZED' }) }],
  ])('GET %s without credentials is a %i in the dialect shape', async (path, status, shape) => {
    const answer = await t.rest(path, { token: null });
    expect(answer.status).toBe(status);
    expect(answer.body).toMatchObject(shape);
    expectRateLimitHeaders(answer.headers);
  });

  it('a wrong key is a 401 in the dialect, not an anonymous call', async () => {
    const answer = await t.rest('/api/health', { token: 'op_wrong' });
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ status: 'error', error: { code: 'unauthorized' }, request_id: requestId });
  });

  it.each([
    ['/api/nothing-here', { status: 'error', error: expect.objectContaining({ code: 'not_found' }) }],
    ['/api/v1/nothing-here', expect.objectContaining({ error: expect.objectContaining({ code: 'NOT_FOUND' }) })],
    ['/nothing-here', { success: false, error: expect.objectContaining({ code: 'NOT_FOUND' }) }],
    ['/v1/nothing-here', { error: expect.objectContaining({ code: 'NOT_FOUND' }), request_id: requestId }],
  ])('unknown %s is a 404 in its dialect', async (path, shape) => {
    const answer = await t.rest(path);
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject(shape);
    expect(answer.headers.get('x-request-id')).toEqual(requestId);
  });

  it('a known path with the wrong method is a 405 with Allow', async () => {
    const answer = await t.rest('/api/health', { method: 'DELETE' });
    expect(answer.status).toBe(405);
    expect(answer.headers.get('allow')).toContain('GET');
    expect(answer.body).toMatchObject({ status: 'error', error: { code: 'method_not_allowed' } });
  });

  it('GraphQL: malformed JSON is a 400 saying so; a signed-in query works; X-Request-Id is set', async () => {
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.operatorKey}` },
      body: '{"query": ',
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/json/i);
    expect(response.headers.get('x-request-id')).toEqual(requestId);

    const ok = await t.graphql<{ health: { status: string } }>(`{ health { status } }`);
    expect(ok.status).toBe(200);
    expect(ok.body.data?.health.status).toBe('HEALTHY');
  });

  it('serves an OpenAPI 3.1 document per dialect, as JSON and as a page', async () => {
    for (const [dialect, path] of [
      ['core-platform', '/api/health'],
      ['nexus-core', '/api/v1/components/health'],
      ['tenantsdb', '/health'],
      ['cloudpioneer', '/health'],
      ['platform-forge', undefined],
    ] as const) {
      const json = await fetch(`${t.url}/openapi/${dialect}.json`);
      expect(json.status).toBe(200);
      const document = (await json.json()) as { openapi: string; paths: Record<string, unknown> };
      expect(document.openapi).toBe('3.1.0');
      if (path) expect(Object.keys(document.paths)).toContain(path);
      const page = await fetch(`${t.url}/openapi/${dialect}`);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(await page.text()).toContain(dialect);
    }
  });
});

describe('rate limits through the real limiter', () => {
  let t: TestPlatform;
  beforeAll(async () => {
    const tiny = { points: 2, durationSeconds: 60 };
    t = await bootPlatform({
      trustedProxies: ['127.0.0.1'],
      rateLimitPolicies: {
        'core-platform.system': tiny,
        'nexus-core.default': tiny,
        'tenantsdb.default': tiny,
        'cloudpioneer.default': tiny,
        // One more than sign-in, so a third sign-in call is refused by the sign-in limit alone.
        'graphql.default': { points: 3, durationSeconds: 60 },
        'graphql.sign-in': tiny,
        'platform-forge.auth': tiny,
      },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  // Anonymous callers are keyed by client address; each case is its own (trusted) forwarded address.
  it.each([
    ['core-platform', '/api/health', '203.0.113.1', { status: 'error', error: { code: 'api_rate_limit_exceeded' } }],
    ['nexus-core', '/api/v1/health', '203.0.113.2', { success: false, error: { code: 'RATE_LIMIT_EXCEEDED' } }],
    ['tenantsdb', '/health', '203.0.113.3', { success: false, error: { code: 'RATE_LIMIT_EXCEEDED' } }],
    ['cloudpioneer', '/v1/health', '203.0.113.4', { error: { code: 'RATE_LIMIT_EXCEEDED' } }],
  ])('%s: the third call in the window is a 429 in the dialect shape', async (_dialect, path, ip, shape) => {
    const headers = { 'X-Forwarded-For': ip };
    const first = await t.rest(path, { token: null, headers });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit')).toBe('2');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('1');
    expect((await t.rest(path, { token: null, headers })).status).toBe(200);
    const limited = await t.rest(path, { token: null, headers });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject(shape);
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('GraphQL: the fourth call in the window is a 429 with a GraphQL error body', async () => {
    const headers = { 'X-Forwarded-For': '203.0.113.5' };
    for (let i = 0; i < 3; i++) expect((await t.graphql(`{ __typename }`, undefined, { headers })).status).toBe(200);
    const limited = await t.graphql(`{ __typename }`, undefined, { headers });
    expect(limited.status).toBe(429);
    expect(limited.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMIT_EXCEEDED');
  });

  it('GraphQL sign-in mutations spend the sign-in allowance, as the REST auth routes do', async () => {
    // An address of its own: suites share a database, and sign-in threat detection remembers
    // failures per account and per address.
    const email = `${uniqueSlug('nobody')}@example.com`;
    const login = (ip: string) =>
      t.graphql(
        `mutation ($email: String!) { login(email: $email, password: "not-the-password-1") { accessToken } }`,
        { email },
        { token: null, headers: { 'X-Forwarded-For': ip } },
      );
    expect((await login('203.0.113.20')).body.errors?.[0]?.extensions?.code).toBe('INVALID_CREDENTIALS');
    expect((await login('203.0.113.20')).body.errors?.[0]?.extensions?.code).toBe('INVALID_CREDENTIALS');
    // graphql.default allows this third call (3 per window): the sign-in limit refuses it.
    const limited = await login('203.0.113.20');
    expect(limited.status).toBe(429);
    expect(limited.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMIT_EXCEEDED');
  });

  it('cloudpioneer POST /auth/login spends the same sign-in allowance as the other sign-in routes', async () => {
    const init = {
      method: 'POST',
      token: null,
      body: { email: `${uniqueSlug('nobody')}@example.com`, password: 'not-the-password-1' },
      headers: { 'X-Forwarded-For': '203.0.113.30' },
    };
    // One guess at platform-forge's login and one at cloudpioneer's spend the allowance of 2 ...
    expect((await t.rest('/api/v1/auth/login', init)).status).toBe(401);
    const first = await t.rest('/auth/login', init);
    expect(first.status).toBe(401);
    expect(first.headers.get('x-ratelimit-limit')).toBe('2');
    // ... so a third, at cloudpioneer's /v1 mount, is refused in cloudpioneer's shape.
    const limited = await t.rest('/v1/auth/login', init);
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ error: { code: 'RATE_LIMIT_EXCEEDED' }, request_id: expect.any(String) });
    expect((await t.rest('/api/v1/auth/login', init)).status).toBe(429);
  });

  it('keys anonymous callers by the address a trusted proxy forwards, so one client does not starve another', async () => {
    for (let i = 0; i < 3; i++)
      await t.rest('/health', { token: null, headers: { 'X-Forwarded-For': '198.51.100.7' } });
    const other = await t.rest('/health', { token: null, headers: { 'X-Forwarded-For': '198.51.100.8' } });
    expect(other.status).toBe(200);
  });
});

describe('an untrusted X-Forwarded-For', () => {
  let t: TestPlatform;
  beforeAll(async () => {
    // No trusted proxy: the gateway is reached directly, as when it faces the internet.
    t = await bootPlatform({
      trustedProxies: [],
      rateLimitPolicies: { 'tenantsdb.default': { points: 2, durationSeconds: 60 } },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is ignored: a caller cannot dodge its limit by inventing addresses', async () => {
    const statuses = [];
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) {
      statuses.push((await t.rest('/health', { token: null, headers: { 'X-Forwarded-For': ip } })).status);
    }
    expect(statuses).toEqual([200, 200, 429]);
  });
});

describe('a subgraph that is down, with subgraphs as HTTP servers', () => {
  let t: TestPlatform;
  beforeAll(async () => {
    t = await bootPlatform({ transport: 'http' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('identity down: degraded, shown as down; platform down: unhealthy and 503', async () => {
    expect((await t.rest('/api/health/detailed')).body.data.overall).toBe('healthy');

    await t.platform.subgraphs.identity.stop();
    const degraded = await t.rest('/api/health/detailed');
    expect(degraded.status).toBe(200);
    expect(degraded.body.data.overall).toBe('degraded');
    expect(degraded.body.data.components.subgraphs.identity).toEqual({ status: 'unhealthy', response_time_ms: null });
    expect(degraded.body.data.components.subgraphs.tenancy.status).toBe('healthy');
    const components = await t.rest('/api/v1/components/health');
    expect(components.body.data.components).toContainEqual({
      name: 'identity',
      status: 'unhealthy',
      checks: [{ name: 'reachable', status: 'fail' }],
    });
    const status = await t.rest('/api/status');
    expect(status.body.data.service_disruptions).toContainEqual({
      type: 'component',
      component: 'identity',
      status: 'unhealthy',
    });

    await t.platform.subgraphs.platform.stop();
    const down = await t.rest('/health', { token: null });
    expect(down.status).toBe(503);
    expect(down.body).toEqual({ status: 'unhealthy' });
    const core = await t.rest('/api/health', { token: null });
    expect(core.status).toBe(503);
    expect(core.body.data).toMatchObject({ health: 'unhealthy', uptime_seconds: null, version: null });
    const nexus = await t.rest('/api/v1/health', { token: null });
    expect(nexus.status).toBe(503);
    expect(nexus.body.status).toBe('error');
    const detailed = await t.rest('/api/health/detailed');
    expect(detailed.status).toBe(503);
    expect(detailed.body).toMatchObject({ status: 'error', error: { code: 'service_unavailable' } });
  });
});
