import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLock } from '../subgraphs/platform/services/security/dependency-audit.js';
import { scanText } from '../subgraphs/platform/services/security/secret-scan.js';
import { createTenant, signInTenantAdmin } from './support/tenants.js';
import { bootPlatform, type TestPlatform } from './support/platform.js';
import { expectRestError, ISO_TIMESTAMP, uniqueClientIp, waitFor } from './support/rest.js';

// Platform operations through the gateway: tasks (the job queue as nexus-core documents it),
// system backups (compressed, encrypted, in the object store; restores checksum-verified and all
// or nothing), with scopes and tenant scoping checked in the platform subgraph.

let t: TestPlatform;
const headers = { 'x-forwarded-for': uniqueClientIp() };
let tenantAdmin: string;
let tenantId: string;

beforeAll(async () => {
  t = await bootPlatform({ rateLimitPolicies: { 'platform-forge.auth': { points: 1000, durationSeconds: 60 } } });
  const tenant = await createTenant(t, t.operatorKey, headers, 'ops');
  tenantId = tenant.id;
  tenantAdmin = await signInTenantAdmin(t, tenant.id, { password: 'Correct-Horse-Battery-9', headers });
}, 60_000);

afterAll(async () => {
  await t?.close();
});

async function waitForTask(taskId: string, token = t.operatorKey) {
  return waitFor(async () => {
    const answer = await t.rest(`/api/v1/tasks/${taskId}`, { token, headers });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const task = answer.body.data;
    return ['completed', 'failed', 'cancelled'].includes(task.status) ? task : undefined;
  }, `task ${taskId}`);
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

async function reportIncident(title: string) {
  const { body } = await t.graphql(
    `mutation ($title: String!) { reportIncident(title: $title, severity: low) { id } }`,
    { title },
    { headers },
  );
  expect(body.errors).toBeUndefined();
}

describe('system backups', () => {
  it('backs up platform data compressed and encrypted as a task, restores it all or nothing', async () => {
    const before = `before-${Date.now()}`;
    await reportIncident(before);

    const created = await t.rest('/api/v1/backup', {
      method: 'POST',
      body: { include: ['configuration', 'database'], compression: true, encryption: true },
      headers,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    expect(created.body).toEqual({
      success: true,
      data: {
        backup_id: expect.stringMatching(/^backup_/),
        status: 'pending',
        size_mb: null,
        created_at: expect.stringMatching(ISO_TIMESTAMP),
        includes: ['configuration', 'database'],
        compression: 'gzip',
        encrypted: true,
        task_id: expect.any(String),
        download_url: null,
      },
    });
    const { backup_id: backupId, task_id: taskId } = created.body.data;

    const task = await waitForTask(taskId);
    expect(task).toMatchObject({ id: taskId, type: 'platform.system-backup', status: 'completed', progress: 1 });
    expect(task.details.steps).toEqual([
      { name: 'collect', status: 'completed' },
      { name: 'compress_encrypt', status: 'completed' },
      { name: 'store', status: 'completed' },
      { name: 'verify', status: 'completed' },
    ]);
    expect(task.logs.map((l: { message: string }) => l.message)).toContain('collect started');
    expect(task.result).toMatchObject({ backupId, checksum: expect.stringMatching(/^[0-9a-f]{64}$/) });

    const list = await t.rest('/api/v1/backup?limit=100', { headers });
    expect(list.status).toBe(200);
    const listed = list.body.data.backups.find((b: { id: string }) => b.id === backupId);
    expect(listed).toMatchObject({
      status: 'completed',
      type: 'manual',
      includes: ['configuration', 'database'],
      encrypted: true,
      compression: 'gzip',
      checksum: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(listed.size_bytes).toBeGreaterThan(0);
    expect(listed.tables.incidents).toBeGreaterThanOrEqual(1);
    expect(list.body.data.pagination).toMatchObject({ page: 1, limit: 100 });

    // The stored object is neither plain JSON nor gzip: it is the encrypted archive.
    const stored = await streamToBuffer(await t.platform.deps.blobs.get(`system-backups/${backupId}.psb`));
    expect(stored.subarray(0, 4).toString()).toBe('PSB1');
    expect(stored.includes(Buffer.from(before))).toBe(false);

    const after = `after-${Date.now()}`;
    await reportIncident(after);
    expect(await incidentTitles()).toEqual(expect.arrayContaining([before, after]));

    // Refusals: no confirm, a component the backup lacks, an unknown backup, no admin:backup.
    expectRestError(
      'nexus-core',
      await t.rest(`/api/v1/backup/${backupId}/restore`, { method: 'POST', body: {}, headers }),
      400,
      'VALIDATION_ERROR',
    );
    expectRestError(
      'nexus-core',
      await t.rest(`/api/v1/backup/backup_nope/restore`, { method: 'POST', body: { confirm: true }, headers }),
      404,
      'NOT_FOUND',
    );
    expectRestError(
      'nexus-core',
      await t.rest(`/api/v1/backup/${backupId}/restore`, {
        method: 'POST',
        body: { confirm: true },
        token: tenantAdmin,
        headers,
      }),
      403,
      'FORBIDDEN',
    );

    const restore = await t.rest(`/api/v1/backup/${backupId}/restore`, {
      method: 'POST',
      body: { components: ['database'], confirm: true },
      headers,
    });
    expect(restore.status, JSON.stringify(restore.body)).toBe(202);
    expect(restore.body.data).toEqual({
      restore_id: expect.stringMatching(/^restore_/),
      status: 'started',
      backup_id: backupId,
      components: ['database'],
      estimated_duration_ms: expect.any(Number),
      task_id: expect.any(String),
    });
    const restored = await waitForTask(restore.body.data.task_id);
    expect(restored, JSON.stringify(restored)).toMatchObject({ type: 'platform.system-restore', status: 'completed' });
    const titles = await incidentTitles();
    expect(titles).toContain(before);
    expect(titles).not.toContain(after);
  });

  it('refuses a damaged archive and changes nothing', async () => {
    const created = await t.rest('/api/v1/backup', { method: 'POST', body: {}, headers });
    expect(created.status).toBe(202);
    await waitForTask(created.body.data.task_id);
    const key = `system-backups/${created.body.data.backup_id}.psb`;
    const stored = await streamToBuffer(await t.platform.deps.blobs.get(key));
    stored.writeUInt8(stored.readUInt8(stored.length - 1) ^ 0xff, stored.length - 1);
    await t.platform.deps.blobs.put(key, stored);

    const marker = `kept-${Date.now()}`;
    await reportIncident(marker);
    const restore = await t.rest(`/api/v1/backup/${created.body.data.backup_id}/restore`, {
      method: 'POST',
      body: { confirm: true },
      headers,
    });
    expect(restore.status).toBe(202);
    const task = await waitForTask(restore.body.data.task_id);
    expect(task.status).toBe('failed');
    expect(task.error).toMatch(/Checksum mismatch/);
    expect(await incidentTitles()).toContain(marker);
  });

  it('keeps backups to admin:backup', async () => {
    expectRestError(
      'nexus-core',
      await t.rest('/api/v1/backup', { method: 'POST', body: {}, token: tenantAdmin, headers }),
      403,
      'FORBIDDEN',
    );
    expectRestError('nexus-core', await t.rest('/api/v1/backup', { token: tenantAdmin, headers }), 403, 'FORBIDDEN');
    expectRestError(
      'nexus-core',
      await t.rest('/api/v1/backup', { method: 'POST', body: { include: ['plugins'] }, headers }),
      400,
      'VALIDATION_ERROR',
    );
  });
});

describe('tasks', () => {
  it('lists tasks newest first with pagination and filters', async () => {
    const answer = await t.rest('/api/v1/tasks?status=completed&type=platform.system-backup&limit=2', { headers });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.data.tasks.length).toBeGreaterThanOrEqual(1);
    expect(answer.body.data.tasks.length).toBeLessThanOrEqual(2);
    for (const task of answer.body.data.tasks) {
      expect(task).toMatchObject({ type: 'platform.system-backup', status: 'completed', progress: 1 });
      expect(task.created_at).toMatch(ISO_TIMESTAMP);
    }
    expect(answer.body.data.pagination).toMatchObject({ page: 1, limit: 2, total: expect.any(Number) });
    expectRestError('nexus-core', await t.rest('/api/v1/tasks?limit=101', { headers }), 400, 'VALIDATION_ERROR');
    expectRestError('nexus-core', await t.rest('/api/v1/tasks/no-such-task', { headers }), 404, 'NOT_FOUND');
  });

  it("shows a tenant's admin only that tenant's tasks", async () => {
    const backup = await t.rest(`/tenants/${tenantId}/backup`, { method: 'POST', headers });
    expect(backup.status, JSON.stringify(backup.body)).toBeLessThan(300);
    const own = await waitFor(async () => {
      const answer = await t.rest('/api/v1/tasks', { token: tenantAdmin, headers });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      return answer.body.data.tasks.length > 0 ? answer.body.data.tasks : undefined;
    }, 'the tenant backup task');
    for (const task of own) expect(task.details.tenant_id).toBe(tenantId);
    expect(own.map((task: { type: string }) => task.type)).toContain('tenancy.backup-tenant');

    const operatorView = await t.rest('/api/v1/tasks?type=platform.system-backup&limit=1', { headers });
    const systemTask = operatorView.body.data.tasks[0].id;
    expectRestError(
      'nexus-core',
      await t.rest(`/api/v1/tasks/${systemTask}`, { token: tenantAdmin, headers }),
      404,
      'NOT_FOUND',
    );
    expectRestError(
      'nexus-core',
      await t.rest(`/api/v1/tasks/${systemTask}`, { method: 'DELETE', token: tenantAdmin, headers }),
      404,
      'NOT_FOUND',
    );
  });

  it('cancels a pending task; a finished one is a conflict', async () => {
    const { jobId } = await t.platform.deps.jobs.enqueue(
      'platform.system-backup',
      { backupId: 'backup_never' },
      { delayMs: 60_000 },
    );
    const pending = await t.rest(`/api/v1/tasks/${jobId}`, { headers });
    expect(pending.body.data.status).toBe('pending');
    const cancelled = await t.rest(`/api/v1/tasks/${jobId}`, { method: 'DELETE', headers });
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    expect(cancelled.body).toEqual({
      success: true,
      data: { id: jobId, status: 'cancelled', cancelled_at: expect.stringMatching(ISO_TIMESTAMP) },
    });
    const after = await t.rest(`/api/v1/tasks/${jobId}`, { headers });
    expect(after.body.data).toMatchObject({ status: 'cancelled', details: { cancel_requested: true } });
    const listed = await t.rest('/api/v1/tasks?status=cancelled&limit=100', { headers });
    expect(listed.body.data.tasks.map((task: { id: string }) => task.id)).toContain(jobId);
    expectRestError(
      'nexus-core',
      await t.rest(`/api/v1/tasks/${jobId}`, { method: 'DELETE', headers }),
      409,
      'CONFLICT',
    );
  });
});

describe('security', () => {
  async function scanRecord(id: string) {
    const { body } = await t.graphql<{ securityScan: Record<string, unknown> }>(
      `query ($id: ID!) { securityScan(id: $id) { id status checks findings summary error } }`,
      { id },
      { headers },
    );
    expect(body.errors).toBeUndefined();
    return body.data!.securityScan;
  }

  it('runs a full nexus-core scan as a task and stores its findings', async () => {
    const started = await t.rest('/api/v1/security/scan', {
      method: 'POST',
      body: { type: 'full', severity_threshold: 'info' },
      headers,
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect(started.body.data).toMatchObject({
      scan_id: expect.stringMatching(/^scan_/),
      status: 'started',
      components_to_scan: expect.arrayContaining(['plugins', 'configuration', 'permissions']),
      checks: expect.arrayContaining(['dependencies', 'secrets', 'configuration', 'permissions', 'containers']),
      task_id: expect.any(String),
    });
    const task = await waitForTask(started.body.data.task_id);
    expect(task.status, JSON.stringify(task)).toBe('completed');
    expect(task.details.steps.every((step: { status: string }) => step.status === 'completed')).toBe(true);

    const scan = await scanRecord(started.body.data.scan_id);
    expect(scan.status).toBe('completed');
    const summary = scan.summary as Record<string, unknown>;
    expect(summary.advisory_source).toMatch(/snapshot/);
    expect(summary.packages_audited).toBeGreaterThan(100);
    expect(summary.config_files_scanned).toBeGreaterThan(0);
    const findings = scan.findings as { check: string; severity: string; title: string }[];
    // vitest runs with NODE_ENV=test: the configuration check says production rules are off.
    expect(findings).toContainEqual(expect.objectContaining({ check: 'configuration', severity: 'info' }));

    const status = await t.rest('/api/v1/security/status', { headers });
    expect(status.status, JSON.stringify(status.body)).toBe(200);
    expect(status.body.data.last_scan).toMatch(ISO_TIMESTAMP);
  });

  it('runs platform-forge scans, refuses targets outside the app and tenant admins', async () => {
    const started = await t.rest('/api/v1/security/scans', {
      method: 'POST',
      body: { scan_types: ['secrets', 'code'], targets: ['/app', '/config'], deep_scan: true },
      headers,
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect(started.body).toMatchObject({
      status: 'success',
      data: {
        scan_types: ['secrets', 'code'],
        checks: ['secrets'],
        not_scanned: ['code'],
        targets: ['/app', '/config'],
      },
    });
    expect((await waitForTask(started.body.data.task_id)).status).toBe('completed');
    expectRestError(
      'platform-forge',
      await t.rest('/api/v1/security/scans', { method: 'POST', body: { targets: ['/etc'] }, headers }),
      400,
      'VALIDATION_ERROR',
    );
    expectRestError(
      'platform-forge',
      await t.rest('/api/v1/security/scans', { method: 'POST', body: {}, token: tenantAdmin, headers }),
      403,
      'FORBIDDEN',
    );
  });

  it("reports identity's figures: platform-wide for the operator, the tenant's own for its admin", async () => {
    const failed = await t.graphql(
      `mutation ($tenantId: ID) { login(email: "nobody-${Date.now()}@example.com", password: "wrong-password-123", tenantId: $tenantId) { accessToken } }`,
      { tenantId },
      { token: null, headers: { 'x-forwarded-for': uniqueClientIp() } },
    );
    expect(failed.body.errors?.[0]?.extensions?.code).toBe('INVALID_CREDENTIALS');

    const operator = await t.rest('/api/v1/security/status', { headers });
    expect(operator.status).toBe(200);
    expect(operator.body.data).toMatchObject({
      status: expect.stringMatching(/^(secure|warning|at_risk)$/),
      alerts: expect.any(Array),
      metrics: {
        failed_logins_24h: expect.any(Number),
        blocked_ips: expect.any(Number),
        active_sessions: expect.any(Number),
        api_key_usage: expect.any(Number),
      },
    });
    expect(operator.body.data.metrics.failed_logins_24h).toBeGreaterThanOrEqual(1);
    expect(operator.body.data.metrics.active_sessions).toBeGreaterThanOrEqual(1);

    const tenant = await t.rest('/api/v1/security/status', { token: tenantAdmin, headers });
    expect(tenant.status, JSON.stringify(tenant.body)).toBe(200);
    expect(tenant.body.data.last_scan).toBeNull();
    expect(tenant.body.data.metrics.api_key_usage).toBeNull();
    expect(tenant.body.data.metrics.failed_logins_24h).toBeGreaterThanOrEqual(1);
    expect(tenant.body.data.metrics.failed_logins_24h).toBeLessThanOrEqual(
      operator.body.data.metrics.failed_logins_24h,
    );
    expect(tenant.body.data.metrics.active_sessions).toBeGreaterThanOrEqual(1);
  });

  it('audits a lockfile against the advisory snapshot and masks secrets', () => {
    const findings = auditLock({
      packages: {
        '': { name: 'app' },
        'node_modules/ws': { version: '8.16.0' },
        'node_modules/semver': { version: '7.8.5' },
      },
    });
    expect(findings).toEqual([
      expect.objectContaining({ check: 'dependencies', severity: 'high', location: 'node_modules/ws' }),
    ]);
    const secret = `sk_live_${'a1B2'.repeat(6)}`;
    const found = scanText(`STRIPE_SECRET_KEY=${secret}\nDATABASE_URL=postgres://app:hunter22@db/app\n`, '.env');
    expect(found.map((f) => f.location)).toEqual(['.env:1', '.env:2']);
    expect(JSON.stringify(found)).not.toContain(secret);
    expect(JSON.stringify(found)).not.toContain('hunter22');
  });
});

describe('services and diagnostics', () => {
  it('lists the services with figures counted where requests are handled', async () => {
    await incidentTitles();
    const answer = await t.rest('/api/v1/services', { headers });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const byName = Object.fromEntries(
      answer.body.data.services.map((s: { name: string }) => [s.name, s] as const),
    ) as Record<string, { status: string; health: string; metrics: Record<string, number | null> }>;
    expect(Object.keys(byName).sort()).toEqual(
      [
        'billing',
        'cache',
        'database',
        'edge',
        'gateway',
        'identity',
        'platform',
        'telemetry',
        'tenancy',
        'worker',
      ].sort(),
    );
    expect(byName.gateway!.metrics.requests_handled).toBeGreaterThan(0);
    expect(byName.platform!.metrics.requests_handled).toBeGreaterThan(0);
    expect(byName.identity!).toMatchObject({ status: 'running', health: 'healthy' });
    expect(byName.database!).toMatchObject({ status: 'running', health: 'healthy' });
    expect(byName.database!.metrics.requests_handled).toBeGreaterThan(0);
    expect(byName.cache!.metrics.requests_handled).toEqual(expect.any(Number));
    expect(byName.worker!.health).toBe('healthy');
    for (const s of Object.values(byName)) expect((s.metrics.uptime ?? 0) >= 0).toBe(true);
    expectRestError('nexus-core', await t.rest('/api/v1/services', { token: tenantAdmin, headers }), 403, 'FORBIDDEN');
  });

  it('restarts a subgraph in place; unknown services are 404', async () => {
    const before = await t.rest('/api/v1/services/identity', { headers });
    expect(before.status).toBe(200);
    expect(before.body.data).toMatchObject({ name: 'identity', type: 'Subgraph', restartable: true });
    expect(before.body.data.metrics.avg_response_time_ms).toEqual(expect.any(Number));

    const restarted = await t.rest('/api/v1/services/identity/restart', { method: 'POST', headers });
    expect(restarted.status, JSON.stringify(restarted.body)).toBe(200);
    expect(restarted.body.data).toEqual({
      service: 'identity',
      action: 'restart',
      status: 'completed',
      duration_ms: expect.any(Number),
    });
    const after = await t.rest('/api/v1/services/identity', { headers });
    expect(after.body.data.health).toBe('healthy');
    expect(after.body.data.metrics.uptime).toBeLessThanOrEqual(before.body.data.metrics.uptime ?? Infinity);
    // Identity serves through the new server.
    expect((await t.rest('/api/v1/security/status', { headers })).status).toBe(200);

    expectRestError('nexus-core', await t.rest('/api/v1/services/nope', { headers }), 404, 'NOT_FOUND');
    expectRestError(
      'nexus-core',
      await t.rest('/api/v1/services/identity/restart', { method: 'POST', token: tenantAdmin, headers }),
      403,
      'FORBIDDEN',
    );
  });

  it('runs connectivity, performance and stress probes', async () => {
    const answer = await t.rest('/api/v1/components/diagnostics', {
      method: 'POST',
      body: {
        components: ['database', 'cache', 'event_bus', 'identity'],
        tests: ['connectivity', 'performance', 'stress'],
      },
      headers,
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.data).toMatchObject({ test_run_id: expect.stringMatching(/^diag_/), status: 'completed' });
    expect(answer.body.data.results.map((r: { component: string }) => r.component)).toEqual([
      'database',
      'cache',
      'event_bus',
      'identity',
    ]);
    for (const result of answer.body.data.results) {
      expect(result.tests.map((test: { name: string }) => test.name)).toEqual([
        'connectivity',
        'performance',
        'stress',
      ]);
      for (const test of result.tests) expect(test.status, JSON.stringify(test)).toBe('pass');
      expect(result.tests[0].details.response_time_ms).toEqual(expect.any(Number));
      expect(result.tests[1].details.operations_per_second).toBeGreaterThan(0);
    }
    expectRestError(
      'nexus-core',
      await t.rest('/api/v1/components/diagnostics', { method: 'POST', body: { components: ['plugins'] }, headers }),
      400,
      'VALIDATION_ERROR',
    );
  });
});

async function streamToBuffer(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
