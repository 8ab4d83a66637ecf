import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootPlatform, uniqueSlug, type TestPlatform } from './support/platform.js';
import { expectRestError, uniqueClientIp, waitFor } from './support/rest.js';

// The mesh registry through the documented route and GraphQL; health checks run for real, on the
// platform's own schedule, against HTTP servers started here, and flip services up and down.

const headers = { 'x-forwarded-for': uniqueClientIp() };

interface HealthServer {
  url: string;
  healthy: boolean;
  hits: string[];
  close(): Promise<void>;
}

async function startHealthServer(): Promise<HealthServer> {
  const state: HealthServer = { url: '', healthy: true, hits: [], close: async () => undefined };
  const server: Server = createServer((req, res) => {
    state.hits.push(req.url ?? '');
    res.writeHead(req.url === '/healthz' && state.healthy ? 200 : 503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}

interface MeshServiceData {
  name: string;
  status: string;
  lastCheckedAt: string | null;
  lastError: string | null;
  consecutiveFailures: number;
  policies: { requireMtls: boolean; allowedCallers: string[]; rateLimit: number | null };
}

describe('service mesh registry', () => {
  let t: TestPlatform;
  let healthy: HealthServer;

  const register = (body: Record<string, unknown>, token?: string) =>
    t.rest('/api/v1/security/mesh/services/register', { method: 'POST', body, headers, token });
  const service = async (name: string) => {
    const { body } = await t.graphql<{ meshService: MeshServiceData | null }>(
      `query ($name: String!) { meshService(name: $name) {
        name status lastCheckedAt lastError consecutiveFailures policies { requireMtls allowedCallers rateLimit }
      } }`,
      { name },
      { headers },
    );
    expect(body.errors).toBeUndefined();
    return body.data!.meshService;
  };

  beforeAll(async () => {
    healthy = await startHealthServer();
    t = await bootPlatform({
      outbound: { allowedHosts: ['127.0.0.1'], timeoutMs: 1_000, healthCheckTickMs: 200 },
    });
  });
  afterAll(async () => {
    await t?.close();
    await healthy?.close();
  });

  it('registers a service as documented and its scheduled health checks mark it up, then down, then up', async () => {
    const name = uniqueSlug('payment');
    const answer = await register({
      name,
      endpoints: [healthy.url],
      health_check: { path: '/healthz', interval_seconds: 1 },
      policies: { require_mtls: true, allowed_callers: ['api-gateway'], rate_limit: 1000 },
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    expect(answer.body.data).toEqual({
      service_id: expect.stringMatching(/^msv_/),
      name,
      endpoints: [healthy.url],
      health_check: { path: '/healthz', interval_seconds: 1 },
      policies: {
        require_mtls: true,
        allowed_callers: ['api-gateway'],
        rate_limit: 1000,
        retries: 2,
        timeout_ms: 5000,
      },
      status: 'unknown',
      last_checked_at: null,
      registered_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const up = await waitFor(async () => {
      const s = await service(name);
      return s?.status === 'up' ? s : undefined;
    }, 'the first check');
    expect(up).toMatchObject({
      lastError: null,
      consecutiveFailures: 0,
      policies: { allowedCallers: ['api-gateway'] },
    });
    expect(healthy.hits).toContain('/healthz');

    healthy.healthy = false;
    const down = await waitFor(async () => {
      const s = await service(name);
      return s?.status === 'down' ? s : undefined;
    }, 'the service to go down');
    expect(down.lastError).toContain('answered 503');
    healthy.healthy = true;
    await waitFor(async () => ((await service(name))?.status === 'up' ? true : undefined), 'the service back up');

    // Listed, and filterable by status.
    const { body } = await t.graphql<{ meshServices: { name: string }[] }>(
      `{ meshServices(status: "up") { name } }`,
      {},
      { headers },
    );
    expect(body.data!.meshServices.map((s) => s.name)).toContain(name);
  });

  it('reports degraded when only some endpoints answer, and re-registering replaces the endpoints', async () => {
    const name = uniqueSlug('orders');
    const closed = await startHealthServer();
    await closed.close();
    expect(
      (
        await register({
          name,
          endpoints: [healthy.url, closed.url],
          health_check: { path: '/healthz', interval_seconds: 1 },
          policies: { retries: 0 },
        })
      ).status,
    ).toBe(201);
    const degraded = await waitFor(async () => {
      const s = await service(name);
      return s?.status === 'degraded' ? s : undefined;
    }, 'degraded');
    expect(degraded.lastError).toContain(closed.url);
    const again = await register({
      name,
      endpoints: [healthy.url],
      health_check: { path: '/healthz', interval_seconds: 1 },
    });
    expect(again.status).toBe(201);
    expect(again.body.data.status).toBe('unknown');
    await waitFor(async () => ((await service(name))?.status === 'up' ? true : undefined), 'up after re-registering');
    const removed = await t.graphql(
      `mutation ($n: String!) { deregisterMeshService(name: $n) }`,
      { n: name },
      { headers },
    );
    expect(removed.body.data).toEqual({ deregisterMeshService: true });
    expect(await service(name)).toBeNull();
  });

  it('refuses endpoints the platform may not reach, bad input, and callers without admin:services', async () => {
    expectRestError(
      'platform-forge',
      await register({ name: uniqueSlug('x'), endpoints: ['http://169.254.169.254/'] }),
      400,
      'SOURCE_NOT_ALLOWED',
    );
    expectRestError(
      'platform-forge',
      await register({ name: 'Bad Name', endpoints: [healthy.url] }),
      400,
      'VALIDATION_ERROR',
    );
    expectRestError('platform-forge', await register({ name: 'ok', endpoints: [] }), 400, 'VALIDATION_ERROR');
    expectRestError('platform-forge', await register({ name: 'ok', endpoints: ['ftp://x'] }), 400, 'VALIDATION_ERROR');
    expectRestError(
      'platform-forge',
      await register({ name: 'ok', endpoints: [healthy.url] }, ''),
      401,
      'UNAUTHORIZED',
    );
  });
});
