import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

async function streamToBuffer(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
