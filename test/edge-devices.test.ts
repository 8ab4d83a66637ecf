import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DEPLOYMENT_PROGRESS_CHANNEL, type DeploymentProgressMessage } from '../subgraphs/edge/contract.js';
import { bootPlatform, uniqueSlug, type RestAnswer, type TestPlatform } from './support/platform.js';
import { SimDevice } from './support/edge.js';
import { waitFor } from './support/rest.js';
import { createTenant } from './support/tenants.js';

// Edge devices and phased OTA rollouts end to end: devices are real WebSocket clients of the
// gateway (hundreds at once), authenticated by the token registration showed once; they verify
// the Ed25519-signed manifest and artifact, report their states, fail on purpose to trip the
// abort threshold, roll back, and retry.

const HEADERS = { 'x-forwarded-for': `198.18.${Math.floor(Math.random() * 256)}.7` };

function ok(answer: RestAnswer, status = 200) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body.status).toBe('success');
  return answer.body.data;
}

describe('edge devices and OTA rollouts', () => {
  let t: TestPlatform;
  let tenantId: string;
  let publicKey: string;
  const events: DeploymentProgressMessage[] = [];

  const register = async (deviceId: string, groups: string[], extra: Record<string, unknown> = {}) =>
    ok(
      await t.rest('/api/v1/edge/devices/register', {
        method: 'POST',
        headers: HEADERS,
        body: { device_id: deviceId, capabilities: ['compute'], groups, tenant_id: tenantId, ...extra },
      }),
      201,
    ) as { device_token: string; device_id: string };

  const fleet = async (prefix: string, count: number, group: string): Promise<SimDevice[]> => {
    const devices: SimDevice[] = [];
    for (let i = 0; i < count; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(20, count - i) }, (_, j) =>
          register(`${prefix}-${String(i + j).padStart(3, '0')}`, [group], { firmware_version: '1.0.0' }),
        ),
      );
      devices.push(...batch.map((r) => new SimDevice(r.device_id, r.device_token, publicKey)));
    }
    for (let i = 0; i < devices.length; i += 50)
      await Promise.all(devices.slice(i, i + 50).map((d) => d.connect(t.url)));
    return devices;
  };

  const deployment = async (id: string) => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const { body } = await t.graphql<{ edgeDeployment: Record<string, any> }>(
      `query ($id: ID!) { edgeDeployment(id: $id) {
        id status abortReason currentPhase phases
        counts { pending queued downloading installing rebooting committed failed rolledBack skipped canceled total }
        devices(first: 1000) { deviceId phase state attempts }
      } }`,
      { id },
    );
    expect(body.errors).toBeUndefined();
    return body.data!.edgeDeployment;
  };

  const publishFirmware = async (version: string, content: Buffer) => {
    const { body } = await t.graphql(
      `mutation ($input: PublishEdgeArtifactInput!) { publishEdgeArtifact(input: $input) { id sha256 size signature } }`,
      { input: { tenantId, kind: 'firmware', version, contentBase64: content.toString('base64') } },
    );
    expect(body.errors).toBeUndefined();
    return (body.data as { publishEdgeArtifact: { sha256: string } }).publishEdgeArtifact;
  };

  beforeAll(async () => {
    t = await bootPlatform({ rateLimitEnabled: false });
    tenantId = (await createTenant(t, t.operatorKey, HEADERS, 'edge')).id;
    const { body } = await t.graphql<{ edgeSigningKey: { publicKey: string; algorithm: string } }>(
      `query ($tenantId: ID) { edgeSigningKey(tenantId: $tenantId) { publicKey algorithm } }`,
      { tenantId },
    );
    expect(body.data?.edgeSigningKey.algorithm).toBe('Ed25519');
    publicKey = body.data!.edgeSigningKey.publicKey;
    await t.platform.kv.pubsub.subscribe(DEPLOYMENT_PROGRESS_CHANNEL, (m) =>
      events.push(JSON.parse(m) as DeploymentProgressMessage),
    );
  }, 180_000);
  afterAll(async () => {
    await t?.close();
  });

  it('registers a device with a token shown once and stored hashed; refuses duplicates and bad tokens', async () => {
    const id = uniqueSlug('cam');
    const answer = await t.rest('/api/v1/edge/devices/register', {
      method: 'POST',
      headers: HEADERS,
      body: {
        device_id: id,
        capabilities: ['compute', 'storage'],
        location: { latitude: 37.7749, longitude: -122.4194 },
        groups: ['lobby'],
        tags: { site: 'sf' },
        tenant_id: tenantId,
      },
    });
    const data = ok(answer, 201);
    expect(data).toMatchObject({
      device_id: id,
      tenant_id: tenantId,
      status: 'registered',
      capabilities: ['compute', 'storage'],
      location: { latitude: 37.7749, longitude: -122.4194 },
      groups: ['lobby'],
      tags: { site: 'sf' },
      websocket_path: '/api/v1/edge/devices/connect',
    });
    expect(data.device_token).toMatch(/^edt_[0-9a-f]{64}$/);
    const row = await t.platform.db.prisma.device.findUniqueOrThrow({ where: { id: data.id } });
    expect(row.tokenHash).toBe(createHash('sha256').update(data.device_token).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(data.device_token);

    const again = await t.rest('/api/v1/edge/devices/register', {
      method: 'POST',
      headers: HEADERS,
      body: { device_id: id, tenant_id: tenantId },
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('CONFLICT');

    const invalid = await t.rest('/api/v1/edge/devices/register', {
      method: 'POST',
      headers: HEADERS,
      body: { device_id: 'x', location: { latitude: 200, longitude: 0 }, tenant_id: tenantId },
    });
    expect(invalid.status).toBe(400);

    // A wrong token never upgrades.
    const refused = new WebSocket(`${t.url.replace('http', 'ws')}/api/v1/edge/devices/connect`, {
      headers: { authorization: 'Bearer edt_' + '0'.repeat(64) },
    });
    const status = await new Promise<number>((resolve) =>
      refused.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    expect(status).toBe(401);

    // Connected, heartbeats with figures mark it online and record samples; closing marks it offline.
    const device = new SimDevice(id, data.device_token, publicKey);
    await device.connect(t.url);
    device.send({ type: 'heartbeat', ref: 1, metrics: { cpu_usage: 12.5, memory_usage: 1024, disk_usage: 40 } });
    await waitFor(async () => (device.received.some((m) => m.type === 'ack' && m.ref === 1) ? true : undefined), 'ack');
    const online = await t.graphql<{ devices: Array<{ deviceId: string; status: string; lastSeenAt: string }> }>(
      `query ($tenantId: ID) { devices(tenantId: $tenantId, group: "lobby") { deviceId status lastSeenAt } }`,
      { tenantId },
    );
    expect(online.body.data!.devices).toEqual([{ deviceId: id, status: 'online', lastSeenAt: expect.any(String) }]);
    expect(await t.platform.db.prisma.edgeDeviceSample.count({ where: { deviceId: data.id } })).toBe(1);
    device.close();
    await waitFor(async () => {
      const row = await t.platform.db.prisma.device.findUniqueOrThrow({ where: { id: data.id } });
      return row.status === 'offline' ? true : undefined;
    }, 'offline');
  });

  it('rolls out firmware in phases to 120 connected devices, retrying failures, and verifies signatures', async () => {
    const firmware = Buffer.from(`firmware-image-${uniqueSlug()}`.repeat(200));
    const published = await publishFirmware('2.0.0', firmware);
    expect(published.sha256).toBe(createHash('sha256').update(firmware).digest('hex'));

    const devices = await fleet(uniqueSlug('a'), 120, 'fleet-a');
    // Six devices fail their first attempt; one retry each brings them through.
    for (const d of devices.slice(0, 6)) d.behaviour = 'fail-once';
    // An offline member of the group gets its part when it connects.
    const late = await register(uniqueSlug('late'), ['fleet-a'], { firmware_version: '1.0.0' });

    const { body } = await t.graphql<{ createEdgeDeployment: { id: string; phases: number[] } }>(
      `mutation ($input: CreateEdgeDeploymentInput!) { createEdgeDeployment(input: $input) { id phases currentPhase } }`,
      {
        input: {
          tenantId,
          kind: 'firmware',
          version: '2.0.0',
          groups: ['fleet-a'],
          phases: [10, 40, 50],
          failureThresholdPercent: 20,
          minExecuted: 5,
          maxRetries: 1,
        },
      },
    );
    expect(body.errors).toBeUndefined();
    const id = body.data!.createEdgeDeployment.id;

    // Everything but the offline device finishes; the rollout waits for it in the last phase.
    await waitFor(
      async () => {
        const d = await deployment(id);
        if (process.env.EDGE_DEBUG) {
          console.log(JSON.stringify(d.counts), d.currentPhase, d.status);
          console.log(JSON.stringify(devices.flatMap((x) => x.received.filter((m) => m.type === 'error')).slice(0, 5)));
        }
        return d.counts.committed === 120 ? d : undefined;
      },
      '120 committed',
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    let d = await deployment(id);
    expect(d.status).toBe('in_progress');
    expect(d.counts.queued).toBe(1);
    const lateDevice = new SimDevice(late.device_id, late.device_token, publicKey);
    await lateDevice.connect(t.url);
    d = await waitFor(
      async () => {
        const now = await deployment(id);
        return now.status === 'completed' ? now : undefined;
      },
      'completed',
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(d.counts).toMatchObject({ committed: 121, failed: 0, total: 121 });
    expect(devices.every((x) => x.verified)).toBe(true);
    expect(devices.slice(0, 6).every((x) => x.attemptsSeen === 2)).toBe(true);
    expect(d.devices.filter((x: { attempts: number }) => x.attempts === 2)).toHaveLength(6);
    // Phases: 12 devices, then 48, then the rest (61), released one after the other.
    const phaseOf = new Map(d.devices.map((x: { deviceId: string; phase: number }) => [x.deviceId, x.phase]));
    expect([0, 1, 2].map((p) => [...phaseOf.values()].filter((v) => v === p).length)).toEqual([12, 48, 61]);
    const started = events.filter((e) => e.deployment_id === id && e.type === 'phase_started');
    expect(started.map((e) => e.current_phase)).toEqual([0, 1, 2]);
    expect(events.some((e) => e.deployment_id === id && e.type === 'completed')).toBe(true);
    const row = await t.platform.db.prisma.device.findFirstOrThrow({
      where: { tenantId, deviceKey: devices[0]!.deviceId },
    });
    expect(row.firmwareVersion).toBe('2.0.0');

    // Already on 2.0.0: skipped unless forced.
    const again = ok(
      await t.rest(`/api/v1/edge/devices/${devices[1]!.deviceId}/update`, {
        method: 'POST',
        headers: HEADERS,
        body: { firmware_version: '2.0.0', force_update: false, rollback_on_failure: true, tenant_id: tenantId },
      }),
      202,
    );
    expect(again).toMatchObject({ status: 'completed', devices: { skipped: 1, total: 1 }, force_update: false });
    const forced = ok(
      await t.rest(`/api/v1/edge/devices/${devices[1]!.deviceId}/update`, {
        method: 'POST',
        headers: HEADERS,
        body: { firmware_version: '2.0.0', force_update: true, rollback_on_failure: true, tenant_id: tenantId },
      }),
      202,
    );
    expect(forced).toMatchObject({ device_id: devices[1]!.deviceId, firmware_version: '2.0.0', force_update: true });
    await waitFor(
      async () => ((await deployment(forced.deployment_id)).status === 'completed' ? true : undefined),
      'forced',
    );
    const missing = await t.rest(`/api/v1/edge/devices/${devices[1]!.deviceId}/update`, {
      method: 'POST',
      headers: HEADERS,
      body: { firmware_version: '9.9.9', tenant_id: tenantId },
    });
    expect(missing.status).toBe(404);

    for (const x of [...devices, lateDevice]) x.close();
  }, 120_000);

  it('aborts past the failure threshold, cancels the phases not started, and devices roll back', async () => {
    const devices = await fleet(uniqueSlug('b'), 100, 'fleet-b');
    // Half of the first phase's devices fail and roll back.
    devices.forEach((d, i) => {
      if (i < 20 && i % 2 === 0) d.behaviour = 'rollback';
    });
    const answer = await t.rest('/api/v1/edge/deployments', {
      method: 'POST',
      headers: HEADERS,
      body: {
        application: 'edge-analytics',
        version: '1.0.0',
        target_groups: ['fleet-b'],
        configuration: { sync_interval: 300, offline_mode: true },
        phases: [20, 80],
        abort_config: { failure_threshold_percent: 25, min_executed: 10 },
        rollback_on_failure: true,
        tenant_id: tenantId,
      },
    });
    const created = ok(answer, 201);
    expect(created).toMatchObject({
      application: 'edge-analytics',
      version: '1.0.0',
      kind: 'application',
      status: 'in_progress',
      phases: [20, 80],
      current_phase: 0,
      rollback_on_failure: true,
      manifest: { algorithm: 'Ed25519' },
      devices: { total: 100, queued: 20, pending: 80 },
    });
    const d = await waitFor(
      async () => {
        const now = await deployment(created.deployment_id);
        const finished = now.counts.committed + now.counts.rolledBack + now.counts.failed;
        return now.status === 'aborted' && finished === 20 ? now : undefined;
      },
      'aborted',
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    expect(d.abortReason).toMatch(/failed/);
    expect(d.counts.canceled).toBe(80);
    expect(d.counts.rolledBack).toBeGreaterThanOrEqual(5);
    expect(d.counts.committed + d.counts.rolledBack).toBe(20);
    // No device of the second phase was ever sent the deployment.
    expect(devices.slice(20).every((x) => x.deployments.length === 0)).toBe(true);
    expect(devices.slice(0, 20).every((x) => x.verified && x.deployments.length === 1)).toBe(true);
    const manifest = JSON.parse(Buffer.from(devices[0]!.deployments[0]!.manifest as string, 'base64').toString());
    expect(manifest).toMatchObject({
      name: 'edge-analytics',
      configuration: { sync_interval: 300, offline_mode: true },
    });
    expect(events.some((e) => e.deployment_id === created.deployment_id && e.type === 'aborted')).toBe(true);

    // A state report that moves backwards, or for another deployment, is refused over the socket.
    const first = devices[1]!;
    first.send({ type: 'status', ref: 'r1', deployment_id: created.deployment_id, state: 'downloading' });
    await waitFor(async () => (first.received.some((m) => m.ref === 'r1') ? true : undefined), 'refusal');
    expect(first.received.find((m) => m.ref === 'r1')).toMatchObject({ type: 'error', code: 'CONFLICT' });
    for (const x of devices) x.close();
  }, 120_000);

  it('lists resources (cloudpioneer) with paging, sort and filter, and metrics only from recorded figures', async () => {
    const own = (await createTenant(t, t.operatorKey, HEADERS, 'res')).id;
    const regs = [];
    for (const name of ['r-alpha', 'r-bravo', 'r-charlie']) {
      regs.push(
        ok(
          await t.rest('/api/v1/edge/devices/register', {
            method: 'POST',
            headers: HEADERS,
            body: {
              device_id: name,
              groups: ['res'],
              tags: { environment: name === 'r-alpha' ? 'production' : 'lab' },
              tenant_id: own,
            },
          }),
          201,
        ) as { id: string; device_id: string; device_token: string },
      );
    }
    const sim = new SimDevice(regs[0]!.device_id, regs[0]!.device_token, publicKey);
    await sim.connect(t.url);
    const figures = [
      { cpu_usage: 40, memory_usage: 2048, disk_usage: 70 },
      { cpu_usage: 50, memory_usage: 4096, disk_usage: 80 },
    ];
    for (const [i, metrics] of figures.entries()) {
      sim.send({ type: 'heartbeat', ref: `hb${i}`, metrics });
      await waitFor(async () => (sim.received.some((m) => m.ref === `hb${i}`) ? true : undefined), 'heartbeat ack');
    }
    // Edge object storage of this tenant: one published artifact.
    const { body: pub } = await t.graphql(
      `mutation ($input: PublishEdgeArtifactInput!) { publishEdgeArtifact(input: $input) { size } }`,
      {
        input: {
          tenantId: own,
          kind: 'firmware',
          version: '1.0.0',
          contentBase64: Buffer.from('x'.repeat(1000)).toString('base64'),
        },
      },
    );
    expect(pub.errors).toBeUndefined();

    const all = await t.rest(`/resources?tenant_id=${own}&per_page=10`);
    expect(all.status, JSON.stringify(all.body)).toBe(200);
    // Three devices, the edge storage and the tenant's own database.
    expect(all.body).toMatchObject({ total: 5, page: 1, per_page: 10 });
    expect(all.body.items.find((r: { type: string }) => r.type === 'database')).toMatchObject({
      id: `db_${own}`,
      tenant_id: own,
      cost: null,
      metrics: { storage_bytes: expect.any(Number) },
    });
    const storage = all.body.items.find((r: { type: string }) => r.type === 'storage');
    expect(storage).toMatchObject({ id: `stg_${own}`, cost: null, metrics: { storage_bytes: expect.any(Number) } });
    expect(storage.metrics.storage_bytes).toBeGreaterThanOrEqual(1000);

    const page = await t.rest(
      `/v1/resources?tenant_id=${own}&filter=type:device&sort=name&order=desc&per_page=2&page=1`,
    );
    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ total: 3, page: 1, per_page: 2 });
    expect(page.body.items.map((r: { name: string }) => r.name)).toEqual(['r-charlie', 'r-bravo']);
    expect(page.body.items[0]).toMatchObject({
      type: 'device',
      status: 'registered',
      metrics: { cpu_usage: null },
      cost: null,
    });
    const alpha = await t.rest(`/resources?tenant_id=${own}&filter=tag.environment:production,status:online`);
    expect(alpha.body.items).toEqual([
      expect.objectContaining({
        id: regs[0]!.id,
        name: 'r-alpha',
        status: 'online',
        metrics: { cpu_usage: 50, memory_usage: 4096, disk_usage: 80 },
      }),
    ]);
    const badFilter = await t.rest(`/resources?tenant_id=${own}&filter=evil`);
    expect(badFilter.status).toBe(400);
    expect(badFilter.body).toMatchObject({ error: { code: 'VALIDATION_ERROR' }, request_id: expect.any(String) });

    const series = await t.rest(`/resources/${regs[0]!.id}/metrics?interval=1h&metrics=cpu_usage,memory_usage`);
    expect(series.status, JSON.stringify(series.body)).toBe(200);
    expect(series.body).toMatchObject({ resource_id: regs[0]!.id, interval: '1h' });
    const cpu = series.body.metrics.cpu_usage as Array<{ value: number }>;
    // Both heartbeats fall in the current hour or straddle two: the average of what was reported.
    const total = cpu.reduce((a, p) => a + p.value, 0) / cpu.length;
    expect(cpu.length === 1 ? cpu[0]!.value : total).toBeCloseTo(45, 0);
    expect(Object.keys(series.body.metrics)).toEqual(['cpu_usage', 'memory_usage']);
    // Storage has no CPU: that series is null, not zero.
    const storageSeries = await t.rest(`/resources/stg_${own}/metrics?metrics=storage_bytes,cpu_usage`);
    expect(storageSeries.body.metrics.cpu_usage).toBeNull();
    expect(storageSeries.body.metrics.storage_bytes).toHaveLength(1);
    expect((await t.rest('/resources/dev_nope/metrics')).status).toBe(404);
    sim.close();
  });

  it('refuses deployments without scope or to unknown devices', async () => {
    const unknown = await t.rest('/api/v1/edge/deployments', {
      method: 'POST',
      headers: HEADERS,
      body: { application: 'app', version: '1.0.0', targets: ['nope-1'], tenant_id: tenantId },
    });
    expect(unknown.status).toBe(404);
    const none = await t.rest('/api/v1/edge/deployments', {
      method: 'POST',
      headers: HEADERS,
      token: null,
      body: { application: 'app', version: '1.0.0', targets: ['nope-1'] },
    });
    expect(none.status).toBe(401);
  });
});
