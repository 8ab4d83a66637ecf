import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtemp } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DEPLOYMENT_PROGRESS_CHANNEL, type DeploymentProgressMessage } from '../subgraphs/edge/contract.js';
import { SimDevice } from './support/edge.js';
import {
  bootPlatform,
  deleteRedisKeys,
  uniqueSlug,
  usingRealServices,
  type RestAnswer,
  type TestPlatform,
} from './support/platform.js';
import { connectWs, subscribeSse, waitForSubscribers, type WsConnection } from './support/realtime.js';
import { uniqueClientIp, waitFor } from './support/rest.js';
import { createTenant, signInTenantAdmin, signUp, type TenantInfo } from './support/tenants.js';

// Subscriptions owned by the subgraphs that own the data, through the gateway with real
// graphql-ws and SSE clients: edge rollout progress (and its outbound webhooks), broadcast
// channels with recipients counted by the gateway, cloudpioneer event streams over a plain
// WebSocket with ping/pong, and SSE admitted by the request pipeline's rate limit.

const PASSWORD = 'Realtime-Events-Passphrase-3';
const headers = { 'x-forwarded-for': uniqueClientIp() };

function ok(answer: RestAnswer, status = 200) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  return answer.body;
}

const PROGRESS = /* GraphQL */ `
  subscription ($deploymentId: ID, $tenantId: ID) {
    edgeDeploymentProgress(deploymentId: $deploymentId, tenantId: $tenantId) {
      type
      deploymentId
      tenantId
      deviceId
      state
      deploymentStatus
      counts {
        committed
        total
      }
    }
  }
`;
interface Progress {
  edgeDeploymentProgress: {
    type: string;
    deploymentId: string;
    tenantId: string;
    deviceId: string | null;
    state: string | null;
    deploymentStatus: string;
    counts: { committed: number; total: number };
  };
}

const BROADCASTS = /* GraphQL */ `
  subscription ($channels: [String!], $tenantId: ID) {
    broadcasts(channels: $channels, tenantId: $tenantId) {
      id
      type
      data
      channels
      tenantId
    }
  }
`;
interface BroadcastEvent {
  broadcasts: { id: string; type: string; data: Record<string, unknown>; channels: string[]; tenantId: string };
}

interface Hook {
  headers: IncomingHttpHeaders;
  body: { type: string; data: Record<string, unknown> };
}

describe('subgraph-owned subscriptions, broadcasts and event streams', () => {
  let t: TestPlatform;
  let a: TenantInfo;
  let b: TenantInfo;
  let adminA: string;
  let adminB: string;
  let receiver: Server;
  let hookUrl: string;
  const hooks: Hook[] = [];
  const sockets: WsConnection[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        hooks.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Hook['body'] });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    t = await bootPlatform({
      trustedProxies: ['127.0.0.1', '::1'],
      rateLimitEnabled: false,
      outbound: { allowedHosts: ['127.0.0.1'], timeoutMs: 2_000, webhookRetryScheduleMs: [100, 200] },
      subscriptionLimits: { streamPingMs: 150, streamPongTimeoutMs: 300, recheckMs: 300 },
      storageDir: await mkdtemp(join(tmpdir(), 'rt-events-storage-')),
    });
    a = await createTenant(t, t.operatorKey, headers, 'rea');
    b = await createTenant(t, t.operatorKey, headers, 'reb');
    adminA = await signInTenantAdmin(t, a.id, { password: PASSWORD, headers });
    adminB = await signInTenantAdmin(t, b.id, { password: PASSWORD, headers });
  }, 180_000);
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.dispose()));
    await t?.close();
    await new Promise<void>((resolve) => receiver?.close(() => resolve()));
  });

  const open = async (token: string) => {
    const ws = connectWs(t.url, { token });
    sockets.push(ws);
    await ws.connected;
    return ws;
  };
  const members = () => t.platform.gateway.realtime.federated.stats().members;
  /** Closes this test's connections and waits until the gateway has released every subscription. */
  const closeAll = async () => {
    await Promise.all(sockets.splice(0).map((s) => s.dispose()));
    await waitFor(async () => (members() === 0 ? true : undefined), 'every subscription released');
  };

  it('streams OTA rollout progress to the tenant over graphql-ws and SSE, and as outbound webhooks', async () => {
    const endpoint = await t.graphql<{ createWebhookEndpoint: { endpoint: { id: string } } }>(
      `mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } } }`,
      { input: { url: hookUrl, eventTypes: ['edge.deployment.*'] } },
      { token: adminA, headers },
    );
    expect(endpoint.body.errors).toBeUndefined();

    const wsA = (await open(adminA)).subscribe<Progress>(PROGRESS, {});
    const wsB = (await open(adminB)).subscribe<Progress>(PROGRESS, {});
    const sseOperator = subscribeSse<Progress>(t.url, t.operatorKey, PROGRESS, { tenantId: a.id });
    const foreign = (await open(adminB)).subscribe<Progress>(PROGRESS, { tenantId: a.id });
    await foreign.waitForEnd();
    expect(JSON.stringify([foreign.error, foreign.events])).toContain('TENANT_MISMATCH');
    await waitForSubscribers(t.platform.gateway, 3);

    const key = await t.graphql<{ edgeSigningKey: { publicKey: string } }>(
      `query ($tenantId: ID) { edgeSigningKey(tenantId: $tenantId) { publicKey } }`,
      { tenantId: a.id },
    );
    const group = uniqueSlug('rtg');
    const devices: SimDevice[] = [];
    for (let i = 0; i < 4; i += 1) {
      const registered = ok(
        await t.rest('/api/v1/edge/devices/register', {
          method: 'POST',
          headers,
          body: { device_id: `${group}-${i}`, capabilities: ['compute'], groups: [group], tenant_id: a.id },
        }),
        201,
      ).data as { device_id: string; device_token: string };
      devices.push(
        new SimDevice(registered.device_id, registered.device_token, key.body.data!.edgeSigningKey.publicKey),
      );
    }
    await Promise.all(devices.map((d) => d.connect(t.url)));
    const created = ok(
      await t.rest('/api/v1/edge/deployments', {
        method: 'POST',
        headers,
        body: {
          application: 'rt-agent',
          version: '2.0.0',
          target_groups: [group],
          phases: [50, 50],
          tenant_id: a.id,
        },
      }),
      201,
    ).data as { deployment_id: string };
    const id = created.deployment_id;

    const done = (events: Array<{ data?: Progress | null }>) =>
      events.some((e) => e.data?.edgeDeploymentProgress.type === 'completed');
    await waitFor(async () => (done(wsA.events) ? true : undefined), 'completed over graphql-ws');
    await waitFor(async () => (done(sseOperator.events) ? true : undefined), 'completed over SSE');
    const seen = wsA.events.map((e) => e.data!.edgeDeploymentProgress);
    expect(seen.every((p) => p.tenantId === a.id && p.deploymentId === id)).toBe(true);
    expect(seen.filter((p) => p.type === 'device_state' && p.state === 'committed')).toHaveLength(4);
    expect(seen.some((p) => p.type === 'phase_started')).toBe(true);
    expect(seen.at(-1)).toMatchObject({ type: 'completed', deploymentStatus: 'completed', counts: { committed: 4 } });
    expect(sseOperator.events.map((e) => e.data!.edgeDeploymentProgress)).toEqual(seen);

    // Tenant B's subscriber: a B message published after A's rollout is the first thing it gets.
    const marker: DeploymentProgressMessage = {
      type: 'phase_started',
      deployment_id: 'dep_marker',
      tenant_id: b.id,
      device_id: null,
      state: null,
      attempt: null,
      deployment_status: 'in_progress',
      current_phase: 0,
      counts: {},
      at: new Date().toISOString(),
    };
    await t.platform.kv.pubsub.publish(DEPLOYMENT_PROGRESS_CHANNEL, JSON.stringify(marker));
    const [first] = await wsB.waitFor(1);
    expect(first!.data!.edgeDeploymentProgress).toMatchObject({ deploymentId: 'dep_marker', tenantId: b.id });
    expect(wsB.events).toHaveLength(1);

    // The same changes as webhooks: progress per device state, then completed.
    await waitFor(
      async () => (hooks.some((h) => h.body.type === 'edge.deployment.completed') ? true : undefined),
      'completed webhook',
    );
    const forDeployment = hooks.filter((h) => h.body.data.deployment_id === id);
    expect(forDeployment.filter((h) => h.body.type === 'edge.deployment.progress').length).toBeGreaterThanOrEqual(4);
    expect(forDeployment.every((h) => h.body.data.tenant_id === a.id && h.headers['webhook-signature'])).toBe(true);
    for (const d of devices) d.close();
    sseOperator.stop();
    await closeAll();
  }, 120_000);

  it('broadcasts to channels and users of one tenant and counts the subscribers reached', async () => {
    const opsA1 = (await open(adminA)).subscribe<BroadcastEvent>(BROADCASTS, { channels: ['ops'] });
    const opsA2 = (await open(adminA)).subscribe<BroadcastEvent>(BROADCASTS, { channels: ['ops'] });
    const otherA = (await open(adminA)).subscribe<BroadcastEvent>(BROADCASTS, { channels: ['other'] });
    const allA = subscribeSse<BroadcastEvent>(t.url, adminA, BROADCASTS, {});
    const opsB = (await open(adminB)).subscribe<BroadcastEvent>(BROADCASTS, { channels: ['ops'] });
    await waitForSubscribers(t.platform.gateway, 5);
    // Identical subscriptions of one principal share one upstream and one resolution per event.
    const { groups, members: open_ } = t.platform.gateway.realtime.federated.stats();
    expect(groups).toBeLessThan(open_);

    const sent = ok(
      await t.rest('/api/events/broadcast', {
        method: 'POST',
        token: adminA,
        headers,
        body: {
          event: {
            type: 'user_updated',
            data: { user_id: 'u1', changes: { email: 'new@example.com' } },
            targets: { channels: ['ops'] },
            metadata: { source: 'admin_panel' },
          },
        },
      }),
    );
    expect(sent.status).toBe('success');
    expect(sent.data).toMatchObject({
      event_id: expect.stringMatching(/^evt_/),
      recipients: { total_subscribers: 3, delivered_count: 3, failed_count: 0, channels: ['sse', 'websocket'] },
    });
    for (const sub of [opsA1, opsA2, allA]) {
      const [event] = await sub.waitFor(1);
      expect(event!.data!.broadcasts).toMatchObject({
        id: sent.data.event_id,
        type: 'user_updated',
        channels: ['ops'],
        tenantId: a.id,
        data: { user_id: 'u1' },
      });
    }

    // Addressed to a user id that is not subscribed: nobody receives it, and the count says so.
    const userA = decodeJwt(adminA).sub!;
    const nobody = ok(
      await t.rest('/api/events/broadcast', {
        method: 'POST',
        token: adminA,
        headers,
        body: { event: { type: 'private', data: {}, targets: { user_ids: ['usr_someone_else'] } } },
      }),
    );
    expect(nobody.data.recipients).toMatchObject({ total_subscribers: 0, delivered_count: 0 });
    const mine = ok(
      await t.rest('/api/events/broadcast', {
        method: 'POST',
        token: adminA,
        headers,
        body: { event: { type: 'private', data: { n: 2 }, targets: { user_ids: [userA], channels: ['other'] } } },
      }),
    );
    expect(mine.data.recipients).toMatchObject({ total_subscribers: 2, delivered_count: 2 });
    // `other` got only the event addressed to it; B got nothing of A's: its first event is its own.
    const [otherFirst] = await otherA.waitFor(1);
    expect(otherFirst!.data!.broadcasts).toMatchObject({ type: 'private', data: { n: 2 } });
    const own = ok(
      await t.rest('/api/events/broadcast', {
        method: 'POST',
        token: adminB,
        headers,
        body: { event: { type: 'b_only', data: {}, targets: { tenant_id: b.id } } },
      }),
    );
    expect(own.data.recipients.delivered_count).toBe(1);
    const [bFirst] = await opsB.waitFor(1);
    expect(bFirst!.data!.broadcasts).toMatchObject({ type: 'b_only', tenantId: b.id });
    expect(opsB.events).toHaveLength(1);

    // A tenant-bound caller cannot broadcast to another tenant.
    const cross = await t.rest('/api/events/broadcast', {
      method: 'POST',
      token: adminA,
      headers,
      body: { event: { type: 'x', data: {}, targets: { tenant_id: b.id } } },
    });
    expect(cross.status).toBe(403);
    allA.stop();
    await closeAll();
  }, 60_000);

  it("streams tenancy job progress (a tenant backup) to that tenant's subscribers only", async () => {
    const JOBS = /* GraphQL */ `
      subscription ($kinds: [String!]) {
        tenancyJobProgress(kinds: $kinds) {
          kind
          id
          tenantId
          status
          progress
        }
      }
    `;
    interface Job {
      tenancyJobProgress: { kind: string; id: string; tenantId: string; status: string; progress: number };
    }
    const jobsA = (await open(adminA)).subscribe<Job>(JOBS, { kinds: ['backup'] });
    const jobsB = subscribeSse<Job>(t.url, adminB, JOBS, {});
    await waitForSubscribers(t.platform.gateway, 2);
    const backup = async (tenantId: string) => {
      const { body } = await t.graphql<{ backupTenant: { id: string } }>(
        `mutation ($id: ID!) { backupTenant(tenantId: $id) { id } }`,
        { id: tenantId },
        { headers },
      );
      expect(body.errors).toBeUndefined();
      return body.data!.backupTenant.id;
    };
    const idA = await backup(a.id);
    const finished = (events: Array<{ data?: Job | null }>, id: string) =>
      events.some((e) => e.data?.tenancyJobProgress.id === id && e.data.tenancyJobProgress.status !== 'running');
    await waitFor(async () => (finished(jobsA.events, idA) ? true : undefined), 'backup A finished', {
      timeoutMs: 60_000,
    });
    const progress = jobsA.events.map((e) => e.data!.tenancyJobProgress);
    expect(progress.every((p) => p.kind === 'backup' && p.id === idA && p.tenantId === a.id)).toBe(true);
    expect(progress[0]!.status).toBe('running');
    expect(progress.at(-1)).toMatchObject({ status: 'completed', progress: 100 });
    const percents = progress.map((p) => p.progress);
    expect([...percents].sort((x, y) => x - y)).toEqual(percents);
    // B's subscriber: the first job it hears of is B's own backup, started after A's finished.
    const idB = await backup(b.id);
    const [firstB] = await jobsB.waitFor(1, 30_000);
    expect(firstB!.data!.tenancyJobProgress).toMatchObject({ id: idB, tenantId: b.id });
    jobsB.stop();
    await closeAll();
  }, 120_000);

  it('streams audit entries to the admins of the tenant they belong to', async () => {
    const AUDIT = /* GraphQL */ `
      subscription {
        auditEntries {
          id
          tenantId
          action
          outcome
          actorId
        }
      }
    `;
    interface Entry {
      auditEntries: { id: string; tenantId: string; action: string; outcome: string; actorId: string };
    }
    const auditA = (await open(adminA)).subscribe<Entry>(AUDIT);
    const auditB = (await open(adminB)).subscribe<Entry>(AUDIT);
    await waitForSubscribers(t.platform.gateway, 2);
    const endpoint = async (token: string) => {
      const { body } = await t.graphql(
        `mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } } }`,
        { input: { url: hookUrl, eventTypes: ['audit.test'] } },
        { token, headers },
      );
      expect(body.errors).toBeUndefined();
    };
    await endpoint(adminA);
    const [entryA] = await auditA.waitFor(1, 30_000);
    expect(entryA!.data!.auditEntries).toMatchObject({
      tenantId: a.id,
      outcome: 'success',
      actorId: decodeJwt(adminA).sub,
    });
    await endpoint(adminB);
    const [entryB] = await auditB.waitFor(1, 30_000);
    expect(entryB!.data!.auditEntries.tenantId).toBe(b.id);
    expect(auditA.events.every((e) => e.data!.auditEntries.tenantId === a.id)).toBe(true);
    expect(auditB.events.every((e) => e.data!.auditEntries.tenantId === b.id)).toBe(true);
    await closeAll();
  }, 60_000);

  it("lets a project's API key stream and ingest its own tenants' events, and ends the stream when the key goes", async () => {
    const owner = await signUp(t, 'rtkey');
    const stranger = await signUp(t, 'rtstranger');
    const slug = uniqueSlug('kt');
    const post = (token: string, path: string, body: Record<string, unknown>) =>
      t.rest(path, { method: 'POST', token, headers, body });
    ok(await post(owner.apiKey, '/tenants', { tenant_id: slug }), 201);
    const newKey = async (name: string) => ok(await post(owner.apiKey, '/apikeys', { project_name: name }), 201);
    // A second key of the same project, to revoke while the first stays.
    const second = await newKey('stream key');
    const secondKey = second.key as string;

    // Another project's key cannot watch or write this tenant; the tenant's own project can, by slug.
    const foreign = await post(stranger.apiKey, '/events/stream', { topic: 'events', filters: { tenant_id: slug } });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.code).toBe('TENANT_MISMATCH');
    const foreignWrite = await post(stranger.apiKey, '/api/v1/telemetry/events', {
      tenant_id: slug,
      event_name: 'page_view',
      properties: {},
    });
    expect(foreignWrite.status).toBe(403);
    // Edge acts only for callers bound to the tenant: refused when asked, not when connecting.
    const edgeStream = await post(owner.apiKey, '/events/stream', {
      topic: 'deployment_progress',
      filters: { tenant_id: slug },
    });
    expect(edgeStream.status).toBe(403);
    expect(edgeStream.body.error.code).toBe('FORBIDDEN');
    const noTenant = await post(owner.apiKey, '/events/stream', { topic: 'events' });
    expect(noTenant.status).toBe(400);

    const third = await newKey('third key');
    const openStream = async (key: string) => {
      const created = ok(await post(key, '/events/stream', { topic: 'events', filters: { tenant_id: slug } }));
      const messages: Array<Record<string, unknown>> = [];
      const ws = new WebSocket(`${created.websocket_url}?token=${created.token}`);
      ws.on('message', (data) => messages.push(JSON.parse(data.toString()) as Record<string, unknown>));
      const closed = new Promise<{ code: number; reason: string }>((resolve) =>
        ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
      );
      await waitFor(async () => (messages.length > 0 ? true : undefined), 'stream_started');
      return { messages, closed };
    };
    const first = await openStream(owner.apiKey);
    const revocable = await openStream(secondKey);
    const watching = await openStream(third.key as string);
    await waitForSubscribers(t.platform.gateway, 3);

    const tracked = ok(
      await post(owner.apiKey, '/api/v1/telemetry/events', {
        tenant_id: slug,
        event_name: 'signup_completed',
        properties: { plan: 'pro' },
      }),
      202,
    );
    expect(tracked.data.accepted).toBe(1);
    for (const stream of [first, revocable, watching]) {
      await waitFor(async () => (stream.messages.length > 1 ? true : undefined), 'the event on the stream');
      expect(stream.messages[1]).toMatchObject({ event_type: 'telemetry_event', data: { type: 'signup_completed' } });
    }

    // Deleting the key ends the stream it created at once; the other key's stream goes on.
    ok(await t.rest(`/apikeys/${second.id}`, { method: 'DELETE', token: owner.apiKey, headers }));
    expect(await revocable.closed).toEqual({ code: 4403, reason: 'API key revoked' });

    // A key that expires has no announcement: the periodic re-check (recheckMs) ends its stream.
    const keyId = Number(
      (await t.rest('/apikeys', { token: owner.apiKey, headers })).body.api_keys.find((k: { key: string }) =>
        k.key.endsWith(owner.apiKey.slice(-4)),
      ).id,
    );
    await t.platform.db.prisma.apiKey.update({
      where: { id: keyId },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    expect(await first.closed).toEqual({ code: 4401, reason: 'Unauthorized' });

    // The key is bound to no tenant, but its stream watches one: suspending that tenant ends it.
    const suspended = await t.graphql(
      `mutation ($id: ID!) { suspendTenant(id: $id) { id } }`,
      { id: slug },
      { headers },
    );
    expect(suspended.body.errors).toBeUndefined();
    expect(await watching.closed).toEqual({ code: 4403, reason: 'Tenant suspended' });
  }, 60_000);

  it('serves cloudpioneer event streams: token from the answer, documented messages, ping/pong', async () => {
    const created = ok(
      await t.rest('/events/stream', {
        method: 'POST',
        token: adminA,
        headers,
        body: { topic: 'broadcasts', filters: { channels: ['alerts'] } },
      }),
    );
    expect(created).toMatchObject({
      stream_id: expect.stringMatching(/^stream_/),
      websocket_url: expect.stringMatching(/^ws:\/\/127\.0\.0\.1:\d+\/v1\/events\/stream_/),
      token: expect.any(String),
    });
    const unknown = await t.rest('/v1/events/stream', {
      method: 'POST',
      token: adminA,
      headers,
      body: { topic: 'resource_metrics' },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('VALIDATION_ERROR');

    // A wrong token is refused at the upgrade.
    const refused = new WebSocket(`${created.websocket_url}?token=wrong`);
    const status = await new Promise<number>((resolve) =>
      refused.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    expect(status).toBe(401);

    const messages: Array<Record<string, unknown>> = [];
    let pings = 0;
    const ws = new WebSocket(`${created.websocket_url}?token=${created.token}`);
    ws.on('message', (data) => messages.push(JSON.parse(data.toString()) as Record<string, unknown>));
    ws.on('ping', () => (pings += 1));
    await waitFor(async () => (messages.length > 0 ? true : undefined), 'stream_started');
    expect(messages[0]).toMatchObject({ event_type: 'stream_started', data: { stream_id: created.stream_id } });
    await waitForSubscribers(t.platform.gateway, 1);
    const sent = ok(
      await t.rest('/api/events/broadcast', {
        method: 'POST',
        token: adminA,
        headers,
        body: { event: { type: 'disk_full', data: { used: 0.97 }, targets: { channels: ['alerts'] } } },
      }),
    );
    expect(sent.data.recipients.channels).toContain('stream');
    await waitFor(async () => (messages.length > 1 ? true : undefined), 'broadcast on the stream');
    expect(messages[1]).toEqual({
      event_type: 'broadcast',
      timestamp: expect.any(String),
      resource_id: a.id,
      data: { id: sent.data.event_id, type: 'disk_full', channels: ['alerts'], data: { used: 0.97 } },
    });
    // A client that answers pings stays connected across several of them.
    await waitFor(async () => (pings >= 3 ? true : undefined), 'three pings');
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();

    // One that never answers is closed once the pong is overdue.
    const silent = new WebSocket(`${created.websocket_url}?token=${created.token}`, { autoPong: false });
    const closed = await new Promise<{ code: number; reason: string }>((resolve) =>
      silent.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    expect(closed).toEqual({ code: 4408, reason: 'Pong timeout' });

    // The stream runs as its creator: suspending the creator's tenant ends it like any session.
    const doomed = new WebSocket(`${created.websocket_url}?token=${created.token}`);
    const opened: string[] = [];
    doomed.on('message', (data) => opened.push(data.toString()));
    const ended = new Promise<{ code: number; reason: string }>((resolve) =>
      doomed.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    await waitFor(async () => (opened.length > 0 ? true : undefined), 'stream_started');
    const suspended = await t.graphql(
      `mutation ($id: ID!) { suspendTenant(id: $id) { id } }`,
      { id: a.id },
      { headers },
    );
    expect(suspended.body.errors).toBeUndefined();
    expect(await ended).toEqual({ code: 4403, reason: 'Tenant suspended' });
  }, 60_000);
});

describe('SSE subscriptions spend the /graphql rate limit', () => {
  let t: TestPlatform;
  beforeAll(async () => {
    t = await bootPlatform({
      trustedProxies: ['127.0.0.1', '::1'],
      rateLimitPolicies: { 'graphql.default': { points: 2, durationSeconds: 60 } },
    });
  }, 180_000);
  afterAll(async () => {
    await t?.close();
  });

  it('answers 429 to the SSE request past the allowance, before opening a stream', async () => {
    const ip = uniqueClientIp();
    const statuses: number[] = [];
    const controllers: AbortController[] = [];
    for (let i = 0; i < 3; i += 1) {
      const controller = new AbortController();
      controllers.push(controller);
      const response = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: {
          accept: 'text/event-stream',
          'content-type': 'application/json',
          authorization: `Bearer ${t.operatorKey}`,
          'x-forwarded-for': ip,
        },
        body: JSON.stringify({ query: BROADCASTS, variables: {} }),
        signal: controller.signal,
      });
      statuses.push(response.status);
      if (response.status === 429) {
        expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(JSON.stringify(await response.json())).toContain('RATE_LIMIT');
      }
    }
    for (const controller of controllers) controller.abort();
    expect(statuses).toEqual([200, 200, 429]);
  });
});

describe('broadcast recipients counted where the subscribers are', () => {
  const broadcast = async (t: TestPlatform, tenantId: string, type: string) =>
    ok(
      await t.rest('/api/events/broadcast', {
        method: 'POST',
        headers,
        body: { event: { type, data: {}, targets: { tenant_id: tenantId } } },
      }),
    ).data as { event_id: string; recipients: Record<string, unknown> };

  it('with subgraphs in another process (the receipt crosses graphql-ws between subgraph and gateway)', async () => {
    const t = await bootPlatform({ trustedProxies: ['127.0.0.1', '::1'], transport: 'http', rateLimitEnabled: false });
    try {
      const tenant = await createTenant(t, t.operatorKey, headers, 'rer');
      const ws = connectWs(t.url, { token: t.operatorKey });
      await ws.connected;
      const subs = [0, 1].map(() => ws.subscribe<BroadcastEvent>(BROADCASTS, { tenantId: tenant.id }));
      const sse = subscribeSse<BroadcastEvent>(t.url, t.operatorKey, BROADCASTS, { tenantId: tenant.id });
      await waitForSubscribers(t.platform.gateway, 3);
      // Over the network the subgraph side may still be subscribing: send until all three count.
      const answer = await waitFor(async () => {
        const sent = await broadcast(t, tenant.id, 'remote');
        return sent.recipients.delivered_count === 3 ? sent : undefined;
      }, 'three recipients');
      expect(answer.recipients).toEqual({
        total_subscribers: 3,
        delivered_count: 3,
        failed_count: 0,
        channels: ['sse', 'websocket'],
      });
      for (const sub of [...subs, sse]) await sub.waitFor(1);
      sse.stop();
      await ws.dispose();
    } finally {
      await t.close();
    }
  }, 120_000);

  describe.runIf(usingRealServices)('two gateway instances on one Redis', () => {
    let a: TestPlatform;
    let b: TestPlatform;
    const keyPrefix = `test:${randomBytes(6).toString('hex')}:`;
    beforeAll(async () => {
      a = await bootPlatform({ trustedProxies: ['127.0.0.1'], keyPrefix, rateLimitEnabled: false });
      b = await bootPlatform({
        trustedProxies: ['127.0.0.1'],
        keyPrefix,
        rateLimitEnabled: false,
        adminApiKey: a.operatorKey,
      });
    }, 180_000);
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await deleteRedisKeys(process.env.TEST_REDIS_URL!, keyPrefix);
    });

    it('sums the deliveries every gateway reports', async () => {
      const tenant = await createTenant(a, a.operatorKey, headers, 'rec');
      const onA = connectWs(a.url, { token: a.operatorKey });
      const onB = connectWs(b.url, { token: a.operatorKey });
      await Promise.all([onA.connected, onB.connected]);
      const subs = [
        onA.subscribe<BroadcastEvent>(BROADCASTS, { tenantId: tenant.id }),
        onB.subscribe<BroadcastEvent>(BROADCASTS, { tenantId: tenant.id }),
        onB.subscribe<BroadcastEvent>(BROADCASTS, { tenantId: tenant.id, channels: ['x'] }),
      ];
      await waitForSubscribers(a.platform.gateway, 1);
      await waitForSubscribers(b.platform.gateway, 2);
      const sent = await broadcast(a, tenant.id, 'cluster');
      expect(sent.recipients).toMatchObject({ total_subscribers: 3, delivered_count: 3, channels: ['websocket'] });
      for (const sub of subs) await sub.waitFor(1);
      await Promise.all([onA.dispose(), onB.dispose()]);
    });
  });
});
