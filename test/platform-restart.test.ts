import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../lib/errors.js';
import type { Principal } from '../lib/principal.js';
import { restartService } from '../subgraphs/platform/services/services/registry.js';
import { bootPlatform, uniqueSlug, type TestPlatform } from './support/platform.js';
import { expectRestError, uniqueClientIp, waitFor } from './support/rest.js';

// POST /api/v1/services/{name}/restart for the services that are not subgraphs: the gateway
// (supergraph reloaded, subgraph connections recycled), the database (connection pool recycled;
// PGlite reopened in a new worker thread), the cache (store connections reopened) and the job
// worker (running jobs finish first). After each, the platform keeps answering, nothing committed
// is lost, the restart is audited and the service's uptime starts again.

let t: TestPlatform;
const headers = { 'x-forwarded-for': uniqueClientIp() };

beforeAll(async () => {
  t = await bootPlatform();
}, 120_000);

afterAll(async () => {
  await t?.close();
});

async function restart(name: string) {
  const answer = await t.rest(`/api/v1/services/${name}/restart`, { method: 'POST', headers });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(answer.body.data).toEqual({
    service: name,
    action: 'restart',
    status: 'completed',
    duration_ms: expect.any(Number),
  });
  return answer.body.data as { duration_ms: number };
}

async function service(name: string) {
  const answer = await t.rest(`/api/v1/services/${name}`, { headers });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body.data as {
    health: string;
    status: string;
    restartable: boolean;
    metrics: { uptime: number | null };
  };
}

async function reportIncident(title: string): Promise<void> {
  const { body } = await t.graphql(
    `mutation ($title: String!) { reportIncident(title: $title, severity: low) { id } }`,
    { title },
    { headers },
  );
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
}

async function incidentTitles(): Promise<string[]> {
  const { body } = await t.graphql<{ systemStatus: { incidents: { title: string }[] } }>(
    `{ systemStatus { incidents(limit: 100) { title } } }`,
    {},
    { headers },
  );
  expect(body.errors).toBeUndefined();
  return body.data!.systemStatus.incidents.map((i) => i.title);
}

async function restartDetail(name: string): Promise<string> {
  const { body } = await t.graphql<{ restartService: { detail: string; durationMs: number } }>(
    `mutation ($name: String!) { restartService(name: $name) { detail durationMs } }`,
    { name },
    { headers },
  );
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data!.restartService.detail;
}

describe('restart in place', () => {
  it('restarts the database mid-traffic without losing a committed write', async () => {
    const before = await service('database');
    expect(before.restartable).toBe(true);
    const prefix = uniqueSlug('db-restart');
    const titles = Array.from({ length: 24 }, (_, i) => `${prefix}-${i}`);
    // Writes in flight on both sides of the restart: every one is answered and committed. The
    // stagger spreads them over the restart's duration; it orders nothing.
    const writes = titles.map((title, i) =>
      new Promise((resolve) => setTimeout(resolve, i * 10)).then(() => reportIncident(title)),
    );
    const restarted = restart('database');
    await Promise.all(writes);
    const { duration_ms } = await restarted;
    expect(duration_ms).toBeGreaterThanOrEqual(0);
    const stored = await incidentTitles();
    for (const title of titles) expect(stored).toContain(title);
    const after = await service('database');
    expect(after).toMatchObject({ health: 'healthy', status: 'running' });
    expect(after.metrics.uptime).toBeLessThanOrEqual(Math.min(before.metrics.uptime ?? Infinity, 5));
    const detail = await restartDetail('database');
    expect(detail).toMatch(t.platform.db.kind === 'pglite' ? /PGlite .*reopened/ : /new connection pool/);
  });

  it('reconnects the cache while reads keep being answered', async () => {
    // A subscription opened before the reconnect still receives afterwards (renewed on Redis).
    const channel = uniqueSlug('restart-channel');
    let resolveMessage!: (message: string) => void;
    const received = new Promise<string>((resolve) => (resolveMessage = resolve));
    const unsubscribe = await t.platform.kv.pubsub.subscribe(channel, (message) => resolveMessage(message));
    // Reads spread over the reconnect (staggered, not ordered).
    const reads = Array.from({ length: 12 }, (_, i) =>
      new Promise((resolve) => setTimeout(resolve, i * 5)).then(() => t.rest('/api/v1/cache/status', { headers })),
    );
    await restart('cache');
    for (const answer of await Promise.all(reads)) expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const after = await service('cache');
    expect(after).toMatchObject({ health: 'healthy', status: 'running' });
    expect(after.metrics.uptime).toEqual(expect.any(Number));
    expect(after.metrics.uptime).toBeLessThanOrEqual(5);
    // The kv works after the reconnect: a rate-limited, cached request path.
    expect((await t.rest('/api/v1/cache/status', { headers })).status).toBe(200);
    expect(await restartDetail('cache')).toMatch(
      t.platform.kv.kind === 'redis' ? /command and subscriber connections reopened/ : /in-memory/,
    );
    // The subscriber connection renews its channels after the reconnect with no signal to await:
    // publish until a message arrives (each try waits 100 ms for it).
    await waitFor(async () => {
      await t.platform.kv.pubsub.publish(channel, 'after restart');
      return Promise.race([received, new Promise<undefined>((resolve) => setTimeout(resolve, 100))]);
    }, 'a message on a channel subscribed before the restart');
    expect(await received).toBe('after restart');
    await unsubscribe();
  });

  it('restarts the job worker: a running job finishes, new jobs run on the new worker', async () => {
    const scan = async () => {
      const started = await t.rest('/api/v1/security/scan', {
        method: 'POST',
        body: { type: 'quick', severity_threshold: 'info' },
        headers,
      });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      return started.body.data.task_id as string;
    };
    const finished = (taskId: string) =>
      waitFor(async () => {
        const answer = await t.rest(`/api/v1/tasks/${taskId}`, { headers });
        const task = answer.body.data;
        return ['completed', 'failed', 'cancelled'].includes(task.status) ? task : undefined;
      }, `task ${taskId}`);
    const first = await scan();
    await restart('worker');
    expect((await finished(first)).status).toBe('completed');
    expect((await finished(await scan())).status).toBe('completed');
    const after = await service('worker');
    expect(after).toMatchObject({ health: 'healthy', status: 'running' });
    expect(after.metrics.uptime).toBeLessThanOrEqual(5);
  });

  it('restarts the gateway: requests in flight finish, the schema is served again, the action is audited', async () => {
    // Requests spread over the restart (staggered, not ordered).
    const inFlight = Array.from({ length: 10 }, (_, i) =>
      new Promise((resolve) => setTimeout(resolve, i * 5)).then(() => t.rest('/api/v1/services', { headers })),
    );
    await restart('gateway');
    for (const answer of await Promise.all(inFlight)) expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const after = await service('gateway');
    expect(after.metrics.uptime).toBeLessThanOrEqual(5);
    // The reloaded supergraph plans federated operations as before.
    expect(
      (await t.graphql(`{ systemStatus { incidents(limit: 1) { title } } }`, {}, { headers })).body.errors,
    ).toBeUndefined();
    expect(await restartDetail('gateway')).toMatch(/supergraph reloaded.*no remote subgraph connection pools/);

    const audited = await waitFor(async () => {
      const { body } = await t.graphql<{
        auditLogs: { logs: { action: string; outcome: string; resourceId: string | null }[] };
      }>(`query { auditLogs(limit: 100) { logs { action outcome resourceId } } }`, {}, { headers });
      expect(body.errors).toBeUndefined();
      return body.data!.auditLogs.logs.find((l) => /restart/.test(l.action)) ?? undefined;
    }, 'an audit entry for the restart');
    expect(audited.outcome).toBe('success');
  });

  it('keeps restarts to admin:services and names why a service of another process cannot be restarted', async () => {
    expectRestError(
      'nexus-core',
      await t.rest('/api/v1/services/nope/restart', { method: 'POST', headers }),
      404,
      'NOT_FOUND',
    );
    // Split deployment (bin/*.ts): this subgraph has no control over other processes.
    const principal: Principal = {
      kind: 'service',
      id: 'ops',
      projectId: null,
      tenantId: null,
      roles: [],
      scopes: ['admin:services'],
    };
    const refused = await restartService({
      deps: { ...t.platform.deps, services: undefined },
      principal,
      name: 'gateway',
    }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe('CONFLICT');
    expect((refused as AppError).message).toMatch(/gateway runs in its own process .*split/);
  });
});

describe('restart in place, subgraphs over HTTP', () => {
  let h: TestPlatform;
  beforeAll(async () => {
    h = await bootPlatform({ transport: 'http' });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('recycles the gateway’s subgraph connection pools; a subgraph on its own port is refused with the reason', async () => {
    const warm = await h.rest('/api/v1/services', { headers });
    expect(warm.status).toBe(200);
    const { body } = await h.graphql<{ restartService: { detail: string } }>(
      `mutation { restartService(name: "gateway") { detail } }`,
      {},
      { headers },
    );
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    expect(body.data!.restartService.detail).toMatch(/[1-9]\d* subgraph connection pools recycled/);
    expect((await h.rest('/api/v1/services', { headers })).status).toBe(200);
    const refused = await h.rest('/api/v1/services/identity/restart', { method: 'POST', headers });
    expectRestError('nexus-core', refused, 409, 'CONFLICT');
    expect(JSON.stringify(refused.body)).toMatch(/own port/);
  });
});
