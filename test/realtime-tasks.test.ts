import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECURITY_SCAN_JOB } from '../subgraphs/platform/services/security/scans.js';
import { DEPLOY_JOB } from '../subgraphs/tenancy/services/blueprints/deployments.js';
import { BACKUP_JOB } from '../subgraphs/tenancy/services/operations/backups.js';
import { bootPlatform, uniqueSlug, type RestAnswer, type TestPlatform } from './support/platform.js';
import { connectWs, waitForSubscribers, type WsConnection } from './support/realtime.js';
import { uniqueClientIp, waitFor } from './support/rest.js';
import { createTenant, signInTenantAdmin, type TenantInfo } from './support/tenants.js';

// Platform tasks (lib/runtime/jobs.ts) as they change, through the gateway with a real graphql-ws
// client: platform's taskProgress (operators see every task, a tenant's admin its tenant's only),
// and blueprint deployments in tenancy's tenancyJobProgress.

const PASSWORD = 'Realtime-Tasks-Passphrase-7';
const headers = { 'x-forwarded-for': uniqueClientIp() };

const TASKS = /* GraphQL */ `
  subscription ($id: ID, $type: String) {
    taskProgress(id: $id, type: $type) {
      id
      type
      status
      progress
      tenantId
      startedAt
      completedAt
    }
  }
`;
interface TaskEvent {
  taskProgress: {
    id: string;
    type: string;
    status: string;
    progress: number;
    tenantId: string | null;
    startedAt: string | null;
    completedAt: string | null;
  };
}

const JOBS = /* GraphQL */ `
  subscription ($kinds: [String!]) {
    tenancyJobProgress(kinds: $kinds) {
      kind
      id
      tenantId
      projectId
      status
      progress
      error
    }
  }
`;
interface JobEvent {
  tenancyJobProgress: {
    kind: string;
    id: string;
    tenantId: string | null;
    projectId: string | null;
    status: string;
    progress: number;
    error: string | null;
  };
}

describe('task progress over graphql-ws through the gateway', () => {
  let t: TestPlatform;
  let a: TenantInfo;
  let b: TenantInfo;
  let adminA: string;
  let adminB: string;
  const sockets: WsConnection[] = [];

  const open = async (token: string) => {
    const ws = connectWs(t.url, { token });
    sockets.push(ws);
    await ws.connected;
    return ws;
  };
  const ok = (answer: RestAnswer, status = 200) => {
    expect(answer.status, JSON.stringify(answer.body)).toBe(status);
    return answer.body;
  };

  beforeAll(async () => {
    t = await bootPlatform();
    a = await createTenant(t, t.operatorKey, headers, 'tka');
    b = await createTenant(t, t.operatorKey, headers, 'tkb');
    adminA = await signInTenantAdmin(t, a.id, { password: PASSWORD, headers });
    adminB = await signInTenantAdmin(t, b.id, { password: PASSWORD, headers });
  }, 180_000);

  afterAll(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.dispose()));
    await t?.close();
  });

  it("operators see every task, a tenant's admin only its tenant's", async () => {
    const operator = (await open(t.operatorKey)).subscribe<TaskEvent>(TASKS, {});
    const scans = (await open(t.operatorKey)).subscribe<TaskEvent>(TASKS, { type: SECURITY_SCAN_JOB });
    const tenantA = (await open(adminA)).subscribe<TaskEvent>(TASKS, {});
    const tenantB = (await open(adminB)).subscribe<TaskEvent>(TASKS, {});
    await waitForSubscribers(t.platform.gateway, 4);

    // A platform-wide task: operators hear of it, no tenant's admin does.
    const scan = await t.graphql<{ startSecurityScan: { id: string } }>(
      `mutation { startSecurityScan(source: "nexus-core", components: ["configuration"]) { id } }`,
      {},
      { headers },
    );
    expect(scan.body.errors, JSON.stringify(scan.body.errors)).toBeUndefined();
    const [firstScan] = await scans.waitFor(1, 30_000);
    expect(firstScan!.data!.taskProgress).toMatchObject({ type: SECURITY_SCAN_JOB, tenantId: null });

    // A's backup: pending, running, completed, to A's admin and the operator; never to B's.
    const backup = await t.graphql<{ backupTenant: { id: string } }>(
      `mutation ($id: ID!) { backupTenant(tenantId: $id) { id } }`,
      { id: a.id },
      { headers },
    );
    expect(backup.body.errors).toBeUndefined();
    const jobId = `backup-${backup.body.data!.backupTenant.id}`;
    const done = (events: Array<{ data?: TaskEvent | null }>) =>
      events.some((e) => e.data?.taskProgress.id === jobId && e.data.taskProgress.status === 'completed');
    await waitFor(async () => (done(tenantA.events) ? true : undefined), 'A hears its backup complete', {
      timeoutMs: 60_000,
    });
    await waitFor(async () => (done(operator.events) ? true : undefined), 'the operator hears it too', {
      timeoutMs: 30_000,
    });
    const seenByA = tenantA.events.map((e) => e.data!.taskProgress);
    expect(seenByA.every((task) => task.tenantId === a.id && task.type === BACKUP_JOB)).toBe(true);
    expect(seenByA[0]!.status).toBe('pending');
    expect(seenByA.map((task) => task.status)).toContain('running');
    expect(seenByA.at(-1)).toMatchObject({ status: 'completed', progress: 1, completedAt: expect.any(String) });
    const ratios = seenByA.map((task) => task.progress);
    expect([...ratios].sort((x, y) => x - y)).toEqual(ratios);
    expect(operator.events.some((e) => e.data?.taskProgress.type === SECURITY_SCAN_JOB)).toBe(true);

    // B's admin: the first task it hears of is B's own backup, requested after A's finished.
    const own = await t.graphql<{ backupTenant: { id: string } }>(
      `mutation ($id: ID!) { backupTenant(tenantId: $id) { id } }`,
      { id: b.id },
      { headers },
    );
    expect(own.body.errors).toBeUndefined();
    const [firstB] = await tenantB.waitFor(1, 30_000);
    expect(firstB!.data!.taskProgress).toMatchObject({
      id: `backup-${own.body.data!.backupTenant.id}`,
      tenantId: b.id,
    });

    // One task by id; a caller without read:system or a tenant is refused.
    const one = (await open(adminA)).subscribe<TaskEvent>(TASKS, { id: 'backup-none' });
    const signup = ok(
      await t.rest('/signup', {
        method: 'POST',
        token: null,
        headers,
        body: { email: `p-${uniqueSlug()}@example.com`, password: PASSWORD, project_name: 'Tasks' },
      }),
      201,
    );
    const refused = (await open(signup.api_key as string)).subscribe<TaskEvent>(TASKS, {});
    await refused.waitForEnd();
    expect(JSON.stringify(refused.error ?? refused.events)).toContain('FORBIDDEN');
    one.stop();
    for (const s of [operator, scans, tenantA, tenantB]) s.stop();
  }, 180_000);

  it('streams blueprint deployment progress in tenancyJobProgress to its project', async () => {
    const signup = ok(
      await t.rest('/signup', {
        method: 'POST',
        token: null,
        headers,
        body: { email: `owner-${uniqueSlug()}@example.com`, password: PASSWORD, project_name: 'Rollouts' },
      }),
      201,
    );
    const key = signup.api_key as string;
    const rest = (path: string, init: { method?: string; body?: unknown } = {}) =>
      t.rest(path, { ...init, token: key, headers });
    const publish = async (workspace: string) => {
      const { body } = await t.graphql(
        `mutation ($id: ID!) { publishBlueprint(workspaceId: $id) { blueprint } }`,
        { id: workspace },
        { token: key, headers },
      );
      expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    };
    const name = uniqueSlug('bp');
    ok(await rest('/workspaces', { method: 'POST', body: { name, database: 'PostgreSQL' } }), 201);
    ok(await rest(`/workspaces/${name}/queries`, { method: 'POST', body: { query: 'CREATE TABLE a (id int)' } }));
    await publish(name);
    const slugs = [uniqueSlug('ra'), uniqueSlug('rb')];
    for (const slug of slugs) {
      ok(await rest('/tenants', { method: 'POST', body: { tenant_id: slug, databases: [{ blueprint: name }] } }), 201);
    }
    ok(await rest(`/workspaces/${name}/queries`, { method: 'POST', body: { query: 'CREATE TABLE b (id int)' } }));
    await publish(name);

    const project = (await open(key)).subscribe<JobEvent>(JOBS, { kinds: ['blueprint_deployment'] });
    const operatorTasks = (await open(t.operatorKey)).subscribe<TaskEvent>(TASKS, { type: DEPLOY_JOB });
    await waitForSubscribers(t.platform.gateway, 2);
    const deployment = ok(
      await rest('/deployments', { method: 'POST', body: { blueprint_name: name, version: '1.1', deploy_all: true } }),
      202,
    );
    const deploymentId = deployment.job_id as string;
    const finished = (events: Array<{ data?: JobEvent | null }>) =>
      events.some(
        (e) =>
          e.data?.tenancyJobProgress.id === deploymentId &&
          e.data.tenancyJobProgress.tenantId === null &&
          e.data.tenancyJobProgress.status !== 'running',
      );
    await waitFor(async () => (finished(project.events) ? true : undefined), 'the rollout finished', {
      timeoutMs: 60_000,
    });
    const heard = project.events.map((e) => e.data!.tenancyJobProgress);
    expect(heard.every((p) => p.kind === 'blueprint_deployment' && p.id === deploymentId)).toBe(true);
    const whole = heard.filter((p) => p.tenantId === null);
    expect(whole[0]!.status).toBe('running');
    expect(whole.at(-1)).toMatchObject({ status: 'completed', progress: 100, error: null });
    const percents = whole.map((p) => p.progress);
    expect([...percents].sort((x, y) => x - y)).toEqual(percents);
    // Each target tenant's own outcome, once.
    const perTenant = heard.filter((p) => p.tenantId !== null);
    expect(perTenant).toHaveLength(2);
    expect(perTenant.every((p) => p.status === 'completed' && p.progress === 100)).toBe(true);
    expect(new Set(perTenant.map((p) => p.tenantId)).size).toBe(2);
    // The same rollout as a platform task, to the operator.
    await waitFor(
      async () =>
        operatorTasks.events.some(
          (e) => e.data?.taskProgress.id === `deploy-${deploymentId}` && e.data.taskProgress.status === 'completed',
        )
          ? true
          : undefined,
      'the deploy task completed',
      { timeoutMs: 30_000 },
    );
    project.stop();
    operatorTasks.stop();
  }, 180_000);
});
